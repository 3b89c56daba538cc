"""Ingestion task: one model's new files into the lake."""

from __future__ import annotations

from typing import Any

from prefect import task

from driftguard.ingest import ingest_model
from driftguard.workspace import Workspace
from tasks.audit import load_audit_keys
from tasks.retry import BACKOFF, transient_only


@task(
    name="ingest-model",
    task_run_name="ingest {model_id}",
    retries=len(BACKOFF),
    retry_delay_seconds=BACKOFF,
    retry_condition_fn=transient_only,
    timeout_seconds=3600,
)
def ingest_model_task(model_id: str, config_path: str | None = None) -> dict[str, Any]:
    """Ingest every new file of one model; returns the ingestion report as a dict."""
    load_audit_keys()  # each batch's audit entry is sealed with them
    ws = Workspace.load(config_path)
    with ws.open_lake() as lake:
        report = ingest_model(lake, ws.config.model(model_id), ws.settings, base=ws.base)
    return report.as_dict()
