"""Group fairness of a binary classifier's decisions, per protected attribute and intersection.

Every rate is about the *favourable* outcome ``f`` (configurable: 1 for an approval model, 0
for a risk score whose positive class is "high risk"). With ŷ the decision and y the label:

- selection rate ``SR = P(ŷ = f)``; true positive rate ``TPR = P(ŷ = f | y = f)``;
  false positive rate ``FPR = P(ŷ = f | y ≠ f)``; false negative rate
  ``FNR = P(ŷ ≠ f | y = f)`` (deserving the good outcome but denied it); precision
  ``P(y = f | ŷ = f)``. This is fairlearn with ``pos_label = f``.
- For each rate ``r`` and the groups ``g`` of an attribute, ``r_difference = max_g r_g −
  min_g r_g`` (0 means parity, larger is worse) and ``r_ratio = min_g r_g / max_g r_g``
  (1 means parity, smaller is worse): fairlearn's ``between_groups`` aggregation. The
  names are generated from one spec list (:data:`RATES` × :data:`AGGREGATIONS`).
- Named metrics: ``demographic_parity_difference|ratio`` = selection rate difference|ratio;
  ``equal_opportunity_difference|ratio`` = TPR difference|ratio; ``equalized_odds_difference
  = max(TPR difference, FPR difference)``; ``equalized_odds_ratio = min(TPR ratio, FPR
  ratio)`` (fairlearn's ``agg="worst_case"``); ``disparate_impact = min_g SR_g / SR_ref``
  against a reference group (configured, else the largest), judged by the four-fifths rule.

Counts for every group of every attribute and intersection come from one DuckDB scan with
``GROUP BY GROUPING SETS``; all rates and aggregates are computed from those few rows.

Notes
-----
- A group with fewer rows than ``min_group_size`` (or, for the label-based rates, fewer
  labelled rows) is reported with its counts and a 95% Wilson interval but marked
  ``insufficient_data`` and left out of the aggregates: never merged or dropped.
- Rows whose attribute value is missing are reported as their own group (``None``) and left
  out of the aggregates: a gap between "known" and "unknown" is not a fairness statement.
- A rate whose denominator is 0 (a group without favourable labels, for TPR) is undefined:
  ``zero_division=None`` (default) leaves it out; ``zero_division=0.0`` counts it as 0, which
  is what fairlearn (through scikit-learn's confusion matrix) does.
- A ratio whose largest value is 0 is undefined and reported as None.

References
----------
- fairlearn metrics, https://fairlearn.org/main/user_guide/assessment/common_fairness_metrics.html
- Hardt, Price, Srebro (2016), Equality of Opportunity in Supervised Learning, arXiv:1610.02413
- US EEOC Uniform Guidelines, 29 CFR 1607.4(D) (the four-fifths rule)
- Wilson (1927), doi:10.1080/01621459.1927.10502953
- Angwin et al. (2016), Machine Bias, ProPublica (the COMPAS analysis used in the tests)
"""

from __future__ import annotations

import glob as globlib
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import duckdb

from driftguard.config import FairnessSettings, ModelConfig
from driftguard.errors import ConfigError, DataError
from driftguard.metrics._fairness_names import (
    AGGREGATION_NAMES,
    DERIVED_METRICS,
    GROUP_METRICS,
    NAMED_METRICS,
    RATE_NAMES,
)
from driftguard.metrics._window import LABEL, PREDICTED, labelled_window_sql
from driftguard.metrics.severity import Verdict, severity, verdict_of
from driftguard.sql import quote_ident

#: z for a two-sided 95% interval: Φ⁻¹(0.975).
Z_95 = 1.959963984540054
__all__ = [
    "GROUP_METRICS",
    "RATES",
    "AttributeFairness",
    "FairnessResult",
    "FairnessStage",
    "GroupCounts",
    "ProtectedAttributeMissing",
    "count_groups",
    "evaluate_attribute",
    "fairness_of_file",
    "group_fairness",
    "wilson_interval",
]
#: How an intersection's name and its groups' names are joined for display.
JOIN = " × "
GroupStatus = Literal["ok", "insufficient_data", "missing_value"]


class ProtectedAttributeMissing(DataError):
    """A protected attribute declared in the configuration is absent from the logs."""


class FairnessInputError(ConfigError):
    """The arguments of a fairness computation do not fit the data (usage error)."""


# --------------------------------------------------------------------------- intervals


