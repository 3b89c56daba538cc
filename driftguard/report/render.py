"""Render model and fleet reports to self-contained HTML files, and keep an index of them.

Where files go (``<home>`` is ``DRIFTGUARD_HOME``)::

    <home>/reports/index.html                                   every report, newest first
    <home>/reports/<YYYY-MM-DD>/<run_id>/report.html            one model run (date: run as-of)
    <home>/reports/<YYYY-MM-DD>/<run_id>/report.json            what the index and e-mails read
    <home>/reports/<YYYY-MM-DD>/fleet-<digest>/fleet.html       a fleet dashboard

A report is a pure function of the lake at its snapshot, the code and the templates: the
"generated at" time printed in it is the time of that snapshot, not of the rendering, so a
report re-rendered later is byte-identical (checked by a test). Files are written under a
temporary name and renamed, so a reader never sees half a report.

Templates and CSS come from the ``reports`` package (``reports/`` at the repository root,
shipped as package data). Jinja2 autoescaping is on for every HTML template, so a feature,
group or reason named ``<script>`` is shown as text.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib
import json
import logging
import os
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import jinja2
from markupsafe import Markup, escape

import driftguard
from driftguard.config import Config, Settings
from driftguard.files import write_atomically
from driftguard.report import charts
from driftguard.report.context import (
    FleetReportData,
    ModelReportData,
    ReportError,
    distribution_svg,
    gather_fleet,
    gather_model,
    snapshot_of,
)
from driftguard.report.format import label, moment, number, percent, score, short_hash, window
from driftguard.report.grades import GRADES, UNGRADED, bands
from driftguard.report.narrative import Narrative, build_narratives, executive_summary
from driftguard.store import Lake

log = logging.getLogger(__name__)

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


class TemplatesNotFound(ReportError):
    """The ``reports`` package with the templates is not installed next to driftguard."""


@dataclass
class ReportFile:
    """A rendered report on disk."""

    path: Path
    kind: Literal["model", "fleet"]
    run_ids: list[str]
    model_ids: list[str]
    snapshot_id: int | None
    size_bytes: int
    findings: list[str]
    sha256: str = ""
    #: What the index, e-mails and Prefect artifacts show (status, score, grade, ...).
    meta: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["path"] = str(self.path)
        return data


# --------------------------------------------------------------------------- assets


def assets_root() -> Path:
    """The folder holding ``templates/`` and ``css/`` (installed package or source tree)."""
    with contextlib.suppress(ImportError):
        package = importlib.import_module("reports")
        if getattr(package, "DRIFTGUARD_ASSETS", None) and package.__file__:
            return Path(package.__file__).resolve().parent
    checkout = Path(__file__).resolve().parents[2] / "reports"
    if (checkout / "templates" / "report.html").is_file():
        return checkout
    raise TemplatesNotFound(
        "The report templates (package `reports`) are missing: reinstall DriftGuard "
        "(`pip install driftguard`), or run from a source checkout that has reports/."
    )


def _rate(group: dict[str, Any], key: str) -> str:
    value = group.get(key)
    if value is None:
        return "–"
    low, high = group.get(f"{key}_low"), group.get(f"{key}_high")
    if low is None or high is None:
        return percent(value)
    return f"{percent(value)} ({percent(low)}–{percent(high)})"


def _signed(value: Any) -> str:
    if value is None:
        return "–"
    return f"{float(value):+.3g}"


def _target(target: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(target.items()))


_CODE_SPAN = re.compile(r"`([^`<>]+)`")


def codespans(text: str) -> Markup:
    """Escape ``text``, then show `backquoted` commands as code (after escaping: safe)."""
    return Markup(_CODE_SPAN.sub(r"<code>\1</code>", str(escape(text))))


def _capitalize_first(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


@functools.cache
def environment() -> jinja2.Environment:
    """The Jinja2 environment: autoescape on for HTML, undefined names are errors."""
    root = assets_root()
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(root / "templates")),
        autoescape=lambda name: name is None or not name.endswith(".txt"),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        number=number,
        percent=percent,
        score=score,
        moment=moment,
        label=label,
        short=short_hash,
        capitalize_first=_capitalize_first,
        codespans=codespans,
    )
    env.globals.update(window=window, rate=_rate, signed=_signed, target=_target)
    return env


@functools.cache
def stylesheet() -> Markup:
    """The report CSS, inlined into each page (it holds no user data)."""
    text = (assets_root() / "css" / "report.css").read_text(encoding="utf-8")
    return Markup(text)


@functools.cache
def code_version() -> str:
    """``driftguard <version>`` plus the git commit when running from a checkout."""
    version = driftguard.__version__
    folder = Path(driftguard.__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return f"{version} (git {commit})" if re.fullmatch(r"[0-9a-f]{7,40}", commit) else version


# --------------------------------------------------------------------------- paths


def reports_root(settings: Settings) -> Path:
    return settings.home / "reports"


def _checked(name: str) -> str:
    if not _SAFE_NAME.match(name):
        raise ReportError(f"{name!r} cannot name a report folder (letters, digits, . _ - only)")
    return name


def model_report_path(settings: Settings, run_id: str, as_of: datetime) -> Path:
    """``<home>/reports/<as-of date>/<run_id>/report.html``."""
    day = as_of.astimezone(UTC).date().isoformat()
    return reports_root(settings) / day / _checked(run_id) / "report.html"


def fleet_report_path(settings: Settings, run_ids: list[str], as_of: datetime) -> Path:
    digest = hashlib.sha256("\n".join(sorted(run_ids)).encode()).hexdigest()[:12]
    day = as_of.astimezone(UTC).date().isoformat()
    return reports_root(settings) / day / f"fleet-{digest}" / "fleet.html"


def file_uri(path: Path) -> str:
    return path.resolve().as_uri()


def link_for(path: Path, settings: Settings, base_url: str | None) -> str:
    """Where a reader opens ``path``: under ``reports.base_url`` when set, else file://."""
    if base_url:
        relative = path.resolve().relative_to(reports_root(settings).resolve())
        return f"{base_url}/{relative.as_posix()}"
    return file_uri(path)


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """Serialise index updates between processes (POSIX advisory lock)."""
    import fcntl

    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".index.lock", "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --------------------------------------------------------------------------- model report


