"""What a report shows, gathered from the lake as it was at a run's snapshot.

Everything here reads through a read-only connection attached at the run's snapshot
(:meth:`driftguard.store.Lake.at_snapshot`), so rows written later (new runs, new data, a
switch deactivated afterwards) never change a past report: re-rendering gives the same bytes.
Only the model's identity falls back to the configuration when the version is not in the
registry.

"The period" of a run is the time since the previous run of the same model finished (its
whole history for a first run) up to the run's snapshot: approvals, deployments, lifecycle
changes and kill-switch events in it are listed in the report.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from driftguard import audit
from driftguard.config import Config, RiskSettings
from driftguard.errors import DriftGuardError
from driftguard.governance.measures import PERFORMANCE_METRICS
from driftguard.monitor import MonitoringRun, commit_message, load_run
from driftguard.report import charts
from driftguard.report.format import label, number
from driftguard.report.grades import Grade, grade_of
from driftguard.store import Lake

log = logging.getLogger(__name__)

VERDICT_ORDER = {"critical": 0, "warning": 1, "ok": 2, "insufficient_data": 3, "not_judged": 4}
METHOD_NAMES = {
    "psi": "population stability index (PSI)",
    "kl": "Kullback-Leibler divergence",
    "jensen_shannon": "Jensen-Shannon distance",
    "wasserstein": "normalised Wasserstein distance",
    "ks": "Kolmogorov-Smirnov test",
    "chi_square": "chi-square test",
    "z_test": "two-proportion z-test",
}
TESTS = frozenset({"ks", "chi_square", "z_test"})
#: Most bars in one distribution chart; smaller categories are summed into "other".
MAX_CHART_BARS = 14


class ReportError(DriftGuardError):
    """A report cannot be built as asked (unknown run, run without a snapshot, ...)."""


class RunWithoutSnapshot(ReportError):
    """The run's commit is not among the lake's snapshots (expired or never committed)."""


# --------------------------------------------------------------------------- data


@dataclass
class Identity:
    model_id: str
    version: str
    owner: str
    purpose: str
    model_type: str
    lifecycle: str  # registry state, or "not registered"
    source: str  # registry | configuration | run


@dataclass
class DriftRow:
    column: str
    target: str  # feature | prediction | label
    kind: str
    method: str
    value: float | None
    p_value: float | None
    warning: float | None
    critical: float | None
    threshold_source: str
    verdict: str
    rank: int | None
    n_ref: int | None
    n_cur: int | None
    ref_missing: float | None
    cur_missing: float | None
    unseen: float | None
    method_reason: str
    weight: float | None
    segment: str | None = None
    bins: list[str] = field(default_factory=list)
    reference_share: list[float] = field(default_factory=list)
    current_share: list[float] = field(default_factory=list)
    unseen_examples: list[Any] = field(default_factory=list)
    warning_lower: float | None = None
    critical_lower: float | None = None

    @property
    def is_test(self) -> bool:
        return self.method in TESTS

    @property
    def compared(self) -> float | None:
        """The number judged against the threshold: the p-value for tests, else the value."""
        return self.p_value if self.is_test and self.threshold_source == "fixed" else self.value

    def threshold_text(self) -> str:
        if self.threshold_source == "learned":
            parts = []
            if self.warning is not None:
                parts.append(f"warning above {number(self.warning)}")
            if self.critical is not None:
                parts.append(f"critical above {number(self.critical)}")
            if self.warning_lower is not None:
                parts.append(f"warning below {number(self.warning_lower)}")
            return "learned from the reference: " + ", ".join(parts) if parts else "learned"
        if self.is_test:
            return f"p < {number(self.warning)} warning, p < {number(self.critical)} critical"
        return f"{number(self.warning)} warning, {number(self.critical)} critical"

    def largest_shift(self) -> tuple[str, float, float] | None:
        """The bin whose share changed most: (bin, reference share, current share)."""
        if not self.bins:
            return None
        i = max(
            range(len(self.bins)),
            key=lambda k: (abs(self.current_share[k] - self.reference_share[k]), -k),
        )
        return self.bins[i], self.reference_share[i], self.current_share[i]


@dataclass
class FairnessAttribute:
    name: str
    columns: list[str]
    reference_group: str | None
    metrics: list[dict[str, Any]]  # judged metrics first
    groups: list[dict[str, Any]]
    four_fifths: dict[str, Any] | None  # disparate impact verdict
    chart: Any = None


@dataclass
class AuditSection:
    log_id: str | None
    size: int | None
    head: str | None
    verification_status: str
    verification_text: str
    verification_mode: str
    checkpoint: str | None  # the one-line form, verbatim
    checkpoint_size: int | None
    checkpoint_note: str
    entries: list[dict[str, Any]]
    period_counts: dict[str, int]


@dataclass
class ModelReportData:
    """Everything one model report shows (see the module docstring for the rules)."""

    run: MonitoringRun
    snapshot_id: int
    snapshot_time: datetime
    identity: Identity
    risk_settings: RiskSettings
    status: str
    score: float | None
    grade: Grade
    trend: str
    trend_change: float | None
    previous: dict[str, Any] | None  # previous scored run: run_id, status, score
    period_start: datetime | None
    components: list[dict[str, Any]]
    risk_note: str
    history: list[dict[str, Any]]
    drift_features: list[DriftRow]
    drift_outputs: list[DriftRow]  # prediction and label
    drift_segments: list[DriftRow]
    charted: list[DriftRow]
    fairness: list[FairnessAttribute]
    quality: list[dict[str, Any]]
    performance: list[dict[str, Any]]
    policy: dict[str, Any]
    policy_rules: list[dict[str, Any]]
    killswitch: dict[str, Any]
    governance: dict[str, list[dict[str, Any]]]
    audit: AuditSection
    narratives: list[Any] = field(default_factory=list)

    @property
    def summary(self) -> dict[str, Any]:
        return self.run.summary

    def section(self, name: str) -> dict[str, Any]:
        value = self.run.summary.get(name)
        return value if isinstance(value, dict) else {}

    @property
    def findings(self) -> list[str]:
        return self.run.findings


# --------------------------------------------------------------------------- gathering


def snapshot_of(lake: Lake, run_id: str) -> tuple[MonitoringRun, int]:
    """The stored run and the id of the snapshot its transaction committed."""
    run = load_run(lake, run_id)
    if run.snapshot_id is None:
        raise RunWithoutSnapshot(
            f"Run {run_id} has no snapshot in the lake (its commit message is missing or the "
            "snapshot was expired), so its report cannot be rebuilt from the state it used."
        )
    return run, run.snapshot_id


def gather_model(snap: Lake, config: Config, run_id: str, snapshot_id: int) -> ModelReportData:
    """Read every section of a model report through ``snap`` (the lake at the snapshot)."""
    run = load_run(snap, run_id)
    run.snapshot_id = snapshot_id
    (snapshot_time,) = snap.fetchone(
        "SELECT snapshot_time FROM ducklake_snapshots('lake') WHERE snapshot_id = ?",
        [snapshot_id],
    )
    model_cfg = next((m for m in config.models if m.id == run.model_id), None)
    risk_settings = model_cfg.risk if model_cfg else RiskSettings()
    identity = _identity(snap, run, model_cfg)
    risk = run.summary.get("risk") or {}
    score = risk.get("score")
    risk_rows = _risk_rows(snap, run.model_id)
    history = _history(risk_rows, run, config.reports.trend_runs)
    previous = _previous_scored(risk_rows, run)
    period_start = _period_start(snap, run)
    drift_rows = _drift_rows(snap, run.run_id)
    features = sorted(
        (r for r in drift_rows if r.target == "feature" and r.segment is None),
        key=lambda r: (r.rank if r.rank is not None else 10**9, r.column),
    )
    charted = [r for r in features if r.bins and r.verdict != "insufficient_data"][
        : config.reports.top_features
    ]
    data = ModelReportData(
        run=run,
        snapshot_id=snapshot_id,
        snapshot_time=snapshot_time,
        identity=identity,
        risk_settings=risk_settings,
        status=str(risk.get("status") or "UNKNOWN"),
        score=score,
        grade=grade_of(score, attention=risk_settings.attention, at_risk=risk_settings.at_risk),
        trend=str(risk.get("trend") or "unknown"),
        trend_change=risk.get("trend_change"),
        previous=previous,
        period_start=period_start,
        components=_components(risk_rows, run, risk),
        risk_note=str(risk.get("note") or ""),
        history=history,
        drift_features=features,
        drift_outputs=[r for r in drift_rows if r.target != "feature" and r.segment is None],
        drift_segments=[
            r for r in drift_rows if r.segment is not None and r.verdict in ("warning", "critical")
        ],
        charted=charted,
        fairness=_fairness(snap, run.run_id),
        quality=_quality(snap, run.run_id),
        performance=_performance(snap, run.run_id),
        policy=run.summary.get("policy") or {},
        policy_rules=snap.records(
            "SELECT policy_name, policy_version, rule_id, measure, bound, threshold, value, "
            "severity, outcome, message FROM policy_evaluations WHERE run_id = ? "
            "ORDER BY CASE outcome WHEN 'block' THEN 0 WHEN 'warn' THEN 1 WHEN "
            "'not_evaluated' THEN 2 ELSE 3 END, rule_id",
            [run.run_id],
        ),
        killswitch=_killswitch(snap, run, identity, period_start),
        governance=_governance(snap, run.model_id, period_start),
        audit=_audit(snap, run, period_start),
    )
    return data


def _identity(snap: Lake, run: MonitoringRun, model_cfg: Any) -> Identity:
    rows = snap.records(
        "SELECT owner, purpose, model_type, lifecycle_state FROM model_versions "
        "WHERE model_id = ? AND version = ?",
        [run.model_id, run.model_version],
    )
    if rows:
        row = rows[0]
        return Identity(
            run.model_id,
            run.model_version,
            row["owner"],
            row["purpose"],
            row["model_type"],
            row["lifecycle_state"],
            "registry",
        )
    if model_cfg is not None:
        return Identity(
            run.model_id,
            run.model_version,
            model_cfg.owner,
            model_cfg.purpose,
            model_cfg.model_type,
            "not registered",
            "configuration",
        )
    return Identity(
        run.model_id, run.model_version, "unknown", "unknown", "unknown", "not registered", "run"
    )


def _risk_rows(snap: Lake, model_id: str) -> list[dict[str, Any]]:
    """The model's risk history, oldest first (window end, then commit order)."""
    return snap.records(
        "SELECT run_id, window_end, recorded_at, score, status, breakdown_json FROM "
        "risk_history WHERE model_id = ? ORDER BY window_end, recorded_at, run_id",
        [model_id],
    )


