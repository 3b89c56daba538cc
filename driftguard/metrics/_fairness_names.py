"""Names of the fairness group metrics, importable without registering any stage.

The configuration validates threshold names against :data:`GROUP_METRICS` while it loads, so
this module must not import :mod:`driftguard.metrics.fairness` (whose import registers the
fairness stage and would put it ahead of stages that come before it in a run).
"""

from __future__ import annotations

#: Per-group rates, all about the favourable outcome (definitions in metrics/fairness.py).
RATE_NAMES = (
    "selection_rate",
    "true_positive_rate",
    "false_positive_rate",
    "false_negative_rate",
    "precision",
)
#: Between-group aggregations: max − min and min / max.
AGGREGATION_NAMES = ("difference", "ratio")
#: ``<rate>_<aggregation>`` for every rate and aggregation, e.g. selection_rate_ratio.
DERIVED_METRICS = tuple(f"{rate}_{agg}" for rate in RATE_NAMES for agg in AGGREGATION_NAMES)
#: Named group metrics and the derived metrics they are built from.
NAMED_METRICS: dict[str, tuple[str, ...]] = {
    "demographic_parity_difference": ("selection_rate_difference",),
    "demographic_parity_ratio": ("selection_rate_ratio",),
    "equal_opportunity_difference": ("true_positive_rate_difference",),
    "equal_opportunity_ratio": ("true_positive_rate_ratio",),
    "equalized_odds_difference": (
        "true_positive_rate_difference",
        "false_positive_rate_difference",
    ),
    "equalized_odds_ratio": ("true_positive_rate_ratio", "false_positive_rate_ratio"),
}
#: Every group metric a threshold may name.
GROUP_METRICS = (*NAMED_METRICS, "disparate_impact", *DERIVED_METRICS)