def _model_charts(data: ModelReportData) -> dict[str, Any]:
    rs = data.risk_settings
    breakdown = charts.breakdown_chart(
        [(c["name"], c["score"], c["weight"] or 0.0) for c in data.components],
        title=f"{data.identity.model_id}: risk components",
    )
    trend = charts.trend_chart(
        [(moment(h["window_end"]).removesuffix(" UTC"), h["score"]) for h in data.history],
        title=f"{data.identity.model_id}: risk score over recent runs",
        bands=[(rs.attention, "attention"), (rs.at_risk, "at risk")],
    )
    distributions = []
    for row in data.charted:
        svg = distribution_svg(row)
        if svg is not None:
            distributions.append((row.column, svg))
    return {"breakdown": breakdown, "trend": trend, "distributions": distributions}


def _period(data: ModelReportData) -> str:
    if data.period_start is None:
        return "up to this run (its first run)"
    return f"since the previous run was committed ({moment(data.period_start)})"


def build_model(lake: Lake, config: Config, run_id: str) -> ModelReportData:
    """Gather a run's report data (with narratives) from the lake at the run's snapshot."""
    run, snapshot_id = snapshot_of(lake, run_id)
    with lake.at_snapshot(snapshot_id) as snap:
        data = gather_model(snap, config, run.run_id, snapshot_id)
    data.narratives = build_narratives(data)
    return data


def render_model_html(data: ModelReportData, settings: Settings) -> str:
    """The HTML text of a model report (no file written)."""
    rs = data.risk_settings
    return (
        environment()
        .get_template("report.html")
        .render(
            d=data,
            narratives=data.narratives,
            summary=executive_summary(data, data.narratives),
            charts=_model_charts(data),
            grade_bands=bands(attention=rs.attention, at_risk=rs.at_risk),
            period=_period(data),
            css=stylesheet(),
            meta={
                "code_version": code_version(),
                "reports_dir": str(reports_root(settings)),
            },
        )
    )


