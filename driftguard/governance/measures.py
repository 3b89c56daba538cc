"""Named quantities of a monitoring run that policies and kill-switch rules are written over.

Rules never look at raw data: they read these measures, which come from the stage summaries a
run stored (drift, fairness, quality, performance, risk). A measure a run could not compute is
``None``, and a rule over it says so instead of treating it as zero.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

PERFORMANCE_METRICS = (
    "accuracy",
    "precision",
    "recall",
    "f1",
    "roc_auc",
    "log_loss",
    "brier",
    "mae",
    "rmse",
)


def _get(*path: str) -> Callable[[Mapping[str, Any]], Any]:
    def read(summary: Mapping[str, Any]) -> Any:
        value: Any = summary
        for key in path:
            if not isinstance(value, Mapping):
                return None
            value = value.get(key)
        return value

    return read


def _max_over_attributes(key: str) -> Callable[[Mapping[str, Any]], Any]:
    def read(summary: Mapping[str, Any]) -> Any:
        attributes = _get("fairness", "attributes")(summary) or {}
        values = [a.get(key) for a in attributes.values() if isinstance(a, Mapping)]
        values = [v for v in values if isinstance(v, int | float)]
        return max(values) if values else None

    return read


#: Measure name -> (description, how to read it from a run's summaries).
MEASURES: dict[str, tuple[str, Callable[[Mapping[str, Any]], Any]]] = {
    "drift.max_psi": ("largest PSI of any feature", _get("drift", "max_psi")),
    "drift.share_drifted": ("share of features drifted", _get("drift", "share_drifted")),
    "drift.score": ("weighted drift score (0-1)", _get("drift", "drift_score")),
    "drift.n_drifted": ("number of drifted features", _get("drift", "n_drifted")),
    "fairness.min_disparate_impact": (
        "lowest disparate-impact ratio of any protected attribute",
        _get("fairness", "min_disparate_impact"),
    ),
    "fairness.max_demographic_parity_difference": (
        "largest demographic parity difference",
        _get("fairness", "max_demographic_parity_difference"),
    ),
    "fairness.max_equalized_odds_difference": (
        "largest equalized odds difference",
        _max_over_attributes("equalized_odds_difference"),
    ),
    "quality.quarantine_rate": (
        "share of rows quarantined at ingestion",
        _get("quality", "quarantine_rate"),
    ),
    "quality.missing_rate_max": (
        "largest missing rate of any column",
        _get("quality", "missing_rate_max"),
    ),
    "quality.invalid_prediction_rate": (
        "share of invalid predictions",
        _get("quality", "invalid_prediction_rate"),
    ),
    "quality.volume_ratio": (
        "rows in the window relative to the reference",
        _get("quality", "volume_ratio"),
    ),
    "performance.label_coverage": (
        "share of predictions labelled",
        _get("performance", "label_coverage"),
    ),
    "risk.score": ("composite risk score (0-100)", _get("risk", "score")),
    "window.rows": ("predictions in the current window", _get("window", "rows")),
}
for _metric in PERFORMANCE_METRICS:
    MEASURES[f"performance.{_metric}"] = (
        f"{_metric} on labelled predictions",
        _get("performance", "metrics", _metric),
    )

_NAME = re.compile(r"^[a-z_]+\.[a-z_0-9]+$")


class UnknownMeasure(ValueError):
    """A rule names a measure that does not exist."""


def check_measure(name: str) -> str:
    if name not in MEASURES:
        raise UnknownMeasure(f"unknown measure {name!r}; available: {', '.join(sorted(MEASURES))}")
    return name


def measures_of(summary: Mapping[str, Any], *, rows: int | None = None) -> dict[str, float | None]:
    """Every measure of one run (``None`` where the run did not compute it)."""
    source = dict(summary)
    if rows is not None:
        source["window"] = {"rows": rows}
    values: dict[str, float | None] = {}
    for name, (_, read) in MEASURES.items():
        value = read(source)
        values[name] = (
            float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
        )
    return values
