"""Data quality of a model's current window: missing values, ranges, predictions, volume.

Checks (each a share in [0, 1] where 0 is perfect, except the volume ratio where 1 is):

- ``missing_rate`` per monitored column (features, protected attributes, score):
  ``NULL values / rows``. NaN in a numeric feature is stored as NULL at ingestion, so it counts.
- ``out_of_range_rate`` per numeric feature with a declared ``min``/``max``:
  ``values outside [min, max] / non-missing values``.
- ``invalid_prediction_rate``: rows without a usable prediction / rows. Usable: a predicted
  class of 0 or 1, else a finite score (in [0, 1] for a classifier).
- ``quarantine_rate``: of the ingestion batches that delivered this window's rows (plus
  batches that ended inside the window with every row quarantined),
  ``rows quarantined / rows read``. A batch counts whole, also for its rows outside the window.
- ``volume_ratio``: ``(current rows / current days) / (reference rows / reference days)``,
  per-day rates so windows of different lengths compare; 1 means the usual volume. Days
  before the model's first logged prediction (from the ingestion ledger) are not counted, so a
  young model's reference is not diluted by days nobody logged. Below
  ``volume_drop`` or above ``volume_spike`` is a finding, judged on a log scale so a halving
  and a doubling are equally severe.

One scan of the window computes every per-column count. Thresholds: ``QualitySettings``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from driftguard.config import ModelConfig, Window
from driftguard.metrics.severity import Verdict, severity, verdict_of
from driftguard.sql import model_table, quote_ident


@dataclass(frozen=True)
class QualityCheck:
    check: str
    column: str | None
    value: float | None
    numerator: float | None
    denominator: float | None
    threshold: float | None
    verdict: Verdict
    severity: float | None


@dataclass(frozen=True)
class QualityResult:
    rows: int
    reference_rows: int
    checks: list[QualityCheck]

    def _values(self, check: str) -> list[QualityCheck]:
        return [c for c in self.checks if c.check == check]

    def worst(self, check: str) -> QualityCheck | None:
        judged = [c for c in self._values(check) if c.value is not None]
        return max(judged, key=lambda c: (c.severity or 0.0, c.value or 0.0), default=None)

    def value(self, check: str) -> float | None:
        found = self.worst(check)
        return found.value if found else None

    def worst_severity(self) -> float | None:
        values = [c.severity for c in self.checks if c.severity is not None]
        return max(values) if values else None

    @property
    def findings(self) -> list[str]:
        found = []
        for c in self.checks:
            if c.verdict not in ("warning", "critical") or c.value is None:
                continue
            where = f" of {c.column!r}" if c.column else ""
            if c.check == "volume_ratio":
                direction = "drop" if c.value < 1 else "spike"
                found.append(
                    f"volume {direction}: {c.value:.2f}x the reference rows per day "
                    f"(threshold {c.threshold:.2f}x, {c.verdict})"
                )
            else:
                found.append(
                    f"{c.check.replace('_', ' ')}{where} is {c.value:.2%} "
                    f"(threshold {c.threshold:.2%}, {c.verdict})"
                )
        return found

    def summary(self) -> dict[str, Any]:
        worst_missing = self.worst("missing_rate")
        worst_range = self.worst("out_of_range_rate")
        return {
            "rows": self.rows,
            "missing_rate_max": worst_missing.value if worst_missing else None,
            "missing_rate_column": worst_missing.column if worst_missing else None,
            "out_of_range_rate_max": worst_range.value if worst_range else None,
            "invalid_prediction_rate": self.value("invalid_prediction_rate"),
            "quarantine_rate": self.value("quarantine_rate"),
            "volume_ratio": self.value("volume_ratio"),
            "worst_severity": self.worst_severity(),
            "findings": self.findings,
        }

    def as_dict(self) -> dict[str, Any]:
        return {**self.summary(), "checks": [asdict(c) for c in self.checks]}


def _share_check(
    check: str, column: str | None, numerator: int, denominator: int, threshold: float
) -> QualityCheck:
    if not denominator:
        return QualityCheck(check, column, None, numerator, 0, threshold, "insufficient_data", None)
    value = numerator / denominator
    return QualityCheck(
        check,
        column,
        value,
        numerator,
        denominator,
        threshold,
        verdict_of(value, threshold=threshold, ideal=0.0),
        severity(value, threshold=threshold, ideal=0.0),
    )


def volume_check(
    current_rows: int,
    current: Window,
    reference_rows: int,
    reference: Window,
    *,
    drop: float,
    spike: float,
) -> QualityCheck:
    """Rows per day against the reference, judged on a log scale.

    ``r = (n_cur / days_cur) / (n_ref / days_ref)``; severity uses ``ln r`` against
    ``ln drop`` (r < 1) or ``ln spike`` (r > 1), so 0.5x and 2x are equally severe.

    >>> from datetime import datetime, UTC
    >>> day = lambda d: datetime(2026, 1, d, tzinfo=UTC)
    >>> current, reference = Window(start=day(8), end=day(9)), Window(start=day(1), end=day(8))
    >>> c = volume_check(50, current, 700, reference, drop=0.5, spike=2.0)
    >>> round(c.value, 6), c.verdict
    (0.5, 'ok')
    """
    cur_days = (current.end - current.start).total_seconds() / 86400
    ref_days = (reference.end - reference.start).total_seconds() / 86400
    if not reference_rows:
        return QualityCheck(
            "volume_ratio", None, None, current_rows, 0, None, "insufficient_data", None
        )
    ratio = (current_rows / cur_days) / (reference_rows / ref_days)
    threshold = drop if ratio < 1 else spike
    if ratio == 0:
        return QualityCheck(
            "volume_ratio", None, 0.0, current_rows, reference_rows, drop, "critical", 1.0
        )
    log_value, log_threshold = math.log(ratio), math.log(threshold)
    return QualityCheck(
        "volume_ratio",
        None,
        ratio,
        current_rows / cur_days,
        reference_rows / ref_days,
        threshold,
        verdict_of(log_value, threshold=log_threshold, ideal=0.0),
        severity(log_value, threshold=log_threshold, ideal=0.0),
    )


def compute_quality(
    lake: Any, model: ModelConfig, current: Window, reference: Window, reference_rows: int
) -> QualityResult:
    """Every quality check of ``model`` over ``current`` (one scan for per-column counts)."""
    settings = model.quality
    table = model_table(model.id, "predictions")
    monitored = [*model.features, *model.protected_names]
    parts = ["count(*)"]
    parts += [f"count({quote_ident(c)})" for c in monitored]
    ranged = [
        (name, spec)
        for name, spec in model.features.items()
        if spec.kind == "numeric" and (spec.min is not None or spec.max is not None)
    ]
    params: dict[str, Any] = {"start": current.start, "end": current.end}
    for i, (name, spec) in enumerate(ranged):
        conditions = []
        if spec.min is not None:
            params[f"min{i}"] = spec.min
            conditions.append(f"{quote_ident(name)} < $min{i}")
        if spec.max is not None:
            params[f"max{i}"] = spec.max
            conditions.append(f"{quote_ident(name)} > $max{i}")
        parts.append(f"count(*) FILTER (WHERE {' OR '.join(conditions)})")
    score_ok = "score IS NOT NULL AND isfinite(score)"
    if model.task == "binary_classification":
        score_ok += " AND score >= 0 AND score <= 1"
        usable = f"(predicted_class IN (0, 1)) OR (predicted_class IS NULL AND {score_ok})"
    else:
        usable = score_ok
    parts.append(f"count(*) FILTER (WHERE NOT coalesce({usable}, false))")
    parts.append("count(score)")
    row = lake.fetchone(
        f"SELECT {', '.join(parts)} FROM {table} WHERE ts >= $start AND ts < $end", params
    )
    rows = int(row[0])
    checks: list[QualityCheck] = []
    for i, name in enumerate(monitored):
        present = int(row[1 + i])
        checks.append(
            _share_check("missing_rate", name, rows - present, rows, settings.missing_rate)
        )
    offset = 1 + len(monitored)
    for i, (name, _spec) in enumerate(ranged):
        outside = int(row[offset + i])
        present = rows - int(checks[monitored.index(name)].numerator or 0)
        checks.append(
            _share_check("out_of_range_rate", name, outside, present, settings.out_of_range_rate)
        )
    invalid, scored = int(row[offset + len(ranged)]), int(row[offset + len(ranged) + 1])
    if model.columns.score:
        checks.append(
            _share_check("missing_rate", "score", rows - scored, rows, settings.missing_rate)
        )
    checks.append(
        _share_check(
            "invalid_prediction_rate", None, invalid, rows, settings.invalid_prediction_rate
        )
    )
    quarantined, read = quarantine_counts(lake, model, current)
    first = first_logged(lake, model)
    checks.append(
        _share_check("quarantine_rate", None, quarantined, read, settings.quarantine_rate)
    )
    checks.append(
        volume_check(
            rows,
            _clip(current, first),
            reference_rows,
            _clip(reference, first),
            drop=settings.volume_drop,
            spike=settings.volume_spike,
        )
    )
    return QualityResult(rows, reference_rows, checks)


def first_logged(lake: Any, model: ModelConfig) -> Any:
    """Earliest accepted prediction time of the model, from the ingestion ledger (no scan)."""
    row = lake.fetchone(
        "SELECT min(min_ts) FROM ingest_batches WHERE model_id = ? AND kind = 'predictions' "
        "AND rows_accepted > 0",
        [model.id],
    )
    return row[0] if row else None


def _clip(window: Window, first: Any) -> Window:
    """The part of ``window`` after logging began: a reference window reaching back before
    the first prediction must not dilute the per-day rate with days nobody logged."""
    if first is None or first <= window.start or first >= window.end:
        return window
    return Window(start=first, end=window.end)


def quarantine_counts(lake: Any, model: ModelConfig, window: Window) -> tuple[int, int]:
    """(rows quarantined, rows read) of the prediction batches that fed ``window``."""
    table = model_table(model.id, "predictions")
    quarantined, read = lake.fetchone(
        f"""SELECT coalesce(sum(rows_quarantined), 0), coalesce(sum(rows_read), 0)
        FROM ingest_batches
        WHERE model_id = $model AND kind = 'predictions' AND (
            batch_id IN (SELECT DISTINCT _batch_id FROM {table} WHERE ts >= $start AND ts < $end)
            OR (rows_accepted = 0 AND finished_at >= $start AND finished_at < $end))""",
        {"model": model.id, "start": window.start, "end": window.end},
    )
    return int(quarantined), int(read)


class QualityStage:
    """Monitoring stage "quality"."""

    name = "quality"

    def compute(self, lake: Any, ctx: Any, results: dict[str, Any]) -> QualityResult:
        return compute_quality(lake, ctx.model, ctx.current, ctx.reference, ctx.n_reference)

    def store(self, lake: Any, ctx: Any, result: QualityResult, results: dict[str, Any]) -> None:
        for c in result.checks:
            lake.execute(
                "INSERT INTO quality_metrics VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    ctx.run_id,
                    ctx.model.id,
                    c.check,
                    c.column,
                    c.value,
                    c.numerator,
                    c.denominator,
                    c.threshold,
                    c.verdict,
                    c.severity,
                    ctx.current.start,
                    ctx.current.end,
                ],
            )

    def summary(self, result: QualityResult) -> dict[str, Any]:
        return result.summary()


from driftguard.monitor import STAGES  # noqa: E402  (registration at import, by design)

STAGES.append(QualityStage())