def _model_meta(data: ModelReportData, path: Path, settings: Settings) -> dict[str, Any]:
    run = data.run
    return {
        "kind": "model",
        "run_id": run.run_id,
        "model_id": run.model_id,
        "model_version": run.model_version,
        "owner": data.identity.owner,
        "status": data.status,
        "previous_status": (data.previous or {}).get("status"),
        "score": data.score,
        "grade": data.grade,
        "trend": data.trend,
        "window_start": run.current.start.isoformat(),
        "window_end": run.current.end.isoformat(),
        "as_of": run.as_of.isoformat(),
        "snapshot_id": data.snapshot_id,
        "generated_at": data.snapshot_time.isoformat(),
        "findings": run.findings,
        "policy_outcome": data.policy.get("outcome"),
        "drifted": [r.column for r in data.drift_features if r.verdict in ("warning", "critical")],
        "n_features": len(data.drift_features),
        "killswitches": [s["switch_id"] for s in data.killswitch["active_on_model"]],
        "narratives": [
            {"severity": n.severity, "headline": n.headline, "text": n.text()}
            for n in data.narratives
        ],
        "summary": executive_summary(data, data.narratives),
        "checkpoint": data.audit.checkpoint,
        "verification": data.audit.verification_status,
        "path": str(path),
        "relative_path": path.relative_to(reports_root(settings)).as_posix(),
    }


def render_run_report(lake: Lake, config: Config, settings: Settings, run_id: str) -> ReportFile:
    """Render the compliance report of one monitoring run from the lake at its snapshot.

    Writes ``<home>/reports/<YYYY-MM-DD>/<run_id>/report.html`` (and ``report.json``) and
    updates ``<home>/reports/index.html``. Re-rendering gives byte-identical HTML.
    """
    began = time.perf_counter()
    data = build_model(lake, config, run_id)
    path = model_report_path(settings, data.run.run_id, data.run.as_of)
    html = render_model_html(data, settings).encode("utf-8")
    meta = _model_meta(data, path, settings)
    digest = hashlib.sha256(html).hexdigest()
    meta["sha256"] = digest
    write_atomically(path, html)
    write_atomically(path.with_name("report.json"), _json_bytes(meta))
    write_index(settings)
    log.info(
        "rendered report of run %s (%d bytes) in %.2f s",
        run_id,
        len(html),
        time.perf_counter() - began,
    )
    return ReportFile(
        path=path,
        kind="model",
        run_ids=[data.run.run_id],
        model_ids=[data.run.model_id],
        snapshot_id=data.snapshot_id,
        size_bytes=len(html),
        findings=data.run.findings,
        sha256=digest,
        meta=meta,
    )


def explain_run(lake: Lake, config: Config, run_id: str) -> list[Narrative]:
    """The plain-language explanation of every decision of a run (``driftguard explain``)."""
    return build_model(lake, config, run_id).narratives


def _json_bytes(data: Any) -> bytes:
    return (json.dumps(data, sort_keys=True, indent=1, default=str) + "\n").encode("utf-8")


# --------------------------------------------------------------------------- fleet report


def _fleet_charts(data: FleetReportData) -> dict[str, Any]:
    counts = [(g, data.grade_counts.get(g, 0)) for g in (*GRADES, UNGRADED)]
    sparks = {
        m.run_id: charts.sparkline(
            [(moment(h["window_end"]).removesuffix(" UTC"), h["score"]) for h in m.history],
            title=f"{m.model_id}: risk score over recent runs",
        )
        for m in data.models
    }
    return {
        "grades": charts.grade_chart(counts, title="Compliance grades across the fleet"),
        "sparks": sparks,
    }