def _history(rows: list[dict[str, Any]], run: MonitoringRun, limit: int) -> list[dict[str, Any]]:
    """The last ``limit`` scored runs up to and including this one (a backfill may have an
    older window than runs committed before it)."""
    mine = next((i for i, r in enumerate(rows) if r["run_id"] == run.run_id), None)
    upto = rows[: mine + 1] if mine is not None else rows
    return upto[-limit:]


def _previous_scored(rows: list[dict[str, Any]], run: MonitoringRun) -> dict[str, Any] | None:
    mine = next((i for i, r in enumerate(rows) if r["run_id"] == run.run_id), None)
    if not mine:
        return None
    before = rows[mine - 1]
    return {"run_id": before["run_id"], "status": before["status"], "score": before["score"]}


def _period_start(snap: Lake, run: MonitoringRun) -> datetime | None:
    """When the previous run of the model committed (its snapshot time), or None."""
    row = snap.fetchone(
        "SELECT run_id FROM monitoring_runs WHERE model_id = ? AND started_at < ? "
        "ORDER BY started_at DESC, run_id DESC LIMIT 1",
        [run.model_id, run.started_at],
    )
    if not row:
        return None
    found = snap.fetchone(
        "SELECT snapshot_time FROM ducklake_snapshots('lake') WHERE commit_message = ? "
        "ORDER BY snapshot_id DESC LIMIT 1",
        [commit_message(row[0])],
    )
    return found[0] if found else None


