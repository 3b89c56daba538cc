"""Tail probabilities of Kolmogorov-Smirnov statistics, in plain numpy.

Used for the p-value of the two-sample test. Which computation applies follows the choices
scipy.stats.ks_2samp makes with ``method="auto"``, so the two agree:

- both samples of at most :data:`EXACT_MAX_N` values: the exact null distribution of
  D_{m,n}, by a recursion on lattice paths (Hodges 1958) written, as Viehmann (2021) suggests,
  for the probability of *leaving* the band directly. Every step is a convex combination, so
  small p-values keep their relative precision (no ``1 - P(inside)`` cancellation).
- larger samples: the one-sample distribution of D_N with N = round(mn / (m + n)), computed as
  Simard and L'Ecuyer (2011) prescribe: the Durbin matrix in Marsaglia, Tsang and Wang's form
  (2003) where it is exact and cheap, twice the one-sided Smirnov tail (Birnbaum and Tingey
  1951) where the two one-sided events are (nearly) disjoint, and the Pelz-Good (1976)
  asymptotic expansion elsewhere.

References
----------
Hodges, J.L. (1958). The significance probability of the Smirnov two-sample test. Arkiv for
    Matematik 3(43), 469-486. https://doi.org/10.1007/BF02589501
Viehmann, T. (2021). Numerically more stable computation of the p-values for the two-sample
    Kolmogorov-Smirnov test. https://arxiv.org/abs/2102.08037
Simard, R., L'Ecuyer, P. (2011). Computing the two-sided Kolmogorov-Smirnov distribution.
    Journal of Statistical Software 39(11). https://doi.org/10.18637/jss.v039.i11
Marsaglia, G., Tsang, W.W., Wang, J. (2003). Evaluating Kolmogorov's distribution. Journal of
    Statistical Software 8(18). https://doi.org/10.18637/jss.v008.i18
Birnbaum, Z.W., Tingey, F.H. (1951). One-sided confidence contours for probability
    distribution functions. Ann. Math. Statist. 22(4). https://doi.org/10.1214/aoms/1177729550
Pelz, W., Good, I.J. (1976). Approximating the lower tail-areas of the Kolmogorov-Smirnov
    one-sample statistic. J. R. Stat. Soc. B 38(2), 152-156.
"""

from __future__ import annotations

import math

import numpy as np

#: Both samples at most this large: exact two-sample distribution (as scipy's "auto").
EXACT_MAX_N = 10_000
#: One-sided tails for larger N use the approximation exp(-(6Nd + 1)^2 / (18N)) (as scipy).
SMIRNOV_EXACT_MAX_N = 1_000_000
_LOG_MIN = -708.0
#: exp(-2 n d^2) below the smallest normal double: the one-sided tail is 0.
_SMIRNOV_UNDERFLOW = -708.3964185322641
_LOG_FACTORIAL_TABLE = np.array([math.lgamma(k + 1.0) for k in range(256)])


def log_factorial(k: np.ndarray) -> np.ndarray:
    """log(k!) for non-negative integer arrays: a table below 256, Stirling's series above."""
    k = np.asarray(k, dtype=np.int64)
    out = np.empty(k.shape, dtype=float)
    small = k < 256
    out[small] = _LOG_FACTORIAL_TABLE[k[small]]
    x = k[~small].astype(float)
    if x.size:
        inv = 1.0 / x
        inv2 = inv * inv
        series = inv * (1 / 12 - inv2 * (1 / 360 - inv2 * (1 / 1260 - inv2 / 1680)))
        out[~small] = x * np.log(x) - x + 0.5 * np.log(2 * math.pi * x) + series
    return out


# ----------------------------------------------------------------------------- two-sample


