"""Drift between a reference sample and a current sample: the formulas, in plain numpy.

Each function here is the reference implementation of one drift method: small, documented
with its formula, and checked in the tests against an independent oracle (scipy, a plain numpy
transcription of the formula, or a hand computation). The SQL path
(:mod:`driftguard.metrics.drift_sql`) computes the same histograms and counts inside DuckDB and
finishes with these functions, and the tests prove both paths give the same numbers.

Directions: for every ``*_distance``, ``*_divergence`` and ``*_index``, 0 means the two samples
have the same distribution over the bins compared, and larger is worse. Statistical tests
return a statistic and a p-value; a small p-value is evidence of drift.

Binning (numeric features): the bin edges are quantiles of the *reference* only
(:func:`quantile_edges`), duplicates removed, with open outer bins so values outside the
reference range are still counted; missing values get their own bin. Bins never depend on the
current window, so a feature's values are comparable from one run to the next. Categorical
features get one bin per reference category, one for missing values and one for categories
the reference never saw (:func:`category_bins`).

Bibliography
------------
.. [Siddiqi2006] Siddiqi, N. (2006). Credit Risk Scorecards: Developing and Implementing
   Intelligent Credit Scoring. Wiley, ch. 8. ISBN 978-0-471-75451-0.
.. [Yurdakul2018] Yurdakul, B. (2018). Statistical Properties of Population Stability Index.
   Dissertation, Western Michigan University. https://scholarworks.wmich.edu/dissertations/3208
.. [Kullback1951] Kullback, S., Leibler, R.A. (1951). On information and sufficiency. Ann.
   Math. Statist. 22(1), 79-86. https://doi.org/10.1214/aoms/1177729694
.. [Lin1991] Lin, J. (1991). Divergence measures based on the Shannon entropy. IEEE Trans.
   Inf. Theory 37(1), 145-151. https://doi.org/10.1109/18.61115
.. [Endres2003] Endres, D.M., Schindelin, J.E. (2003). A new metric for probability
   distributions. IEEE Trans. Inf. Theory 49(7). https://doi.org/10.1109/TIT.2003.813506
.. [Smirnov1948] Smirnov, N. (1948). Table for estimating the goodness of fit of empirical
   distributions. Ann. Math. Statist. 19(2), 279-281. https://doi.org/10.1214/aoms/1177730256
.. [Hodges1958] Hodges, J.L. (1958). The significance probability of the Smirnov two-sample
   test. Arkiv for Matematik 3(43), 469-486. https://doi.org/10.1007/BF02589501
.. [Ramdas2017] Ramdas, A., Garcia Trillos, N., Cuturi, M. (2017). On Wasserstein two-sample
   testing and related families of nonparametric tests. Entropy 19(2), 47.
   https://doi.org/10.3390/e19020047
.. [Pearson1900] Pearson, K. (1900). On the criterion that a given system of deviations from
   the probable ... Philosophical Magazine 50(302), 157-175.
   https://doi.org/10.1080/14786440009463897
.. [Fleiss2003] Fleiss, J.L., Levin, B., Paik, M.C. (2003). Statistical Methods for Rates and
   Proportions, 3rd ed., section 2.4. Wiley. https://doi.org/10.1002/0471445428
.. [Rabanser2019] Rabanser, S., Guennemann, S., Lipton, Z.C. (2019). Failing loudly: an
   empirical study of methods for detecting dataset shift. NeurIPS.
   https://arxiv.org/abs/1810.11953
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from driftguard import _validation as v
from driftguard.errors import ConfigError, DataError
from driftguard.metrics import _kolmogorov

__all__ = [
    "category_bins",
    "chi_square_test",
    "jensen_shannon_distance",
    "kolmogorov_smirnov_test",
    "kullback_leibler_divergence",
    "normalized_wasserstein_distance",
    "numeric_bins",
    "population_stability_index",
    "quantile_edges",
    "two_proportion_z_test",
]

Kind = Literal["numeric", "categorical"]
Verdict = Literal["ok", "warning", "critical", "insufficient_data"]
VERDICTS: tuple[Verdict, ...] = ("ok", "warning", "critical", "insufficient_data")
#: Order of severity, for ranking and for "the worst of" decisions.
SEVERITY: dict[str, int] = {"insufficient_data": -1, "ok": 0, "warning": 1, "critical": 2}
#: Documented floor for empty bins in the monitoring pipeline (``empty_bin=`` of the formulas).
DEFAULT_EMPTY_BIN = 1e-4
MISSING_LABEL = "(missing)"
UNSEEN_LABEL = "(unseen)"

#: Message of :class:`EmptyBin`: the undefined case names its option.
EMPTY_BIN_MESSAGE = (
    "{metric} undefined: bin {index} is empty in `{side}`. Pass empty_bin=1e-4 to smooth, "
    "or use fewer bins."
)
#: Message of :class:`UnknownDriftMethod`.
UNKNOWN_METHOD_MESSAGE = "Unknown drift method {name!r}. Available: {available}."


class EmptyBin(DataError, ValueError):
    """A ratio-based measure met a bin that is empty in one sample and not in the other."""


class UnknownDriftMethod(ConfigError, LookupError):
    """A drift method name that the registry does not know."""


@dataclass(frozen=True)
class TestResult:
    """A statistical test: the statistic, its p-value and (where it has one) the degrees of
    freedom."""

    __test__ = False  # not a pytest class

    statistic: float
    p_value: float
    dof: int | None = None


# ----------------------------------------------------------------------------- binning


def quantile_positions(n: int, bins: int) -> list[int]:
    """0-based order statistics used as edges: j_k = ceil(n k / bins) - 1 for k = 1..bins-1.

    Integer arithmetic, so the SQL path (``quantile_disc`` at (j + 0.5) / n) picks exactly
    the same values as numpy indexing.
    """
    return [max((n * k + bins - 1) // bins - 1, 0) for k in range(1, bins)]


def quantile_edges(reference: ArrayLike, *, bins: int = 10) -> np.ndarray:
    """Interior bin edges: the reference's k/bins quantiles, duplicates removed.

    e_k = x_(j_k) with j_k = ceil(n k / bins) - 1 (the inverted empirical CDF, an observed
    value), k = 1..bins-1, over the sorted non-missing reference values x_(0) <= ... <= x_(n-1).

    The bins are right-closed: (-inf, e_1], (e_1, e_2], ..., (e_last, +inf). The outer bins are
    open, so current values outside the reference range are counted rather than dropped. With
    ties, several quantiles coincide and their duplicates are removed, so fewer bins remain.

    Parameters
    ----------
    reference : array_like
        Reference values; NaN marks a missing value and is ignored here.
    bins : int, default 10
        Number of quantile bins before duplicates are removed.

    Returns
    -------
    numpy.ndarray
        Strictly increasing edges (at most ``bins - 1`` of them).

    Notes
    -----
    Observed values rather than interpolated quantiles are used so that DuckDB
    (``quantile_disc``) and numpy select bit-identical edges, and a value equal to an edge is
    never split between bins by rounding.

    References
    ----------
    [Siddiqi2006]_, [Yurdakul2018]_

    Examples
    --------
    Deciles of 1..20 are every second value; ten bins of two values each:

    >>> quantile_edges(np.arange(1, 21), bins=10).tolist()
    [2.0, 4.0, 6.0, 8.0, 10.0, 12.0, 14.0, 16.0, 18.0]
    """
    bins = v.check_int(bins, parameter="bins", function="quantile_edges", low=2)
    values = _non_missing(reference, parameter="reference", function="quantile_edges")
    values = np.sort(values)
    return np.unique(values[quantile_positions(values.size, bins)])


def numeric_bins(values: ArrayLike, edges: ArrayLike) -> np.ndarray:
    """Counts of ``values`` per bin of ``edges``, with missing values (NaN) in a last bin.

    Bin i holds e_(i-1) < x <= e_i, with e_0 = -inf and e_(len(edges)+1) = +inf; the returned
    array has ``len(edges) + 2`` entries, the last being the number of missing values.

    Parameters
    ----------
    values : array_like
        Numbers; NaN marks a missing value. Infinite values are refused.
    edges : array_like
        Strictly increasing interior edges, e.g. from :func:`quantile_edges`.

    Returns
    -------
    numpy.ndarray
        int64 counts: one per bin, then the missing count.

    Notes
    -----
    Right-closed bins match DuckDB's ``histogram(x, boundaries)``, so the SQL path counts
    exactly the same rows in each bin.

    Examples
    --------
    >>> numeric_bins([1, 2, 3, np.nan, 10], [2, 5]).tolist()
    [2, 1, 1, 1]
    """
    array = _numbers(values, parameter="values", function="numeric_bins")
    cuts = _edges(edges, function="numeric_bins")
    missing = np.isnan(array)
    present = array[~missing]
    counts = np.bincount(np.searchsorted(cuts, present, side="left"), minlength=cuts.size + 1)
    return np.append(counts, int(missing.sum())).astype(np.int64)


def category_bins(
    reference: Iterable[Any], current: Iterable[Any]
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Bin both samples by the reference's categories, plus missing and unseen bins.

    Labels are the reference categories in sorted order, then ``(missing)`` (None or NaN),
    then ``(unseen)`` (current categories absent from the reference; always 0 for the
    reference itself).

    Parameters
    ----------
    reference, current : iterable
        Category values; None and float NaN are missing. Values are compared as strings.

    Returns
    -------
    labels : list of str
    reference_counts, current_counts : numpy.ndarray
        int64 counts per label.

    Examples
    --------
    >>> labels, r, c = category_bins(["a", "b", "b", None], ["b", "c", "a", "a"])
    >>> labels, r.tolist(), c.tolist()
    (['a', 'b', '(missing)', '(unseen)'], [1, 2, 1, 0], [2, 1, 0, 1])
    """
    for name, values in (("reference", reference), ("current", current)):
        if isinstance(values, str | bytes) or not isinstance(values, Iterable):
            raise v.fail(name, "category_bins", "an iterable of category values", values)
    ref = category_counts(reference)
    cur = category_counts(current)
    categories = sorted(k for k in ref if k is not None)
    labels = [*categories, MISSING_LABEL, UNSEEN_LABEL]
    ref_counts = [ref.get(c, 0) for c in categories] + [ref.get(None, 0), 0]
    seen = set(categories)
    unseen = sum(n for k, n in cur.items() if k is not None and k not in seen)
    cur_counts = [cur.get(c, 0) for c in categories] + [cur.get(None, 0), unseen]
    return labels, np.asarray(ref_counts, dtype=np.int64), np.asarray(cur_counts, dtype=np.int64)


