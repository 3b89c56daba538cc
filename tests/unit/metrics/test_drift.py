"""The drift formulas: known answers, scipy as oracle, properties, and one message format."""

from __future__ import annotations

import doctest
import math
import warnings

import numpy as np
import pytest
import scipy.stats as st
from hypothesis import given, settings
from hypothesis import strategies as hs
from scipy.spatial.distance import jensenshannon

import driftguard.metrics
from driftguard import _validation as v
from driftguard.metrics import drift as m

# ----------------------------------------------------------------------------- known answers


def test_psi_of_the_style_guide_example():
    # hand: (0.25-0.5)ln(0.5) + (0.75-0.5)ln(1.5) = 0.25 ln 2 + 0.25 ln 1.5 = 0.25 ln 3
    assert m.population_stability_index([0.5, 0.5], [0.25, 0.75]) == pytest.approx(
        0.25 * math.log(3), rel=1e-12
    )
    # counts are normalised: the same shares as counts give the same PSI
    assert m.population_stability_index([100, 100], [50, 150]) == pytest.approx(
        0.25 * math.log(3), rel=1e-12
    )


def test_psi_floor_for_a_bin_empty_in_the_reference():
    # hand: reference [1, 0] -> floored [1, 1e-4] / 1.0001; current [0.5, 0.5] untouched
    r = np.array([1.0, 1e-4]) / 1.0001
    c = np.array([0.5, 0.5])
    expected = float(np.sum((c - r) * np.log(c / r)))
    assert m.population_stability_index([1, 0], [1, 1], empty_bin=1e-4) == pytest.approx(
        expected, rel=1e-12
    )


def test_bins_empty_in_both_windows_are_dropped():
    # a bin empty on both sides carries no information: same PSI as without it (0.25 ln 3)
    assert m.population_stability_index([1, 0, 1], [1, 0, 3]) == pytest.approx(
        0.25 * math.log(3), rel=1e-12
    )


def test_kl_known_answer():
    # hand: 0.25 ln(0.25/0.5) + 0.75 ln(0.75/0.5) = 0.75 ln 3 - ln 2
    assert m.kullback_leibler_divergence([0.5, 0.5], [0.25, 0.75]) == pytest.approx(
        0.75 * math.log(3) - math.log(2), rel=1e-12
    )


def test_jensen_shannon_known_answers():
    # hand: m = [0.75, 0.25]; JSD = 0.5 log2(4/3) + 0.5 (0.5 log2(2/3) + 0.5 log2 2)
    #     = 1.5 - 0.75 log2 3
    assert m.jensen_shannon_distance([1, 0], [0.5, 0.5]) == pytest.approx(
        math.sqrt(1.5 - 0.75 * math.log2(3)), rel=1e-12
    )
    assert m.jensen_shannon_distance([1, 0], [0, 1]) == 1.0  # disjoint supports: the maximum
    assert m.jensen_shannon_distance([3, 1], [30, 10]) == 0.0  # same shares


def test_chi_square_known_answer():
    # hand: expected [50, 50]; X2 = 20^2/50 * 2 = 16; 1 dof: p = P(|Z| > 4) = erfc(4/sqrt 2)
    result = m.chi_square_test([0.5, 0.5], [30, 70])
    assert result.statistic == pytest.approx(16.0, rel=1e-12)
    assert result.dof == 1
    assert result.p_value == pytest.approx(math.erfc(4 / math.sqrt(2)), rel=1e-9)


def test_z_test_known_answer():
    # hand: p_r = 0.5, p_c = 0.3, pooled 0.4; se = sqrt(0.4*0.6*(1/100+1/100)) = sqrt(0.0048)
    result = m.two_proportion_z_test([50, 50], [30, 70])
    z = -0.2 / math.sqrt(0.0048)
    assert result.statistic == pytest.approx(z, rel=1e-12)
    assert result.p_value == pytest.approx(math.erfc(abs(z) / math.sqrt(2)), rel=1e-12)
    # one class in both windows: identical samples, z = 0 and p = 1 (documented, not 0/0)
    assert m.two_proportion_z_test([10, 0], [7, 0]) == m.TestResult(0.0, 1.0)


def test_ks_known_answer():
    # hand: no overlap, D = 1; 2 of the C(8,4) = 70 equally likely orderings are that extreme
    result = m.kolmogorov_smirnov_test([1, 2, 3, 4], [5, 6, 7, 8])
    assert result.statistic == 1.0
    assert result.p_value == pytest.approx(2 / 70, rel=1e-12)


