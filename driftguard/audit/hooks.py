"""Audit entries for ingestion batches and monitoring runs, written in their transactions.

Importing this module registers :func:`record_batch` in :data:`driftguard.ingest.AFTER_BATCH`
and :func:`record_run` in :data:`driftguard.monitor.AFTER_RUN` (once). ``ingest`` and
``monitor`` import it lazily when they run their hooks, so every batch and every run is
recorded whichever entry point started them.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from driftguard.audit.log import AuditIntegrityError, append, head, write_checkpoint
from driftguard.ingest import AFTER_BATCH, BatchOutcome
from driftguard.monitor import AFTER_RUN, MonitoringRun, RunContext
from driftguard.store import Lake

log = logging.getLogger(__name__)


def record_batch(lake: Lake, outcome: BatchOutcome, actor: str) -> None:
    """One ``ingest.batch`` entry per ingested file (warning when rows were quarantined)."""
    append(
        lake,
        event_type="ingest.batch",
        action="ingest",
        actor=actor,
        resource_type="model",
        resource_id=outcome.model_id,
        severity="warning" if outcome.rows_quarantined else "info",
        payload={
            "batch_id": outcome.batch_id,
            "kind": outcome.kind,
            "source_path": outcome.source_path,
            "rows_read": outcome.rows_read,
            "rows_accepted": outcome.rows_accepted,
            "rows_quarantined": outcome.rows_quarantined,
            "reasons": outcome.reasons,
            "min_ts": outcome.min_ts,
            "max_ts": outcome.max_ts,
        },
        references=[f"batch:{outcome.batch_id}"],
    )


def run_severity(run: MonitoringRun) -> str:
    """high for a model at risk, warning for any finding, info otherwise."""
    risk = run.summary.get("risk") if isinstance(run.summary, dict) else None
    if isinstance(risk, dict) and risk.get("status") == "AT_RISK":
        return "high"
    return "warning" if run.findings else "info"


def record_run(lake: Lake, ctx: RunContext, run: MonitoringRun) -> None:
    """A ``monitoring.run`` entry with the run's whole summary, then a checkpoint.

    If the log no longer extends its last checkpoint, no checkpoint is signed; a critical
    ``audit.integrity`` entry records why, and the run still commits.
    """
    append(
        lake,
        event_type="monitoring.run",
        action="monitor",
        actor=ctx.actor,
        resource_type="model",
        resource_id=run.model_id,
        severity=run_severity(run),
        run_id=run.run_id,
        payload=_run_payload(run),
        references=[f"run:{run.run_id}", f"config:{run.config_digest}"],
    )
    try:
        write_checkpoint(lake, run_id=run.run_id, note=f"after monitoring run {run.run_id}")
    except AuditIntegrityError as error:
        log.error("audit checkpoint refused after run %s: %s", run.run_id, error)
        append(
            lake,
            event_type="audit.integrity",
            action="checkpoint_refused",
            actor="driftguard",
            resource_type="audit_log",
            resource_id=head(lake).log_id,
            severity="critical",
            run_id=run.run_id,
            reason=str(error),
        )


def _run_payload(run: MonitoringRun) -> dict[str, Any]:
    return {
        "model_version": run.model_version,
        "window": {"start": run.current.start, "end": run.current.end},
        "reference": {"start": run.reference.start, "end": run.reference.end},
        "as_of": run.as_of,
        "n_current": run.n_current,
        "n_reference": run.n_reference,
        "config_digest": run.config_digest,
        "findings": run.findings,
        "summary": _finite(run.summary),
    }


def _finite(value: Any) -> Any:
    """NaN and infinities (a metric that is undefined) as text: the log refuses floats that
    have no canonical form, and a run must not fail for recording one."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def register() -> None:
    """Add the hooks (idempotent)."""
    if record_batch not in AFTER_BATCH:
        AFTER_BATCH.append(record_batch)
    if record_run not in AFTER_RUN:
        AFTER_RUN.append(record_run)


register()