def category_counts(values: Iterable[Any]) -> dict[str | None, int]:
    """Count values as strings; None and NaN are counted under the key None."""
    counts: dict[str | None, int] = {}
    for value in values:
        key = None if _is_missing(value) else str(value)
        counts[key] = counts.get(key, 0) + 1
    return counts


# ----------------------------------------------------------------------------- binned measures


def population_stability_index(
    reference: ArrayLike,
    current: ArrayLike,
    *,
    empty_bin: Literal["raise"] | float = "raise",
) -> float:
    """Population stability index between two binned samples.

    PSI = Σ_i (c_i − r_i)·ln(c_i / r_i), where r_i and c_i are the reference and current
    shares of bin i.

    0 means the same share in every bin; larger is worse. Conventional reading
    [Siddiqi2006]_: below 0.1 stable, 0.1 to 0.25 a moderate shift, 0.25 and above a major one.

    Parameters
    ----------
    reference, current : array_like
        Counts (or shares) per bin, same bins in the same order. Bins empty in both samples
        carry no information and are dropped.
    empty_bin : "raise" or float, default "raise"
        What to do when a bin is empty in one sample only: raise :class:`EmptyBin`, or raise
        every zero share to this floor and renormalise each distribution to sum to 1.

    Returns
    -------
    float

    Notes
    -----
    A bin empty in one sample only makes ln(c/r) infinite, so PSI is undefined there. The
    monitoring pipeline passes ``empty_bin=1e-4`` (:data:`DEFAULT_EMPTY_BIN`): a category that
    appears from nowhere then scores high instead of making the whole result infinite. PSI is
    the symmetrised Kullback-Leibler divergence, KL(c‖r) + KL(r‖c) [Yurdakul2018]_.

    References
    ----------
    [Siddiqi2006]_, [Yurdakul2018]_

    Examples
    --------
    Reference [0.5, 0.5] against current [0.25, 0.75] gives 0.25·ln 3:

    >>> round(population_stability_index([0.5, 0.5], [0.25, 0.75]), 4)
    0.2747
    """
    r, c = _share_pair(reference, current, empty_bin, "population_stability_index", "PSI")
    return float(np.sum((c - r) * np.log(c / r)))