def test_wasserstein_known_answer():
    # hand: [0, 2] -> [1, 3] moves every unit of mass by 1; population std of [0, 2] is 1
    assert m.normalized_wasserstein_distance([0, 2], [1, 3]) == pytest.approx(1.0, rel=1e-12)
    with pytest.raises(m.DataError, match="zero_std=1.0"):
        m.normalized_wasserstein_distance([5, 5], [5, 6])
    # constant reference with zero_std=1.0: the unscaled distance, here half a unit
    assert m.normalized_wasserstein_distance([5, 5], [5, 6], zero_std=1.0) == pytest.approx(0.5)


def test_quantile_edges_and_bins():
    # hand: deciles of 1..20 are the even numbers 2..18 (x_(ceil(20k/10)-1) = 2k)
    assert m.quantile_edges(np.arange(1, 21)).tolist() == [2, 4, 6, 8, 10, 12, 14, 16, 18]
    # ties collapse: a reference that is 0 half the time keeps one edge at 0
    edges = m.quantile_edges([0] * 10 + list(range(1, 11)), bins=4)
    # hand: n=20, j_k = ceil(20k/4) - 1 = 4, 9, 14 -> x = 0, 0, 5 -> duplicates removed
    assert edges.tolist() == [0.0, 5.0]
    # right-closed bins, open outer bins, a last bin for missing values
    assert m.numeric_bins([-100, 0, 0.5, 5, 6, 1e9, np.nan], edges).tolist() == [2, 2, 2, 1]


def test_category_bins_have_missing_and_unseen_bins():
    labels, r, c = m.category_bins(["a", "b", None, float("nan")], ["b", "z", "y", None])
    assert labels == ["a", "b", m.MISSING_LABEL, m.UNSEEN_LABEL]
    assert r.tolist() == [1, 1, 2, 0] and c.tolist() == [0, 1, 1, 2]


def test_empty_bin_raises_with_the_option_named():
    with pytest.raises(m.EmptyBin) as raised:
        m.population_stability_index([1, 0], [1, 1])
    assert str(raised.value) == m.EMPTY_BIN_MESSAGE.format(metric="PSI", index=1, side="reference")
    with pytest.raises(m.EmptyBin) as raised:
        m.kullback_leibler_divergence([1, 1, 1], [1, 1, 0])
    assert str(raised.value) == m.EMPTY_BIN_MESSAGE.format(metric="KL", index=2, side="current")
    with pytest.raises(m.EmptyBin):
        m.chi_square_test([1, 0], [5, 5])


