"""Monitoring task: one model's run over its current (or an explicit) window."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prefect import task

from driftguard.config import Window
from driftguard.monitor import run_monitoring
from driftguard.workspace import Workspace
from tasks.audit import load_audit_keys
from tasks.retry import BACKOFF, transient_only


@task(
    name="monitor-model",
    task_run_name="monitor {model_id}",
    retries=len(BACKOFF),
    retry_delay_seconds=BACKOFF,
    retry_condition_fn=transient_only,
    timeout_seconds=3600,
)
def monitor_model_task(
    model_id: str,
    config_path: str | None = None,
    as_of: datetime | None = None,
    window: Window | None = None,
) -> dict[str, Any]:
    """Compute and store one monitoring run; returns its summary as a dict."""
    load_audit_keys()  # the run's audit entry and checkpoint are signed with them
    ws = Workspace.load(config_path)
    with ws.open_lake() as lake:
        run = run_monitoring(lake, ws.config, model_id, ws.settings, as_of=as_of, current=window)
    return run.as_dict()