def kullback_leibler_divergence(
    reference: ArrayLike,
    current: ArrayLike,
    *,
    empty_bin: Literal["raise"] | float = "raise",
) -> float:
    """Kullback-Leibler divergence of the current bin shares from the reference shares.

    KL(c‖r) = Σ_i c_i·ln(c_i / r_i), in nats, over the same bins as PSI.

    0 means identical shares; larger is worse. It is not symmetric: it weighs the bins by how
    much of the *current* window falls in them.

    Parameters
    ----------
    reference, current : array_like
        Counts (or shares) per bin, same bins; bins empty in both are dropped.
    empty_bin : "raise" or float, default "raise"
        As in :func:`population_stability_index` (same floor, same renormalisation).

    Returns
    -------
    float

    Notes
    -----
    Undefined when a bin has current share > 0 and reference share 0; ``empty_bin`` resolves
    it exactly as for PSI, so KL and PSI stay comparable. Renormalising after the floor keeps
    both shares proper distributions, hence KL >= 0 (Gibbs' inequality).

    References
    ----------
    [Kullback1951]_

    Examples
    --------
    Reference [0.5, 0.5], current [0.25, 0.75]: 0.25·ln 0.5 + 0.75·ln 1.5 = 0.75·ln 3 − ln 2:

    >>> round(kullback_leibler_divergence([0.5, 0.5], [0.25, 0.75]), 4)
    0.1308
    """
    r, c = _share_pair(reference, current, empty_bin, "kullback_leibler_divergence", "KL")
    return float(max(np.sum(c * np.log(c / r)), 0.0))


