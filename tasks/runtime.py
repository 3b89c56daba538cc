"""What every task needs around its one core call: logging with the run context, the pipeline
run id, descriptive run names, and the lake-write concurrency slot.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from driftguard.logs import configure_logging, log_context, register_secret

log = logging.getLogger("driftguard.tasks")
_configured = False

#: Global concurrency limit that lake-writing tasks occupy (created by `driftguard serve`).
LAKE_WRITES_LIMIT = "driftguard-lake-writes"


def setup_logging() -> None:
    """Install DriftGuard's handler once per process (human, or JSON lines with
    DRIFTGUARD_LOG_FORMAT=json), at INFO level, and mark the Secret-block values as secrets."""
    global _configured
    if _configured:
        return
    if any(getattr(h, "_driftguard", False) for h in logging.getLogger("driftguard").handlers):
        _configured = True  # the command line already set logging up (format and level)
        return
    fmt = os.environ.get("DRIFTGUARD_LOG_FORMAT", "human")
    configure_logging(fmt if fmt in ("human", "json") else "human", verbose=True)
    _configured = True


def pipeline_run_id() -> str | None:
    """The id of the flow run this task belongs to (None outside a flow run)."""
    from prefect.runtime import flow_run

    value = flow_run.id
    return str(value) if value else None


@contextmanager
def step(name: str, **fields: Any) -> Iterator[None]:
    """Bind pipeline run id, step and ``fields`` to the logs of the block; log its duration."""
    setup_logging()
    for variable in ("DRIFTGUARD_AUDIT_SIGNING_KEY", "DRIFTGUARD_AUDIT_HMAC_KEY"):
        register_secret(os.environ.get(variable))
    began = time.perf_counter()
    with log_context(pipeline_run_id=pipeline_run_id(), step=name, **fields):
        try:
            yield
        except BaseException:
            log.warning(
                "%s failed", name, extra={"duration_s": round(time.perf_counter() - began, 3)}
            )
            raise
        log.info("%s done", name, extra={"duration_s": round(time.perf_counter() - began, 3)})


@contextmanager
def lake_write_slot(limit: str = LAKE_WRITES_LIMIT) -> Iterator[None]:
    """Hold one slot of a Prefect global concurrency limit while writing to the lake.

    Without the limit on the server (DRIFTGUARD_LAKE_WRITE_SLOTS=0, the default) this is a
    no-op: the lake already serialises conflicting commits and retries them, and the README's
    measurement shows no gain in time from a limit of 1 (only a lower peak memory). Set the
    variable to a number of slots to cap concurrent writers (memory-tight workers, a catalog
    server with few connections); `driftguard serve` then creates the limit.
    """
    if not int(os.environ.get("DRIFTGUARD_LAKE_WRITE_SLOTS", "0") or 0):
        yield
        return
    from prefect.concurrency.sync import concurrency

    with concurrency(limit, occupy=1, strict=False):
        yield


def short_time(moment: datetime | str | None) -> str:
    """``2026-03-01 12:00`` (UTC) for run names."""
    if moment is None:
        return "now"
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.strftime("%Y-%m-%d %H:%M")


def window_text(window: Any) -> str:
    """``2026-03-01 00:00..2026-03-02 00:00`` for a Window, a dict or None."""
    if window is None:
        return "current window"
    start = window["start"] if isinstance(window, dict) else window.start
    end = window["end"] if isinstance(window, dict) else window.end
    return f"{short_time(start)}..{short_time(end)}"
