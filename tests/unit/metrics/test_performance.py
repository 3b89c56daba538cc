"""Performance metrics in SQL against scikit-learn (independent oracle) and plain numpy."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from driftguard.config import ModelConfig
from driftguard.metrics.performance import (
    EPS,
    WindowPerformance,
    judge,
    performance_of_arrays,
)


@st.composite
def labelled_scores(draw):
    n = draw(st.integers(min_value=2, max_value=150))
    y = draw(st.lists(st.integers(0, 1), min_size=n, max_size=n))
    # few distinct values so ties are common (ties are where AUC implementations differ)
    s = draw(
        st.lists(
            st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.5, 0.75, 0.9, 1.0]), min_size=n, max_size=n
        )
    )
    return y, s


@settings(max_examples=60, deadline=None)
@given(labelled_scores())
def test_classifier_metrics_equal_scikit_learn(data):
    y, s = data
    got = performance_of_arrays(y, s).metrics
    y_arr, s_arr = np.asarray(y), np.asarray(s)
    pred = (s_arr >= 0.5).astype(int)
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(y_arr, pred), abs=1e-12)
    assert got["brier"] == pytest.approx(skm.brier_score_loss(y_arr, s_arr), abs=1e-12)
    if len(set(y)) == 2:
        assert got["roc_auc"] == pytest.approx(skm.roc_auc_score(y_arr, s_arr), abs=1e-12)
        assert got["log_loss"] == pytest.approx(skm.log_loss(y_arr, s_arr), rel=1e-9)
    else:
        assert got["roc_auc"] is None  # one class: undefined (scikit-learn raises)
    if pred.sum():
        assert got["precision"] == pytest.approx(skm.precision_score(y_arr, pred), abs=1e-12)
    else:
        assert got["precision"] is None
    if y_arr.sum():
        assert got["recall"] == pytest.approx(skm.recall_score(y_arr, pred), abs=1e-12)
    if y_arr.sum() or pred.sum():
        assert got["f1"] == pytest.approx(skm.f1_score(y_arr, pred), abs=1e-12)


def test_log_loss_clips_like_the_numpy_formula():
    # plain numpy of the documented formula, p clipped to [eps, 1 - eps]
    y = np.array([1, 0, 1, 0])
    p = np.array([1.0, 0.0, 0.0, 0.3])
    q = np.clip(p, EPS, 1 - EPS)
    expected = -np.mean(y * np.log(q) + (1 - y) * np.log(1 - q))
    assert performance_of_arrays(y, p).metrics["log_loss"] == pytest.approx(expected, rel=1e-12)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(-1e3, 1e3), st.floats(-1e3, 1e3)), min_size=1, max_size=80))
def test_regression_metrics_equal_scikit_learn(pairs):
    y, s = map(np.asarray, zip(*pairs, strict=True))
    got = performance_of_arrays(y, s, task="regression").metrics
    assert got["mae"] == pytest.approx(skm.mean_absolute_error(y, s), rel=1e-9, abs=1e-9)
    assert got["rmse"] == pytest.approx(np.sqrt(skm.mean_squared_error(y, s)), rel=1e-9, abs=1e-9)


def test_auc_by_hand():
    # pairs (pos, neg): (0.35 vs 0.1) win, (0.35 vs 0.4) lose, (0.8 vs both) win -> 3/4
    assert performance_of_arrays([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]).metrics["roc_auc"] == 0.75
    # a tie counts half: pos 0.5 vs neg 0.5 -> 0.5
    assert performance_of_arrays([0, 1], [0.5, 0.5]).metrics["roc_auc"] == 0.5


def test_unlabelled_rows_count_for_coverage_only():
    p = performance_of_arrays([1, None, 0, None], [0.9, 0.2, 0.1, 0.7])
    assert (p.predictions, p.labelled, p.label_coverage) == (4, 2, 0.5)
    assert p.metrics["accuracy"] == 1.0  # both labelled rows are right


def _model(**performance):
    return ModelConfig(
        id="m",
        owner="o",
        purpose="p",
        features={"x": "numeric"},
        performance={"min_labelled": 10, **performance},
    )


def test_degradation_checks_against_the_reference():
    model = _model(minimum={"roc_auc": 0.7})
    cur = WindowPerformance(100, 50, {"roc_auc": 0.70, "accuracy": 0.80, "log_loss": 0.6})
    ref = WindowPerformance(100, 50, {"roc_auc": 0.80, "accuracy": 0.82, "log_loss": 0.5})
    checks = {(c.metric, c.kind): c for c in judge(cur, ref, model)}
    # AUC fell 0.10 against an allowed 0.05: twice the allowed distance -> critical
    auc = checks[("roc_auc", "drop")]
    assert auc.value == pytest.approx(0.10) and auc.verdict == "critical"
    # accuracy fell 0.02 of 0.05 allowed: ok, severity 0.5 * 0.02 / 0.05 = 0.2
    assert checks[("accuracy", "drop")].severity == pytest.approx(0.2)
    # log loss rose 0.6/0.5 - 1 = 20%: exactly the allowed 20% is still ok
    assert checks[("log_loss", "increase")].value == pytest.approx(0.2)
    assert checks[("log_loss", "increase")].verdict == "ok"
    # the floor 0.7 is met exactly
    assert checks[("roc_auc", "minimum")].verdict == "ok"


def test_too_few_labels_are_not_judged():
    model = _model()
    cur = WindowPerformance(100, 5, {"roc_auc": 0.5, "accuracy": 0.1})
    ref = WindowPerformance(100, 50, {"roc_auc": 0.9, "accuracy": 0.9})
    assert {c.verdict for c in judge(cur, ref, model)} == {"insufficient_data"}