def jensen_shannon_distance(reference: ArrayLike, current: ArrayLike) -> float:
    """Jensen-Shannon distance between two binned samples, with base-2 logarithms.

    JS = sqrt(½·Σ_i r_i·log2(r_i / m_i) + ½·Σ_i c_i·log2(c_i / m_i)), m_i = (r_i + c_i) / 2.

    0 means identical shares; 1 means the samples share no bin. With base 2 it lies in
    [0, 1]; it is symmetric and, unlike the divergence, a metric [Endres2003]_.

    Parameters
    ----------
    reference, current : array_like
        Counts (or shares) per bin, same bins.

    Returns
    -------
    float

    Notes
    -----
    No empty-bin option: m_i > 0 wherever r_i or c_i is, and 0·log 0 is taken as 0, so the
    distance is defined for every pair of distributions.

    References
    ----------
    [Lin1991]_, [Endres2003]_

    Examples
    --------
    Reference [1, 0] against current [0.5, 0.5]: the divergence is 1.5 − 0.75·log2 3:

    >>> round(jensen_shannon_distance([1, 0], [0.5, 0.5]), 4)
    0.5579
    """
    function = "jensen_shannon_distance"
    r = v.as_counts(reference, parameter="reference", function=function)
    c = v.as_counts(current, parameter="current", function=function)
    v.check_same_length(r, c, function=function, names=("reference", "current"))
    r, c = r / r.sum(), c / c.sum()
    m = (r + c) / 2
    divergence = 0.5 * _plogq(r, m) + 0.5 * _plogq(c, m)
    return float(math.sqrt(min(max(divergence, 0.0), 1.0)))


def chi_square_test(
    reference: ArrayLike,
    current: ArrayLike,
    *,
    empty_bin: Literal["raise"] | float = "raise",
) -> TestResult:
    """Pearson's chi-square test of the current counts against the reference proportions.

    X² = Σ_i (o_i − e_i)² / e_i with o_i the current counts, e_i = n_cur·r_i, and k − 1
    degrees of freedom for the k bins kept.

    0 means the current counts are exactly as the reference proportions predict; a larger
    statistic (smaller p-value) is worse.

    Parameters
    ----------
    reference : array_like
        Reference counts or shares per bin.
    current : array_like
        Current counts per bin (the observed frequencies).
    empty_bin : "raise" or float, default "raise"
        A bin with current counts but reference share 0 has expected count 0, so X² is
        infinite: raise :class:`EmptyBin`, or floor the reference shares at this value and
        renormalise (bins empty in both samples are dropped first).

    Returns
    -------
    TestResult
        ``statistic``, ``p_value`` (upper tail of chi-square(k − 1)) and ``dof``.

    Notes
    -----
    With a single bin left there is nothing to test: the statistic is 0 and the p-value 1.
    At millions of rows almost any difference is significant, which is why the monitoring
    pipeline uses this test only for small references [Rabanser2019]_.

    References
    ----------
    [Pearson1900]_

    Examples
    --------
    Reference shares [0.5, 0.5], current counts [30, 70]: X² = 2·20²/50 = 16 with 1 degree of
    freedom, p = erfc(√8):

    >>> result = chi_square_test([0.5, 0.5], [30, 70])
    >>> result.statistic, result.dof, round(result.p_value, 8)
    (16.0, 1, 6.334e-05)
    """
    function = "chi_square_test"
    floor = v.check_empty_bin(empty_bin, function=function)
    r = v.as_counts(reference, parameter="reference", function=function)
    c = v.as_counts(current, parameter="current", function=function)
    v.check_same_length(r, c, function=function, names=("reference", "current"))
    keep = (r > 0) | (c > 0)
    index = np.flatnonzero(keep)
    r, c = r[keep] / r.sum(), c[keep]
    if floor is None:
        empty = np.flatnonzero(r == 0)
        if empty.size:
            raise EmptyBin(
                EMPTY_BIN_MESSAGE.format(
                    metric="Chi-square", index=int(index[empty[0]]), side="reference"
                )
            )
    else:
        r = np.where(r == 0, floor, r)
        r = r / r.sum()
    if r.size < 2:
        return TestResult(0.0, 1.0, 0)
    expected = c.sum() * r
    statistic = float(np.sum((c - expected) ** 2 / expected))
    dof = int(r.size - 1)
    return TestResult(statistic, _kolmogorov.chi2_sf(statistic, dof), dof)


