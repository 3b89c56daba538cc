"""Which failures a task retries: transient I/O only, never bad configuration or bad data."""

from __future__ import annotations

import smtplib
import socket
from typing import Any

from driftguard.errors import DriftGuardError
from driftguard.store import CatalogBusy

#: Delays between attempts (seconds): quick first retry, then back off.
BACKOFF = [2, 10, 30]
TRANSIENT_TYPES: tuple[type[BaseException], ...] = (
    CatalogBusy,
    ConnectionError,
    TimeoutError,
    socket.timeout,
    smtplib.SMTPServerDisconnected,
    smtplib.SMTPConnectError,
)


def is_transient_failure(error: BaseException | None) -> bool:
    """True when running the task again could succeed without anyone changing anything."""
    if error is None:
        return False
    if isinstance(error, TRANSIENT_TYPES):
        return True
    if isinstance(error, DriftGuardError):
        return False  # deterministic: config, data or governance refusal
    return isinstance(error, OSError) and not isinstance(error, FileNotFoundError | PermissionError)


def failure_of(state: Any) -> BaseException | None:
    """The exception a failed Prefect state carries."""
    if isinstance(state.data, BaseException):
        return state.data
    try:
        state.result(raise_on_failure=True)
    except BaseException as raised:
        return raised
    return None


def transient_only(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect ``retry_condition_fn``: retry only transient failures."""
    return is_transient_failure(failure_of(state))
