"""Operations tasks: run history, the metrics textfile, audit checkpoints and verification,
and data retention."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from prefect import task

from driftguard import audit
from driftguard.events import audit_failed_event
from driftguard.history import (
    finish_pipeline_run,
    record_audit_verification,
    start_pipeline_run,
)
from driftguard.prometheus import write_metrics
from driftguard.retention import apply_retention, expire_snapshots
from driftguard.workspace import Workspace
from tasks.audit import load_audit_keys
from tasks.events import emit
from tasks.retry import BACKOFF, transient_only
from tasks.runtime import pipeline_run_id, step

log = logging.getLogger("driftguard.tasks.ops")
_IO = {
    "retries": len(BACKOFF),
    "retry_delay_seconds": BACKOFF,
    "retry_condition_fn": transient_only,
}


@task(name="pipeline-start", task_run_name="record start of {flow}", timeout_seconds=300, **_IO)
def start_pipeline_task(
    flow: str,
    name: str,
    parameters: dict[str, Any],
    models: list[str],
    config_path: str | None = None,
) -> str:
    """Record the pipeline run (id = this flow run's id); returns the id."""
    run_id = pipeline_run_id() or "local"
    with step("history"):
        ws = Workspace.load(config_path)
        with ws.open_lake() as lake:
            start_pipeline_run(
                lake,
                pipeline_run_id=run_id,
                flow=flow,
                name=name,
                orchestrator="prefect",
                parameters=parameters,
                models=models,
            )
    return run_id


@task(
    name="pipeline-finish",
    task_run_name="record end of {pipeline_run_id}",
    timeout_seconds=300,
    **_IO,
)
def finish_pipeline_task(
    pipeline_run_id: str,
    config_path: str | None = None,
    *,
    models: list[str] | None = None,
    failed: dict[str, str] | None = None,
    run_ids: list[str] | None = None,
    findings: int = 0,
    alerts: int = 0,
    rows_ingested: int = 0,
    rows_quarantined: int = 0,
    message: str | None = None,
    error: bool = False,
) -> dict[str, Any]:
    """Complete the run's history row and rewrite the Prometheus textfile."""
    with step("history"):
        ws = Workspace.load(config_path)
        with ws.open_lake() as lake:
            record = finish_pipeline_run(
                lake,
                pipeline_run_id,
                models=models,
                failed=failed,
                run_ids=run_ids or [],
                findings=findings,
                alerts=alerts,
                rows_ingested=rows_ingested,
                rows_quarantined=rows_quarantined,
                message=message,
                error=error,
            )
            path = write_metrics(lake, ws.config, ws.settings)
    data = record.as_dict()
    data["metrics_path"] = str(path) if path else None
    return data


@task(
    name="audit-checkpoint-verified",
    task_run_name="audit checkpoint ({note})",
    timeout_seconds=600,
    **_IO,
)
def checkpoint_task(config_path: str | None = None, note: str = "") -> str:
    """Sign a checkpoint after re-verifying every entry written since the previous one.

    If the log no longer extends that checkpoint nothing is signed: the event
    ``driftguard.audit.verification_failed`` is emitted and the task fails (not retried).
    """
    load_audit_keys()
    with step("audit-checkpoint"):
        ws = Workspace.load(config_path)
        with ws.open_lake() as lake:
            try:
                return audit.write_checkpoint(lake, note=note or None).to_text()
            except audit.AuditIntegrityError as error:
                log.error("checkpoint refused: %s", error)
                head = audit.head(lake)
                emit(
                    [
                        audit_failed_event(
                            {
                                "log_id": head.log_id,
                                "status": "tampered",
                                "size": head.size,
                                "verdict": str(error),
                            }
                        )
                    ]
                )
                raise


@task(name="audit-verify-full", task_run_name="verify audit log", timeout_seconds=3600, **_IO)
def verify_audit_task(
    config_path: str | None = None, checkpoints: list[str] | None = None, full: bool = True
) -> dict[str, Any]:
    """Verify the whole audit log; record the verdict; emit an event unless it is intact."""
    load_audit_keys()
    supplied = [c for text in checkpoints or [] for c in audit.find_checkpoints(text)]
    with step("audit-verify"):
        ws = Workspace.load(config_path)
        with ws.open_lake() as lake:
            verdict = audit.verify(lake, checkpoints=supplied, full=full).as_dict()
            record_audit_verification(lake, verdict, pipeline_run_id=pipeline_run_id())
            write_metrics(lake, ws.config, ws.settings)
    if verdict["status"] == "tampered":
        emit([audit_failed_event(verdict)])
    return verdict


@task(name="retention", task_run_name="retention {models}", timeout_seconds=3600, **_IO)
def retention_task(
    models: list[str],
    config_path: str | None = None,
    dry_run: bool = False,
    expire: bool = True,
    actor: str = "driftguard-retention",
) -> dict[str, Any]:
    """Delete raw rows past each model's retention; expire old snapshots and their files."""
    from driftguard.backup import maintenance_lock

    with step("retention"):
        ws = Workspace.load(config_path)
        with maintenance_lock(ws.settings.home.resolve()):
            with ws.open_lake() as lake:
                results = apply_retention(
                    lake, ws.config, models=models or None, actor=actor, dry_run=dry_run
                )
                expiry = None
                if expire:
                    expiry = expire_snapshots(
                        lake,
                        keep=ws.config.operations.retention.keep_snapshots,
                        actor=actor,
                        dry_run=dry_run,
                    )
                write_metrics(lake, ws.config, ws.settings)
    return {
        "applied_at": datetime.now(UTC),
        "models": [r.as_dict() for r in results],
        "expiry": expiry.as_dict() if expiry else None,
    }