def wilson_interval(successes: int, trials: int, *, z: float = Z_95) -> tuple[float, float] | None:
    """Wilson score interval of a proportion ``successes / trials``.

    ``(p̂ + z²/2n ± z·√(p̂(1−p̂)/n + z²/4n²)) / (1 + z²/n)``

    Unlike the normal approximation it stays inside [0, 1] and is sensible for small groups
    and rates near 0 or 1, which is why each group rate carries it: two groups whose intervals
    overlap may differ by chance alone. None when ``trials`` is 0.

    References
    ----------
    Wilson (1927), doi:10.1080/01621459.1927.10502953; Brown, Cai, DasGupta (2001),
    doi:10.1214/ss/1009213286.

    Examples
    --------
    8 successes out of 10 (Brown et al. Table 5 style check; hand computation with z = 1.96):

    >>> low, high = wilson_interval(8, 10)
    >>> round(low, 4), round(high, 4)
    (0.4902, 0.9433)
    """
    if trials <= 0:
        return None
    p = successes / trials
    z2 = z * z
    denominator = 1 + z2 / trials
    centre = (p + z2 / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


# --------------------------------------------------------------------------- spec lists


@dataclass(frozen=True)
class GroupCounts:
    """Counts of one group: rows with a decision, favourable decisions, confusion matrix.

    ``tp``: favourable decision and favourable label; ``fp``: favourable decision, other label;
    ``fn``: other decision, favourable label; ``tn``: neither. Unlabelled rows count only in
    ``n`` and ``selected``.
    """

    group: tuple[str | None, ...]
    n: int
    selected: int
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    @property
    def labelled(self) -> int:
        return self.tp + self.fp + self.fn + self.tn


@dataclass(frozen=True)
class RateSpec:
    """A per-group rate: ``numerator / denominator`` of a group's counts."""

    name: str
    formula: str
    numerator: Callable[[GroupCounts], int]
    denominator: Callable[[GroupCounts], int]
    needs_labels: bool


#: The per-group rates, all about the favourable outcome f.
RATES: tuple[RateSpec, ...] = (
    RateSpec("selection_rate", "P(ŷ=f)", lambda c: c.selected, lambda c: c.n, False),
    RateSpec("true_positive_rate", "P(ŷ=f | y=f)", lambda c: c.tp, lambda c: c.tp + c.fn, True),
    RateSpec("false_positive_rate", "P(ŷ=f | y≠f)", lambda c: c.fp, lambda c: c.fp + c.tn, True),
    RateSpec("false_negative_rate", "P(ŷ≠f | y=f)", lambda c: c.fn, lambda c: c.tp + c.fn, True),
    RateSpec("precision", "P(y=f | ŷ=f)", lambda c: c.tp, lambda c: c.tp + c.fp, True),
)
if tuple(r.name for r in RATES) != RATE_NAMES:  # pragma: no cover (one list, two modules)
    raise AssertionError("RATES and _fairness_names.RATE_NAMES disagree")


def _difference(values: Sequence[float]) -> float | None:
    return max(values) - min(values) if len(values) >= 2 else None


def _ratio(values: Sequence[float]) -> float | None:
    if len(values) < 2 or max(values) == 0:
        return None
    return min(values) / max(values)


#: Between-group aggregations: name -> (function of the group values, ideal value).
AGGREGATIONS: dict[str, tuple[Callable[[Sequence[float]], float | None], float]] = {
    "difference": (_difference, 0.0),
    "ratio": (_ratio, 1.0),
}
if tuple(AGGREGATIONS) != AGGREGATION_NAMES:  # pragma: no cover
    raise AssertionError("AGGREGATIONS and _fairness_names.AGGREGATION_NAMES disagree")
#: Metrics judged by default, with their default thresholds (disparate impact and the
#: demographic parity ratio, i.e. the lowest selection rate over the highest as in the
#: EEOC's original four-fifths rule, use ``four_fifths``).
DEFAULT_THRESHOLDS = {
    "demographic_parity_difference": 0.1,
    "equal_opportunity_difference": 0.1,
    "equalized_odds_difference": 0.1,
}


def ideal_of(metric: str) -> float:
    """0 for ``*_difference`` metrics, 1 for ``*_ratio`` metrics and disparate impact."""
    return 0.0 if metric.endswith("_difference") else 1.0


def thresholds_for(settings: FairnessSettings) -> dict[str, float]:
    """The thresholds a model's fairness is judged by: defaults, then the configured ones."""
    return {
        "disparate_impact": settings.four_fifths,
        "demographic_parity_ratio": settings.four_fifths,
        **DEFAULT_THRESHOLDS,
        **settings.thresholds,
    }


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Rate:
    """A group rate with its counts and 95% Wilson interval (None when undefined)."""

    value: float | None
    low: float | None
    high: float | None
    numerator: int
    denominator: int


@dataclass(frozen=True)
class GroupResult:
    group: tuple[str | None, ...]
    counts: GroupCounts
    status: GroupStatus
    #: Whether the label-based rates of this group enter the aggregates.
    labelled_ok: bool
    rates: dict[str, Rate]
    is_reference: bool = False
    #: This group's selection rate over the reference group's (None for the reference).
    disparate_impact: float | None = None

    @property
    def label(self) -> str:
        return group_label(self.group)

    def as_dict(self) -> dict[str, Any]:
        return {
            "group": self.label,
            "values": list(self.group),
            "status": self.status,
            "labelled_ok": self.labelled_ok,
            "is_reference": self.is_reference,
            "n": self.counts.n,
            "labelled": self.counts.labelled,
            "counts": asdict(self.counts) | {"group": list(self.group)},
            "rates": {k: asdict(v) for k, v in self.rates.items()},
            "disparate_impact": self.disparate_impact,
        }


@dataclass(frozen=True)
class MetricCheck:
    """One group metric of one attribute against its threshold."""

    metric: str
    value: float | None
    threshold: float | None
    verdict: Verdict | Literal["not_judged"]
    severity: float | None
    #: The groups at the extremes of the underlying rate (worst first), for explanations.
    groups: tuple[str, str] | None = None
    #: True when the extreme groups' 95% intervals do not overlap (the gap is not noise).
    distinguishable: bool | None = None


@dataclass(frozen=True)
class AttributeFairness:
    """Fairness over the groups of one protected attribute or intersection."""

    attribute: str
    columns: tuple[str, ...]
    groups: list[GroupResult]
    reference_group: tuple[str | None, ...] | None
    metrics: dict[str, MetricCheck]
    notes: list[str] = field(default_factory=list)

    @property
    def insufficient(self) -> list[str]:
        return [g.label for g in self.groups if g.status == "insufficient_data"]

    def value(self, metric: str) -> float | None:
        check = self.metrics.get(metric)
        return check.value if check else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "attribute": self.attribute,
            "columns": list(self.columns),
            "reference_group": group_label(self.reference_group)
            if self.reference_group is not None
            else None,
            "groups": [g.as_dict() for g in self.groups],
            "metrics": {k: asdict(v) for k, v in self.metrics.items()},
            "insufficient": self.insufficient,
            "notes": self.notes,
        }


