"""Fairness: the DuckDB plan against a numpy reference, fairlearn, and hand computations."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from driftguard.config import FairnessSettings
from driftguard.metrics._fairness_names import DERIVED_METRICS, GROUP_METRICS, NAMED_METRICS
from driftguard.metrics.fairness import (
    FairnessInputError,
    GroupCounts,
    _attribute_findings,
    evaluate_attribute,
    fairness_of_file,
    group_fairness,
    wilson_interval,
)

# --------------------------------------------------------------------------- numpy reference


def reference_rates(y_pred, y_true, groups, favourable):
    """Plain numpy: per group the five rates of the module docstring (None when undefined)."""
    y_pred, y_true, groups = map(np.asarray, (y_pred, y_true, groups))
    out = {}
    for g in np.unique(groups):
        m = groups == g
        p, t = y_pred[m] == favourable, y_true[m] == favourable
        tp, fp = np.sum(p & t), np.sum(p & ~t)
        fn, tn = np.sum(~p & t), np.sum(~p & ~t)

        def div(a, b):
            return a / b if b else None

        out[str(g)] = {
            "selection_rate": p.mean(),
            "true_positive_rate": div(tp, tp + fn),
            "false_positive_rate": div(fp, fp + tn),
            "false_negative_rate": div(fn, tp + fn),
            "precision": div(tp, tp + fp),
        }
    return out


def reference_aggregates(rates):
    agg = {}
    for rate in next(iter(rates.values())):
        values = [r[rate] for r in rates.values() if r[rate] is not None]
        if len(values) < 2:
            agg[f"{rate}_difference"] = agg[f"{rate}_ratio"] = None
            continue
        agg[f"{rate}_difference"] = max(values) - min(values)
        agg[f"{rate}_ratio"] = min(values) / max(values) if max(values) else None
    return agg


# --------------------------------------------------------------------------- strategies


@st.composite
def decisions(draw, n_groups=3):
    n = draw(st.integers(min_value=4, max_value=120))
    y_pred = draw(st.lists(st.integers(0, 1), min_size=n, max_size=n))
    y_true = draw(st.lists(st.integers(0, 1), min_size=n, max_size=n))
    groups = draw(st.lists(st.sampled_from("abcdefg"[:n_groups]), min_size=n, max_size=n))
    return y_pred, y_true, groups


# --------------------------------------------------------------------------- agreement


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(decisions(), st.sampled_from([0, 1]))
def test_sql_plan_equals_the_numpy_reference(data, favourable):
    y_pred, y_true, groups = data
    result = group_fairness(
        y_pred, y_true=y_true, sensitive_features={"g": groups}, favourable=favourable
    )
    attribute = result.attributes["g"]
    expected = reference_rates(y_pred, y_true, groups, favourable)
    for group in attribute.groups:
        for rate, value in expected[group.label].items():
            got = group.rates[rate].value
            assert (got is None and value is None) or got == pytest.approx(value, abs=1e-12)
    aggregates = reference_aggregates(expected)
    for metric in DERIVED_METRICS:
        got, want = attribute.value(metric), aggregates[metric]
        assert (got is None and want is None) or got == pytest.approx(want, abs=1e-12), metric


FAIRLEARN = (
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "equalized_odds_difference",
    "equalized_odds_ratio",
    "equal_opportunity_difference",
    "equal_opportunity_ratio",
    "true_positive_rate_difference",
    "false_positive_rate_ratio",
    "false_negative_rate_difference",
    "selection_rate_ratio",
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(decisions(n_groups=4), st.sampled_from([0, 1]))
def test_agrees_with_fairlearn_on_random_data(data, favourable):
    import fairlearn.metrics as fm

    y_pred, y_true, groups = data
    # fairlearn's pos_label is our favourable outcome; it scores an empty denominator as 0
    result = group_fairness(
        y_pred,
        y_true=y_true,
        sensitive_features={"g": groups},
        favourable=favourable,
        zero_division=0.0,
    )
    yp = (np.asarray(y_pred) == favourable).astype(int)
    yt = (np.asarray(y_true) == favourable).astype(int)
    for name in FAIRLEARN:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            want = getattr(fm, name)(yt, yp, sensitive_features=np.asarray(groups))
        got = result.attributes["g"].value(name)
        parts = NAMED_METRICS.get(name, (name,))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            part_values = [
                getattr(fm, part)(yt, yp, sensitive_features=np.asarray(groups)) for part in parts
            ]
        if len(set(groups)) < 2:  # one group: fairlearn says 0 or 1, we say undefined
            assert got is None
        elif np.isnan(want) or any(np.isnan(v) for v in part_values):
            # a 0/0 ratio is undefined; fairlearn's equalized_odds_ratio then returns whichever
            # part Python's min() meets first, we return None
            assert got is None, name
        else:
            assert got == pytest.approx(want, abs=1e-12), name


@settings(max_examples=30, deadline=None)
@given(decisions(n_groups=2), st.lists(st.sampled_from("xy"), min_size=120, max_size=120))
def test_intersection_equals_grouping_by_the_combined_column(data, second):
    y_pred, y_true, groups = data
    second = second[: len(groups)]
    both = group_fairness(
        y_pred,
        y_true=y_true,
        sensitive_features={"a": groups, "b": second},
        intersections=True,
    )
    combined = group_fairness(
        y_pred,
        y_true=y_true,
        sensitive_features={"ab": [f"{g} × {s}" for g, s in zip(groups, second, strict=True)]},
    )
    joint = both.attributes["a × b"]
    flat = combined.attributes["ab"]
    assert [g.label for g in joint.groups] == [g.label for g in flat.groups]
    for metric in GROUP_METRICS:
        assert joint.value(metric) == flat.value(metric)


# --------------------------------------------------------------------------- hand computations


def test_wilson_interval_known_values():
    # Wilson (1927) score interval by hand, z = 1.959964: 0 of 10 -> [0, 0.2775]
    low, high = wilson_interval(0, 10)
    assert low == 0.0 and high == pytest.approx(0.27753, abs=1e-5)
    # 50 of 100 is symmetric around 0.5: half-width z·√(.25/100 + z²/40000)/(1 + z²/100)
    low, high = wilson_interval(50, 100)
    assert (low + high) / 2 == pytest.approx(0.5)
    assert high - 0.5 == pytest.approx(0.0962, abs=1e-4)
    assert wilson_interval(0, 0) is None


def test_fairlearn_docstring_example_and_generated_names():
    # fairlearn MetricFrame docs: selection rates 0.8 and 0.4 -> difference 0.4, ratio 0.5
    a = evaluate_attribute(
        [GroupCounts(("a",), 5, 4), GroupCounts(("b",), 5, 2)], columns=["g"], min_group_size=1
    )
    assert a.value("selection_rate_difference") == pytest.approx(0.4)
    assert a.value("selection_rate_ratio") == pytest.approx(0.5)
    # every <rate>_<aggregation> is generated and reported
    assert set(DERIVED_METRICS) <= set(a.metrics)
    assert "true_positive_rate_ratio" in a.metrics and "precision_difference" in a.metrics


def test_small_groups_are_insufficient_not_dropped_and_not_aggregated():
    counts = [
        GroupCounts(("big",), 100, 50),
        GroupCounts(("mid",), 80, 20),
        GroupCounts(("tiny",), 3, 0),  # selection rate 0 would make the ratio 0
    ]
    a = evaluate_attribute(counts, columns=["g"], min_group_size=30, thresholds={})
    assert [g.label for g in a.groups] == ["big", "mid", "tiny"]
    assert a.insufficient == ["tiny"]
    # only big and mid count: 0.25 / 0.5 by hand
    assert a.value("demographic_parity_ratio") == pytest.approx(0.5)
    tiny = a.groups[2].rates["selection_rate"]
    # the tiny group still carries its interval: Wilson 0 of 3 -> upper bound 0.5615
    assert tiny.value == 0 and tiny.high == pytest.approx(0.5615, abs=1e-4)


def test_missing_attribute_values_are_their_own_group_outside_the_aggregates():
    r = group_fairness(
        [1, 0, 1, 1, 0, 0, 1],
        sensitive_features={"sex": ["f", "f", "m", "m", None, None, None]},
    )
    sex = r.attributes["sex"]
    assert [g.label for g in sex.groups] == ["f", "m", "<missing>"]
    assert sex.groups[2].status == "missing_value"
    # f: 1/2, m: 2/2 -> ratio 0.5; the missing group (1/3) is not part of it
    assert sex.value("demographic_parity_ratio") == pytest.approx(0.5)
    assert "3 row(s) have no value for this attribute" in sex.notes


def test_disparate_impact_against_the_configured_reference_and_four_fifths():
    counts = [GroupCounts(("female",), 100, 30), GroupCounts(("male",), 400, 200)]
    a = evaluate_attribute(
        counts,
        columns=["sex"],
        reference_group=("male",),
        thresholds={"disparate_impact": 0.8},
    )
    # 0.30 / 0.50 = 0.6 by hand: below 0.8, and at twice the allowed distance -> critical
    check = a.metrics["disparate_impact"]
    assert check.value == pytest.approx(0.6)
    assert check.verdict == "critical"
    assert check.groups == ("female", "male")
    # Wilson intervals: female [0.219, 0.396], male [0.451, 0.549] do not overlap
    assert check.distinguishable is True


def test_default_reference_is_the_largest_group():
    counts = [GroupCounts(("a",), 50, 40), GroupCounts(("b",), 300, 150)]
    a = evaluate_attribute(counts, columns=["g"])
    assert a.reference_group == ("b",)
    # a against b: 0.8 / 0.5 = 1.6; the attribute's disparate impact is the minimum
    assert a.groups[0].disparate_impact == pytest.approx(1.6)
    assert a.value("disparate_impact") == pytest.approx(1.6)


def test_a_small_gap_between_small_groups_is_flagged_as_possible_noise():
    counts = [GroupCounts(("a",), 40, 16), GroupCounts(("b",), 40, 26)]
    a = evaluate_attribute(counts, columns=["g"], thresholds={"demographic_parity_difference": 0.1})
    check = a.metrics["demographic_parity_difference"]
    # 26/40 - 16/40 = 0.25 by hand: past twice the threshold 0.1
    assert check.value == pytest.approx(0.25) and check.verdict == "critical"
    assert check.distinguishable is False
    # Wilson: 16/40 -> [0.263, 0.554], 26/40 -> [0.495, 0.778]: they overlap
    assert any("may be noise" in f for f in _attribute_findings(a))


def test_flipping_the_favourable_outcome_swaps_the_error_rates():
    y_pred = [1, 1, 0, 0, 1, 0, 1, 0]
    y_true = [1, 0, 1, 0, 1, 1, 0, 0]
    groups = list("aaaabbbb")
    one = group_fairness(y_pred, y_true=y_true, sensitive_features={"g": groups}, favourable=1)
    zero = group_fairness(y_pred, y_true=y_true, sensitive_features={"g": groups}, favourable=0)
    for g1, g0 in zip(one.attributes["g"].groups, zero.attributes["g"].groups, strict=True):
        # P(ŷ=0 | y=1) under f=1 is the FNR; under f=0 it is the FPR
        assert g1.rates["false_negative_rate"].value == g0.rates["false_positive_rate"].value
        assert g1.rates["selection_rate"].value == 1 - g0.rates["selection_rate"].value
    # equalized odds difference does not depend on which outcome is favourable
    assert one.attributes["g"].value("equalized_odds_difference") == pytest.approx(
        zero.attributes["g"].value("equalized_odds_difference")
    )


def test_file_interface_validates_columns_and_values(tmp_path):
    import pandas as pd

    path = tmp_path / "d.csv"
    pd.DataFrame({"p": [0.2, 0.9, 0.4], "s": ["a", "b", "a"]}).to_csv(path, index=False)
    with pytest.raises(
        FairnessInputError, match=r"protected column 'sex' not found; the file has: p, s"
    ):
        fairness_of_file(path, prediction="p", protected=["sex"])
    with pytest.raises(FairnessInputError, match="are not all 0 or 1; pass a threshold"):
        fairness_of_file(path, prediction="p", protected=["s"])
    result = fairness_of_file(
        path,
        prediction="p",
        protected=["s"],
        threshold=0.5,
        settings=FairnessSettings(min_group_size=1),
    )
    # a: 0.2, 0.4 -> no positive; b: 0.9 -> positive
    assert [g.rates["selection_rate"].value for g in result.attributes["s"].groups] == [0.0, 1.0]


def test_parquet_and_csv_give_the_same_answer(tmp_path):
    import pandas as pd

    rng = np.random.default_rng(5)
    frame = pd.DataFrame(
        {
            "pred": rng.integers(0, 2, 500),
            "label": rng.integers(0, 2, 500),
            "sex": rng.choice(["f", "m"], 500),
            "age": rng.choice(["young", "old"], 500),
        }
    )
    frame.to_parquet(tmp_path / "d.parquet")
    frame.to_csv(tmp_path / "d.csv", index=False)
    a, b = (
        fairness_of_file(
            tmp_path / name, prediction="pred", label="label", protected=["sex", "age"]
        )
        for name in ("d.parquet", "d.csv")
    )
    assert a.as_dict() == b.as_dict()
    assert set(a.attributes) == {"sex", "age", "sex × age"}
