"""Model and fleet reports rendered from real monitoring results (tests/integration/report/
conftest.py builds the workspace): every section, escaping, self-containment, time travel."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest

from driftguard import audit
from driftguard.monitor import RunNotFound, load_run, run_monitoring
from driftguard.report import explain_run, render_fleet_report, render_run_report
from driftguard.report.format import moment, number
from driftguard.report.grades import grade_of
from tests.helpers import write_rows
from tests.report_world import NOW, XSS_FEATURE, XSS_GROUP, XSS_REASON

SECTIONS = [
    "summary",
    "decisions",
    "risk",
    "drift",
    "fairness",
    "quality",
    "performance",
    "policy",
    "killswitches",
    "governance",
    "audit",
]


class Page(HTMLParser):
    """Every start tag with its attributes, section ids, and table header cells."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)

    def ids(self, tag: str) -> list[str]:
        return [a["id"] for t, a in self.tags if t == tag and a.get("id")]

    @property
    def plain(self) -> str:
        return " ".join(" ".join(self.text).split())


@pytest.fixture(scope="module")
def credit_report(report_world):
    with report_world.ws.open_lake() as lake:
        made = render_run_report(
            lake, report_world.ws.config, report_world.ws.settings, report_world.credit_run
        )
        run = load_run(lake, report_world.credit_run)
        checkpoint = lake.records(
            "SELECT size, head FROM audit_checkpoints WHERE run_id = ?", [run.run_id]
        )[0]
        # the report is rendered at the run's snapshot: entries written later for the same run
        # (report issued, e-mail sent by other tests of this session) are not in it
        entries = [
            e.seq
            for e in audit.trail(lake, run_id=run.run_id, limit=None)
            if e.seq <= checkpoint["size"]
        ]
        drift = lake.records(
            "SELECT column_name, value, verdict, rank FROM drift_results WHERE run_id = ? AND "
            "is_primary AND segment IS NULL AND target = 'feature' ORDER BY rank",
            [run.run_id],
        )
        rules = lake.records(
            "SELECT rule_id, outcome FROM policy_evaluations WHERE run_id = ?", [run.run_id]
        )
        snapshot_time = lake.fetchone(
            "SELECT snapshot_time FROM ducklake_snapshots('lake') WHERE snapshot_id = ?",
            [run.snapshot_id],
        )[0]
    html = made.path.read_text(encoding="utf-8")
    return {
        "made": made,
        "html": html,
        "page": Page(html),
        "run": run,
        "checkpoint": checkpoint,
        "entries": entries,
        "drift": drift,
        "rules": rules,
        "snapshot_time": snapshot_time,
    }


def test_the_scenario_exercises_every_section(credit_report):
    # guards against a silently empty scenario: the simulated shift (income 1.5 sd, region
    # 40%) must drift, the PSI rule (max 0.25) must block and the rule (PSI > 0.5) must fire
    summary = credit_report["run"].summary
    assert summary["drift"]["n_drifted"] >= 1
    assert summary["policy"]["outcome"] == "block"
    assert summary["killswitch"]["fired"]


def test_every_section_of_a_model_report_is_present(credit_report, report_world):
    page, run, made = credit_report["page"], credit_report["run"], credit_report["made"]
    assert page.ids("section") == SECTIONS
    headings = [a.get("id") for t, a in page.tags if t == "h2"]
    assert headings == [f"h-{s}" for s in SECTIONS]
    text = page.plain
    # header: model, version, owner, purpose, lifecycle (promoted to shadow, then blocked by
    # the kill switch this run's rule activated), health, run window, generated-at (the
    # snapshot's time), snapshot id, config digest, code version
    for expected in (
        "credit",
        "version 1.0",
        "olivia",
        "Score loan applications.",
        "Lifecycle blocked",
        f"Health status {run.summary['risk']['status']}",
        "2026-05-31 00:00 – 2026-06-01 00:00 UTC",
        f"Generated at {moment(credit_report['snapshot_time'])}",
        f"Data snapshot {run.snapshot_id}",
        f"Config digest {run.config_digest[:16]}",
        "Code version 0.1.0",
    ):
        assert expected in text, expected
    assert made.snapshot_id == run.snapshot_id and made.kind == "model"
    assert made.path == (
        report_world.ws.settings.home / "reports" / "2026-06-01" / run.run_id / "report.html"
    )
    assert made.size_bytes == len(credit_report["html"].encode())