@dataclass(frozen=True)
class FairnessResult:
    """Fairness of one window (or file) over every attribute and intersection."""

    status: Literal["ok", "not_applicable", "empty"]
    favourable: int
    min_group_size: int
    rows: int
    labelled: int
    attributes: dict[str, AttributeFairness]
    reason: str = ""

    @property
    def findings(self) -> list[str]:
        return [f for a in self.attributes.values() for f in _attribute_findings(a)]

    def worst_severity(self) -> float | None:
        values = [
            c.severity
            for a in self.attributes.values()
            for c in a.metrics.values()
            if c.severity is not None
        ]
        return max(values) if values else None

    def summary(self) -> dict[str, Any]:
        """The stage summary contract (see the brief): headline metrics per attribute."""
        headline = (
            "demographic_parity_difference",
            "demographic_parity_ratio",
            "disparate_impact",
            "equal_opportunity_difference",
            "equalized_odds_difference",
            "equalized_odds_ratio",
        )
        attributes = {
            name: {
                **{m: a.value(m) for m in headline},
                "reference_group": group_label(a.reference_group)
                if a.reference_group is not None
                else None,
                "insufficient": a.insufficient,
                "breaches": sorted(
                    m for m, c in a.metrics.items() if c.verdict in ("warning", "critical")
                ),
            }
            for name, a in self.attributes.items()
        }
        impacts = [v["disparate_impact"] for v in attributes.values()]
        parity = [v["demographic_parity_difference"] for v in attributes.values()]
        return {
            "status": self.status,
            "reason": self.reason,
            "favourable_outcome": self.favourable,
            "rows": self.rows,
            "labelled": self.labelled,
            "attributes": attributes,
            "min_disparate_impact": min((v for v in impacts if v is not None), default=None),
            "max_demographic_parity_difference": max(
                (v for v in parity if v is not None), default=None
            ),
            "worst_severity": self.worst_severity(),
            "findings": self.findings,
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "reason": self.reason,
            "favourable_outcome": self.favourable,
            "min_group_size": self.min_group_size,
            "rows": self.rows,
            "labelled": self.labelled,
            "attributes": {k: v.as_dict() for k, v in self.attributes.items()},
            "findings": self.findings,
        }


def group_label(group: Sequence[str | None] | None) -> str:
    """``female × 18-24``; a missing value shows as ``<missing>``."""
    if group is None:
        return "-"
    return JOIN.join("<missing>" if v is None else str(v) for v in group)


def attribute_name(columns: Sequence[str]) -> str:
    return JOIN.join(columns)


# --------------------------------------------------------------------------- from counts


def _rate(spec: RateSpec, counts: GroupCounts, zero_division: float | None) -> Rate:
    num, den = spec.numerator(counts), spec.denominator(counts)
    interval = wilson_interval(num, den)
    value = num / den if den else zero_division
    low, high = interval if interval else (None, None)
    return Rate(value, low, high, num, den)