def _components(
    rows: list[dict[str, Any]], run: MonitoringRun, risk: dict[str, Any]
) -> list[dict[str, Any]]:
    mine = next((r for r in rows if r["run_id"] == run.run_id), None)
    breakdown = json.loads(mine["breakdown_json"]).get("breakdown", {}) if mine else {}
    out = []
    for name in ("drift", "fairness", "quality", "performance"):
        part = breakdown.get(name) or {}
        out.append(
            {
                "name": name,
                "score": (risk.get("components") or {}).get(name, part.get("score")),
                "weight": part.get("weight"),
                "explanation": (risk.get("explanations") or {}).get(name)
                or part.get("explanation")
                or "",
                "missing_reason": (risk.get("missing_reasons") or {}).get(name)
                or part.get("missing_reason"),
            }
        )
    return out


def _drift_rows(snap: Lake, run_id: str) -> list[DriftRow]:
    rows = snap.records(
        "SELECT * FROM drift_results WHERE run_id = ? ORDER BY segment NULLS FIRST, "
        "column_name, is_primary DESC, method",
        [run_id],
    )
    by_key: dict[tuple[str, str, str | None], DriftRow] = {}
    bins: dict[tuple[str, str, str | None], dict[str, Any]] = {}
    for row in rows:
        key = (row["target"], row["column_name"], row["segment"])
        details = json.loads(row["details_json"] or "{}")
        if "bins" in details and key not in bins:
            bins[key] = details
        if not row["is_primary"]:
            continue
        by_key[key] = DriftRow(
            column=row["column_name"],
            target=row["target"],
            kind=row["kind"],
            method=row["method"],
            value=row["value"],
            p_value=row["p_value"],
            warning=row["warning_threshold"],
            critical=row["critical_threshold"],
            threshold_source=row["threshold_source"],
            verdict=row["verdict"],
            rank=row["rank"],
            n_ref=row["n_ref"],
            n_cur=row["n_cur"],
            ref_missing=row["ref_missing_share"],
            cur_missing=row["cur_missing_share"],
            unseen=row["unseen_share"],
            method_reason=row["method_reason"] or "",
            weight=row["weight"],
            segment=row["segment"],
            unseen_examples=details.get("unseen_examples") or [],
            warning_lower=row["warning_lower"],
            critical_lower=row["critical_lower"],
        )
    for key, drift in by_key.items():
        detail = bins.get(key)
        if detail:
            drift.bins = [str(b) for b in detail["bins"]]
            drift.reference_share = [float(x or 0.0) for x in detail["reference_share"]]
            drift.current_share = [float(x or 0.0) for x in detail["current_share"]]
    ordered = sorted(
        by_key.values(),
        key=lambda r: (
            r.segment is not None,
            {"feature": 0, "prediction": 1, "label": 2}.get(r.target, 3),
            r.rank if r.rank is not None else 10**9,
            VERDICT_ORDER.get(r.verdict, 9),
            r.column,
            r.segment or "",
        ),
    )
    return ordered


