"""Metric history of a model for analysts and other tools: CSV, Parquet or JSON.

One tidy table, one row per run and measured quantity, oldest run first:

================== ============================================================================
column             meaning
================== ============================================================================
run_id             the monitoring run
model_id, version  the model version monitored
as_of              the time the run represents (its window ends at or before it)
window_start/end   the current window [start, end)
family             ``drift``, ``prediction_drift``, ``label_drift``, ``fairness``, ``risk``,
                   ``policy``, ``quality``, ``performance``
subject            feature, protected attribute, risk component, policy name and version,
                   checked column, or window (``current``/``reference``) for performance
metric             drift method, fairness metric, ``score`` or component name, rule id, check
value              the measured value (for drift tests the statistic; p_value beside it)
p_value            drift tests only
threshold          warning threshold (drift), the metric's threshold, or the policy bound
critical_threshold drift only
verdict            ok / warning / critical / insufficient_data / not_judged, the risk status,
                   or the policy outcome (pass / warn / block / not_evaluated)
================== ============================================================================

``since`` is inclusive and ``until`` exclusive, both on ``as_of``. Values are read from the
lake as it is now (not a snapshot): the history grows with every run.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from driftguard.errors import ConfigError
from driftguard.store import Lake

ExportFormat = Literal["csv", "parquet", "json"]
FORMATS: tuple[ExportFormat, ...] = ("csv", "parquet", "json")
COLUMNS = (
    "run_id",
    "model_id",
    "model_version",
    "as_of",
    "window_start",
    "window_end",
    "family",
    "subject",
    "metric",
    "value",
    "p_value",
    "threshold",
    "critical_threshold",
    "verdict",
)


class ExportError(ConfigError):
    """An export that cannot be written as asked (format, destination)."""


_RUN = (
    "SELECT run_id, model_id, model_version, as_of, window_start, window_end "
    "FROM monitoring_runs WHERE model_id = ? AND as_of >= ? AND as_of < ?"
)

_HISTORY_SQL = f"""
WITH runs AS ({_RUN}),
parts AS (
    SELECT d.run_id,
           CASE d.target WHEN 'feature' THEN 'drift' ELSE d.target || '_drift' END AS family,
           d.column_name AS subject, d.method AS metric, d.value, d.p_value,
           d.warning_threshold AS threshold, d.critical_threshold, d.verdict
    FROM drift_results d JOIN runs USING (run_id)
    WHERE d.is_primary AND d.segment IS NULL
  UNION ALL
    SELECT f.run_id, 'fairness', f.attribute, f.metric, f.value, NULL, f.threshold, NULL,
           f.verdict
    FROM fairness_metrics f JOIN runs USING (run_id)
  UNION ALL
    SELECT r.run_id, 'risk', 'total', 'score', r.score, NULL, NULL, NULL, r.status
    FROM risk_history r JOIN runs USING (run_id)
  UNION ALL
    SELECT r.run_id, 'risk', 'component', c.name,
           CASE c.name WHEN 'drift' THEN r.drift WHEN 'fairness' THEN r.fairness
                WHEN 'quality' THEN r.quality ELSE r.performance END,
           NULL, NULL, NULL, NULL
    FROM risk_history r JOIN runs USING (run_id)
         CROSS JOIN (VALUES ('drift'), ('fairness'), ('quality'), ('performance')) AS c(name)
  UNION ALL
    SELECT p.run_id, 'policy', p.policy_name || ' v' || CAST(p.policy_version AS VARCHAR),
           p.rule_id, p.value, NULL, p.threshold, NULL, p.outcome
    FROM policy_evaluations p JOIN runs USING (run_id)
  UNION ALL
    SELECT q.run_id, 'quality', coalesce(q."column", 'window'), q."check", q.value, NULL,
           q.threshold, NULL, q.verdict
    FROM quality_metrics q JOIN runs USING (run_id)
  UNION ALL
    SELECT m.run_id, 'performance', m."window", m.metric, m.value, NULL, NULL, NULL, NULL
    FROM performance_metrics m JOIN runs USING (run_id)
)
SELECT runs.run_id, runs.model_id, runs.model_version, runs.as_of, runs.window_start,
       runs.window_end, parts.family, parts.subject, parts.metric, parts.value, parts.p_value,
       parts.threshold, parts.critical_threshold, parts.verdict
FROM parts JOIN runs USING (run_id)
ORDER BY runs.as_of, runs.run_id, parts.family, parts.subject, parts.metric
"""

_FAR_PAST = datetime(1970, 1, 1, tzinfo=UTC)
_FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)


def metric_history(
    lake: Lake,
    model_id: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> pa.Table:
    """The metric history of ``model_id`` with ``since <= as_of < until`` as an Arrow table."""
    params = [model_id, since or _FAR_PAST, until or _FAR_FUTURE]
    table = lake.execute(_HISTORY_SQL, params).to_arrow_table()
    return table.select(list(COLUMNS))


@dataclass(frozen=True)
class ExportResult:
    path: str  # "-" for standard output
    format: ExportFormat
    rows: int
    runs: int

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "format": self.format, "rows": self.rows, "runs": self.runs}


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def export_history(
    lake: Lake,
    model_id: str,
    *,
    fmt: ExportFormat,
    out: str | Path,
    since: datetime | None = None,
    until: datetime | None = None,
) -> ExportResult:
    """Write the metric history to ``out`` (``-``: standard output, CSV and JSON only)."""
    if fmt not in FORMATS:
        raise ExportError(f"format {fmt!r} is not supported; use one of {', '.join(FORMATS)}")
    if since and until and since >= until:
        raise ExportError("--since must be before --until")
    table = metric_history(lake, model_id, since=since, until=until)
    runs = len(set(table.column("run_id").to_pylist()))
    target = str(out)
    if target == "-" and fmt == "parquet":
        raise ExportError("Parquet is binary: give --out FILE.parquet instead of standard output")
    if fmt == "json":
        records = [{k: _json_value(v) for k, v in row.items()} for row in table.to_pylist()]
        text = json.dumps(records, indent=1, ensure_ascii=False, allow_nan=False) + "\n"
        if target == "-":
            sys.stdout.write(text)
        else:
            Path(target).write_text(text, encoding="utf-8")
    elif fmt == "csv":
        if target == "-":
            sink = pa.BufferOutputStream()
            pacsv.write_csv(table, sink)
            sys.stdout.write(sink.getvalue().to_pybytes().decode("utf-8"))
        else:
            pacsv.write_csv(table, target)
    else:
        pq.write_table(table, target)
    return ExportResult(target, fmt, table.num_rows, runs)