def evaluate_attribute(
    counts: Iterable[GroupCounts],
    *,
    columns: Sequence[str],
    min_group_size: int = 30,
    reference_group: Sequence[str | None] | None = None,
    thresholds: Mapping[str, float] | None = None,
    zero_division: float | None = None,
) -> AttributeFairness:
    """Group rates, group metrics and verdicts of one attribute from its group counts.

    Parameters
    ----------
    counts
        One :class:`GroupCounts` per group (from :func:`count_groups`).
    min_group_size
        Groups with fewer rows are ``insufficient_data``; label-based rates also need this
        many labelled rows.
    reference_group
        Group disparate impact is measured against; default: the largest sufficient group.
    thresholds
        Metric -> threshold (see :func:`thresholds_for`); metrics without one are reported
        but not judged.
    zero_division
        Value of a rate whose denominator is 0: None (undefined, left out) or a number.

    Examples
    --------
    fairlearn's MetricFrame docstring example: selection rates 0.8 and 0.4 give a
    difference of 0.4 and a ratio of 0.5.

    >>> a = evaluate_attribute(
    ...     [GroupCounts(("a",), 5, 4), GroupCounts(("b",), 5, 2)], columns=["g"], min_group_size=1
    ... )
    >>> a.value("demographic_parity_difference"), a.value("demographic_parity_ratio")
    (0.4, 0.5)
    """
    thresholds = dict(thresholds or {})
    counts = sorted(counts, key=lambda c: tuple((v is None, v or "") for v in c.group))
    provisional = []
    for c in counts:
        if any(v is None for v in c.group):
            status: GroupStatus = "missing_value"
        elif c.n < min_group_size:
            status = "insufficient_data"
        else:
            status = "ok"
        labelled_ok = status == "ok" and c.labelled >= min_group_size
        rates = {spec.name: _rate(spec, c, zero_division) for spec in RATES}
        provisional.append((c, status, labelled_ok, rates))

    eligible = [p for p in provisional if p[1] == "ok"]
    notes: list[str] = []
    reference: tuple[str | None, ...] | None = None
    if reference_group is not None:
        wanted = tuple(reference_group)
        found = [p for p in provisional if p[0].group == wanted]
        if not found:
            notes.append(f"reference group {group_label(wanted)} does not occur in the data")
        elif found[0][1] != "ok":
            notes.append(f"reference group {group_label(wanted)} has insufficient data")
        else:
            reference = wanted
    elif eligible:
        reference = max(eligible, key=lambda p: p[0].n)[0].group  # ties: first in sort order
    ref_rate = None
    if reference is not None:
        ref_rate = next(p[3]["selection_rate"] for p in provisional if p[0].group == reference)

    groups = []
    for c, status, labelled_ok, rates in provisional:
        impact = None
        is_ref = reference is not None and c.group == reference
        sr = rates["selection_rate"].value
        if (
            status == "ok"
            and not is_ref
            and ref_rate is not None
            and ref_rate.value
            and sr is not None
        ):
            impact = sr / ref_rate.value
        groups.append(GroupResult(c.group, c, status, labelled_ok, rates, is_ref, impact))

    metrics: dict[str, MetricCheck] = {}
    extremes: dict[str, tuple[GroupResult, GroupResult]] = {}
    derived: dict[str, float | None] = {}
    for spec in RATES:
        members = [
            g
            for g in groups
            if g.status == "ok"
            and (g.labelled_ok or not spec.needs_labels)
            and g.rates[spec.name].value is not None
        ]
        values = [g.rates[spec.name].value for g in members]
        for agg, (fn, _ideal) in AGGREGATIONS.items():
            derived[f"{spec.name}_{agg}"] = fn(values)  # type: ignore[arg-type]
        if len(members) >= 2:
            low = min(members, key=lambda g: g.rates[spec.name].value)  # type: ignore[arg-type,return-value]
            high = max(members, key=lambda g: g.rates[spec.name].value)  # type: ignore[arg-type,return-value]
            extremes[spec.name] = (low, high)

    def check(metric: str, value: float | None, rate: str | None) -> MetricCheck:
        threshold = thresholds.get(metric)
        pair = extremes.get(rate) if rate else None
        groups_pair = distinguishable = None
        if pair:
            low, high = pair
            # the group that fares worse comes first: the one least often given the favourable
            # outcome (lowest selection rate, TPR, FPR, precision), or most often wrongly
            # denied it (highest FNR)
            worse_first = (high, low) if rate == "false_negative_rate" else (low, high)
            groups_pair = (worse_first[0].label, worse_first[1].label)
            a, b = low.rates[rate], high.rates[rate]  # type: ignore[index]
            if a.high is not None and b.low is not None:
                distinguishable = a.high < b.low
        if threshold is None:
            return MetricCheck(
                metric, value, None, "not_judged", None, groups_pair, distinguishable
            )
        ideal = ideal_of(metric)
        if value is None:
            return MetricCheck(
                metric, None, threshold, "insufficient_data", None, groups_pair, distinguishable
            )
        return MetricCheck(
            metric,
            value,
            threshold,
            verdict_of(value, threshold=threshold, ideal=ideal),
            severity(value, threshold=threshold, ideal=ideal),
            groups_pair,
            distinguishable,
        )

    for name in DERIVED_METRICS:
        metrics[name] = check(name, derived[name], name.rsplit("_", 1)[0])
    for name, parts in NAMED_METRICS.items():
        values = [derived[p] for p in parts]
        if any(v is None for v in values):
            value = None
        elif name.endswith("_difference"):
            value = max(values)  # type: ignore[type-var]
        else:
            value = min(values)  # type: ignore[type-var]
        # the rate behind the worse part explains the metric
        rate = parts[0].rsplit("_", 1)[0]
        if len(parts) == 2 and value is not None and values[1] == value:
            rate = parts[1].rsplit("_", 1)[0]
        metrics[name] = check(name, value, rate)

    impacts = [g for g in groups if g.disparate_impact is not None]
    impact = min((g.disparate_impact for g in impacts), default=None)  # type: ignore[type-var]
    di = check("disparate_impact", impact, None)
    if impacts and reference is not None:
        worst = min(impacts, key=lambda g: g.disparate_impact)  # type: ignore[arg-type,return-value]
        ref = next(g for g in groups if g.group == reference)
        a, b = worst.rates["selection_rate"], ref.rates["selection_rate"]
        overlap = not (
            (a.high is not None and b.low is not None and a.high < b.low)
            or (b.high is not None and a.low is not None and b.high < a.low)
        )
        di = MetricCheck(
            di.metric,
            di.value,
            di.threshold,
            di.verdict,
            di.severity,
            (worst.label, ref.label),
            not overlap,
        )
    metrics["disparate_impact"] = di
    if len(eligible) < 2:
        notes.append(
            f"fewer than two groups have at least {min_group_size} rows: group metrics undefined"
        )
    missing = sum(g.counts.n for g in groups if g.status == "missing_value")
    if missing:
        notes.append(f"{missing} row(s) have no value for this attribute")
    return AttributeFairness(
        attribute_name(columns), tuple(columns), groups, reference, metrics, notes
    )


_PHRASES = {
    "disparate_impact": "disparate impact",
    "demographic_parity_difference": "demographic parity difference",
    "demographic_parity_ratio": "demographic parity ratio",
    "equal_opportunity_difference": "equal opportunity difference",
    "equal_opportunity_ratio": "equal opportunity ratio",
    "equalized_odds_difference": "equalized odds difference",
    "equalized_odds_ratio": "equalized odds ratio",
}


