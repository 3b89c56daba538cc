"""Quality checks that need no lake: volume ratio and the severity scale."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from driftguard.config import Window
from driftguard.metrics.quality import volume_check
from driftguard.metrics.severity import severity, verdict_of


def day(d: int) -> datetime:
    return datetime(2026, 1, d, tzinfo=UTC)


CURRENT, REFERENCE = Window(start=day(8), end=day(9)), Window(start=day(1), end=day(8))


def test_volume_ratio_is_per_day():
    # 100 rows in 1 day against 700 in 7 days: the same rate
    check = volume_check(100, CURRENT, 700, REFERENCE, drop=0.5, spike=2.0)
    assert check.value == pytest.approx(1.0) and check.verdict == "ok"


def test_halving_and_doubling_are_equally_severe():
    drop = volume_check(25, CURRENT, 700, REFERENCE, drop=0.5, spike=2.0)
    spike = volume_check(400, CURRENT, 700, REFERENCE, drop=0.5, spike=2.0)
    # 0.25x and 4x are twice as far as allowed on the log scale -> critical, severity 1
    assert (drop.value, spike.value) == pytest.approx((0.25, 4.0))
    assert drop.verdict == spike.verdict == "critical"
    assert drop.severity == spike.severity == 1.0


def test_no_rows_at_all_is_critical_and_no_reference_is_insufficient():
    assert volume_check(0, CURRENT, 700, REFERENCE, drop=0.5, spike=2.0).verdict == "critical"
    assert (
        volume_check(10, CURRENT, 0, REFERENCE, drop=0.5, spike=2.0).verdict == "insufficient_data"
    )


def test_severity_scale():
    # at the threshold: 0.5; at twice the distance: 1; the good side of the ideal: 0
    assert severity(0.1, threshold=0.1, ideal=0.0) == 0.5
    assert severity(0.6, threshold=0.8, ideal=1.0) == pytest.approx(1.0)
    assert severity(1.3, threshold=0.8, ideal=1.0) == 0.0
    assert verdict_of(None, threshold=0.1, ideal=0.0) == "insufficient_data"
