"""Flow: ingest, then monitor every model whose schedule matches the cadence."""

from __future__ import annotations

from typing import Any, Literal

from prefect import flow, get_run_logger

from driftguard.workspace import Workspace
from tasks.ingest import ingest_model_task
from tasks.monitor import monitor_model_task


class FleetRunFailed(RuntimeError):
    """At least one model failed; every other model was still monitored."""


@flow(name="monitor-fleet", flow_run_name="monitor fleet ({cadence})")
def monitor_fleet(
    cadence: Literal["hourly", "daily", "weekly", "all"] = "all",
    config_path: str | None = None,
) -> list[dict[str, Any]]:
    """Ingest and monitor each model scheduled at ``cadence`` (``all``: every model)."""
    logger = get_run_logger()
    config = Workspace.load(config_path).config
    models = [m for m in config.models if cadence == "all" or m.schedule.cadence == cadence]
    runs, failed = [], []
    ingested = {m.id: ingest_model_task.submit(m.id, config_path) for m in models}
    monitored = {
        model_id: monitor_model_task.submit(model_id, config_path, wait_for=[future])
        for model_id, future in ingested.items()
    }
    for model_id, future in monitored.items():
        state = future.wait() or future.state
        if state.is_completed():
            runs.append(future.result())
        else:
            failed.append(model_id)
            logger.error("%s failed: %s", model_id, state.message)
    if failed:
        raise FleetRunFailed(f"monitoring failed for {', '.join(failed)}; others completed")
    return runs