def _attribute_findings(attribute: AttributeFairness) -> list[str]:
    found = []
    for check in attribute.metrics.values():
        if check.verdict not in ("warning", "critical") or check.value is None:
            continue
        side = "below" if ideal_of(check.metric) == 1.0 else "above"
        phrase = _PHRASES.get(check.metric, check.metric.replace("_", " "))
        text = (
            f"{attribute.attribute}: {phrase} {check.value:.3f} is {side} the threshold "
            f"{check.threshold:.2f} ({check.verdict})"
        )
        if check.groups:
            text += f", {check.groups[0]} vs {check.groups[1]}"
        if check.distinguishable is False:
            text += "; the groups' 95% intervals overlap, so the gap may be noise"
        found.append(text)
    return found


# --------------------------------------------------------------------------- SQL counting


@dataclass(frozen=True)
class CountTotals:
    """Whole-input totals seen during the group scan (for validation and coverage)."""

    rows: int
    with_prediction: int
    labelled: int
    #: Some decision / label is not 0 or 1 (NaN included).
    invalid_prediction: bool
    invalid_label: bool


def _group_sets_sql(attribute_sets: Sequence[Sequence[str]]) -> tuple[list[str], str]:
    columns: list[str] = []
    for combo in attribute_sets:
        for name in combo:
            if name not in columns:
                columns.append(name)
    sets = ", ".join(
        "(" + ", ".join(f"__a{columns.index(n)}" for n in combo) + ")" for combo in attribute_sets
    )
    return columns, sets


def count_groups(
    con: duckdb.DuckDBPyConnection,
    source: str,
    params: Mapping[str, Any] | None = None,
    *,
    attribute_sets: Sequence[Sequence[str]],
    prediction: str,
    label: str | None,
    favourable: int,
    fanout: Any = None,
    fanout_label: str = "fairness",
) -> tuple[dict[tuple[str, ...], list[GroupCounts]], CountTotals]:
    """Counts for every group of every attribute set, in one scan of ``source``.

    ``source`` is a relation in SQL (a table name or parenthesised query) with the attribute
    columns; ``prediction`` and ``label`` are SQL expressions over it giving 0/1 (NULL for
    no decision / no label). Attribute values are compared as text.

    Notes
    -----
    The scan groups by all attribute columns *and* the decision and label values at once
    (the finest groups: a handful of rows when decisions and labels are 0/1), counting rows.
    Every attribute set is then a GROUPING SETS roll-up of that small result, where the
    confusion matrix for the favourable outcome and the validity of the values (every
    decision and label 0 or 1) are filtered sums. Measured at 1M rows: counting with per-row
    CASE/FILTER expressions cost 4-8x a plain group count; per-row sums about 1.7x; this plan
    about the same as a plain group count. Decision and label expressions must take few
    distinct values (callers turn scores into 0/1 first, see :func:`fairness_of_file`).
    """
    if not attribute_sets:
        raise FairnessInputError("count_groups needs at least one attribute set")
    if favourable not in (0, 1):
        raise FairnessInputError(f"favourable outcome must be 0 or 1, got {favourable!r}")
    columns, sets = _group_sets_sql(attribute_sets)
    width = len(columns)
    raw = ", ".join(f"{quote_ident(c)} AS __a{i}" for i, c in enumerate(columns))
    keys = ", ".join(f"__a{i}" for i in range(width))
    label_sql = label or "CAST(NULL AS DOUBLE)"
    fine = f"""
            SELECT {keys}, CAST(__p AS DOUBLE) AS p, CAST(__l AS DOUBLE) AS l, count(*) AS c
            FROM (SELECT {raw}, {prediction} AS __p, {label_sql} AS __l FROM {source})
            GROUP BY ALL"""
    params = dict(params or {})
    merged = None
    if fanout is not None and {"w_start", "w_end"} <= set(params):
        # the finest groups are counted per time slice (anywhere), summed here, then rolled up
        # here: the same counts as one scan
        import pyarrow as pa

        parts = fanout.rows(fine, params, label=fanout_label)
        rows = [row for part in parts for row in part]
        names = [f"__a{i}" for i in range(width)] + ["p", "l", "c"]
        merged = pa.table(
            {
                name: pa.array(
                    [row[i] if i >= width or row[i] is None else str(row[i]) for row in rows],
                    type=pa.string()
                    if i < width
                    else (pa.int64() if name == "c" else pa.float64()),
                )
                for i, name in enumerate(names)
            }
        )
        fine = f"SELECT {keys}, p, l, sum(c) AS c FROM __dg_fine_parts GROUP BY ALL"
        params = {}
    query = f"""
        WITH fine AS ({fine}
        )
        SELECT GROUPING({keys}) AS __gid,
            {", ".join(f"CAST(__a{i} AS VARCHAR)" for i in range(width))},
            sum(c),
            coalesce(sum(c) FILTER (WHERE p IN (0, 1)), 0),
            coalesce(sum(c) FILTER (WHERE p = 1), 0),
            coalesce(sum(c) FILTER (WHERE p = 1 AND l = 1), 0),
            coalesce(sum(c) FILTER (WHERE p = 1 AND l = 0), 0),
            coalesce(sum(c) FILTER (WHERE p = 0 AND l = 1), 0),
            coalesce(sum(c) FILTER (WHERE p = 0 AND l = 0), 0),
            coalesce(sum(c) FILTER (WHERE p IS NOT NULL AND p NOT IN (0, 1)), 0),
            coalesce(sum(c) FILTER (WHERE l IS NOT NULL AND l NOT IN (0, 1)), 0)
        FROM fine
        GROUP BY GROUPING SETS ({sets})
    """
    if merged is not None:
        con.register("__dg_fine_parts", merged)
        try:
            rows = con.execute(query).fetchall()
        finally:
            con.unregister("__dg_fine_parts")
    else:
        rows = con.execute(query, params).fetchall()
    by_gid: dict[int, tuple[str, ...]] = {}
    for combo in attribute_sets:
        gid = sum(1 << (width - 1 - i) for i, c in enumerate(columns) if c not in combo)
        by_gid[gid] = tuple(combo)
    out: dict[tuple[str, ...], list[GroupCounts]] = {tuple(c): [] for c in attribute_sets}
    totals = CountTotals(0, 0, 0, False, False)
    first = tuple(attribute_sets[0])
    for row in rows:
        gid, values = row[0], row[1 : 1 + width]
        total, n, ones, tp, fp, fn, tn, bad_p, bad_l = (int(v) for v in row[1 + width :])
        selected = ones
        if favourable == 0:
            tp, fp, fn, tn = tn, fn, fp, tp
            selected = n - ones
        combo = by_gid[gid]
        group = tuple(values[columns.index(c)] for c in combo)
        out[combo].append(GroupCounts(group, n, selected, tp, fp, fn, tn))
        if combo == first:
            totals = CountTotals(
                totals.rows + total,
                totals.with_prediction + n,
                totals.labelled + tp + fp + fn + tn,
                totals.invalid_prediction or bad_p > 0,
                totals.invalid_label or bad_l > 0,
            )
    return out, totals


