"""Metrics: documented formulas with plain-numpy reference implementations.

Each public function states its formula, what 0 means and which direction is worse, the
undefined cases and the option that resolves them, and a reference. The SQL-pushed
implementations used at scale finish with these same functions, and the tests prove the two
agree.
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