def render_fleet_report(
    lake: Lake, config: Config, settings: Settings, run_ids: list[str]
) -> ReportFile:
    """Render the executive dashboard for a set of runs (one per model) with links to their
    reports (rendered first when missing). Read at the newest of the runs' snapshots."""
    if not run_ids:
        raise ReportError("a fleet report needs at least one run id")
    runs = [snapshot_of(lake, r) for r in dict.fromkeys(run_ids)]
    models = [r.model_id for r, _ in runs]
    twice = sorted({m for m in models if models.count(m) > 1})
    if twice:
        raise ReportError(
            f"a fleet report takes one run per model; given several for {', '.join(twice)}"
        )
    snapshot_id = max(s for _, s in runs)
    with lake.at_snapshot(snapshot_id) as snap:
        data = gather_fleet(snap, config, runs, snapshot_id)
    newest = max(r.as_of for r, _ in runs)
    path = fleet_report_path(settings, [r.run_id for r, _ in runs], newest)
    for model in data.models:
        run = next(r for r, _ in runs if r.run_id == model.run_id)
        target = model_report_path(settings, model.run_id, run.as_of)
        if not target.exists():
            render_run_report(lake, config, settings, model.run_id)
        model.link = Path(os.path.relpath(target, path.parent)).as_posix()
    html = (
        environment()
        .get_template("fleet.html")
        .render(
            f=data,
            charts=_fleet_charts(data),
            grade_bands=bands(),
            css=stylesheet(),
            meta={"code_version": code_version(), "reports_dir": str(reports_root(settings))},
        )
        .encode("utf-8")
    )
    digest = hashlib.sha256(html).hexdigest()
    findings = [f"{m.model_id}: {f}" for m in data.models for f in m.findings]
    meta = {
        "kind": "fleet",
        "run_ids": [m.run_id for m in data.models],
        "snapshot_id": snapshot_id,
        "generated_at": data.snapshot_time.isoformat(),
        "as_of": newest.isoformat(),
        "grade_counts": data.grade_counts,
        "models": [
            {
                "model_id": m.model_id,
                "model_version": m.version,
                "run_id": m.run_id,
                "status": m.status,
                "score": m.score,
                "grade": m.grade,
                "trend": m.trend,
                "findings": len(m.findings),
                "violations": len(m.violations),
                "killswitches": [s["switch_id"] for s in m.switches],
                "link": m.link,
            }
            for m in data.models
        ],
        "needing_attention": [m.model_id for m in data.needing_attention],
        "sha256": digest,
        "path": str(path),
        "relative_path": path.relative_to(reports_root(settings)).as_posix(),
    }
    write_atomically(path, html)
    write_atomically(path.with_name("fleet.json"), _json_bytes(meta))
    write_index(settings)
    return ReportFile(
        path=path,
        kind="fleet",
        run_ids=[m.run_id for m in data.models],
        model_ids=[m.model_id for m in data.models],
        snapshot_id=snapshot_id,
        size_bytes=len(html),
        findings=findings,
        sha256=digest,
        meta=meta,
    )


# --------------------------------------------------------------------------- index


