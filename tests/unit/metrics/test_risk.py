"""The composite risk score: formula, missing components, status and trend."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from driftguard.config import RiskSettings
from driftguard.metrics.risk import (
    assess_risk,
    combine,
    drift_component,
    status_of,
    trend_of,
)

DEFAULT = RiskSettings()


def test_default_formula_by_hand():
    scores = {"drift": 40.0, "fairness": 80.0, "quality": 10.0, "performance": 20.0}
    # weighted mean: (0.35*40 + 0.25*80 + 0.15*10 + 0.25*20) / 1.0 = 40.5; worst 80
    # score = 0.5*40.5 + 0.5*80 = 60.25
    score, share = combine(scores, DEFAULT)
    assert score == pytest.approx(60.25) and share == pytest.approx(1.0)
    assert status_of(score, DEFAULT) == "ATTENTION_NEEDED"


def test_a_missing_component_is_renormalised_not_zero():
    scores = {"drift": None, "fairness": 80.0, "quality": 10.0, "performance": 20.0}
    # without drift: (0.25*80 + 0.15*10 + 0.25*20) / 0.65 = 40.769...; worst 80
    score, share = combine(scores, DEFAULT)
    assert share == pytest.approx(0.65)
    assert score == pytest.approx(0.5 * (26.5 / 0.65) + 0.5 * 80)
    # counting drift as 0 would have given 0.5 * 26.5 + 40 = 53.25: not what we do
    assert score != pytest.approx(53.25)


def test_too_little_available_is_unknown():
    scores = {"drift": None, "fairness": None, "quality": 10.0, "performance": 20.0}
    # available weight 0.40 < min_available_weight 0.5
    score, share = combine(scores, DEFAULT)
    assert score is None and share == pytest.approx(0.4)
    assert status_of(score, DEFAULT) == "UNKNOWN"


@given(
    st.dictionaries(
        st.sampled_from(["drift", "fairness", "quality", "performance"]),
        st.floats(0, 100),
        min_size=4,
        max_size=4,
    )
)
def test_score_stays_between_the_mean_and_the_worst(scores):
    score, _ = combine(scores, DEFAULT)
    weighted = sum(DEFAULT.weight(c) * v for c, v in scores.items())
    assert min(scores.values()) - 1e-6 <= score <= max(scores.values()) + 1e-6
    assert weighted - 1e-6 <= score


def test_status_thresholds_are_configurable():
    strict = RiskSettings(attention=30, at_risk=40)
    assert [status_of(s, strict) for s in (29.9, 30, 39.9, 40)] == [
        "HEALTHY",
        "ATTENTION_NEEDED",
        "ATTENTION_NEEDED",
        "AT_RISK",
    ]
    with pytest.raises(ValueError, match="attention"):
        RiskSettings(attention=70, at_risk=50)


def test_trend_rule():
    # fitted change of [60, 50, 40]: slope -10 per run over 2 steps = -20 -> improving
    assert trend_of([60, 50, 40], band=5) == ("improving", -20.0)
    assert trend_of([50, 52], band=5) == ("stable", 2.0)
    assert trend_of([], band=5) == ("unknown", None)


def test_drift_component_reads_the_drift_summary_contract():
    summary = {
        "n_features": 4,
        "n_drifted": 1,
        "share_drifted": 0.25,
        "drift_score": 0.3,
        "prediction_drift": {"method": "psi", "value": 0.3, "verdict": "critical"},
        "findings": [],
    }
    # max(0.3, critical = 1.0) * 100
    assert drift_component(summary, 0.35).score == 100.0
    summary["prediction_drift"] = None
    assert drift_component(summary, 0.35).score == pytest.approx(30.0)
    summary["drift_score"] = None  # falls back to the share of drifted features
    assert drift_component(summary, 0.35).score == pytest.approx(25.0)
    assert drift_component(None, 0.35).missing_reason == "the drift stage did not run"


def test_assess_without_any_stage_is_unknown_and_says_why():
    risk = assess_risk({}, DEFAULT, [])
    assert risk.status == "UNKNOWN" and risk.score is None
    assert set(risk.missing) == {"drift", "fairness", "quality", "performance"}
    assert risk.findings[0].startswith("risk status UNKNOWN: too little is known to score")


def test_assess_uses_a_drift_summary_dict_and_history_for_trend():
    results = {"drift": {"drift_score": 0.8, "share_drifted": 0.5, "prediction_drift": None}}
    only_drift = RiskSettings(weights={"drift": 1.0})
    risk = assess_risk(results, only_drift, previous_scores=[20.0, 40.0, 60.0])
    assert risk.score == pytest.approx(80.0) and risk.status == "AT_RISK"
    # history 20, 40, 60, 80: slope 20 per run over 3 steps = 60 -> worsening
    assert risk.trend == "worsening" and risk.trend_change == pytest.approx(60.0)
    assert risk.history == [20.0, 40.0, 60.0, 80.0]