def two_proportion_z_test(reference: ArrayLike, current: ArrayLike) -> TestResult:
    """Z-test for the difference between two proportions (pooled standard error).

    z = (p_c − p_r) / sqrt(p̂ (1 − p̂) (1/n_r + 1/n_c)), where p_r = a_r / n_r and
    p_c = a_c / n_c are the shares of the first category and p̂ = (a_r + a_c) / (n_r + n_c).

    0 means equal proportions; a larger |z| (smaller two-sided p-value) is worse. The sign
    says which way the first category moved.

    Parameters
    ----------
    reference, current : array_like
        Two counts each: ``[a, n - a]``, the rows in the first category and the rest.

    Returns
    -------
    TestResult
        ``statistic`` z and the two-sided ``p_value`` = erfc(|z| / √2).

    Notes
    -----
    When the pooled share p̂ is 0 or 1 both samples hold a single category and agree exactly;
    the standard error is 0, and the test reports z = 0 and p = 1 rather than 0/0.

    References
    ----------
    [Fleiss2003]_

    Examples
    --------
    Reference 50 of 100, current 30 of 100: p̂ = 0.4, z = −0.2 / √0.0048 ≈ −2.8868:

    >>> result = two_proportion_z_test([50, 50], [30, 70])
    >>> round(result.statistic, 4), round(result.p_value, 5)
    (-2.8868, 0.00389)
    """
    function = "two_proportion_z_test"
    r = v.as_counts(reference, parameter="reference", function=function)
    c = v.as_counts(current, parameter="current", function=function)
    for name, counts in (("reference", r), ("current", c)):
        if counts.size != 2:
            raise v.fail(name, function, "two counts [in first category, rest]", counts)
    n_r, n_c = float(r.sum()), float(c.sum())
    p_r, p_c = r[0] / n_r, c[0] / n_c
    pooled = (r[0] + c[0]) / (n_r + n_c)
    variance = pooled * (1 - pooled) * (1 / n_r + 1 / n_c)
    if variance <= 0:
        return TestResult(0.0, 1.0)
    z = float((p_c - p_r) / math.sqrt(variance))
    return TestResult(z, _kolmogorov.normal_two_sided_p(z))


# ----------------------------------------------------------------------------- sample measures


def kolmogorov_smirnov_test(
    reference: ArrayLike,
    current: ArrayLike,
    *,
    method: Literal["auto", "exact", "asymp"] = "auto",
) -> TestResult:
    """Two-sample Kolmogorov-Smirnov test (two-sided).

    D = max_x |F_r(x) − F_c(x)|, the largest gap between the two empirical CDFs.

    0 means identical empirical distributions; 1 means the samples do not overlap. A larger D
    (smaller p-value) is worse.

    Parameters
    ----------
    reference, current : array_like
        Non-missing finite values (remove missing values first).
    method : {"auto", "exact", "asymp"}, default "auto"
        p-value from the exact null distribution of D (lattice paths [Hodges1958]_), or from
        the one-sample distribution with n = round(n_r n_c / (n_r + n_c)). "auto" is exact
        when both samples have at most 10,000 values, as scipy.stats.ks_2samp does.

    Returns
    -------
    TestResult
        ``statistic`` D and ``p_value``. Agrees with ``scipy.stats.ks_2samp`` (statistic to
        1e-12, p-value to 1e-6 relative; see the tests).

    Notes
    -----
    D is computed exactly, as an integer count difference max |a_i·n_c − b_i·n_r| divided by
    n_r·n_c, over every distinct value of either sample (ties handled by evaluating both CDFs
    right-continuously). With the exact method the statistic lies on the lattice of multiples
    of 1/lcm(n_r, n_c). Where scipy's exact sum rounds a p-value of 1 to slightly above 1, it
    gives up and returns its asymptotic approximation (e.g. 0.99996 for two samples of 7 at
    D = 1/7); this function keeps the exact value, 1.

    References
    ----------
    [Smirnov1948]_, [Hodges1958]_

    Examples
    --------
    Two samples of four that do not overlap: D = 1, and only 2 of the C(8, 4) = 70 orderings
    are that extreme:

    >>> result = kolmogorov_smirnov_test([1, 2, 3, 4], [5, 6, 7, 8])
    >>> result.statistic, round(result.p_value, 6)
    (1.0, 0.028571)
    """
    function = "kolmogorov_smirnov_test"
    mode = v.check_choice(method, ("auto", "exact", "asymp"), parameter="method", function=function)
    r = v.as_sample(reference, parameter="reference", function=function)
    c = v.as_sample(current, parameter="current", function=function)
    values, r_counts, c_counts = value_counts_pair(r, c)
    numerator, _ = ecdf_gap(values, r_counts, c_counts)
    return ks_test_from_gap(numerator, r.size, c.size, method=mode)


