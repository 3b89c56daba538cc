"""Emit DriftGuard events to Prefect, so automations can notify people or start flows."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from prefect import task

from driftguard.events import Event
from tasks.retry import BACKOFF, transient_only

log = logging.getLogger("driftguard.tasks.events")


def emit(events: Sequence[Event | dict[str, Any]]) -> list[str]:
    """Emit each event (an :class:`Event` or its ``as_dict()``); returns the names emitted.

    Inside a flow run Prefect adds the flow run, flow, deployment and work pool as related
    resources by itself.
    """
    from prefect.events import emit_event

    emitted = []
    for item in events:
        data = item.as_dict() if isinstance(item, Event) else item
        emit_event(event=data["event"], resource=data["resource"], payload=data["payload"])
        log.info("event %s for %s", data["event"], data["resource"]["prefect.resource.id"])
        emitted.append(data["event"])
    return emitted


@task(
    name="emit-events",
    task_run_name="events {model_id}",
    retries=len(BACKOFF),
    retry_delay_seconds=BACKOFF,
    retry_condition_fn=transient_only,
    timeout_seconds=120,
)
def emit_run_events_task(run: dict[str, Any], model_id: str = "") -> list[str]:
    """Emit the events a monitoring run announced (``run["events"]``)."""
    from tasks.runtime import step

    with step("events", model_id=model_id or run.get("model_id"), run_id=run.get("run_id")):
        return emit(run.get("events") or [])