def _load_sidecars(root: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    models: list[dict[str, Any]] = []
    fleets: list[dict[str, Any]] = []
    for pattern, bucket in (("*/*/report.json", models), ("*/fleet-*/fleet.json", fleets)):
        for path in root.glob(pattern):
            try:
                item = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                log.warning("skipping unreadable report metadata %s", path)
                continue
            item["relative_path"] = (
                path.with_name("report.html" if bucket is models else "fleet.html")
                .relative_to(root)
                .as_posix()
            )
            bucket.append(item)
    models.sort(key=lambda m: (m.get("as_of", ""), m.get("run_id", "")), reverse=True)
    fleets.sort(key=lambda m: (m.get("as_of", ""), m.get("generated_at", "")), reverse=True)
    return models, fleets


def write_index(settings: Settings) -> Path:
    """Rewrite ``<home>/reports/index.html`` from the reports on disk (newest first)."""
    root = reports_root(settings)
    with _locked(root):
        models, fleets = _load_sidecars(root)
        html = (
            environment()
            .get_template("index.html")
            .render(
                models=models,
                fleets=fleets,
                css=stylesheet(),
                meta={"code_version": code_version(), "reports_dir": str(root)},
            )
        )
        path = root / "index.html"
        write_atomically(path, html.encode("utf-8"))
    return path


# --------------------------------------------------------------------------- several runs


def render_reports(
    lake: Lake,
    config: Config,
    settings: Settings,
    run_ids: list[str],
    *,
    fleet: bool = True,
    actor: str | None = None,
) -> dict[str, Any]:
    """Render each run's report, then (with ``fleet``) the fleet report over them, and record
    each newly issued report in the audit log (:func:`record_issued`; ``actor`` defaults to
    the operating-system user).

    Returns what the Prefect tasks pass along: ``{"models": [report metadata...], "fleet":
    metadata or None, "index": path}``; each metadata dict has ``path``, ``link`` (under
    ``reports.base_url`` when set), ``sha256``, ``size_bytes``, status, score, grade and
    findings. With several runs of one model, the fleet report takes the latest.
    """
    models = []
    for run_id in dict.fromkeys(run_ids):
        made = render_run_report(lake, config, settings, run_id)
        models.append(
            {
                **made.meta,
                "size_bytes": made.size_bytes,
                "link": link_for(made.path, settings, config.reports.base_url),
            }
        )
    fleet_meta = None
    if fleet and models:
        latest: dict[str, dict[str, Any]] = {}
        for meta in models:
            known = latest.get(meta["model_id"])
            if known is None or (meta["as_of"], meta["run_id"]) > (known["as_of"], known["run_id"]):
                latest[meta["model_id"]] = meta
        made = render_fleet_report(lake, config, settings, [m["run_id"] for m in latest.values()])
        fleet_meta = {
            **made.meta,
            "size_bytes": made.size_bytes,
            "link": link_for(made.path, settings, config.reports.base_url),
        }
    rendered = {
        "models": models,
        "fleet": fleet_meta,
        "index": str(reports_root(settings) / "index.html"),
    }
    from driftguard.ingest import default_actor

    record_issued(lake, rendered, actor=actor or default_actor())
    return rendered


def record_issued(lake: Lake, rendered: dict[str, Any], *, actor: str) -> int:
    """Append one ``report.issued`` audit entry per report whose exact bytes the log does not
    hold yet, in one transaction; returns how many were added.

    The entry carries the HTML's SHA-256, so anyone holding a copy of a report can check that
    it is the one DriftGuard issued. Re-rendering a run gives byte-identical HTML, hence the
    same digest and no second entry.
    """
    from driftguard import audit

    reports = [*rendered["models"], *([rendered["fleet"]] if rendered.get("fleet") else [])]

    def work(lk: Lake) -> int:
        digests = [meta["sha256"] for meta in reports]
        known = {
            (row["resource_id"], row["sha256"])
            for row in lk.records(
                "SELECT resource_id, json_extract_string(payload_json, '$.sha256') AS sha256 "
                "FROM audit_entries WHERE event_type = 'report.issued' "
                "AND json_extract_string(payload_json, '$.sha256') IN "
                f"({', '.join('?' for _ in digests)})",
                digests,
            )
        }
        drafts = []
        for meta in reports:
            resource = meta.get("model_id") or "fleet"
            if (resource, meta["sha256"]) in known:
                continue
            run_ids = [meta["run_id"]] if meta["kind"] == "model" else list(meta["run_ids"])
            drafts.append(
                {
                    "event_type": "report.issued",
                    "action": f"report.{meta['kind']}.issued",
                    "actor": actor,
                    "resource_type": "report",
                    "resource_id": resource,
                    "run_id": meta.get("run_id"),
                    "payload": {
                        "kind": meta["kind"],
                        "sha256": meta["sha256"],
                        "size_bytes": meta["size_bytes"],
                        "snapshot_id": meta["snapshot_id"],
                        "relative_path": meta["relative_path"],
                        "run_ids": run_ids,
                    },
                    "references": [f"run:{r}" for r in run_ids],
                }
            )
        return len(audit.append_many(lk, drafts))  # one head read and update for the batch

    return lake.transaction(work, message="reports issued", author=actor) if reports else 0