def test_docstring_examples_run():
    result = doctest.testmod(m, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 10 and result.failed == 0


# ----------------------------------------------------------------------------- scipy oracles

KS_CASES = [
    (5, 7),
    (10, 10),
    (100, 80),
    (250, 1000),
    (3000, 2000),
    (9000, 10000),  # largest exact case
    (10001, 300),  # asymptotic, small effective n (Durbin / Pomeranz region)
    (20000, 15000),  # asymptotic, large n
    (200000, 60),
]


@pytest.mark.parametrize(("n1", "n2"), KS_CASES)
@pytest.mark.parametrize("shift", [0.0, 0.08, 0.5])
def test_ks_matches_scipy(n1, n2, shift):
    rng = np.random.default_rng(n1 * 7 + n2)
    a = np.round(rng.normal(size=n1), 2)  # rounding creates ties
    b = np.round(rng.normal(shift, 1, size=n2), 2)
    ours = m.kolmogorov_smirnov_test(a, b)
    oracle = st.ks_2samp(a, b)  # oracle: scipy, method="auto"
    assert abs(ours.statistic - oracle.statistic) <= 1e-12
    if oracle.pvalue > 1e-290:
        assert ours.p_value == pytest.approx(oracle.pvalue, rel=1e-6)
    else:
        assert ours.p_value < 1e-280


@pytest.mark.parametrize("method", ["exact", "asymp"])
def test_ks_methods_match_scipy(method):
    rng = np.random.default_rng(11)
    a, b = rng.normal(size=300), rng.normal(0.2, 1, size=170)
    ours = m.kolmogorov_smirnov_test(a, b, method=method)
    oracle = st.ks_2samp(a, b, method=method)
    assert abs(ours.statistic - oracle.statistic) <= 1e-12
    assert ours.p_value == pytest.approx(oracle.pvalue, rel=1e-6)


@settings(max_examples=150, deadline=None)
@given(
    hs.lists(hs.integers(-20, 20), min_size=1, max_size=120),
    hs.lists(hs.integers(-20, 20), min_size=1, max_size=120),
    hs.sampled_from([1.0, 0.5, 0.1]),
)
def test_ks_matches_scipy_property(a, b, scale):
    a, b = np.asarray(a) * scale, np.asarray(b) * scale
    ours = m.kolmogorov_smirnov_test(a, b)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        oracle = st.ks_2samp(a, b)
    assert abs(ours.statistic - oracle.statistic) <= 1e-12
    if any("Exact calculation unsuccessful" in str(w.message) for w in caught):
        # scipy's exact sum rounded above 1 (the true value is 1, e.g. n1 = n2 = 7 with
        # D = 1/7) and it fell back to the asymptotic formula; ours stays exact
        assert ours.p_value == pytest.approx(1.0, abs=1e-12)
        assert oracle.pvalue > 0.99
    elif oracle.pvalue > 1e-290:
        assert ours.p_value == pytest.approx(oracle.pvalue, rel=1e-6)


def test_ks_where_scipy_falls_back_is_exactly_one():
    # regression found by the property test: scipy computes 1.0000000000000002 for n1 = n2 = 7,
    # h = 1, calls that unsuccessful and returns the asymptotic 0.99996; every ordering of two
    # samples of 7 has D >= 1/7, so the exact p-value is 1
    result = m.kolmogorov_smirnov_test([0] * 7, [0] * 6 + [1])
    assert result.statistic == pytest.approx(1 / 7) and result.p_value == 1.0


@settings(max_examples=100, deadline=None)
@given(
    hs.lists(hs.integers(0, 1000), min_size=2, max_size=12).filter(lambda x: sum(x) > 0),
    hs.data(),
)
def test_chi_square_matches_scipy(reference, data):
    current = data.draw(
        hs.lists(hs.integers(0, 1000), min_size=len(reference), max_size=len(reference))
    )
    r, c = np.asarray(reference, float), np.asarray(current, float)
    if c.sum() == 0 or np.any((r == 0) & (c > 0)):
        return
    keep = (r > 0) | (c > 0)
    ours = m.chi_square_test(r, c)
    if keep.sum() < 2:
        assert ours == m.TestResult(0.0, 1.0, 0)
        return
    expected = c[keep].sum() * r[keep] / r.sum()
    oracle = st.chisquare(c[keep], expected)  # oracle: scipy
    assert ours.statistic == pytest.approx(oracle.statistic, rel=1e-9, abs=1e-12)
    assert ours.p_value == pytest.approx(oracle.pvalue, rel=1e-9, abs=1e-300)


COUNT = hs.one_of(hs.just(0.0), hs.floats(1e-3, 1e4))  # counts or shares, zeros included


@settings(max_examples=100, deadline=None)
@given(hs.lists(COUNT, min_size=2, max_size=10).filter(lambda x: sum(x) > 0), hs.data())
def test_binned_measures_match_plain_formulas(reference, data):
    current = data.draw(
        hs.lists(COUNT, min_size=len(reference), max_size=len(reference)).filter(
            lambda x: sum(x) > 0
        )
    )
    r = np.asarray(reference) / sum(reference)
    c = np.asarray(current) / sum(current)
    # oracle: scipy's Jensen-Shannon distance in base 2
    assert m.jensen_shannon_distance(reference, current) == pytest.approx(
        jensenshannon(r, c, base=2), abs=1e-9
    )
    # oracle: the documented formula transcribed in plain numpy (floor, renormalise, sum)
    keep = (r > 0) | (c > 0)
    rf = np.where(r[keep] == 0, 1e-4, r[keep])
    cf = np.where(c[keep] == 0, 1e-4, c[keep])
    rf, cf = rf / rf.sum(), cf / cf.sum()
    psi = float(np.sum((cf - rf) * np.log(cf / rf)))
    assert m.population_stability_index(reference, current, empty_bin=1e-4) == pytest.approx(
        psi, rel=1e-9, abs=1e-12
    )
    # oracle: scipy's relative entropy on the same floored shares
    assert m.kullback_leibler_divergence(reference, current, empty_bin=1e-4) == pytest.approx(
        st.entropy(cf, rf), rel=1e-9, abs=1e-12
    )


@settings(max_examples=80, deadline=None)
@given(
    hs.lists(hs.integers(-50, 50), min_size=2, max_size=80).filter(lambda x: len(set(x)) > 1),
    hs.lists(hs.integers(-50, 50), min_size=1, max_size=80),
)
def test_wasserstein_matches_scipy(a, b):
    oracle = st.wasserstein_distance(a, b) / np.std(a)  # oracle: scipy / population std
    assert m.normalized_wasserstein_distance(a, b) == pytest.approx(oracle, rel=1e-9, abs=1e-12)


def test_z_test_matches_a_normal_oracle():
    ours = m.two_proportion_z_test([120, 380], [150, 350])
    pooled = 270 / 1000  # hand: (120 + 150) / (500 + 500)
    z = (0.3 - 0.24) / math.sqrt(pooled * (1 - pooled) * (2 / 500))
    assert ours.statistic == pytest.approx(z, rel=1e-12)
    assert ours.p_value == pytest.approx(2 * st.norm.sf(abs(z)), rel=1e-9)  # oracle: scipy


# ----------------------------------------------------------------------------- properties


@settings(max_examples=100, deadline=None)
@given(hs.lists(hs.floats(-1e6, 1e6), min_size=1, max_size=200))
def test_identical_samples_show_no_drift(values):
    result = m.kolmogorov_smirnov_test(values, values)
    assert result.statistic == 0 and result.p_value == 1.0
    if np.std(values) > 0:
        assert m.normalized_wasserstein_distance(values, values) == 0.0
    edges = m.quantile_edges(values)
    counts = m.numeric_bins(values, edges)
    assert m.population_stability_index(counts, counts) == 0.0
    assert m.jensen_shannon_distance(counts, counts) == 0.0
    assert m.kullback_leibler_divergence(counts, counts) == 0.0


@settings(max_examples=100, deadline=None)
@given(
    hs.lists(hs.integers(0, 50), min_size=2, max_size=10).filter(lambda x: sum(x) > 0),
    hs.data(),
)
def test_binned_measures_are_non_negative_and_bounded(reference, data):
    current = data.draw(
        hs.lists(hs.integers(0, 50), min_size=len(reference), max_size=len(reference)).filter(
            lambda x: sum(x) > 0
        )
    )
    psi = m.population_stability_index(reference, current, empty_bin=1e-4)
    assert psi >= 0
    assert psi == pytest.approx(
        m.population_stability_index(current, reference, empty_bin=1e-4), rel=1e-9, abs=1e-12
    )  # PSI is symmetric
    assert m.kullback_leibler_divergence(reference, current, empty_bin=1e-4) >= 0
    js = m.jensen_shannon_distance(reference, current)
    assert 0 <= js <= 1
    assert js == pytest.approx(m.jensen_shannon_distance(current, reference), abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(hs.lists(hs.floats(-1e3, 1e3), min_size=1, max_size=300), hs.integers(2, 20))
def test_quantile_edges_are_reference_order_statistics(values, bins):
    edges = m.quantile_edges(values, bins=bins)
    assert np.all(np.diff(edges) > 0) and len(edges) <= bins - 1
    assert set(edges.tolist()) <= set(map(float, values))  # observed values only
    counts = m.numeric_bins(values, edges)
    assert counts.sum() == len(values) and counts[-1] == 0
    # right-closed: a value equal to an edge sits in the bin that edge closes
    x = np.asarray(values, dtype=float)
    assert counts[0] == np.count_nonzero(x <= edges[0])


def test_a_shifted_mean_is_flagged_and_an_unshifted_one_is_not():
    rng = np.random.default_rng(5)
    reference = rng.normal(size=5000)
    same = rng.normal(size=5000)
    shifted = rng.normal(0.5, 1, size=5000)
    edges = m.quantile_edges(reference)
    r = m.numeric_bins(reference, edges)
    # PSI of a half-sd mean shift is about 0.25 (normal approximation 0.5^2 = 0.25 ...
    # computed here: above the 0.1 warning level); sampling noise stays far below 0.1
    assert m.population_stability_index(r, m.numeric_bins(shifted, edges)) > 0.2
    assert m.population_stability_index(r, m.numeric_bins(same, edges)) < 0.02
    assert m.kolmogorov_smirnov_test(reference, shifted).p_value < 1e-10
    assert m.kolmogorov_smirnov_test(reference, same).p_value > 0.01


# ----------------------------------------------------------------------------- validation

BAD_CALLS = {
    "category_bins": (
        lambda: m.category_bins("abc", ["a"]),
        ("reference", "category_bins", "an iterable of category values", "'abc'"),
    ),
    "chi_square_test": (
        lambda: m.chi_square_test([1, 1], [1, 1], empty_bin="floor"),
        ("empty_bin", "chi_square_test", v.ALLOWED_EMPTY_BIN, "'floor'"),
    ),
    "jensen_shannon_distance": (
        lambda: m.jensen_shannon_distance([], [1]),
        ("reference", "jensen_shannon_distance", v.ALLOWED_COUNTS, "an empty array"),
    ),
    "kolmogorov_smirnov_test": (
        lambda: m.kolmogorov_smirnov_test([1], [2], method="fast"),
        ("method", "kolmogorov_smirnov_test", "one of 'asymp', 'auto', 'exact'", "'fast'"),
    ),
    "kullback_leibler_divergence": (
        lambda: m.kullback_leibler_divergence([1, 1], [1, 1], empty_bin=0),
        ("empty_bin", "kullback_leibler_divergence", v.ALLOWED_EMPTY_BIN, "0"),
    ),
    "normalized_wasserstein_distance": (
        lambda: m.normalized_wasserstein_distance([1, 2], [1], zero_std=-1.0),
        ("zero_std", "normalized_wasserstein_distance", v.ALLOWED_ZERO_STD, "-1.0"),
    ),
    "numeric_bins": (
        lambda: m.numeric_bins([1.0], [2.0, 1.0]),
        (
            "edges",
            "numeric_bins",
            "a strictly increasing 1-d array of finite numbers",
            "an array of 2 values",
        ),
    ),
    "population_stability_index": (
        lambda: m.population_stability_index([1, 1], [1, 1], empty_bin=0.9),
        ("empty_bin", "population_stability_index", v.ALLOWED_EMPTY_BIN, "0.9"),
    ),
    "quantile_edges": (
        lambda: m.quantile_edges([1, 2, 3], bins=1),
        ("bins", "quantile_edges", "an int in [2, inf)", "1"),
    ),
    "two_proportion_z_test": (
        lambda: m.two_proportion_z_test([1, 2, 3], [1, 1]),
        (
            "reference",
            "two_proportion_z_test",
            "two counts [in first category, rest]",
            "an array of 3 values",
        ),
    ),
}


def test_every_public_metric_rejects_a_bad_option_in_one_format():
    assert sorted(BAD_CALLS) == sorted(driftguard.metrics.__all__)
    for name, (call, (parameter, function, allowed, got)) in BAD_CALLS.items():
        with pytest.raises(v.InvalidParameter) as raised:
            call()
        expected = v.INVALID_PARAMETER.format(
            parameter=parameter, function=function, allowed=allowed, got=got
        )
        assert str(raised.value) == expected, name


def test_samples_with_missing_values_are_refused_by_the_sample_tests():
    with pytest.raises(v.InvalidParameter) as raised:
        m.kolmogorov_smirnov_test([1.0, np.nan], [1.0])
    assert str(raised.value) == v.INVALID_PARAMETER.format(
        parameter="reference",
        function="kolmogorov_smirnov_test",
        allowed=v.ALLOWED_SAMPLE,
        got="an array with 1 non-finite value(s)",
    )


def test_registry_lists_alternatives_for_unknown_names():
    assert set(m.METHODS) == {
        "psi",
        "ks",
        "wasserstein",
        "jensen_shannon",
        "kl",
        "chi_square",
        "z_test",
    }
    with pytest.raises(m.UnknownDriftMethod) as raised:
        m.get_method("pis")
    assert str(raised.value) == m.UNKNOWN_METHOD_MESSAGE.format(
        name="pis", available="chi_square, jensen_shannon, kl, ks, psi, wasserstein, z_test"
    )
    # defaults from the registry: PSI 0.1 / 0.25 (Siddiqi 2006), tests at p 0.05 / 0.01
    assert (m.METHODS["psi"].warning, m.METHODS["psi"].critical) == (0.1, 0.25)
    assert (m.METHODS["ks"].warning, m.METHODS["ks"].critical) == (0.05, 0.01)


def test_verdicts_for_fixed_and_learned_thresholds():
    psi = m.fixed_thresholds(m.METHODS["psi"])
    assert [m.judge(x, None, psi) for x in (0.05, 0.1, 0.2, 0.25)] == [
        "ok",
        "warning",
        "warning",
        "critical",
    ]
    ks = m.fixed_thresholds(m.METHODS["ks"])
    assert [m.judge(0.3, p, ks) for p in (0.2, 0.05, 0.02, 0.009)] == [
        "ok",
        "ok",
        "warning",
        "critical",
    ]
    # hand: chunk values 1, 2, 3 -> mean 2, sample sd 1; bounds 2 +- 3 and 2 +- 5
    learned = m.learned_thresholds([1.0, 2.0, 3.0])
    assert (learned.warning, learned.critical) == (5.0, 7.0)
    assert (learned.warning_lower, learned.critical_lower) == (-1.0, -3.0)
    assert [m.judge(x, None, learned) for x in (4.9, 5.0, 7.0, -1.5)] == [
        "ok",
        "warning",
        "critical",
        "warning",
    ]
    assert m.learned_thresholds([1.0, 2.0]) is None  # fewer than 3 chunks: no learning