def two_sample_exact_sf(m: int, n: int, h: int) -> float:
    """P(D_{m,n} >= h / lcm(m, n)) under the null hypothesis, exactly.

    A random ordering of the pooled samples is a lattice path from (0, 0) to (m, n); D is at
    least h / lcm when the path touches |i/m - j/n| >= h / lcm. ``q(i, j)``, the probability
    that a uniform path to (i, j) has already touched that boundary, satisfies
    q(i, j) = (i q(i-1, j) + j q(i, j-1)) / (i + j) inside the band and 1 outside, so it is
    computed one anti-diagonal i + j = s at a time, over the band only.
    """
    if h <= 0:
        return 1.0
    if m < n:
        m, n = n, m
    g = math.gcd(m, n)
    mg, ng = m // g, n // g
    width = mg + ng
    # inside the band: |ng*i - mg*j| < h, i.e. mg*s - h < width*i < mg*s + h on diagonal s
    prev_lo = 0
    prev = np.zeros(1)  # diagonal 0: the origin, inside, q = 0
    for s in range(1, m + n + 1):
        lo = max((mg * s - h) // width + 1, s - n, 0)
        hi = min(-((-(mg * s + h)) // width) - 1, m, s)
        if lo > hi:
            return 1.0  # every path has left the band
        i = np.arange(lo, hi + 1)
        padded = np.ones(prev.size + 2)  # neighbours just outside the band have q = 1
        padded[1:-1] = prev
        from_left = padded[i - prev_lo]  # q(i - 1, j): index (i - 1) - (prev_lo - 1)
        from_below = padded[i - prev_lo + 1]  # q(i, j - 1)
        prev = (i * from_left + (s - i) * from_below) / s
        prev_lo = lo
    return float(min(max(prev[m - prev_lo], 0.0), 1.0))


def two_sample_sf(d: float, n1: int, n2: int, *, method: str = "auto") -> tuple[float, float]:
    """(statistic, p-value) of the two-sided two-sample test for an observed D.

    ``d`` is the exact statistic; with the exact method it is snapped to its lattice value
    h / lcm(n1, n2), as the exact null distribution lives on that lattice.
    """
    if method == "auto":
        method = "exact" if max(n1, n2) <= EXACT_MAX_N else "asymp"
    if method == "exact":
        g = math.gcd(n1, n2)
        lcm = (n1 // g) * n2
        h = int(round(d * lcm))
        return h / lcm, two_sample_exact_sf(n1, n2, h)
    big, small = max(n1, n2), min(n1, n2)
    effective = float(big) * float(small) / (float(big) + float(small))
    return d, one_sample_sf(int(round(effective)), d)


# ----------------------------------------------------------------------------- one-sample


def one_sample_sf(n: int, d: float) -> float:
    """P(D_n >= d) for the two-sided one-sample statistic (Simard and L'Ecuyer 2011)."""
    if d >= 1.0:
        return 0.0
    if d <= 0.0:
        return 1.0
    t = n * d
    if t <= 0.5:
        return 1.0
    if t <= 1.0:  # Ruben and Gambino (1982): P(D_n <= d) = n!/n^n (2nd - 1)^n
        log_cdf = float(log_factorial(np.array([n]))[0]) - n * math.log(n) + n * math.log(2 * t - 1)
        return _clip(1.0 - math.exp(log_cdf))
    if t >= n - 1:
        return _clip(2.0 * (1.0 - d) ** n)
    if d >= 0.5:  # the one-sided events D+ >= d and D- >= d are disjoint
        return _clip(2.0 * smirnov_sf(n, d))
    nd2 = t * d
    if n <= 140:
        if nd2 <= 4.0:
            return _clip(1.0 - durbin_cdf(n, d))
        return _clip(2.0 * smirnov_sf(n, d))
    if nd2 >= 370.0:
        return 0.0
    if nd2 >= 2.2:  # the intersection term is below the double precision of the tail
        return _clip(2.0 * smirnov_sf(n, d))
    if n <= 100_000 and n * d**1.5 <= 1.4:
        return _clip(1.0 - durbin_cdf(n, d))
    return _clip(1.0 - pelz_good_cdf(n, d))


def smirnov_sf(n: int, d: float) -> float:
    """P(D+_n >= d), the one-sided tail (Birnbaum-Tingey sum, exact up to rounding).

    P = d * sum_{j=0}^{floor(n(1-d))} C(n, j) (d + j/n)^(j-1) (1 - d - j/n)^(n-j); all terms
    are positive, so they are summed as logarithms without cancellation.
    """
    if d <= 0.0:
        return 1.0
    if d >= 1.0:
        return 0.0
    if n == 1:
        return 1.0 - d
    nd = n * d
    if nd <= 1.0:  # only the j = n term of the complementary sum: P(D+ < d) = d (1 + d)^(n-1)
        return _clip(1.0 - d * (1.0 + d) ** (n - 1))
    if -2.0 * n * d * d < _SMIRNOV_UNDERFLOW:
        return 0.0
    if nd >= n - 1:
        return _clip((1.0 - d) ** n)
    if n > SMIRNOV_EXACT_MAX_N:
        log_p = -((6.0 * nd + 1.0) ** 2) / (18.0 * n)
        return _clip(math.exp(log_p))
    last = math.floor(n * (1.0 - d))
    j = np.arange(0, last + 1)
    rest = ((n - j) - nd) / n  # 1 - d - j/n without forming 1 - d first
    positive = rest > 0
    j, rest = j[positive], rest[positive]
    log_terms = (
        log_factorial(np.full(j.shape, n))
        - log_factorial(j)
        - log_factorial(n - j)
        + (j - 1) * np.log(d + j / n)
        + (n - j) * np.log(rest)
    )
    top = float(log_terms.max())
    total = math.log(float(np.exp(log_terms - top).sum())) + top + math.log(d)
    return _clip(math.exp(total))


def durbin_cdf(n: int, d: float) -> float:
    """P(D_n < d) by Durbin's matrix, as Marsaglia, Tsang and Wang (2003) compute it.

    With k = floor(nd) + 1, h = k - nd and m = 2k - 1, P = n!/n^n (H^n)[k-1, k-1] for an
    m x m matrix H of reciprocal factorials; the power is taken by squaring with the scale
    kept apart as a power of two so nothing overflows.
    """
    k = math.floor(n * d) + 1
    h = k - n * d
    m = 2 * k - 1
    rows = np.arange(m)[:, None]
    cols = np.arange(m)[None, :]
    order = rows - cols + 1
    inv_fact = np.exp(-log_factorial(np.maximum(order, 0)))
    H = np.where(order >= 0, inv_fact, 0.0)
    powers = h ** np.arange(1, m + 1)
    fact = np.exp(-log_factorial(np.arange(1, m + 1)))
    H[:, 0] = (1.0 - powers) * fact
    H[m - 1, :] = ((1.0 - powers) * fact)[::-1]
    corner = 1.0 - 2.0 * h**m + (max(0.0, 2.0 * h - 1.0) ** m)
    H[m - 1, 0] = corner * fact[m - 1]
    result, exponent = _matrix_power_scaled(H, n)
    value = result[k - 1, k - 1]
    if value <= 0:
        return 0.0
    log_p = math.log(value) + exponent * math.log(2.0)
    log_p += float(log_factorial(np.array([n]))[0]) - n * math.log(n)
    return min(1.0, math.exp(log_p)) if log_p > _LOG_MIN else 0.0


def _matrix_power_scaled(matrix: np.ndarray, power: int) -> tuple[np.ndarray, int]:
    """matrix**power as (mantissa matrix, binary exponent)."""
    result = np.eye(matrix.shape[0])
    result_exp = 0
    base = matrix.copy()
    base_exp = 0
    while power:
        if power & 1:
            result = result @ base
            result_exp += base_exp
            result, shift = _rescale(result)
            result_exp += shift
        power >>= 1
        if power:
            base = base @ base
            base_exp *= 2
            base, shift = _rescale(base)
            base_exp += shift
    return result, result_exp


def _rescale(matrix: np.ndarray) -> tuple[np.ndarray, int]:
    top = float(np.abs(matrix).max())
    if top == 0.0:
        return matrix, 0
    _, exponent = math.frexp(top)
    return np.ldexp(matrix, -exponent), exponent


def pelz_good_cdf(n: int, d: float) -> float:
    """Pelz-Good (1976) expansion of P(D_n <= d) = K0 + K1/sqrt(n) + K2/n + K3/n^(3/2).

    z = d sqrt(n); the Li-Chien/Korolyuk terms rewritten with Jacobi theta identities so
    that they converge fast for small z (Simard and L'Ecuyer 2011, eq. 9).
    """
    z = d * math.sqrt(n)
    z2 = z * z
    if -(math.pi**2) / (8 * z2) < _LOG_MIN:
        return 0.0
    pi2, pi4, pi6 = math.pi**2, math.pi**4, math.pi**6
    kmax = max(1, math.ceil(16 * z / math.pi))
    odd = (2 * np.arange(1, kmax + 1) - 1).astype(float)
    o2, o4, o6 = odd**2, odd**4, odd**6
    weight = np.exp(-o2 * pi2 / (8 * z2))
    s0 = weight.sum()
    s1 = (weight * (-z2 + pi2 * o2 / 4)).sum()
    s2 = (
        weight
        * (6 * z**6 + 2 * z**4 + (2 * z**4 - 5 * z2) * pi2 * o2 / 4 + pi4 * (1 - 2 * z2) * o4 / 16)
    ).sum()
    s3 = (
        weight
        * (
            -30 * z**6
            - 90 * z**8
            + pi2 * (135 * z**4 - 96 * z**6) * o2 / 4
            + pi4 * (-60 * z2 + 212 * z**4) * o4 / 16
            + pi6 * (5 - 30 * z2) * o6 / 64
        )
    ).sum()
    root = math.sqrt(2 * math.pi)
    k0 = root * s0 / z
    k1 = root * s1 / (6 * z**4)
    k2 = root * s2 / (72 * z**7)
    k3 = root * s3 / (6480 * z**10)
    ints = np.arange(1, kmax + 1, dtype=float)
    even_weight = np.exp(-(ints**2) * pi2 / (2 * z2))
    k2 -= pi2 * root / (36 * z**3) * (ints**2 * even_weight).sum()
    k3 += pi2 * root / (216 * z**6) * ((3 * z2 - pi2 * ints**2) * ints**2 * even_weight).sum()
    return _clip(k0 + k1 / math.sqrt(n) + k2 / n + k3 / n**1.5)


# ----------------------------------------------------------------------------- chi-square


def chi2_sf(statistic: float, dof: int) -> float:
    """P(X >= statistic) for X ~ chi-square(dof): the regularised upper gamma Q(dof/2, x/2)."""
    if statistic <= 0:
        return 1.0
    return gamma_q(dof / 2.0, statistic / 2.0)


def gamma_q(a: float, x: float) -> float:
    """Regularised upper incomplete gamma Q(a, x): series below a + 1, continued fraction above.

    Both are the classical expansions (Abramowitz and Stegun 6.5.29 and 6.5.31); the prefactor
    x^a e^-x / Gamma(a) is formed in logarithms so far tails keep their relative precision.
    """
    if x <= 0:
        return 1.0
    log_prefactor = a * math.log(x) - x - math.lgamma(a)
    if x < a + 1.0:
        term = 1.0 / a
        total = term
        denom = a
        for _ in range(1_000_000):
            denom += 1.0
            term *= x / denom
            total += term
            if term < total * 1e-17:
                break
        lower = math.exp(log_prefactor) * total
        return _clip(1.0 - lower)
    tiny = 1e-300
    b = x + 1.0 - a
    c = 1.0 / tiny
    dd = 1.0 / b
    fraction = dd
    for i in range(1, 1_000_000):
        an = -i * (i - a)
        b += 2.0
        dd = an * dd + b
        if abs(dd) < tiny:
            dd = tiny
        c = b + an / c
        if abs(c) < tiny:
            c = tiny
        dd = 1.0 / dd
        delta = dd * c
        fraction *= delta
        if abs(delta - 1.0) < 1e-16:
            break
    log_q = log_prefactor + math.log(fraction)
    return _clip(math.exp(log_q)) if log_q > _LOG_MIN - 37 else 0.0


def normal_two_sided_p(z: float) -> float:
    """P(|Z| >= |z|) for a standard normal Z."""
    return math.erfc(abs(z) / math.sqrt(2.0))


def _clip(p: float) -> float:
    return min(max(float(p), 0.0), 1.0)
