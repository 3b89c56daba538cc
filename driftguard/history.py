"""Run history: one row per pipeline run (a Prefect flow run, or a run without Prefect).

A *pipeline run* is one execution of a flow such as ``monitor-fleet``: it ingests, monitors,
checkpoints the audit log, reports and notifies for several models. Each produces zero or more
*monitoring runs* (``monitoring_runs``, one per model and window); the pipeline row lists their
ids, so a Prefect flow run leads to the DriftGuard results it produced and back.

A row is written when the run starts (status ``running``) and completed when it ends
(``completed`` or ``failed``); a run whose process died stays ``running``, which is what
happened. Statistics over the history: success rate = completed / finished runs, alerts
generated = sum of alerts, mean duration over finished runs.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from driftguard.errors import DriftGuardError
from driftguard.store import Lake

Status = Literal["running", "completed", "failed"]


@dataclass
class PipelineRun:
    """One pipeline run as recorded."""

    pipeline_run_id: str
    flow: str
    name: str
    orchestrator: str
    parameters: dict[str, Any]
    status: Status
    started_at: datetime
    finished_at: datetime | None = None
    duration_s: float | None = None
    models: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    run_ids: list[str] = field(default_factory=list)
    findings: int = 0
    alerts: int = 0
    rows_ingested: int = 0
    rows_quarantined: int = 0
    message: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def new_pipeline_run_id(now: datetime | None = None) -> str:
    """A local id for runs started without Prefect: ``p20260301T120000-3fa2c1``."""
    now = now or datetime.now(UTC)
    return f"p{now:%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"


def start_pipeline_run(
    lake: Lake,
    *,
    pipeline_run_id: str,
    flow: str,
    name: str,
    orchestrator: str = "prefect",
    parameters: Mapping[str, Any] | None = None,
    models: Sequence[str] = (),
    started_at: datetime | None = None,
) -> PipelineRun:
    """Record that a pipeline run started (idempotent: a retried flow run keeps its row)."""
    run = PipelineRun(
        pipeline_run_id=pipeline_run_id,
        flow=flow,
        name=name,
        orchestrator=orchestrator,
        parameters=dict(parameters or {}),
        status="running",
        started_at=started_at or datetime.now(UTC),
        models=list(models),
    )

    def work(lk: Lake) -> PipelineRun:
        existing = lk.fetchone(
            "SELECT count(*) FROM pipeline_runs WHERE pipeline_run_id = ?", [pipeline_run_id]
        )[0]
        if existing:
            lk.execute(
                "UPDATE pipeline_runs SET status = 'running', finished_at = NULL, "
                "duration_s = NULL, models_json = ? WHERE pipeline_run_id = ?",
                [json.dumps(run.models), pipeline_run_id],
            )
            return get_pipeline_run(lk, pipeline_run_id)
        lk.execute(
            "INSERT INTO pipeline_runs VALUES "
            "(?, ?, ?, ?, ?, 'running', ?, NULL, NULL, ?, '{}', '[]', 0, 0, 0, 0, NULL)",
            [
                run.pipeline_run_id,
                run.flow,
                run.name,
                run.orchestrator,
                json.dumps(run.parameters, default=str, sort_keys=True),
                run.started_at,
                json.dumps(run.models),
            ],
        )
        return run

    return lake.transaction(work, message=f"pipeline run {pipeline_run_id} started")


def finish_pipeline_run(
    lake: Lake,
    pipeline_run_id: str,
    *,
    failed: Mapping[str, str] | None = None,
    run_ids: Sequence[str] = (),
    models: Sequence[str] | None = None,
    findings: int = 0,
    alerts: int = 0,
    rows_ingested: int = 0,
    rows_quarantined: int = 0,
    message: str | None = None,
    error: bool = False,
    finished_at: datetime | None = None,
) -> PipelineRun:
    """Complete the row: ``failed`` when any model failed or ``error`` is set."""
    finished = finished_at or datetime.now(UTC)
    failed = dict(failed or {})
    status: Status = "failed" if failed or error else "completed"

    def work(lk: Lake) -> PipelineRun:
        current = get_pipeline_run(lk, pipeline_run_id)
        duration = (finished - current.started_at).total_seconds()
        lk.execute(
            "UPDATE pipeline_runs SET status = ?, finished_at = ?, duration_s = ?, "
            "models_json = ?, failed_json = ?, run_ids_json = ?, findings = ?, alerts = ?, "
            "rows_ingested = ?, rows_quarantined = ?, message = ? WHERE pipeline_run_id = ?",
            [
                status,
                finished,
                duration,
                json.dumps(list(models) if models is not None else current.models),
                json.dumps(failed, sort_keys=True),
                json.dumps(list(run_ids)),
                findings,
                alerts,
                rows_ingested,
                rows_quarantined,
                message,
                pipeline_run_id,
            ],
        )
        return get_pipeline_run(lk, pipeline_run_id)

    return lake.transaction(work, message=f"pipeline run {pipeline_run_id} {status}")


def _from_row(row: dict[str, Any]) -> PipelineRun:
    return PipelineRun(
        pipeline_run_id=row["pipeline_run_id"],
        flow=row["flow"],
        name=row["name"],
        orchestrator=row["orchestrator"],
        parameters=json.loads(row["parameters_json"] or "{}"),
        status=row["status"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        duration_s=row["duration_s"],
        models=json.loads(row["models_json"] or "[]"),
        failed=json.loads(row["failed_json"] or "{}"),
        run_ids=json.loads(row["run_ids_json"] or "[]"),
        findings=row["findings"] or 0,
        alerts=row["alerts"] or 0,
        rows_ingested=row["rows_ingested"] or 0,
        rows_quarantined=row["rows_quarantined"] or 0,
        message=row["message"],
    )


class PipelineRunNotFound(DriftGuardError, LookupError):
    """No pipeline run with that id."""


def get_pipeline_run(lake: Lake, pipeline_run_id: str) -> PipelineRun:
    rows = lake.records("SELECT * FROM pipeline_runs WHERE pipeline_run_id = ?", [pipeline_run_id])
    if not rows:
        raise PipelineRunNotFound(f"no pipeline run {pipeline_run_id!r}")
    return _from_row(rows[0])


def list_pipeline_runs(
    lake: Lake,
    *,
    flow: str | None = None,
    model_id: str | None = None,
    status: str | None = None,
    since: datetime | None = None,
    limit: int = 20,
) -> list[PipelineRun]:
    """Newest first. ``model_id`` keeps runs that covered that model."""
    where, params = ["TRUE"], []
    if flow:
        where.append("flow = ?")
        params.append(flow)
    if status:
        where.append("status = ?")
        params.append(status)
    if since:
        where.append("started_at >= ?")
        params.append(since)
    if model_id:
        where.append("contains(models_json, ?)")  # literal match of the quoted JSON string
        params.append(json.dumps(model_id))
    rows = lake.records(
        f"SELECT * FROM pipeline_runs WHERE {' AND '.join(where)} ORDER BY started_at DESC LIMIT ?",
        [*params, limit],
    )
    return [_from_row(r) for r in rows]


@dataclass(frozen=True)
class PipelineStats:
    """Execution statistics over a set of pipeline runs."""

    runs: int
    finished: int
    completed: int
    failed: int
    running: int
    #: completed / finished (None when nothing finished).
    success_rate: float | None
    alerts: int
    findings: int
    mean_duration_s: float | None
    max_duration_s: float | None
    monitoring_runs: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def pipeline_stats(runs: Sequence[PipelineRun]) -> PipelineStats:
    """Success rate, alerts generated and durations of ``runs``.

    >>> from datetime import datetime, UTC
    >>> t = datetime(2026, 3, 1, tzinfo=UTC)
    >>> a = PipelineRun("a", "f", "n", "local", {}, "completed", t, t, 10.0, alerts=2)
    >>> b = PipelineRun("b", "f", "n", "local", {}, "failed", t, t, 20.0, alerts=1)
    >>> s = pipeline_stats([a, b])
    >>> (s.success_rate, s.alerts, s.mean_duration_s)
    (0.5, 3, 15.0)
    """
    finished = [r for r in runs if r.status != "running"]
    completed = sum(r.status == "completed" for r in finished)
    durations = [r.duration_s for r in finished if r.duration_s is not None]
    return PipelineStats(
        runs=len(runs),
        finished=len(finished),
        completed=completed,
        failed=len(finished) - completed,
        running=len(runs) - len(finished),
        success_rate=completed / len(finished) if finished else None,
        alerts=sum(r.alerts for r in runs),
        findings=sum(r.findings for r in runs),
        mean_duration_s=sum(durations) / len(durations) if durations else None,
        max_duration_s=max(durations) if durations else None,
        monitoring_runs=sum(len(r.run_ids) for r in runs),
    )


def record_audit_verification(
    lake: Lake, verification: Mapping[str, Any], *, pipeline_run_id: str | None = None
) -> None:
    """Store a verification result (``Verification.as_dict()``) for doctor and the metrics."""
    lake.transaction(
        lambda lk: lk.execute(
            "INSERT INTO audit_verifications VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                datetime.now(UTC),
                verification["log_id"],
                verification["status"],
                verification["size"],
                verification.get("anchored_size"),
                verification.get("first_bad_seq"),
                verification.get("kind"),
                verification["verdict"],
                verification["mode"],
                verification.get("seconds", 0.0),
                pipeline_run_id,
            ],
        ),
        message="audit verification recorded",
    )


def audit_verifications(lake: Lake, limit: int = 20) -> list[dict[str, Any]]:
    return lake.records(
        "SELECT * FROM audit_verifications ORDER BY verified_at DESC LIMIT ?", [limit]
    )