def test_drift_table_is_sorted_by_severity_with_charts(credit_report):
    page, html = credit_report["page"], credit_report["html"]
    body = html[html.index('id="drift"') : html.index('id="fairness"')]
    rows = re.findall(r'<tr class="[^"]*">\s*<th scope="row">([^<]+)</th>', body)
    stored = credit_report["drift"]
    assert rows[: len(stored)] == [r["column_name"] for r in stored]  # rank order
    order = {"critical": 0, "warning": 1, "ok": 2, "insufficient_data": 3}
    verdicts = [order[r["verdict"]] for r in stored]
    assert verdicts == sorted(verdicts)
    for r in stored:
        assert number(r["value"]) in body
    # one reference-vs-current chart per feature with bins (top 5 by default; 3 features here)
    charts = re.findall(r"<title id=\"t[0-9a-f]+\">([^<]+): reference vs current", body)
    assert charts == [r["column_name"] for r in stored]
    assert "Missing ref → cur" in page.plain and "Unseen" in page.plain


def test_fairness_policy_killswitch_governance_and_audit_sections(credit_report):
    html, run = credit_report["html"], credit_report["run"]
    fairness = html[html.index('id="fairness"') : html.index('id="quality"')]
    assert "Four-fifths rule:" in fairness and "95% Wilson" in fairness
    assert "sex × " not in fairness  # one attribute: no intersection to show
    policy = html[html.index('id="policy"') : html.index('id="killswitches"')]
    for rule in credit_report["rules"]:
        assert f'<th scope="row">{rule["rule_id"]}</th>' in policy
    assert "credit-gate" in policy and "✕</span> block" in policy
    switches = html[html.index('id="killswitches"') : html.index('id="governance"')]
    for firing in run.summary["killswitch"]["fired"]:
        assert firing["rule_id"] in switches
    governance = html[html.index('id="governance"') : html.index('id="audit"')]
    # the approval and promotion happened before the first run, so not in this run's period
    assert "No approval requests or decisions since the previous run" in governance
    audit_part = html[html.index('id="audit"') :]
    stored = credit_report["checkpoint"]
    [found] = audit.find_checkpoints(audit_part)
    assert (found.size, found.head) == (stored["size"], stored["head"])
    assert f'<code class="checkpoint">{found.to_text()}</code>' in audit_part  # verbatim
    seqs = [int(s) for s in re.findall(r'<th scope="row" class="num">(\d+)</th>', audit_part)]
    assert seqs == credit_report["entries"] and seqs
    assert "UNANCHORED" in audit_part  # no signing key in tests: an honest verdict


def test_first_run_report_lists_the_governance_it_follows(report_world):
    html = report_world.first_report.read_text(encoding="utf-8")
    governance = html[html.index('id="governance"') : html.index('id="audit"')]
    assert "Quarterly refresh" in governance and "carol" in governance
    assert "approved → shadow" in governance


def test_xss_payloads_are_shown_as_text(report_world):
    with report_world.ws.open_lake() as lake:
        made = render_run_report(
            lake, report_world.ws.config, report_world.ws.settings, report_world.xss_run
        )
    html = made.path.read_text(encoding="utf-8")
    page = Page(html)
    assert not [t for t, _ in page.tags if t in ("script", "img", "iframe", "object", "embed")]
    assert not [(t, k) for t, attrs in page.tags for k in attrs if k.lower().startswith("on")]
    assert "<script" not in html.lower() and "<img" not in html.lower()
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert html.count(escaped) >= 3  # drift table, chart title, narrative
    assert "&lt;img src=x onerror=alert(1)&gt;" in html  # a protected group's value
    assert "&lt;script&gt;alert(&#39;switch&#39;)&lt;/script&gt; feed broken &amp;" in html
    # and the text a reader sees is exactly what was stored
    assert XSS_FEATURE in page.plain and XSS_GROUP in page.plain and XSS_REASON in page.plain