def chart_series(row: DriftRow) -> tuple[list[str], list[float], list[float]]:
    """Bins for a chart: empty ones dropped, small categories beyond the limit summed."""
    keep = [
        i for i in range(len(row.bins)) if row.reference_share[i] > 0 or row.current_share[i] > 0
    ]
    if len(keep) > MAX_CHART_BARS:
        ranked = sorted(keep, key=lambda i: (-max(row.reference_share[i], row.current_share[i]), i))
        top = sorted(ranked[: MAX_CHART_BARS - 1])
        rest = [i for i in keep if i not in set(top)]
        labels = [row.bins[i] for i in top] + [f"other ({len(rest)})"]
        ref = [row.reference_share[i] for i in top] + [sum(row.reference_share[i] for i in rest)]
        cur = [row.current_share[i] for i in top] + [sum(row.current_share[i] for i in rest)]
        return labels, ref, cur
    return (
        [row.bins[i] for i in keep],
        [row.reference_share[i] for i in keep],
        [row.current_share[i] for i in keep],
    )


def distribution_svg(row: DriftRow) -> Any:
    labels, ref, cur = chart_series(row)
    if not labels:
        return None
    return charts.distribution_chart(
        labels,
        ref,
        cur,
        title=f"{row.column}: reference vs current distribution ({label(row.verdict)})",
    )


