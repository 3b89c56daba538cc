"""Compliance grades: bands follow the model's own status thresholds."""

from __future__ import annotations

import doctest

import pytest

from driftguard.config import RiskSettings
from driftguard.metrics.risk import status_of
from driftguard.report import grades
from driftguard.report.grades import bands, grade_of


def test_doctests():
    assert doctest.testmod(grades).failed == 0


@pytest.mark.parametrize(
    ("score", "expected"),
    # default bands (0.4 and 0.7 of attention 50 = 20 and 35; attention 50; at risk 70)
    [
        (0, "A"),
        (19.99, "A"),
        (20, "B"),
        (34.99, "B"),
        (35, "C"),
        (49.99, "C"),
        (50, "D"),
        (69.99, "D"),
        (70, "F"),
        (100, "F"),
        (None, "–"),
    ],
)
def test_default_bands(score, expected):
    assert grade_of(score) == expected


def test_grades_never_disagree_with_the_status():
    settings = RiskSettings(attention=40, at_risk=60)
    expected = {"HEALTHY": "ABC", "ATTENTION_NEEDED": "D", "AT_RISK": "F", "UNKNOWN": "–"}
    for tenth in range(0, 1001):
        score = tenth / 10
        grade = grade_of(score, attention=40, at_risk=60)
        assert grade in expected[status_of(score, settings)], score
    # with attention 40: B from 16 (0.4 * 40), C from 28 (0.7 * 40)
    assert [grade_of(s, attention=40, at_risk=60) for s in (15.9, 16, 27.9, 28)] == list("ABBC")


def test_band_legend():
    assert bands() == [
        ("A", "below 20"),
        ("B", "20 to below 35"),
        ("C", "35 to below 50"),
        ("D", "50 to below 70"),
        ("F", "70 and above"),
    ]
