"""Model performance on delayed labels, joined to predictions by prediction id.

Labels arrive after the predictions (the latest ``labelled_at`` per prediction wins), so a run
measures what is labelled *so far*: ``label_coverage = labelled predictions / predictions``.
Classifier metrics use the model's positive class 1 (scikit-learn's ``pos_label=1``),
whatever the fairness favourable outcome is; ŷ is the logged class or ``score >= threshold``.

- ``accuracy = (TP + TN) / n``; ``precision = TP / (TP + FP)``; ``recall = TP / (TP + FN)``;
  ``f1 = 2·TP / (2·TP + FP + FN)`` (None when a denominator is 0).
- ``roc_auc`` = Mann-Whitney: ``(R₁ − n₁(n₁+1)/2) / (n₁·n₀)`` with R₁ the sum of the positives'
  score ranks, ties getting their average rank (None with one class only). 0.5 is chance.
- ``log_loss = −mean(y·ln p + (1−y)·ln(1−p))`` with ``p`` clipped to [ε, 1−ε], ε the float64
  machine epsilon (as scikit-learn 1.9); ``brier = mean((p − y)²)``.
- Regressors: ``mae = mean|ŷ − y|``, ``rmse = √mean((ŷ − y)²)``.

Degradation is judged against the same metrics on the reference window: higher-is-better
metrics by their absolute drop (``max_drop``), error metrics by their relative increase
(``max_increase``), plus optional absolute floors (``minimum``). Fewer than ``min_labelled``
labelled predictions in a window: its metrics are reported but not judged.

All sums, counts and ranks are DuckDB SQL over the window; only a handful of numbers reach
Python.

References
----------
scikit-learn metrics (the oracle in the tests); Hanley & McNeil (1982),
doi:10.1148/radiology.143.1.7063747 (AUC as the Mann-Whitney statistic); Brier (1950),
doi:10.1175/1520-0493(1950)078<0001:VOFEIT>2.0.CO;2.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import duckdb
import numpy as np

from driftguard.config import ModelConfig, Window
from driftguard.metrics._window import LABEL, PREDICTED, SCORE, labelled_window_sql
from driftguard.metrics.severity import Verdict, severity, verdict_of

Task = Literal["binary_classification", "regression"]
EPS = float(np.finfo(np.float64).eps)
CLASSIFIER_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss", "brier")
REGRESSOR_METRICS = ("mae", "rmse")
HIGHER_IS_BETTER = frozenset({"accuracy", "precision", "recall", "f1", "roc_auc"})


@dataclass(frozen=True)
class WindowPerformance:
    """Metrics of one window: counts and values (None where undefined)."""

    predictions: int
    labelled: int
    metrics: dict[str, float | None]

    @property
    def label_coverage(self) -> float | None:
        return self.labelled / self.predictions if self.predictions else None


@dataclass(frozen=True)
class PerformanceCheck:
    metric: str
    kind: Literal["drop", "increase", "minimum"]
    value: float | None  # the drop, the relative increase, or the metric itself (minimum)
    threshold: float
    verdict: Verdict
    severity: float | None
    current: float | None
    reference: float | None


@dataclass(frozen=True)
class PerformanceResult:
    task: Task
    min_labelled: int
    current: WindowPerformance
    reference: WindowPerformance
    checks: list[PerformanceCheck] = field(default_factory=list)

    @property
    def sufficient(self) -> bool:
        return self.current.labelled >= self.min_labelled

    @property
    def status(self) -> Literal["ok", "insufficient_data"]:
        return "ok" if self.sufficient else "insufficient_data"

    def worst_severity(self) -> float | None:
        values = [c.severity for c in self.checks if c.severity is not None]
        return max(values) if values else None

    @property
    def findings(self) -> list[str]:
        found = []
        for c in self.checks:
            if c.verdict not in ("warning", "critical") or c.value is None:
                continue
            if c.kind == "drop":
                found.append(
                    f"{c.metric} dropped by {c.value:.3f} to {c.current:.3f} against the "
                    f"reference {c.reference:.3f} (allowed {c.threshold:.3f}, {c.verdict})"
                )
            elif c.kind == "increase":
                found.append(
                    f"{c.metric} rose {c.value:.0%} to {c.current:.4g} against the reference "
                    f"{c.reference:.4g} (allowed {c.threshold:.0%}, {c.verdict})"
                )
            else:
                found.append(
                    f"{c.metric} {c.current:.3f} is below the minimum {c.threshold:.3f} "
                    f"({c.verdict})"
                )
        return found

    def summary(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "label_coverage": self.current.label_coverage,
            "labelled": self.current.labelled,
            "metrics": self.current.metrics,
            "reference_metrics": self.reference.metrics,
            "worst_severity": self.worst_severity(),
            "findings": self.findings,
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.summary(),
            "current": asdict(self.current),
            "reference": asdict(self.reference),
            "checks": [asdict(c) for c in self.checks],
        }


# --------------------------------------------------------------------------- SQL


def relation_metrics(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    params: Mapping[str, Any] | None = None,
    *,
    task: Task,
    predicted: str = PREDICTED,
    score: str = SCORE,
    label: str = LABEL,
) -> WindowPerformance:
    """Performance of the rows of ``relation`` (columns ``predicted``, ``score``, ``label``)."""
    params = dict(params or {})
    if task == "regression":
        row = con.execute(
            f"""SELECT count(*), count({label}) FILTER (WHERE {score} IS NOT NULL),
                avg(abs({score} - {label})), sqrt(avg(({score} - {label}) ^ 2))
            FROM {relation}""",
            params,
        ).fetchone()
        n, labelled, mae, rmse = row
        return WindowPerformance(int(n), int(labelled), {"mae": mae, "rmse": rmse})
    clipped = f"least(greatest({score}, {EPS!r}), {1 - EPS!r})"
    row = con.execute(
        f"""SELECT count(*), count({label}),
            count(*) FILTER (WHERE {label} = 1 AND {predicted} = 1),
            count(*) FILTER (WHERE {label} = 0 AND {predicted} = 1),
            count(*) FILTER (WHERE {label} = 1 AND {predicted} = 0),
            count(*) FILTER (WHERE {label} = 0 AND {predicted} = 0),
            avg(-({label} * ln({clipped}) + (1 - {label}) * ln(1 - {clipped})))
                FILTER (WHERE {label} IS NOT NULL),
            avg(({score} - {label}) ^ 2) FILTER (WHERE {label} IS NOT NULL)
        FROM {relation}""",
        params,
    ).fetchone()
    n, labelled, tp, fp, fn, tn, log_loss, brier = row
    decided = tp + fp + fn + tn

    def div(a: float, b: float) -> float | None:
        return a / b if b else None

    metrics: dict[str, float | None] = {
        "accuracy": div(tp + tn, decided),
        "precision": div(tp, tp + fp),
        "recall": div(tp, tp + fn),
        "f1": div(2 * tp, 2 * tp + fp + fn),
        "roc_auc": _roc_auc(con, relation, params, score=score, label=label),
        "log_loss": log_loss,
        "brier": brier,
    }
    return WindowPerformance(int(n), int(labelled), metrics)


def _roc_auc(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    params: Mapping[str, Any],
    *,
    score: str,
    label: str,
) -> float | None:
    row = con.execute(
        f"""WITH s AS (
                SELECT {score} AS s, CAST(count(*) AS DOUBLE) AS n,
                       CAST(sum({label}) AS DOUBLE) AS pos
                FROM {relation} WHERE {label} IS NOT NULL AND {score} IS NOT NULL GROUP BY 1
            ), r AS (
                SELECT n, pos, sum(n) OVER (ORDER BY s ROWS UNBOUNDED PRECEDING) - n AS below
                FROM s
            )
            SELECT sum(pos * (below + (n + 1) / 2)), sum(pos), sum(n) FROM r""",
        dict(params),
    ).fetchone()
    rank_sum, positives, total = row
    if not positives or positives == total:
        return None  # one class only: AUC undefined
    negatives = total - positives
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def performance_of_arrays(
    y_true: Sequence[float],
    y_score: Sequence[float],
    *,
    task: Task = "binary_classification",
    threshold: float = 0.5,
    y_pred: Sequence[float] | None = None,
) -> WindowPerformance:
    """The SQL metrics for in-memory arrays (what the tests hold against scikit-learn).

    >>> p = performance_of_arrays([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    >>> p.metrics["roc_auc"], p.metrics["accuracy"]
    (0.75, 0.75)
    """
    import pyarrow as pa

    score = np.asarray(y_score, dtype=float)
    pred = (
        np.asarray(y_pred, dtype=float)
        if y_pred is not None
        else (score >= threshold).astype(float)
        if task == "binary_classification"
        else np.full(len(score), np.nan)
    )
    table = pa.table(
        {
            PREDICTED: pa.array(pred, pa.float64(), from_pandas=True),
            SCORE: pa.array(score, pa.float64()),
            LABEL: pa.array([None if v is None else float(v) for v in y_true], pa.float64()),
        }
    )
    con = duckdb.connect()
    try:
        con.register("__dg_perf", table)
        return relation_metrics(con, "__dg_perf", task=task)
    finally:
        con.close()


# --------------------------------------------------------------------------- judging


def judge(
    current: WindowPerformance,
    reference: WindowPerformance,
    model: ModelConfig,
) -> list[PerformanceCheck]:
    """Checks of the current window against the reference window and the floors."""
    settings = model.performance
    enough_current = current.labelled >= settings.min_labelled
    enough_reference = reference.labelled >= settings.min_labelled
    names = CLASSIFIER_METRICS if model.task == "binary_classification" else REGRESSOR_METRICS
    checks = []
    for metric, allowed in settings.max_drop.items():
        if metric not in names:
            continue
        cur, ref = current.metrics.get(metric), reference.metrics.get(metric)
        value = (
            ref - cur if enough_current and enough_reference and None not in (cur, ref) else None
        )
        checks.append(_check(metric, "drop", value, allowed, 0.0, cur, ref))
    for metric, allowed in settings.max_increase.items():
        if metric not in names:
            continue
        cur, ref = current.metrics.get(metric), reference.metrics.get(metric)
        value = None
        if enough_current and enough_reference and cur is not None and ref:
            value = cur / ref - 1
        checks.append(_check(metric, "increase", value, allowed, 0.0, cur, ref))
    for metric, floor in settings.minimum.items():
        if metric not in names:
            continue
        cur = current.metrics.get(metric) if enough_current else None
        checks.append(_check(metric, "minimum", cur, floor, 1.0, current.metrics.get(metric), None))
    return checks


def _check(
    metric: str,
    kind: Literal["drop", "increase", "minimum"],
    value: float | None,
    threshold: float,
    ideal: float,
    current: float | None,
    reference: float | None,
) -> PerformanceCheck:
    if value is None:
        return PerformanceCheck(
            metric, kind, None, threshold, "insufficient_data", None, current, reference
        )
    return PerformanceCheck(
        metric,
        kind,
        value,
        threshold,
        verdict_of(value, threshold=threshold, ideal=ideal),
        severity(value, threshold=threshold, ideal=ideal),
        current,
        reference,
    )


def compute_performance(
    lake: Any, model: ModelConfig, current: Window, reference: Window
) -> PerformanceResult:
    """Current and reference window performance of ``model`` and the degradation checks."""
    windows = []
    for window in (current, reference):
        relation, params = labelled_window_sql(model, window)
        windows.append(relation_metrics(lake.con, relation, params, task=model.task))
    cur, ref = windows
    return PerformanceResult(
        model.task, model.performance.min_labelled, cur, ref, judge(cur, ref, model)
    )


class PerformanceStage:
    """Monitoring stage "performance"."""

    name = "performance"

    def compute(self, lake: Any, ctx: Any, results: dict[str, Any]) -> PerformanceResult:
        return compute_performance(lake, ctx.model, ctx.current, ctx.reference)

    def store(
        self, lake: Any, ctx: Any, result: PerformanceResult, results: dict[str, Any]
    ) -> None:
        for label, window, perf in (
            ("current", ctx.current, result.current),
            ("reference", ctx.reference, result.reference),
        ):
            values = {**perf.metrics, "label_coverage": perf.label_coverage}
            for metric, value in values.items():
                lake.execute(
                    "INSERT INTO performance_metrics VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        ctx.run_id,
                        ctx.model.id,
                        label,
                        metric,
                        value,
                        perf.labelled,
                        perf.predictions,
                        window.start,
                        window.end,
                    ],
                )

    def summary(self, result: PerformanceResult) -> dict[str, Any]:
        return result.summary()


from driftguard.monitor import STAGES  # noqa: E402  (registration at import, by design)

STAGES.append(PerformanceStage())
