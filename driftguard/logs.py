"""Logging set-up: human-readable lines by default, JSON lines with DRIFTGUARD_LOG_FORMAT=json.

JSON records carry the context fields (run id, model id, step, duration) that callers pass
with ``extra=`` or bind with :func:`log_context`, so a log shipper can index them.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

_CONTEXT: contextvars.ContextVar[Mapping[str, Any]] = contextvars.ContextVar(
    "dg_log_context", default=MappingProxyType({})
)
CONTEXT_FIELDS = ("run_id", "model_id", "step", "duration_s")


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Attach fields (run_id=..., model_id=...) to every record logged inside the block."""
    token = _CONTEXT.set({**_CONTEXT.get(), **fields})
    try:
        yield
    finally:
        _CONTEXT.reset(token)


class _ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in _CONTEXT.get().items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in CONTEXT_FIELDS:
            if hasattr(record, key):
                payload[key] = getattr(record, key)
        if record.exc_info:
            payload["error"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)


class HumanFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        context = " ".join(
            f"{key}={getattr(record, key)}" for key in CONTEXT_FIELDS if hasattr(record, key)
        )
        line = f"{record.levelname.lower():7} {record.name}: {record.getMessage()}"
        line = f"{line} [{context}]" if context else line
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def configure_logging(fmt: str = "human", *, verbose: bool = False) -> None:
    """Install one stderr handler on the ``driftguard`` logger (idempotent)."""
    if fmt not in ("human", "json"):
        raise ValueError(f"log format {fmt!r}: use human or json")
    logger = logging.getLogger("driftguard")
    for handler in list(logger.handlers):
        if getattr(handler, "_driftguard", False):
            logger.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler._driftguard = True  # type: ignore[attr-defined]
    handler.setFormatter(JsonFormatter() if fmt == "json" else HumanFormatter())
    handler.addFilter(_ContextFilter())
    logger.addHandler(handler)
    logger.setLevel(logging.INFO if verbose else logging.WARNING)
    logger.propagate = False
