"""The current window of a model's predictions joined to their latest labels, as SQL.

Labels arrive later than predictions and may be corrected: the latest ``labelled_at`` per
prediction id wins (``arg_max(label, labelled_at)``). Only labels of predictions inside the
window are aggregated, so the join's hash table follows the window, not the whole label table.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from driftguard.config import ModelConfig, Window
from driftguard.sql import model_table, quote_ident

#: Column names the joined relation adds beside the requested model columns.
PREDICTED = "__dg_pred"
SCORE = "__dg_score"
LABEL = "__dg_label"


def labelled_window_sql(
    model: ModelConfig, window: Window, columns: Sequence[str] = (), *, prefix: str = "w"
) -> tuple[str, dict[str, Any]]:
    """A parenthesised relation over ``window`` with ``columns``, the predicted class, the
    score and the latest label, plus its named parameters (prefixed with ``prefix``).

    The predicted class is the logged one, else ``score >= model.decision_threshold`` (NULL
    when neither is known; regressors get NULL).
    """
    predictions = model_table(model.id, "predictions")
    labels = model_table(model.id, "labels")
    start, end, threshold = f"${prefix}_start", f"${prefix}_end", f"${prefix}_threshold"
    picked = "".join(f"p.{quote_ident(c)}, " for c in columns)
    if model.task == "binary_classification":
        logged = "CASE WHEN NOT isnan(p.predicted_class) THEN p.predicted_class END"
        predicted = f"coalesce({logged}, CAST(p.score >= {threshold} AS DOUBLE))"
    else:
        predicted = "CAST(NULL AS DOUBLE)"
    sql = f"""(SELECT {picked}{predicted} AS {PREDICTED}, p.score AS {SCORE}, l.label AS {LABEL}
        FROM {predictions} p
        LEFT JOIN (
            SELECT prediction_id, arg_max(label, labelled_at) AS label FROM {labels}
            WHERE prediction_id IN (
                SELECT prediction_id FROM {predictions} WHERE ts >= {start} AND ts < {end})
            GROUP BY prediction_id
        ) l ON l.prediction_id = p.prediction_id
        WHERE p.ts >= {start} AND p.ts < {end})"""
    params = {
        f"{prefix}_start": window.start,
        f"{prefix}_end": window.end,
        f"{prefix}_threshold": model.decision_threshold,
    }
    if model.task != "binary_classification":
        params.pop(f"{prefix}_threshold")
    return sql, params