_RATES = (
    ("selection_rate", "selection rate"),
    ("tpr", "true positive rate"),
    ("fpr", "false positive rate"),
    ("fnr", "false negative rate"),
    ("precision", "precision"),
)


def _fairness(snap: Lake, run_id: str) -> list[FairnessAttribute]:
    metrics = snap.records(
        "SELECT attribute, metric, value, threshold, verdict, severity, groups_json "
        "FROM fairness_metrics WHERE run_id = ? ORDER BY attribute, metric",
        [run_id],
    )
    groups = snap.records(
        "SELECT * FROM fairness_groups WHERE run_id = ? ORDER BY attribute, group_label",
        [run_id],
    )
    names: list[str] = []
    for row in [*groups, *metrics]:
        if row["attribute"] not in names:
            names.append(row["attribute"])
    # single attributes first, then intersections, each in name order
    names.sort(key=lambda n: (" × " in n, n))
    out = []
    for name in names:
        mine = [g for g in groups if g["attribute"] == name]
        reference = next((g["group_label"] for g in mine if g["is_reference"]), None)
        judged = [m for m in metrics if m["attribute"] == name and m["verdict"] != "not_judged"]
        judged.sort(key=lambda m: (VERDICT_ORDER.get(m["verdict"], 9), m["metric"]))
        for m in judged:
            m["groups"] = json.loads(m.pop("groups_json") or "[]")
        four = next((m for m in judged if m["metric"] == "disparate_impact"), None)
        attribute = FairnessAttribute(
            name=name,
            columns=json.loads(mine[0]["columns_json"]) if mine else [name],
            reference_group=reference,
            metrics=judged,
            groups=mine,
            four_fifths=four,
        )
        bars = [
            charts.RateBar(
                g["group_label"] + (" (reference)" if g["is_reference"] else ""),
                g["selection_rate"] if g["status"] == "ok" else None,
                g["selection_rate_low"],
                g["selection_rate_high"],
                _group_verdict(g, four),
            )
            for g in mine
        ]
        ref_rate = next((g["selection_rate"] for g in mine if g["is_reference"]), None)
        if bars:
            attribute.chart = charts.interval_chart(
                bars,
                title=f"{name}: selection rate per group with 95% Wilson intervals",
                reference_value=ref_rate,
                reference_label="reference group" if ref_rate is not None else "",
            )
        out.append(attribute)
    return out


def _group_verdict(group: dict[str, Any], four: dict[str, Any] | None) -> str:
    if group["status"] != "ok":
        return "insufficient_data"
    di = group.get("disparate_impact")
    if di is None or four is None or four.get("threshold") is None:
        return "ok"
    threshold = float(four["threshold"])
    if di >= threshold:
        return "ok"
    return "critical" if di < 1 - 2 * (1 - threshold) else "warning"


def rates_of(group: dict[str, Any]) -> list[dict[str, Any]]:
    """Each rate of a fairness group with its interval, for the tables."""
    return [
        {
            "name": text,
            "value": group.get(key),
            "low": group.get(f"{key}_low"),
            "high": group.get(f"{key}_high"),
        }
        for key, text in _RATES
    ]