def normalized_wasserstein_distance(
    reference: ArrayLike,
    current: ArrayLike,
    *,
    zero_std: Literal["raise"] | float = "raise",
) -> float:
    """Wasserstein-1 (earth mover's) distance divided by the reference standard deviation.

    W = ∫ |F_r(x) − F_c(x)| dx / σ_r, with σ_r the population standard deviation (ddof=0)
    of the reference.

    0 means identical empirical distributions; larger is worse. Dividing by σ_r makes it
    unit-free: W = 0.1 is roughly a shift of the whole distribution by a tenth of a standard
    deviation.

    Parameters
    ----------
    reference, current : array_like
        Non-missing finite values.
    zero_std : "raise" or float, default "raise"
        A constant reference has σ_r = 0 and the ratio is undefined: raise, or divide by this
        value instead (1.0 reports the distance in the feature's own units).

    Returns
    -------
    float

    Notes
    -----
    The integral is exact: the two empirical CDFs are step functions, so it is the sum of
    |F_r − F_c| times the gaps between consecutive distinct values of the pooled sample.

    References
    ----------
    [Ramdas2017]_

    Examples
    --------
    Reference [0, 2] (σ = 1) against current [1, 3]: every unit of mass moves by 1:

    >>> normalized_wasserstein_distance([0, 2], [1, 3])
    1.0
    """
    function = "normalized_wasserstein_distance"
    fallback = v.check_positive_or_raise(zero_std, parameter="zero_std", function=function)
    r = v.as_sample(reference, parameter="reference", function=function)
    c = v.as_sample(current, parameter="current", function=function)
    scale = float(np.std(r))
    if scale == 0:
        if fallback is None:
            raise DataError(
                "normalized_wasserstein_distance undefined: the reference is constant "
                "(standard deviation 0). Pass zero_std=1.0 to report the unscaled distance."
            )
        scale = fallback
    values, r_counts, c_counts = value_counts_pair(r, c)
    _, distance = ecdf_gap(values, r_counts, c_counts)
    return distance / scale


# ----------------------------------------------------------------------------- shared pieces