def assess(
    counts: Mapping[tuple[str, ...], list[GroupCounts]],
    totals: CountTotals,
    *,
    favourable: int,
    min_group_size: int,
    thresholds: Mapping[str, float],
    reference_groups: Mapping[str, str] | None = None,
    zero_division: float | None = None,
) -> FairnessResult:
    """Evaluate every attribute set's counts into one :class:`FairnessResult`."""
    reference_groups = dict(reference_groups or {})
    attributes = {}
    for combo, groups in counts.items():
        refs = [reference_groups.get(c) for c in combo]
        reference = tuple(refs) if all(r is not None for r in refs) else None
        attributes[attribute_name(combo)] = evaluate_attribute(
            groups,
            columns=combo,
            min_group_size=min_group_size,
            reference_group=reference,
            thresholds=thresholds,
            zero_division=zero_division,
        )
    return FairnessResult(
        "ok" if totals.rows else "empty",
        favourable,
        min_group_size,
        totals.rows,
        totals.labelled,
        attributes,
        "" if totals.rows else "no rows",
    )


def attribute_sets_for(protected: Sequence[str], intersections: bool | Sequence[Sequence[str]]):
    """Each attribute alone, then the intersections asked for (see FairnessSettings)."""
    sets: list[tuple[str, ...]] = [(p,) for p in protected]
    if intersections is True and len(sets) >= 2:
        sets.append(tuple(protected))
    elif isinstance(intersections, list | tuple):
        sets.extend(tuple(c) for c in intersections if tuple(c) not in sets)
    return sets


# --------------------------------------------------------------------------- files and arrays


def _file_relation(path: Path) -> str:
    suffix = "".join(path.suffixes[-2:]).lower()
    literal = "'" + str(path).replace("'", "''") + "'"
    if suffix.endswith(".parquet"):
        return f"read_parquet({literal})"
    if suffix.endswith((".csv", ".csv.gz", ".tsv")):
        return f"read_csv({literal}, header=true, auto_detect=true)"
    if suffix.endswith((".jsonl", ".ndjson", ".json")):
        return f"read_json_auto({literal})"
    raise FairnessInputError(
        f"{path}: unknown file type; use .parquet, .csv or .jsonl (optionally .csv.gz)"
    )