def _quality(snap: Lake, run_id: str) -> list[dict[str, Any]]:
    return snap.records(
        'SELECT "check", "column", value, numerator, denominator, threshold, verdict, severity '
        "FROM quality_metrics WHERE run_id = ? ORDER BY CASE verdict WHEN 'critical' THEN 0 "
        'WHEN \'warning\' THEN 1 ELSE 2 END, "check", "column" NULLS LAST',
        [run_id],
    )


_ERROR_METRICS = frozenset({"log_loss", "brier", "mae", "rmse"})
_METRIC_ORDER = ("label_coverage", *PERFORMANCE_METRICS)


def _performance(snap: Lake, run_id: str) -> list[dict[str, Any]]:
    rows = snap.records(
        'SELECT "window", metric, value, n_labelled, n_predictions FROM performance_metrics '
        "WHERE run_id = ?",
        [run_id],
    )
    table: dict[str, dict[str, Any]] = {}
    for row in rows:
        item = table.setdefault(row["metric"], {"metric": row["metric"]})
        item[row["window"]] = row["value"]
        item[f"{row['window']}_labelled"] = row["n_labelled"]
    out = []
    for name in sorted(table, key=lambda m: (_METRIC_ORDER + (m,)).index(m)):
        item = table[name]
        cur, ref = item.get("current"), item.get("reference")
        change = None
        if cur is not None and ref is not None and math.isfinite(cur) and math.isfinite(ref):
            change = cur - ref
        item["change"] = change
        item["direction"] = "lower is better" if name in _ERROR_METRICS else "higher is better"
        out.append(item)
    return out


def _targets_model(target: dict[str, str], identity: Identity) -> bool:
    mine = {"model_id": identity.model_id, "version": identity.version}
    if identity.model_type != "unknown":
        mine["model_type"] = identity.model_type
    named = {k: v for k, v in target.items() if k in ("model_id", "version", "model_type")}
    return bool(named) and all(mine.get(k) == v for k, v in named.items())


def _killswitch(
    snap: Lake, run: MonitoringRun, identity: Identity, since: datetime | None
) -> dict[str, Any]:
    switches = snap.records(
        "SELECT switch_id, scope, target_json, reason, source, run_id, activated_by, "
        "activated_at, deactivated_by, deactivated_at, recovery_notes FROM killswitches "
        "ORDER BY activated_at, switch_id"
    )
    for s in switches:
        s["target"] = json.loads(s.pop("target_json"))
        s["active"] = s["deactivated_at"] is None
        s["on_this_model"] = _targets_model(s["target"], identity)
    params: list[Any] = []
    where = ""
    if since is not None:
        where = "WHERE e.changed_at > ?"
        params.append(since)
    events = snap.records(
        "SELECT e.changed_at, e.switch_id, e.event, e.actor, e.reason, e.run_id, k.scope, "
        f"k.target_json FROM killswitch_events e JOIN killswitches k USING (switch_id) {where} "
        "ORDER BY e.changed_at, e.switch_id",
        params,
    )
    for e in events:
        e["target"] = json.loads(e.pop("target_json"))
    summary = run.summary.get("killswitch") or {}
    return {
        "fired": summary.get("fired") or [],
        "activated_here": [s for s in switches if s["run_id"] == run.run_id],
        "active_on_model": [s for s in switches if s["active"] and s["on_this_model"]],
        "active_elsewhere": sum(1 for s in switches if s["active"] and not s["on_this_model"]),
        "events": events,
    }


