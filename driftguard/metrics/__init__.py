"""Metrics of a monitoring run: drift, fairness, quality, performance and the risk score.

Each public function states its formula, what 0 means and which direction is worse, the
undefined cases and the option that resolves them, and a reference; it has a plain-numpy
reference implementation, the SQL-pushed implementation used at scale finishes with the same
functions, and the tests prove the two agree (and compare with an independent library where one
exists). Direction of names: ``*_difference``, ``*_distance``, ``*_divergence``, ``*_index``: 0
means no change or parity and larger is worse; ``*_ratio``: 1 means parity and smaller is worse.
"""

from driftguard.metrics.drift import (
    category_bins,
    chi_square_test,
    jensen_shannon_distance,
    kolmogorov_smirnov_test,
    kullback_leibler_divergence,
    normalized_wasserstein_distance,
    numeric_bins,
    population_stability_index,
    quantile_edges,
    two_proportion_z_test,
)

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