def fairness_of_file(
    path: str | Path,
    *,
    prediction: str,
    protected: Sequence[str],
    label: str | None = None,
    favourable: int | None = None,
    threshold: float | None = None,
    settings: FairnessSettings | None = None,
    reference_groups: Mapping[str, str] | None = None,
) -> FairnessResult:
    """Fairness of the decisions in a Parquet/CSV/JSON-lines file (or glob), without a lake.

    ``prediction`` holds 0/1 decisions, or scores turned into decisions by
    ``score >= threshold``; ``label`` (optional) holds 0/1 outcomes. Each protected column
    is measured alone and, with two or more, together (``settings.intersections``).
    ``favourable`` overrides ``settings.favourable_outcome``.
    """
    path = Path(path)
    if not path.exists() and not globlib.glob(str(path)):
        raise FairnessInputError(f"{path}: file not found")
    settings = settings or FairnessSettings()
    if favourable is None:
        favourable = settings.favourable_outcome
    if favourable not in (0, 1):
        raise FairnessInputError(f"favourable outcome must be 0 or 1, got {favourable!r}")
    if not protected:
        raise FairnessInputError("name at least one protected column")
    con = duckdb.connect()
    try:
        relation = _file_relation(path)
        try:
            described = con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()
        except duckdb.Error as error:
            raise DataError(f"{path}: cannot be read ({error})") from error
        types = {row[0]: row[1] for row in described}
        available = list(types)
        wanted = [("prediction", prediction), *[("protected", p) for p in protected]]
        if label:
            wanted.append(("label", label))
        absent = [f"{role} column {name!r}" for role, name in wanted if name not in available]
        if absent:
            raise FairnessInputError(
                f"{path}: {', '.join(absent)} not found; the file has: {', '.join(available)}"
            )
        if threshold is not None:
            score = f"CAST({quote_ident(prediction)} AS DOUBLE)"
            pred_sql = f"CAST({score} >= {float(threshold)!r} AS TINYINT)"
        else:
            pred_sql = _as_number(prediction, types[prediction])
        label_sql = _as_number(label, types[label]) if label else None
        sets = attribute_sets_for(protected, settings.intersections)
        try:
            counts, totals = count_groups(
                con,
                relation,
                attribute_sets=sets,
                prediction=pred_sql,
                label=label_sql,
                favourable=favourable,
            )
        except duckdb.ConversionException as error:
            raise FairnessInputError(
                f"{path}: {prediction!r} must hold numbers to apply a threshold ({error})"
            ) from error
    finally:
        con.close()
    if totals.invalid_prediction:
        raise FairnessInputError(
            f"{path}: values of {prediction!r} are not all 0 or 1; pass a threshold "
            "(--threshold) to turn scores into decisions"
        )
    if totals.invalid_label:
        raise FairnessInputError(f"{path}: values of {label!r} are not all 0 or 1")
    return assess(
        counts,
        totals,
        favourable=favourable,
        min_group_size=settings.min_group_size,
        thresholds=thresholds_for(settings),
        reference_groups=reference_groups,
    )


_INTEGER_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "BOOLEAN")


def _as_number(column: str, dtype: str) -> str:
    """A 0/1 column for :func:`count_groups`, with few distinct values whatever it holds.

    Integer and boolean columns are grouped as they are (an integer column with other values
    is reported as invalid). Other types (scores as floats, text) are mapped to 0, 1, NULL or
    -1 for anything else, so a column of scores passed without a threshold is reported as
    invalid instead of making one group per distinct score; text that is not a number is
    never silently NULL, which would read as "no decision".
    """
    ref = quote_ident(column)
    if dtype.split("(")[0] in _INTEGER_TYPES or dtype.startswith("U"):
        return ref
    number = f"TRY_CAST({ref} AS DOUBLE)"
    return f"CASE WHEN {ref} IS NULL THEN NULL WHEN {number} IN (0, 1) THEN {number} ELSE -1 END"


def group_fairness(
    y_pred: Sequence[Any],
    *,
    sensitive_features: Mapping[str, Sequence[Any]],
    y_true: Sequence[Any] | None = None,
    favourable: int = 1,
    min_group_size: int = 1,
    intersections: bool | Sequence[Sequence[str]] = False,
    thresholds: Mapping[str, float] | None = None,
    reference_groups: Mapping[str, str] | None = None,
    zero_division: float | None = None,
) -> FairnessResult:
    """Fairness of in-memory decisions (arrays), through the same DuckDB plan as the lake.

    Examples
    --------
    >>> r = group_fairness([1, 1, 0, 1, 0, 0], sensitive_features={"sex": list("ffmmmm")})
    >>> r.attributes["sex"].value("demographic_parity_ratio")
    0.25
    """
    import pyarrow as pa

    if favourable not in (0, 1):
        raise FairnessInputError(f"favourable outcome must be 0 or 1, got {favourable!r}")
    if not sensitive_features:
        raise FairnessInputError("sensitive_features must name at least one attribute")
    data: dict[str, Any] = {
        "__pred": pa.array([None if v is None else float(v) for v in y_pred], pa.float64())
    }
    if y_true is not None:
        data["__label"] = pa.array([None if v is None else float(v) for v in y_true], pa.float64())
    for name, values in sensitive_features.items():
        data[name] = pa.array([None if v is None else str(v) for v in values], pa.string())
    lengths = {len(v) for v in data.values()}
    if len(lengths) != 1:
        raise FairnessInputError("y_pred, y_true and every sensitive feature must be equally long")
    table = pa.table(data)
    con = duckdb.connect()
    try:
        con.register("__dg_input", table)
        counts, totals = count_groups(
            con,
            "__dg_input",
            attribute_sets=attribute_sets_for(list(sensitive_features), intersections),  # type: ignore[arg-type]
            prediction="__pred",
            label="__label" if y_true is not None else None,
            favourable=favourable,
        )
    finally:
        con.close()
    if totals.invalid_prediction or totals.invalid_label:
        raise FairnessInputError("y_pred and y_true must hold only 0 and 1")
    return assess(
        counts,
        totals,
        favourable=favourable,
        min_group_size=min_group_size,
        thresholds=thresholds or {},
        reference_groups=reference_groups,
        zero_division=zero_division,
    )


# --------------------------------------------------------------------------- config check