def _governance(
    snap: Lake, model_id: str, since: datetime | None
) -> dict[str, list[dict[str, Any]]]:
    after = " AND {col} > ?" if since is not None else ""
    extra = [since] if since is not None else []
    approvals = snap.records(
        "SELECT r.request_id, r.version, r.requested_by, r.justification, r.status, "
        "r.requested_at, r.closed_at FROM approval_requests r WHERE r.model_id = ? AND "
        "(r.requested_at > ? OR r.closed_at > ? OR ? IS NULL) ORDER BY r.requested_at",
        [model_id, since, since, since],
    )
    decisions = snap.records(
        "SELECT request_id, version, approver, decision, notes, decided_at FROM "
        "approval_decisions WHERE model_id = ?" + after.format(col="decided_at") + " ORDER BY "
        "decided_at, approver",
        [model_id, *extra],
    )
    deployments = snap.records(
        "SELECT deployment_id, version, from_state, to_state, actor, deployed_at, status, "
        "check_outcome, override, override_reason, notes FROM deployments WHERE model_id = ?"
        + after.format(col="deployed_at")
        + " ORDER BY deployed_at, deployment_id",
        [model_id, *extra],
    )
    lifecycle = snap.records(
        "SELECT version, from_state, to_state, actor, reason, changed_at FROM lifecycle_events "
        "WHERE model_id = ?" + after.format(col="changed_at") + " ORDER BY changed_at, event_id",
        [model_id, *extra],
    )
    return {
        "approvals": approvals,
        "decisions": decisions,
        "deployments": deployments,
        "lifecycle": lifecycle,
    }


def _audit(snap: Lake, run: MonitoringRun, since: datetime | None) -> AuditSection:
    head = audit.head(snap)
    from driftguard.audit.log import stored_checkpoints

    checkpoints = stored_checkpoints(snap, head.log_id)
    ours = snap.records(
        "SELECT size, head FROM audit_checkpoints WHERE run_id = ? AND log_id = ? "
        "ORDER BY size DESC, issued_at DESC LIMIT 1",
        [run.run_id, head.log_id],
    )
    if ours:
        checkpoint = next(
            (c for c in checkpoints if (c.size, c.head) == (ours[0]["size"], ours[0]["head"])),
            None,
        )
        checkpoint_note = "written in this run's transaction"
    else:
        checkpoint = checkpoints[-1] if checkpoints else None
        checkpoint_note = (
            "no checkpoint was written with this run (see the audit entries); the latest "
            "earlier checkpoint is shown"
            if checkpoint
            else "the log holds no checkpoint yet"
        )
    # hash-only: every entry's bytes, chain and Merkle root up to the snapshot; cheap enough
    # to run for each report (about 4 s per million entries), deterministic for a snapshot
    result = audit.verify(snap, full=False)
    entries = [
        {
            "seq": e.seq,
            "ts": e.ts,
            "event_type": e.event_type,
            "action": e.action,
            "actor": e.actor,
            "severity": e.severity,
            "resource": f"{e.resource_type}:{e.resource_id}",
            "reason": e.reason,
            "leaf_hash": e.leaf_hash,
        }
        for e in audit.trail(snap, run_id=run.run_id, limit=None)
    ]
    counts: dict[str, int] = {}
    params: list[Any] = []
    where = "1 = 1"
    if since is not None:
        where, params = "ts > ?", [since]
    for severity, n in snap.fetchall(
        f"SELECT severity, count(*) FROM audit_entries WHERE {where} GROUP BY severity "
        "ORDER BY severity",
        params,
    ):
        counts[str(severity)] = int(n)
    return AuditSection(
        log_id=head.log_id,
        size=head.size,
        head=head.head,
        verification_status=result.status,
        verification_text=result.verdict(),
        verification_mode=result.mode,
        checkpoint=checkpoint.to_text() if checkpoint else None,
        checkpoint_size=checkpoint.size if checkpoint else None,
        checkpoint_note=checkpoint_note,
        entries=entries,
        period_counts=counts,
    )


# --------------------------------------------------------------------------- fleet


