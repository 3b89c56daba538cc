"""Logging set-up: human-readable lines by default, JSON lines with DRIFTGUARD_LOG_FORMAT=json.

Every record carries the context of the work it belongs to, so a log shipper can index and
join them: ``pipeline_run_id`` (the Prefect flow run, or a local pipeline id), ``run_id`` (the
DriftGuard monitoring run), ``model_id``, ``step`` (ingest, drift, fairness, ..., commit,
report) and ``duration_s``. Callers bind them with :func:`log_context`; a field that does not
apply is null in JSON. ``duration_s`` is the value the caller gave with ``extra=``, else the
seconds since the innermost context that set a step began, so every record of a run says how
long its step has been running.

Secrets never reach the output: each handler installed here replaces the values of the secret
environment variables (:data:`SECRET_ENV`), values registered with :func:`register_secret`
(e.g. from Prefect Secret blocks) and ``password=...`` in connection strings by ``***`` in the
message and in tracebacks.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import re
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

_CONTEXT: contextvars.ContextVar[Mapping[str, Any]] = contextvars.ContextVar(
    "dg_log_context", default=MappingProxyType({})
)
CONTEXT_FIELDS = ("pipeline_run_id", "run_id", "model_id", "step", "duration_s")
_STARTED = "_step_started"

#: Environment variables whose values are secrets: never printed, never logged.
SECRET_ENV = (
    "DRIFTGUARD_PII_KEY",
    "DRIFTGUARD_SMTP_PASSWORD",
    "DRIFTGUARD_AUDIT_SIGNING_KEY",
    "DRIFTGUARD_AUDIT_HMAC_KEY",
    "DRIFTGUARD_S3_SECRET",
    "PREFECT_API_KEY",
)
#: Shorter values are not redacted (they would blank out ordinary words and numbers).
_MIN_SECRET = 6
_REGISTERED: set[str] = set()
_PASSWORD = re.compile(r"(?i)(password\s*[=:]\s*)('[^']*'|\"[^\"]*\"|\S+)")
_URL_PASSWORD = re.compile(r"(://[^/\s:@]+:)([^@\s/]+)(@)")
REDACTED = "***"


def register_secret(value: str | None) -> None:
    """Treat ``value`` as a secret from now on (e.g. a password read from a Secret block)."""
    if value and len(value) >= _MIN_SECRET:
        _REGISTERED.add(value)


def redact(text: str) -> str:
    """``text`` with every known secret, and passwords in DSNs and URLs, replaced by ***.

    >>> redact("dbname=lake password=hunter22 host=db")
    'dbname=lake password=*** host=db'
    >>> redact("postgresql://bob:s3cret@db/lake")
    'postgresql://bob:***@db/lake'
    """
    secrets = {os.environ.get(name) or "" for name in SECRET_ENV} | _REGISTERED
    for secret in sorted((s for s in secrets if len(s) >= _MIN_SECRET), key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    text = _PASSWORD.sub(lambda m: m.group(1) + REDACTED, text)
    return _URL_PASSWORD.sub(lambda m: m.group(1) + REDACTED + m.group(3), text)


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Attach fields (run_id=..., model_id=..., step=...) to every record logged inside."""
    values = {**_CONTEXT.get(), **fields}
    if "step" in fields:
        values[_STARTED] = time.perf_counter()
    token = _CONTEXT.set(values)
    try:
        yield
    finally:
        _CONTEXT.reset(token)


def current_context() -> dict[str, Any]:
    """The fields bound right now (without internal bookkeeping)."""
    return {k: v for k, v in _CONTEXT.get().items() if k != _STARTED}


class ContextFilter(logging.Filter):
    """Puts every context field on the record (None when unbound) and redacts secrets."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = _CONTEXT.get()
        for key in CONTEXT_FIELDS:
            if not hasattr(record, key):
                setattr(record, key, context.get(key))
        if record.duration_s is None and _STARTED in context:  # type: ignore[attr-defined]
            record.duration_s = round(time.perf_counter() - context[_STARTED], 3)
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        return True


_ContextFilter = ContextFilter  # earlier name


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        for key in CONTEXT_FIELDS:
            payload[key] = getattr(record, key, None)
        if record.exc_info:
            payload["error"] = redact(self.formatException(record.exc_info))
        return json.dumps(payload, default=str)


class HumanFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        context = " ".join(
            f"{key}={getattr(record, key)}"
            for key in CONTEXT_FIELDS
            if getattr(record, key, None) is not None
        )
        line = f"{record.levelname.lower():7} {record.name}: {redact(record.getMessage())}"
        line = f"{line} [{context}]" if context else line
        if record.exc_info:
            line += "\n" + redact(self.formatException(record.exc_info))
        return line


def configure_logging(
    fmt: str = "human", *, verbose: bool = False, stream: Any = None, propagate: bool = False
) -> logging.Handler:
    """Install one handler on the ``driftguard`` logger (idempotent); returns it.

    ``propagate=True`` keeps records flowing to the root logger too (inside Prefect runs, so
    Prefect's own handlers, e.g. the one that ships logs to the UI, see them as well).
    """
    if fmt not in ("human", "json"):
        raise ValueError(f"log format {fmt!r}: use human or json")
    logger = logging.getLogger("driftguard")
    for handler in list(logger.handlers):
        if getattr(handler, "_driftguard", False):
            logger.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler._driftguard = True  # type: ignore[attr-defined]
    handler.setFormatter(JsonFormatter() if fmt == "json" else HumanFormatter())
    handler.addFilter(ContextFilter())
    # handlers others attached (Prefect's API handler with PREFECT_LOGGING_EXTRA_LOGGERS=
    # driftguard ships these records to the UI) get the context and the redaction too
    for other in logger.handlers:
        if not any(isinstance(f, ContextFilter) for f in other.filters):
            other.addFilter(ContextFilter())
    logger.addHandler(handler)
    logger.setLevel(logging.INFO if verbose else logging.WARNING)
    logger.propagate = propagate
    return handler