def test_reports_are_self_contained_accessible_and_printable(credit_report):
    html, page = credit_report["html"], credit_report["page"]
    assert not [t for t, _ in page.tags if t in ("script", "link", "img", "iframe")]
    assert not [a for _, a in page.tags if "src" in a]
    urls = set(re.findall(r"(?:https?:)?//[^\s\"'<>)]+", html))
    assert urls == {"http://www.w3.org/2000/svg"}  # the SVG namespace, never fetched
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    assert "@media print" in html and "break-before: page" in html and "@page" in html
    assert '<meta name="viewport"' in html and '<html lang="en">' in html
    headers = [a for t, a in page.tags if t == "th"]
    assert headers and all(a.get("scope") in ("col", "row") for a in headers)
    svgs = re.findall(r"<svg[^>]*>.*?</svg>", html, flags=re.S)
    assert len(svgs) >= 5
    for svg in svgs:
        assert 'role="img"' in svg and "<title " in svg and "<desc " in svg
    # verdicts carry a symbol and a word, never colour alone
    assert '<span class="badge critical"><span aria-hidden="true">✕</span> critical</span>' in html


def test_rerendering_a_past_run_after_more_data_gives_identical_bytes(report_world):
    ws = report_world.ws
    from driftguard.ingest import ingest_model

    with ws.open_lake() as lake:
        before = lake.snapshot_id()
        rows = [
            {
                "prediction_id": f"late-{i}",
                "ts": (NOW - timedelta(days=2, hours=12) + timedelta(minutes=i)).isoformat(),
                "score": 0.9,
                "income": 1e6,
                "age": 99.0,
                "region": "east",
                "sex": "female",
            }
            for i in range(40)
        ]
        write_rows(ws.settings.home / "landing/credit/predictions/late.parquet", rows)
        ingest_model(lake, ws.config.model("credit"), ws.settings)
        run_monitoring(
            lake, ws.config, "credit", ws.settings, as_of=NOW - timedelta(days=2), force=True
        )
        assert lake.snapshot_id() > before  # the lake did change
        again = render_run_report(lake, ws.config, ws.settings, report_world.first_run)
    assert again.path == report_world.first_report
    assert again.path.read_bytes() == report_world.first_bytes


def test_index_lists_every_report(report_world, credit_report):
    index = report_world.ws.settings.home / "reports" / "index.html"
    html = index.read_text(encoding="utf-8")
    links = re.findall(r'<a href="([^"]+)" aria-label="report of run', html)
    assert credit_report["made"].path.relative_to(index.parent).as_posix() in links
    assert report_world.first_report.relative_to(index.parent).as_posix() in links
    assert all((index.parent / link).is_file() for link in links)
    meta = json.loads(credit_report["made"].path.with_name("report.json").read_text())
    assert meta["sha256"] == credit_report["made"].sha256


def test_fleet_report_grades_links_and_attention(report_world):
    ws = report_world.ws
    with ws.open_lake() as lake:
        made = render_fleet_report(lake, ws.config, ws.settings, report_world.runs)
        scores = {
            r.model_id: r.summary["risk"]["score"]
            for r in (load_run(lake, run) for run in report_world.runs)
        }
    html = made.path.read_text(encoding="utf-8")
    page = Page(html)
    assert page.ids("section") == ["attention", "models", "grades", "violations", "switches"]
    grades = {m: grade_of(s) for m, s in scores.items()}
    for model in made.meta["models"]:
        assert model["grade"] == grades[model["model_id"]]
        assert (made.path.parent / model["link"]).resolve().is_file()
    counts = made.meta["grade_counts"]
    assert sum(counts.values()) == 2 and all(counts[g] >= 1 for g in grades.values())
    # both models have an active kill switch, so both need attention
    assert made.meta["needing_attention"] and set(made.meta["needing_attention"]) <= set(scores)
    assert "&lt;script&gt;alert(&#39;switch&#39;)&lt;/script&gt;" in html
    assert "<script" not in html
    assert made.path.name == "fleet.html" and made.path.with_name("fleet.json").is_file()


