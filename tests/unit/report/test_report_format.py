"""Text forms of numbers and times: deterministic, missing values never printed as 0."""

from __future__ import annotations

import doctest
from datetime import UTC, datetime, timedelta, timezone

from driftguard.report import format as fmt


def test_doctests():
    assert doctest.testmod(fmt).failed == 0


def test_numbers_and_missing_values():
    assert fmt.number(float("nan")) == "not defined" and fmt.number(float("inf")) == "not defined"
    assert fmt.number(0.0) == "0" and fmt.number(None) == "–" and fmt.percent(None) == "–"
    assert fmt.number(True) == "yes"
    assert fmt.number(1234567) == "1,234,567" and fmt.number(-2500.4) == "-2,500"
    assert fmt.score(79.5) == "80" and fmt.score(None) == "–"  # round half to even: 79.5 -> 80


def test_times_are_utc():
    berlin = timezone(timedelta(hours=2))
    assert fmt.moment(datetime(2026, 6, 1, 2, 0, tzinfo=berlin)) == "2026-06-01 00:00 UTC"
    assert fmt.moment("2026-06-01T00:00:05Z") == "2026-06-01 00:00:05 UTC"
    start, end = datetime(2026, 5, 31, tzinfo=UTC), datetime(2026, 6, 1, tzinfo=UTC)
    assert fmt.window(start, end) == "2026-05-31 00:00 – 2026-06-01 00:00 UTC"
