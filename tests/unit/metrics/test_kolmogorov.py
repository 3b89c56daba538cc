"""KS and chi-square tail probabilities in every regime, against scipy as the oracle."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.special as sp
from scipy.stats import chi2, kstwo

from driftguard.metrics import _kolmogorov as k


def _close(ours: float, oracle: float, rel: float) -> None:
    if oracle > 1e-290:
        assert ours == pytest.approx(oracle, rel=rel)
    else:
        assert ours < 1e-280


# n and d chosen to visit every branch of Simard and L'Ecuyer's method selection:
# Ruben-Gambino (nd <= 1 and nd >= n - 1), d >= 0.5, Durbin (n <= 140 and large n with
# small n d^1.5), 2 x Smirnov (n d^2 >= 2.2 or > 4 for n <= 140), Pelz-Good (n > 100000)
ONE_SAMPLE = [
    (1, 0.7),
    (5, 0.15),
    (5, 0.95),
    (10, 0.12),
    (10, 0.6),
    (50, 0.1),
    (50, 0.25),
    (140, 0.05),
    (140, 0.2),
    (141, 0.05),
    (1000, 0.02),
    (1000, 0.05),
    (5000, 0.004),
    (5000, 0.03),
    (100_000, 0.001),
    (100_000, 0.004),
    (100_001, 0.002),
    (300_000, 0.002),
    (2_500_000, 0.0005),
    (2_500_000, 0.002),
]


@pytest.mark.parametrize(("n", "d"), ONE_SAMPLE)
def test_one_sample_tail_matches_scipy_kstwo(n, d):
    _close(k.one_sample_sf(n, d), kstwo.sf(d, n), rel=1e-8)  # oracle: scipy.stats.kstwo


@pytest.mark.parametrize("n", [2, 7, 60, 1000, 20_000, 999_999, 2_000_000])
@pytest.mark.parametrize("d", [0.0005, 0.01, 0.1, 0.45, 0.8])
def test_one_sided_smirnov_matches_scipy(n, d):
    _close(k.smirnov_sf(n, d), sp.smirnov(n, d), rel=1e-8)  # oracle: scipy.special.smirnov


@pytest.mark.parametrize(
    ("m", "n"), [(1, 1), (1, 5), (3, 7), (10, 10), (50, 80), (200, 3), (999, 1000), (3000, 4000)]
)
def test_exact_two_sample_tail_matches_scipy(m, n):
    from scipy.stats._stats_py import _compute_prob_outside_square
    from scipy.stats._stats_pythran import _compute_outer_prob_inside_method

    g = math.gcd(m, n)
    lcm = m // g * n
    for h in sorted({1, 2, lcm // 50, lcm // 10, lcm // 4, lcm // 2, lcm - 1, lcm} - {0}):
        ours = k.two_sample_exact_sf(m, n, h)
        # oracle: scipy's own exact routines (the ones ks_2samp calls)
        oracle = (
            _compute_prob_outside_square(n, h)
            if m == n
            else _compute_outer_prob_inside_method(m, n, g, h)
        )
        _close(ours, min(oracle, 1.0), rel=1e-9)


def test_exact_two_sample_tail_by_enumeration():
    # oracle: enumerate all C(9, 4) = 126 orderings of samples of 4 and 5 and count D >= h/20
    from itertools import combinations

    m, n = 4, 5
    lcm = 20
    counts = {}
    for positions in combinations(range(9), m):
        a = b = best = 0
        for i in range(9):
            if i in positions:
                a += 1
            else:
                b += 1
            best = max(best, abs(a * n - b * m))  # |a/m - b/n| * lcm
        counts[best] = counts.get(best, 0) + 1
    for h in range(1, lcm + 1):
        tail = sum(c for d, c in counts.items() if d >= h) / 126
        assert k.two_sample_exact_sf(m, n, h) == pytest.approx(tail, rel=1e-12)


@pytest.mark.parametrize("dof", [1, 2, 5, 30, 1000, 20_000])
def test_chi_square_tail_matches_scipy(dof):
    for x in [1e-6, 0.5 * dof, dof, dof + 1, 2 * dof + 10, 10 * dof + 60]:
        _close(k.chi2_sf(x, dof), chi2.sf(x, dof), rel=1e-9)  # oracle: scipy.stats.chi2


def test_log_factorial_matches_lgamma():
    values = np.array([0, 1, 5, 255, 256, 1000, 10**6, 10**9])
    expected = [math.lgamma(v + 1.0) for v in values]  # oracle: the standard library
    assert k.log_factorial(values) == pytest.approx(expected, rel=1e-14)


def test_normal_tail():
    # hand: P(|Z| >= 1.959963984540054) = 0.05 (the two-sided 5% point)
    assert k.normal_two_sided_p(1.959963984540054) == pytest.approx(0.05, rel=1e-12)