def test_narratives_explain_each_decision_deterministically(report_world, credit_report):
    ws, run = report_world.ws, credit_report["run"]
    with ws.open_lake() as lake:
        first = explain_run(lake, ws.config, run.run_id)
    # the same words as the rendered report's (gathered separately, from the same snapshot)
    meta = json.loads(credit_report["made"].path.with_name("report.json").read_text())
    assert [n.text() for n in first] == [n["text"] for n in meta["narratives"]]
    kinds = [n.kind for n in first]
    drifted = [r for r in credit_report["drift"] if r["verdict"] in ("warning", "critical")]
    assert kinds.count("drift") == len(drifted)
    for row, narrative in zip(drifted, [n for n in first if n.kind == "drift"], strict=True):
        assert narrative.subject == row["column_name"]
        assert number(row["value"]) in narrative.measured
        assert "0.1 warning, 0.25 critical" in narrative.threshold  # PSI defaults
    assert kinds.count("killswitch") == len(run.summary["killswitch"]["fired"])
    policy = next(n for n in first if n.kind == "policy")
    assert policy.severity == "critical" and "deployment gate refuses" in policy.meaning
    assert "psi: largest PSI of any feature" in policy.measured
    previous = load_run_status(ws, report_world.first_run)
    if previous != run.summary["risk"]["status"]:
        change = next(n for n in first if n.kind == "status_change")
        assert previous in change.headline and run.summary["risk"]["status"] in change.headline
    for n in first:
        assert all((n.measured, n.threshold, n.meaning, n.action, n.next_step))
        assert n.text().startswith("Measured: ")
    plain = credit_report["page"].plain
    assert all(n.headline in plain for n in first)


def load_run_status(ws, run_id: str) -> str:
    with ws.open_lake() as lake:
        return load_run(lake, run_id).summary["risk"]["status"]


def test_unknown_run_is_a_clear_error(report_world):
    ws = report_world.ws
    with ws.open_lake() as lake, pytest.raises(RunNotFound, match="No monitoring run 'r-nope'"):
        render_run_report(lake, ws.config, ws.settings, "r-nope")


def test_report_paths_refuse_unsafe_run_ids(report_world):
    from driftguard.report.context import ReportError
    from driftguard.report.render import model_report_path

    with pytest.raises(ReportError):
        model_report_path(report_world.ws.settings, "../../etc", NOW)
    assert model_report_path(report_world.ws.settings, "r1-credit", NOW).parts[-3:] == (
        "2026-06-01",
        "r1-credit",
        "report.html",
    )


def test_templates_ship_with_the_package():
    from driftguard.report.render import assets_root

    root = assets_root()
    assert (root / "templates" / "report.html").is_file() and (
        root / "css" / "report.css"
    ).is_file()
    assert Path(__file__).resolve().parents[3] / "reports" == root


def test_each_issued_report_is_in_the_audit_log_once_with_its_digest(report_world):
    import hashlib

    from driftguard.report.render import render_reports

    ws = report_world.ws
    runs = [report_world.credit_run, report_world.xss_run]
    with ws.open_lake() as lake:
        first = render_reports(lake, ws.config, ws.settings, runs, actor="auditor-test")
        after_first = audit.trail(lake, event_type="report.issued", limit=None)
        again = render_reports(lake, ws.config, ws.settings, runs, actor="auditor-test")
        after_again = audit.trail(lake, event_type="report.issued", limit=None)
        verdict = audit.verify(lake)
    reports = [*first["models"], first["fleet"]]
    assert [m["sha256"] for m in again["models"]] == [m["sha256"] for m in first["models"]]
    assert len(after_again) == len(after_first)  # the same bytes are not issued twice
    # (other tests of this session may have issued these reports first, under another actor)
    digests = [e.payload["sha256"] for e in after_first]
    by_digest = {e.payload["sha256"]: e for e in after_first}
    for meta in reports:
        assert digests.count(meta["sha256"]) == 1
        entry = by_digest[meta["sha256"]]
        assert hashlib.sha256(Path(meta["path"]).read_bytes()).hexdigest() == meta["sha256"]
        assert entry.payload["snapshot_id"] == meta["snapshot_id"]
        assert entry.resource_id == meta.get("model_id", "fleet")
    assert by_digest[first["fleet"]["sha256"]].payload["run_ids"] == first["fleet"]["run_ids"]
    assert verdict.problems == []  # the chain stays intact (unanchored: no signing key here)