def value_counts_pair(
    reference: np.ndarray, current: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sorted distinct values of both samples with each sample's count per value."""
    values, inverse = np.unique(np.concatenate([reference, current]), return_inverse=True)
    r_counts = np.bincount(inverse[: reference.size], minlength=values.size)
    c_counts = np.bincount(inverse[reference.size :], minlength=values.size)
    return values, r_counts.astype(np.int64), c_counts.astype(np.int64)


def ecdf_gap(
    values: np.ndarray, ref_counts: np.ndarray, cur_counts: np.ndarray
) -> tuple[int, float]:
    """(max_i |A_i·n_c − B_i·n_r|, ∫|F_r − F_c| dx) over sorted distinct ``values``.

    A_i and B_i are the cumulative counts up to and including values[i]. The first is the KS
    statistic's exact numerator (an integer); the second the unnormalised Wasserstein-1.
    """
    n_r, n_c = int(ref_counts.sum()), int(cur_counts.sum())
    a = np.cumsum(ref_counts, dtype=np.int64)
    b = np.cumsum(cur_counts, dtype=np.int64)
    if n_r * n_c < 2**62:
        gaps = np.abs(a * n_c - b * n_r)
        numerator = int(gaps.max()) if gaps.size else 0
    else:  # beyond int64: exact Python integers
        numerator = max(abs(int(x) * n_c - int(y) * n_r) for x, y in zip(a, b, strict=True))
    cdf_gap = np.abs(a / n_r - b / n_c)
    distance = float(np.sum(cdf_gap[:-1] * np.diff(values))) if values.size > 1 else 0.0
    return numerator, distance


def ks_test_from_gap(numerator: int, n_ref: int, n_cur: int, *, method: str = "auto") -> TestResult:
    """KS statistic and p-value from the exact gap numerator (see :func:`ecdf_gap`)."""
    g = math.gcd(n_ref, n_cur)
    exact = method == "exact" or (method == "auto" and max(n_ref, n_cur) <= _kolmogorov.EXACT_MAX_N)
    if exact and (n_ref // g) >= (2**31 - 1) / (n_cur // g):
        exact = False  # the lattice is too fine to walk (scipy switches the same way)
    if exact:
        lcm = (n_ref // g) * n_cur
        h = numerator // g  # numerator / (n_r n_c) * lcm is an integer
        return TestResult(h / lcm, _kolmogorov.two_sample_exact_sf(n_ref, n_cur, h))
    d = numerator / (n_ref * n_cur)
    _, p = _kolmogorov.two_sample_sf(d, n_ref, n_cur, method="asymp")
    return TestResult(d, p)


def _share_pair(
    reference: ArrayLike,
    current: ArrayLike,
    empty_bin: Any,
    function: str,
    metric: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Shares over the bins not empty in both samples, with the empty-bin rule applied."""
    floor = v.check_empty_bin(empty_bin, function=function)
    r = v.as_counts(reference, parameter="reference", function=function)
    c = v.as_counts(current, parameter="current", function=function)
    v.check_same_length(r, c, function=function, names=("reference", "current"))
    r, c = r / r.sum(), c / c.sum()
    keep = (r > 0) | (c > 0)
    index = np.flatnonzero(keep)
    r, c = r[keep], c[keep]
    if floor is None:
        for side, shares in (("reference", r), ("current", c)):
            empty = np.flatnonzero(shares == 0)
            if empty.size:
                raise EmptyBin(
                    EMPTY_BIN_MESSAGE.format(metric=metric, index=int(index[empty[0]]), side=side)
                )
        return r, c
    r = np.where(r == 0, floor, r)
    c = np.where(c == 0, floor, c)
    return r / r.sum(), c / c.sum()


def _plogq(p: np.ndarray, m: np.ndarray) -> float:
    mask = p > 0
    return float(np.sum(p[mask] * np.log2(p[mask] / m[mask])))


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float | np.floating) and math.isnan(value))


def _numbers(values: ArrayLike, *, parameter: str, function: str) -> np.ndarray:
    allowed = "a 1-d array of numbers (NaN for missing values, no infinities)"
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise v.fail(parameter, function, allowed, values) from None
    if array.ndim != 1 or np.any(np.isinf(array)):
        raise v.fail(parameter, function, allowed, array)
    return array


def _non_missing(values: ArrayLike, *, parameter: str, function: str) -> np.ndarray:
    array = _numbers(values, parameter=parameter, function=function)
    present = array[~np.isnan(array)]
    if present.size == 0:
        raise v.fail(parameter, function, "an array with at least one non-missing value", array)
    return present


def _edges(edges: ArrayLike, *, function: str) -> np.ndarray:
    allowed = "a strictly increasing 1-d array of finite numbers"
    try:
        cuts = np.asarray(edges, dtype=float)
    except (TypeError, ValueError):
        raise v.fail("edges", function, allowed, edges) from None
    if cuts.ndim != 1 or not np.all(np.isfinite(cuts)) or np.any(np.diff(cuts) <= 0):
        raise v.fail("edges", function, allowed, cuts)
    return cuts


# ----------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class DriftMethod:
    """One registered drift method, by the name configs use."""

    name: str
    title: str
    #: Short label for sentences and tables ("PSI", "KS", ...).
    short: str
    kinds: frozenset[str]
    #: Statistical test (verdict from the p-value) or effect size (verdict from the value).
    is_test: bool
    #: Default thresholds: p-value levels for tests (drift when p < level), value levels for
    #: effect sizes (drift when value >= level).
    warning: float
    critical: float
    #: Needs every distinct reference value (the exact sorted-sample summary), not just bins.
    needs_values: bool = False
    #: Only for columns with exactly two reference categories.
    binary_only: bool = False
    reference: str = ""

    def applies_to(self, kind: str) -> bool:
        return kind in self.kinds


METHODS: Mapping[str, DriftMethod] = {
    m.name: m
    for m in (
        DriftMethod(
            "psi",
            "Population stability index",
            "PSI",
            frozenset({"numeric", "categorical"}),
            is_test=False,
            warning=0.1,
            critical=0.25,
            reference="Siddiqi2006",
        ),
        DriftMethod(
            "ks",
            "Kolmogorov-Smirnov test",
            "KS",
            frozenset({"numeric"}),
            is_test=True,
            warning=0.05,
            critical=0.01,
            needs_values=True,
            reference="Smirnov1948",
        ),
        DriftMethod(
            "wasserstein",
            "Wasserstein distance / reference std",
            "Wasserstein/std",
            frozenset({"numeric"}),
            is_test=False,
            warning=0.1,
            critical=0.2,
            needs_values=True,
            reference="Ramdas2017",
        ),
        DriftMethod(
            "jensen_shannon",
            "Jensen-Shannon distance (base 2)",
            "Jensen-Shannon",
            frozenset({"numeric", "categorical"}),
            is_test=False,
            warning=0.1,
            critical=0.2,
            reference="Lin1991",
        ),
        DriftMethod(
            "kl",
            "Kullback-Leibler divergence",
            "KL",
            frozenset({"numeric", "categorical"}),
            is_test=False,
            # PSI = KL(c||r) + KL(r||c), about twice KL for small shifts: half PSI's levels
            warning=0.05,
            critical=0.125,
            reference="Kullback1951",
        ),
        DriftMethod(
            "chi_square",
            "Chi-square goodness-of-fit test",
            "chi-square",
            frozenset({"categorical"}),
            is_test=True,
            warning=0.05,
            critical=0.01,
            reference="Pearson1900",
        ),
        DriftMethod(
            "z_test",
            "Two-proportion Z-test",
            "Z-test",
            frozenset({"categorical"}),
            is_test=True,
            warning=0.05,
            critical=0.01,
            binary_only=True,
            reference="Fleiss2003",
        ),
    )
}


def get_method(name: str) -> DriftMethod:
    """The registered method called ``name``; an unknown name lists the alternatives."""
    try:
        return METHODS[name]
    except (KeyError, TypeError):
        raise UnknownDriftMethod(
            UNKNOWN_METHOD_MESSAGE.format(name=name, available=", ".join(sorted(METHODS)))
        ) from None


# ----------------------------------------------------------------------------- verdicts


@dataclass(frozen=True)
class Thresholds:
    """The levels a value is judged against, and where they came from.

    Fixed thresholds: effect sizes drift when value >= level, tests when p-value < level.
    Learned thresholds (from reference chunks): drift when the value leaves
    mean ± sigma·sd of the chunk values; ``warning``/``critical`` hold the upper bounds and
    ``warning_lower``/``critical_lower`` the lower ones.
    """

    warning: float
    critical: float
    source: Literal["fixed", "learned"] = "fixed"
    warning_lower: float | None = None
    critical_lower: float | None = None
    on_p_value: bool = False


def fixed_thresholds(
    method: DriftMethod, *, warning: float | None = None, critical: float | None = None
) -> Thresholds:
    """The method's default levels, optionally overridden."""
    return Thresholds(
        warning=method.warning if warning is None else warning,
        critical=method.critical if critical is None else critical,
        on_p_value=method.is_test,
    )


def learned_thresholds(
    chunk_values: Sequence[float],
    *,
    warning_sigma: float = 3.0,
    critical_sigma: float = 5.0,
    min_chunks: int = 3,
) -> Thresholds | None:
    """Bounds mean ± sigma·sd of a method's values on reference chunks (None: too few chunks).

    The sd is the sample standard deviation (ddof=1) of the chunk values.
    """
    values = np.asarray(
        [x for x in chunk_values if x is not None and math.isfinite(x)], dtype=float
    )
    if values.size < max(min_chunks, 2):
        return None
    mean, sd = float(values.mean()), float(values.std(ddof=1))
    return Thresholds(
        warning=mean + warning_sigma * sd,
        critical=mean + critical_sigma * sd,
        source="learned",
        warning_lower=mean - warning_sigma * sd,
        critical_lower=mean - critical_sigma * sd,
    )


def judge(value: float | None, p_value: float | None, thresholds: Thresholds) -> Verdict:
    """ok / warning / critical for one result under its thresholds."""
    if thresholds.source == "learned":
        if value is None:
            return "insufficient_data"
        if value >= thresholds.critical or (
            thresholds.critical_lower is not None and value <= thresholds.critical_lower
        ):
            return "critical"
        if value >= thresholds.warning or (
            thresholds.warning_lower is not None and value <= thresholds.warning_lower
        ):
            return "warning"
        return "ok"
    if thresholds.on_p_value:
        if p_value is None:
            return "insufficient_data"
        if p_value < thresholds.critical:
            return "critical"
        if p_value < thresholds.warning:
            return "warning"
        return "ok"
    if value is None:
        return "insufficient_data"
    if value >= thresholds.critical:
        return "critical"
    if value >= thresholds.warning:
        return "warning"
    return "ok"
