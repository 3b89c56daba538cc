"""Monitoring task: one model's run over its current (or an explicit) window."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prefect import task

from driftguard.config import Window
from driftguard.events import previous_risk_status, run_events
from driftguard.monitor import run_monitoring
from driftguard.workspace import Workspace
from tasks.audit import load_audit_keys
from tasks.retry import BACKOFF, transient_only
from tasks.runtime import lake_write_slot, step, window_text


def _monitor_name() -> str:
    from prefect.runtime import task_run

    params = task_run.parameters
    return f"monitor {params['model_id']} {window_text(params.get('window'))}"


@task(
    name="monitor-model",
    task_run_name=_monitor_name,
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
    force: bool = False,
) -> dict[str, Any]:
    """Compute and store one monitoring run (drift, fairness, quality, performance, risk,
    policy, kill switches, audit entry and checkpoint, all in one transaction).

    Returns the run as a dict, plus ``events``: what the run announces (drift detected, risk
    status changed, kill switch activated), decided against the model's previous run.
    """
    load_audit_keys()  # the run's audit entry and checkpoint are signed with them
    with step("monitor", model_id=model_id):
        ws = Workspace.load(config_path)
        with lake_write_slot(), ws.open_lake() as lake:
            run = run_monitoring(
                lake, ws.config, model_id, ws.settings, as_of=as_of, current=window, force=force
            )
            data = run.as_dict()
            previous = previous_risk_status(lake, model_id, run.run_id)
    data["events"] = [e.as_dict() for e in run_events(data, previous)]
    return data