def protected_attribute_problems(model: ModelConfig, settings: Any, base: Path | None) -> list[str]:
    """Protected attributes absent from the newest prediction log of each source.

    What ``driftguard config check`` can see before any ingestion: it reads only the schema
    of the newest file (Parquet footer, CSV header, first JSON lines), never the rows.
    """
    from driftguard.sources import discover

    problems = []
    for source in model.sources.files("predictions"):
        try:
            files = discover(source, settings, base)
        except DataError:
            continue
        if not files or not model.protected_names:
            continue
        newest = max(files, key=lambda f: (f.path.stat().st_mtime, str(f.path)))
        literal = "'" + str(newest.path).replace("'", "''") + "'"
        reader = {
            "parquet": f"read_parquet({literal})",
            "csv": f"read_csv({literal}, header=true, all_varchar=true)",
            "jsonl": f"read_json_auto({literal}, format='newline_delimited')",
        }[newest.format]
        con = duckdb.connect()
        try:
            columns = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {reader}").fetchall()]
        except duckdb.Error:
            continue  # unreadable files are ingestion's business (it reports them)
        finally:
            con.close()
        for name in model.protected_names:
            if name not in columns:
                problems.append(
                    f"protected attribute {name!r} is not a column of the newest prediction "
                    f"log {newest.path} (columns: {', '.join(columns)})"
                )
    return problems


# --------------------------------------------------------------------------- monitoring stage


def compute_fairness(
    lake: Any, model: ModelConfig, window: Any, *, fanout: Any = None
) -> FairnessResult:
    """Fairness of a model's current window in the lake (decisions joined to latest labels).

    With ``fanout`` (:class:`driftguard.partitions.Fanout`) the group counts are taken per
    time slice and summed: the same counts, so the same result.
    """
    settings = model.fairness
    if model.task != "binary_classification":
        return FairnessResult(
            "not_applicable",
            settings.favourable_outcome,
            settings.min_group_size,
            0,
            0,
            {},
            "fairness of decisions needs a binary classifier",
        )
    if not model.protected_attributes:
        return FairnessResult(
            "not_applicable",
            settings.favourable_outcome,
            settings.min_group_size,
            0,
            0,
            {},
            "no protected attributes are declared",
        )
    table_columns = lake.table_columns(_predictions_table(model))
    absent = [p for p in model.protected_names if p not in table_columns]
    if absent:
        raise ProtectedAttributeMissing(
            f"Model {model.id!r}: protected attribute(s) {', '.join(map(repr, absent))} are not "
            "in the prediction logs. Log them, or remove them from protected_attributes."
        )
    sets = model.fairness_attribute_sets()
    source, params = labelled_window_sql(model, window, model.protected_names)
    counts, totals = count_groups(
        lake.con,
        source,
        params,
        attribute_sets=sets,
        prediction=PREDICTED,
        label=LABEL,
        favourable=settings.favourable_outcome,
        fanout=fanout,
        fanout_label=f"fairness {model.id}",
    )
    for name in model.protected_names:
        groups = counts[(name,)]
        known = sum(g.n for g in groups if g.group[0] is not None)
        if totals.rows and known == 0:
            raise ProtectedAttributeMissing(
                f"Model {model.id!r}: protected attribute {name!r} has no value in any of the "
                f"{totals.rows} predictions of window {window}; the logs do not carry it. "
                "Log it, or remove it from protected_attributes (fairness is never computed "
                "as zero)."
            )
    references = {
        p.name: p.reference_group for p in model.protected_attributes if p.reference_group
    }
    return assess(
        counts,
        totals,
        favourable=settings.favourable_outcome,
        min_group_size=settings.min_group_size,
        thresholds=thresholds_for(settings),
        reference_groups=references,
    )


def _predictions_table(model: ModelConfig) -> str:
    from driftguard.sql import model_table

    return model_table(model.id, "predictions")


class FairnessStage:
    """Monitoring stage "fairness": group metrics of the current window, stored per group."""

    name = "fairness"

    def compute(self, lake: Any, ctx: Any, results: dict[str, Any]) -> FairnessResult:
        return compute_fairness(lake, ctx.model, ctx.current, fanout=getattr(ctx, "fanout", None))

    def store(self, lake: Any, ctx: Any, result: FairnessResult, results: dict[str, Any]) -> None:
        for attribute in result.attributes.values():
            columns_json = json.dumps(list(attribute.columns))
            for g in attribute.groups:
                r = g.rates
                lake.execute(
                    "INSERT INTO fairness_groups VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
                    " ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        ctx.run_id,
                        ctx.model.id,
                        attribute.attribute,
                        columns_json,
                        g.label,
                        json.dumps(list(g.group)),
                        g.status,
                        g.is_reference,
                        g.counts.n,
                        g.counts.selected,
                        g.counts.labelled,
                        g.counts.tp,
                        g.counts.fp,
                        g.counts.fn,
                        g.counts.tn,
                        *_rate_row(r["selection_rate"]),
                        *_rate_row(r["true_positive_rate"]),
                        *_rate_row(r["false_positive_rate"]),
                        *_rate_row(r["false_negative_rate"]),
                        *_rate_row(r["precision"]),
                        g.disparate_impact,
                        ctx.current.start,
                        ctx.current.end,
                    ],
                )
            for check in attribute.metrics.values():
                lake.execute(
                    "INSERT INTO fairness_metrics VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        ctx.run_id,
                        ctx.model.id,
                        attribute.attribute,
                        check.metric,
                        check.value,
                        check.threshold,
                        check.verdict,
                        check.severity,
                        json.dumps(list(check.groups)) if check.groups else None,
                        ctx.current.start,
                        ctx.current.end,
                    ],
                )

    def summary(self, result: FairnessResult) -> dict[str, Any]:
        return result.summary()


def _rate_row(rate: Rate) -> tuple[float | None, float | None, float | None]:
    return rate.value, rate.low, rate.high


from driftguard.monitor import STAGES  # noqa: E402  (registration at import, by design)

STAGES.append(FairnessStage())