@dataclass
class FleetModel:
    model_id: str
    version: str
    run_id: str
    owner: str
    status: str
    score: float | None
    grade: Grade
    trend: str
    trend_change: float | None
    history: list[dict[str, Any]]
    findings: list[str]
    violations: list[dict[str, Any]]  # policy rules that warn or block
    policy_outcome: str
    switches: list[dict[str, Any]]  # active switches on this model
    window_start: datetime
    window_end: datetime
    snapshot_id: int
    drifted: int
    n_features: int
    link: str = ""
    attention_rank: tuple = ()


@dataclass
class FleetReportData:
    snapshot_id: int
    snapshot_time: datetime
    models: list[FleetModel]
    grade_counts: dict[str, int]
    active_switches: list[dict[str, Any]]
    audit: AuditSection | None = None

    @property
    def needing_attention(self) -> list[FleetModel]:
        return [m for m in self.models if m.status != "HEALTHY" or m.violations or m.switches]


_STATUS_RANK = {"AT_RISK": 0, "ATTENTION_NEEDED": 1, "UNKNOWN": 2, "HEALTHY": 3}


def gather_fleet(
    snap: Lake, config: Config, runs: list[tuple[MonitoringRun, int]], snapshot_id: int
) -> FleetReportData:
    """The fleet dashboard at ``snapshot_id`` (the newest of the runs' snapshots)."""
    (snapshot_time,) = snap.fetchone(
        "SELECT snapshot_time FROM ducklake_snapshots('lake') WHERE snapshot_id = ?",
        [snapshot_id],
    )
    switches = snap.records(
        "SELECT switch_id, scope, target_json, reason, source, run_id, activated_by, "
        "activated_at FROM killswitches WHERE deactivated_at IS NULL ORDER BY activated_at, "
        "switch_id"
    )
    for s in switches:
        s["target"] = json.loads(s.pop("target_json"))
    models = []
    for run, run_snapshot in runs:
        model_cfg = next((m for m in config.models if m.id == run.model_id), None)
        settings = model_cfg.risk if model_cfg else RiskSettings()
        identity = _identity(snap, run, model_cfg)
        risk = run.summary.get("risk") or {}
        drift = run.summary.get("drift") or {}
        policy = run.summary.get("policy") or {}
        violations = snap.records(
            "SELECT policy_name, policy_version, rule_id, measure, value, threshold, outcome, "
            "message FROM policy_evaluations WHERE run_id = ? AND outcome IN ('warn', 'block') "
            "ORDER BY outcome, rule_id",
            [run.run_id],
        )
        model = FleetModel(
            model_id=run.model_id,
            version=run.model_version,
            run_id=run.run_id,
            owner=identity.owner,
            status=str(risk.get("status") or "UNKNOWN"),
            score=risk.get("score"),
            grade=grade_of(
                risk.get("score"), attention=settings.attention, at_risk=settings.at_risk
            ),
            trend=str(risk.get("trend") or "unknown"),
            trend_change=risk.get("trend_change"),
            history=_history(_risk_rows(snap, run.model_id), run, config.reports.trend_runs),
            findings=run.findings,
            violations=violations,
            policy_outcome=str(policy.get("outcome") or "no policy"),
            switches=[s for s in switches if _targets_model(s["target"], identity)],
            window_start=run.current.start,
            window_end=run.current.end,
            snapshot_id=run_snapshot,
            drifted=int(drift.get("n_drifted") or 0),
            n_features=int(drift.get("n_features") or 0),
        )
        model.attention_rank = (
            0 if model.switches else 1,
            _STATUS_RANK.get(model.status, 2),
            0 if any(v["outcome"] == "block" for v in violations) else 1,
            -(model.score if model.score is not None else -1),
            model.model_id,
        )
        models.append(model)
    models.sort(key=lambda m: m.attention_rank)
    counts = {g: 0 for g in ("A", "B", "C", "D", "F", "–")}
    for m in models:
        counts[m.grade] += 1
    return FleetReportData(
        snapshot_id=snapshot_id,
        snapshot_time=snapshot_time,
        models=models,
        grade_counts=counts,
        active_switches=switches,
    )
