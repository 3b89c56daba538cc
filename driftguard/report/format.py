"""Deterministic text forms of numbers, shares and times, shared by reports, e-mails and
narratives (so the same value reads the same everywhere and re-rendering gives equal bytes).

Missing values print as an en dash, never as 0: a number that was not computed must not look
like a measurement.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

MISSING = "–"


def number(value: Any, digits: int = 3) -> str:
    """``digits`` significant digits, thousands separators for large values.

    >>> number(2.598840764799428), number(0.0094), number(12345.6), number(None), number(7)
    ('2.6', '0.0094', '12,346', '–', '7')
    """
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    value = float(value)
    if not math.isfinite(value):
        return "not defined"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


def percent(value: Any, digits: int = 1) -> str:
    """A share in [0, 1] as a percentage.

    >>> percent(0.0094), percent(1), percent(None)
    ('0.9%', '100.0%', '–')
    """
    if value is None:
        return MISSING
    value = float(value)
    if not math.isfinite(value):
        return "not defined"
    return f"{value * 100:.{digits}f}%"


def score(value: Any) -> str:
    """A 0-100 risk score as a whole number (``79``), or the missing mark."""
    if value is None:
        return MISSING
    return f"{float(value):.0f}"


def moment(value: Any) -> str:
    """A time as ``2026-06-01 00:00 UTC`` (seconds kept only when not zero)."""
    if value is None:
        return MISSING
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    if value.second or value.microsecond:
        return value.strftime("%Y-%m-%d %H:%M:%S UTC")
    return value.strftime("%Y-%m-%d %H:%M UTC")


def window(start: Any, end: Any) -> str:
    """``2026-05-31 00:00 – 2026-06-01 00:00 UTC`` (end exclusive)."""
    return f"{moment(start).removesuffix(' UTC')} – {moment(end)}"


def label(name: str) -> str:
    """``demographic_parity_ratio`` -> ``demographic parity ratio``."""
    return str(name).replace("_", " ")


def short_hash(value: str | None, n: int = 12) -> str:
    return MISSING if not value else value[:n]
