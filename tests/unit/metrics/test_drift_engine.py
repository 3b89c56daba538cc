"""The drift engine on numpy arrays: method choice, verdicts, signals, aggregation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

from driftguard.config import DriftSettings
from driftguard.metrics import drift as m
from driftguard.metrics import drift_engine as eng

RNG = np.random.default_rng(2026)


def run(reference, current, specs, drift_settings=None, **kwargs):
    s = drift_settings or DriftSettings()
    profile = eng.profile_from_arrays(reference, specs, s, **kwargs)
    window = eng.window_from_arrays(profile, current, reference=reference)
    return eng.assess(profile, window, s), s


def by_name(report):
    return {f.column: f for f in report.features}


def test_identical_distributions_show_no_drift():
    x = RNG.normal(size=4000)
    cats = RNG.choice(["a", "b", "c"], size=4000).tolist()
    specs = [eng.ColumnSpec("x", "numeric"), eng.ColumnSpec("c", "categorical")]
    report, s = run({"x": x, "c": cats}, {"x": x, "c": cats}, specs)
    assert [f.verdict for f in report.features] == ["ok", "ok"]
    assert report.max_psi == 0.0 and report.drift_score == 0.0 and report.share_drifted == 0.0
    assert report.summary(s)["findings"] == []


def test_a_shifted_mean_is_flagged_by_psi_and_by_ks():
    ref, cur = RNG.normal(size=5000), RNG.normal(0.5, 1, size=5000)
    specs = [eng.ColumnSpec("x", "numeric")]
    report, _ = run({"x": ref}, {"x": cur}, specs)
    (x,) = report.features
    # large reference (5,000 > 1,000): PSI by default; half an sd is well past 0.25
    assert x.method == "psi" and x.verdict == "critical" and x.result.value > 0.25
    report, _ = run({"x": ref}, {"x": cur}, specs, DriftSettings(numeric_method="ks"))
    (x,) = report.features
    assert x.method == "ks" and x.verdict == "critical" and x.result.p_value < 1e-10
    assert x.psi is not None and x.psi.value > 0.25  # PSI is always computed beside


def test_default_method_follows_kind_and_reference_size():
    small = {
        "x": RNG.normal(size=300),
        "c": RNG.choice(["a", "b", "c"], 300).tolist(),
        "b": RNG.choice(["y", "n"], 300).tolist(),
    }
    large = {k: (np.concatenate([v] * 10) if k == "x" else v * 10) for k, v in small.items()}
    specs = [
        eng.ColumnSpec("x", "numeric"),
        eng.ColumnSpec("c", "categorical"),
        eng.ColumnSpec("b", "categorical"),
    ]
    s = DriftSettings()
    for data, expected in ((small, ("ks", "chi_square", "z_test")), (large, ("psi",) * 3)):
        profile = eng.profile_from_arrays(data, specs, s)
        methods = eng.plan_methods(profile, s)
        assert tuple(methods[n][0] for n in ("x", "c", "b")) == expected
    # the size rule is a named setting, and the feature's own method wins over the model's
    s = DriftSettings(selection={"small_reference_rows": 5000}, categorical_method="jensen_shannon")
    specs[0] = eng.ColumnSpec("x", "numeric", method="wasserstein")
    profile = eng.profile_from_arrays(large, specs, s)
    methods = eng.plan_methods(profile, s)
    assert methods["x"] == ("wasserstein", "set for this feature")
    assert methods["c"] == ("jensen_shannon", "set for this model")
    # a Z-test needs two categories: three fall back to chi-square, saying why
    spec = eng.ColumnSpec("c", "categorical", method="z_test")
    assert eng.choose_method(spec, profile.columns["c"].reference, s) == (
        "chi_square",
        "z_test needs exactly two reference categories (found 3)",
    )


def test_tiny_samples_are_insufficient_not_drifted():
    specs = [eng.ColumnSpec("x", "numeric"), eng.ColumnSpec("c", "categorical")]
    ref = {"x": RNG.normal(size=500), "c": ["a"] * 500}
    cur = {"x": RNG.normal(5, 1, size=20), "c": ["b"] * 20}
    report, s = run(ref, cur, specs)
    assert [f.verdict for f in report.features] == ["insufficient_data"] * 2
    assert report.insufficient == ["c", "x"] and report.drift_score is None  # ranked by name
    summary = report.summary(s)
    assert summary["n_drifted"] == 0 and summary["share_drifted"] is None
    assert summary["insufficient"] == ["c", "x"]
    assert (
        "drift not assessed for 2 feature(s) with fewer than 50 values in a window: c, x"
        in summary["findings"]
    )


def test_unseen_categories_and_missing_values_are_their_own_signals():
    ref = {"c": RNG.choice(["a", "b"], 2000).tolist(), "x": RNG.normal(size=2000)}
    cur_c = RNG.choice(["a", "b"], 2000).tolist()
    for i in range(100):  # 5% in a category the reference never saw
        cur_c[i] = "new"
    cur_x = RNG.normal(size=2000)
    cur_x[:300] = np.nan  # 15% missing where the reference had none
    specs = [eng.ColumnSpec("c", "categorical"), eng.ColumnSpec("x", "numeric")]
    report, s = run(ref, {"c": cur_c, "x": cur_x}, specs)
    c, x = by_name(report)["c"], by_name(report)["x"]
    assert c.unseen_share == pytest.approx(0.05)  # hand: 100 / 2000
    assert c.unseen_examples == (("new", 100),)
    assert c.result.details["bins"][-2:] == [m.MISSING_LABEL, m.UNSEEN_LABEL]
    assert math.isfinite(c.result.value)  # the empty-bin floor keeps PSI finite
    assert (x.ref_missing_share, x.cur_missing_share) == (0.0, 0.15)  # hand: 300 / 2000
    findings = report.summary(s)["findings"]
    assert "x: missing values rose from 0.0% to 15.0% of rows" in findings
    assert "c: 5.0% of current rows are in categories the reference never saw ('new')" in findings


def test_weighted_drift_score_and_ranking():
    rng = np.random.default_rng(17)
    ref = {n: rng.normal(size=3000) for n in ("a", "b", "c")}
    # mean shifts of 1, 0.4 and 0 sd: PSI about 1, 0.16 and 0.003 (critical, warning, ok)
    cur = {"a": rng.normal(1.0, 1, 3000), "b": rng.normal(0.4, 1, 3000), "c": rng.normal(size=3000)}
    specs = [
        eng.ColumnSpec("c", "numeric", weight=1.0),
        eng.ColumnSpec("b", "numeric", weight=1.0),
        eng.ColumnSpec("a", "numeric", weight=2.0),
    ]
    report, s = run(ref, cur, specs)
    verdicts = {f.column: f.verdict for f in report.features}
    assert verdicts == {"a": "critical", "b": "warning", "c": "ok"}
    # hand: (2 * 1 + 1 * 0.5 + 1 * 0) / (2 + 1 + 1) = 0.625
    assert report.drift_score == pytest.approx(0.625)
    assert report.share_drifted == pytest.approx(2 / 3)
    assert [f.column for f in report.features] == ["a", "b", "c"]  # most drifted first
    top = report.summary(s)["top"]
    assert top[0] == {
        "feature": "a",
        "method": "psi",
        "value": report.features[0].result.value,
        "threshold": 0.25,
        "verdict": "critical",
    }
    assert top[1]["threshold"] == 0.1  # a warning names the warning level it crossed


def test_same_data_same_numbers():
    ref = {"x": RNG.normal(size=1500), "c": RNG.choice(list("abcd"), 1500).tolist()}
    cur = {"x": RNG.normal(0.2, 1, size=900), "c": RNG.choice(list("abce"), 900).tolist()}
    specs = [eng.ColumnSpec("x", "numeric"), eng.ColumnSpec("c", "categorical")]
    first, s = run(ref, cur, specs)
    second, _ = run(ref, cur, specs)
    assert first.summary(s) == second.summary(s)


def test_summary_follows_the_contract_exactly():
    specs = [eng.ColumnSpec("x", "numeric"), eng.ColumnSpec("score", "numeric", "prediction")]
    data = {"x": RNG.normal(size=600), "score": RNG.random(600)}
    report, s = run(data, data, specs)
    summary = report.summary(s)
    assert set(summary) == {
        "n_features",
        "n_drifted",
        "share_drifted",
        "drift_score",
        "max_psi",
        "prediction_drift",
        "label_drift",
        "insufficient",
        "top",
        "findings",
    }
    assert summary["n_features"] == 1  # the prediction is reported apart from the features
    assert set(summary["prediction_drift"]) == {"method", "value", "verdict"}
    assert summary["label_drift"] is None
    assert all(
        set(t) == {"feature", "method", "value", "threshold", "verdict"} for t in summary["top"]
    )


def test_learned_thresholds_come_from_reference_chunks():
    n, chunks = 4000, 8
    ref = {"x": RNG.normal(size=n)}
    chunk_of = np.repeat(np.arange(chunks), n // chunks)
    s = DriftSettings(learned_thresholds={"enabled": True})
    profile = eng.profile_from_arrays(ref, [eng.ColumnSpec("x", "numeric")], s, chunks=chunk_of)
    col = profile.columns["x"]
    # oracle: each chunk's PSI against the whole reference, by the plain formula
    edges = m.quantile_edges(ref["x"])
    r = np.append(m.numeric_bins(ref["x"], edges)[:-1], 0)
    values = []
    for k in range(chunks):
        c = np.append(m.numeric_bins(ref["x"][chunk_of == k], edges)[:-1], 0)
        values.append(m.population_stability_index(r, c, empty_bin=1e-4))
    thresholds = eng.thresholds_for("psi", col, s)
    mean, sd = np.mean(values), np.std(values, ddof=1)
    assert thresholds.source == "learned"
    assert thresholds.warning == pytest.approx(mean + 3 * sd, rel=1e-12)
    assert thresholds.critical == pytest.approx(mean + 5 * sd, rel=1e-12)
    window = eng.window_from_arrays(profile, {"x": RNG.normal(0.4, 1, 500)})
    (x,) = eng.assess(profile, window, s).features
    assert x.result.thresholds.source == "learned" and x.verdict == "critical"
    # exact methods learn from per-chunk KS statistics computed on every value
    s_ks = DriftSettings(learned_thresholds={"enabled": True}, numeric_method="ks")
    ks_values = col.chunk_values["ks"]
    assert len(ks_values) == chunks and all(0 < v < 0.2 for v in ks_values)
    assert eng.thresholds_for("ks", col, s_ks).warning == pytest.approx(
        np.mean(ks_values) + 3 * np.std(ks_values, ddof=1)
    )


def test_segments_get_their_own_drift():
    n = 3000
    seg = np.array(["north", "south"] * (n // 2), dtype=object)
    ref = {"x": RNG.normal(size=n)}
    cur_x = RNG.normal(size=n)
    cur_x[seg == "south"] += 1.0  # only the south moved
    specs = [eng.ColumnSpec("x", "numeric")]
    s = DriftSettings()
    profile = eng.profile_from_arrays(ref, specs, s, segments=seg, segment_column="region")
    window = eng.window_from_arrays(profile, {"x": cur_x}, segments=seg)
    report = eng.assess(profile, window, s)
    assert {k: v[0].verdict for k, v in report.segments.items()} == {
        "north": "ok",
        "south": "critical",
    }
    assert any(f.startswith("region 'south': 1 of 1 features drifted") for f in report.findings(s))


@settings(max_examples=60, deadline=None)
@given(
    hs.lists(hs.integers(-30, 30), min_size=60, max_size=400),
    hs.lists(hs.integers(-30, 30), min_size=60, max_size=400),
    hs.integers(5, 40),
)
def test_binned_ks_stays_within_its_stated_bound(reference, current, fine_bins):
    # opt-in approximation: D_binned <= D_exact <= D_binned + max bin share (stated bound)
    s = DriftSettings(ks_mode="binned", ks_bins=max(fine_bins, 10), numeric_method="ks")
    specs = [eng.ColumnSpec("x", "numeric")]
    ref = {"x": np.asarray(reference, float)}
    cur = {"x": np.asarray(current, float)}
    profile = eng.profile_from_arrays(ref, specs, s)
    window = eng.window_from_arrays(profile, cur)
    (x,) = eng.assess(profile, window, s).features
    exact = m.kolmogorov_smirnov_test(reference, current).statistic
    approx, bound = x.result.value, x.result.details["error_bound"]
    assert x.result.details["approximate"] is True
    assert approx <= exact + 1e-12
    assert exact <= approx + bound + 1e-12


def test_numeric_psi_equals_a_plain_numpy_transcription_of_the_documented_formula():
    rng = np.random.default_rng(21)
    ref = np.round(rng.lognormal(3, 1, 3000), 1)
    cur = np.round(rng.lognormal(3.2, 1, 2000), 1)
    ref[:30] = np.nan
    cur[:200] = np.nan
    # oracle, written from the README: edges x_(ceil(n k / 10) - 1) of the sorted non-missing
    # reference, duplicates removed; right-closed bins with open ends; a missing bin; zero
    # shares raised to 1e-4 and renormalised; PSI = sum (c - r) ln(c / r)
    x = np.sort(ref[~np.isnan(ref)])
    n = x.size
    edges = np.unique([x[-(-n * k // 10) - 1] for k in range(1, 10)])

    def shares(values):
        present = values[~np.isnan(values)]
        counts = np.bincount(np.searchsorted(edges, present, side="left"), minlength=edges.size + 1)
        counts = np.append(counts, np.isnan(values).sum()).astype(float)
        return counts / counts.sum()

    r, c = shares(ref), shares(cur)
    keep = (r > 0) | (c > 0)
    r, c = np.where(r[keep] == 0, 1e-4, r[keep]), np.where(c[keep] == 0, 1e-4, c[keep])
    r, c = r / r.sum(), c / c.sum()
    expected = float(np.sum((c - r) * np.log(c / r)))
    report, _ = run({"x": ref}, {"x": cur}, [eng.ColumnSpec("x", "numeric")])
    (x_drift,) = report.features
    assert x_drift.method == "psi"
    assert x_drift.result.value == pytest.approx(expected, rel=1e-12)
