"""Drift in a monitoring run: the ``drift`` stage, its results and reference profiles in the lake.

``compute`` (read-only) loads the reference profile of the model's reference window, or builds
it with DuckDB when there is none yet (or the window gained rows since), scans the current
window once for every column, runs the exact KS/Wasserstein queries only for the columns whose
method needs every value, computes label drift from the labels joined so far, and assesses
everything (:func:`driftguard.metrics.drift_engine.assess`). ``store`` (inside the run's
transaction) writes the profile when it is new, so later runs over the same reference scan
only their current window, and one row per run, column, segment and method into
``drift_results``.

Labels arrive late, so label drift has no stored profile: it is computed from both windows'
labels every run, counting only labels that had arrived by the run's as-of time.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import duckdb
import numpy as np
import pyarrow as pa

from driftguard.config import DriftSettings, ModelConfig, Window
from driftguard.errors import ConfigError, DataError
from driftguard.metrics import drift_engine as eng
from driftguard.metrics import drift_sql as dsql
from driftguard.metrics.drift import get_method
from driftguard.monitor import STAGES, RunContext
from driftguard.partitions import Fanout
from driftguard.sql import model_table, quote_ident, quote_literal
from driftguard.store import Lake

log = logging.getLogger(__name__)

#: Bump when the stored profile layout or its meaning changes: old profiles are then rebuilt.
PROFILE_FORMAT = 1
PREDICTION_COLUMN = "score"
LABEL_COLUMN = "label"

RESULT_COLUMNS = (
    "run_id",
    "model_id",
    "model_version",
    "target",
    "column_name",
    "kind",
    "segment",
    "method",
    "is_primary",
    "method_reason",
    "value",
    "p_value",
    "threshold_source",
    "warning_threshold",
    "critical_threshold",
    "warning_lower",
    "critical_lower",
    "verdict",
    "rank",
    "weight",
    "n_ref",
    "n_cur",
    "ref_missing_share",
    "cur_missing_share",
    "unseen_share",
    "window_start",
    "window_end",
    "reference_start",
    "reference_end",
    "profile_id",
    "details_json",
)


# ----------------------------------------------------------------------------- sources


def feature_specs(model: ModelConfig, settings: DriftSettings) -> list[eng.ColumnSpec]:
    """The profiled columns of a model: its features, then the prediction."""
    specs = [
        eng.ColumnSpec(name, spec.kind, "feature", spec.method, spec.weight)
        for name, spec in model.features.items()
    ]
    if settings.prediction:
        if model.columns.score:
            specs.append(eng.ColumnSpec(PREDICTION_COLUMN, "numeric", "prediction"))
        elif model.columns.predicted_class:
            specs.append(eng.ColumnSpec("predicted_class", "categorical", "prediction"))
    return specs


def _class_text(expr: str) -> str:
    return f"CAST(CAST({expr} AS BIGINT) AS VARCHAR)"


def window_source(
    model: ModelConfig,
    window: Window,
    *,
    segment: bool = False,
    chunks: tuple[int, float] | None = None,
) -> dsql.Source:
    """The model's prediction rows in ``window`` (optionally with segment and chunk keys)."""
    expressions = {"predicted_class": _class_text(quote_ident("predicted_class"))}
    chunk_sql, chunk_params = None, {}
    if chunks:
        n_chunks, seconds = chunks
        chunk_sql = (
            "least(greatest(CAST(floor((epoch(ts) - $chunk_origin) / $chunk_seconds) AS BIGINT),"
            f" 0), {int(n_chunks) - 1})"
        )
        chunk_params = {"chunk_origin": window.start.timestamp(), "chunk_seconds": seconds}
    return dsql.Source(
        relation=model_table(model.id, "predictions"),
        where="ts >= $w_start AND ts < $w_end",
        params={"w_start": window.start, "w_end": window.end},
        expressions=expressions,
        segment=quote_ident("segment") if segment else None,
        chunk=chunk_sql,
        chunk_params=chunk_params,
    )


def label_source(model: ModelConfig, window: Window, as_of: datetime) -> dsql.Source:
    """Predictions in ``window`` joined with their latest label that arrived by ``as_of``."""
    predictions = model_table(model.id, "predictions")
    labels = model_table(model.id, "labels")
    relation = (
        f"(SELECT p.ts, l.label FROM {predictions} p JOIN "
        f"(SELECT prediction_id, arg_max(label, labelled_at) AS label FROM {labels} "
        "WHERE labelled_at <= $as_of GROUP BY prediction_id) l USING (prediction_id)) AS labelled"
    )
    expressions = {}
    if model.task == "binary_classification":
        expressions[LABEL_COLUMN] = _class_text(quote_ident(LABEL_COLUMN))
    return dsql.Source(
        relation=relation,
        where="ts >= $w_start AND ts < $w_end",
        params={"w_start": window.start, "w_end": window.end, "as_of": as_of},
        expressions=expressions,
    )


def chunk_plan(model: ModelConfig, reference: Window) -> tuple[int, float]:
    """(number of reference chunks, chunk length in seconds) for learned thresholds."""
    settings = model.drift.learned_thresholds
    length = (reference.end - reference.start).total_seconds()
    n = settings.chunks
    if n is None:
        n = max(3, round(length / model.current_length().total_seconds()))
    return int(n), length / n


# ----------------------------------------------------------------------------- profiles


def profile_key(
    model: ModelConfig,
    reference: Window,
    specs: list[eng.ColumnSpec],
    *,
    segment: bool,
    chunks: tuple[int, float] | None,
) -> str:
    """What a profile was built for: model, reference window, columns and binning."""
    settings = model.drift
    text = json.dumps(
        {
            "format": PROFILE_FORMAT,
            "model": model.id,
            "reference": [reference.start.isoformat(), reference.end.isoformat()],
            "columns": [[s.name, s.kind, s.role] for s in specs],
            "bins": settings.bins,
            "ks_bins": settings.ks_bins if settings.ks_mode == "binned" else None,
            "segment": segment,
            "chunks": list(chunks) if chunks else None,
        },
        sort_keys=True,
    )
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass
class StoredProfile:
    """Where a profile lives in the lake, and what it already holds."""

    profile_id: str
    build_id: str
    value_columns: set[str] = field(default_factory=set)
    chunk_value_columns: set[str] = field(default_factory=set)


def load_profile(
    lake: Lake, key: str, n_rows: int, specs: list[eng.ColumnSpec], settings: DriftSettings
) -> tuple[eng.ReferenceProfile, StoredProfile] | None:
    """The stored profile for ``key`` if it was built from ``n_rows`` reference rows.

    One query: the earliest build's header joined with its columns. (Catalog round trips
    dominate a daily run once the current window is scanned once, so they are kept few.)
    """
    rows = lake.records(
        "SELECT p.profile_id, p.build_id, p.n_chunks, p.segment_column, c.column_name, "
        "c.edges_json, c.fine_edges_json, c.summary_json FROM drift_profile_columns c JOIN "
        "(SELECT * FROM drift_profiles WHERE profile_key = ? AND n_rows = ? "
        " ORDER BY created_at, build_id LIMIT 1) p USING (build_id)",
        [key, n_rows],
    )
    by_name = {s.name: s for s in specs}
    if not rows or {r["column_name"] for r in rows} != set(by_name):
        return None
    columns: dict[str, eng.ColumnProfile] = {}
    for row in rows:
        spec = by_name[row["column_name"]]
        data = json.loads(row["summary_json"])
        col = eng.ColumnProfile(
            spec=spec,
            reference=_summary_from_json(spec.kind, data["all"]),
            edges=_array(row["edges_json"]),
            fine_edges=_array(row["fine_edges_json"]),
        )
        col.segments = {k: _summary_from_json(spec.kind, v) for k, v in data["segments"].items()}
        col.chunks = {int(k): _summary_from_json(spec.kind, v) for k, v in data["chunks"].items()}
        columns[spec.name] = col
    head = rows[0]
    profile = eng.ReferenceProfile(
        n_rows=n_rows,
        columns={s.name: columns[s.name] for s in specs},
        bins=settings.bins,
        ks_bins=settings.ks_bins if settings.ks_mode == "binned" else None,
        segment_column=head["segment_column"],
        n_chunks=int(head["n_chunks"]),
        profile_id=head["profile_id"],
        reused=True,
    )
    return profile, StoredProfile(head["profile_id"], head["build_id"])


def load_exact_parts(lake: Lake, profile: eng.ReferenceProfile, stored: StoredProfile) -> None:
    """Which columns already have stored value summaries and chunk values (and the values)."""
    stored.value_columns = {
        r[0]
        for r in lake.fetchall(
            "SELECT column_name FROM drift_profile_value_sets WHERE build_id = ?",
            [stored.build_id],
        )
    }
    for row in lake.records(
        "SELECT column_name, method, chunk, value FROM drift_profile_chunk_values "
        "WHERE build_id = ? ORDER BY column_name, method, chunk",
        [stored.build_id],
    ):
        col = profile.columns[row["column_name"]]
        col.chunk_values.setdefault(row["method"], []).append(row["value"])
        stored.chunk_value_columns.add(row["column_name"])


def _array(text: str | None) -> np.ndarray | None:
    return None if text is None else np.asarray(json.loads(text), dtype=float)


def _column_json(col: eng.ColumnProfile) -> str:
    """Every scope of a column's reference counts, as stored in ``summary_json``."""
    return json.dumps(
        {
            "all": _summary_dict(col.reference),
            "segments": {k: _summary_dict(v) for k, v in sorted(col.segments.items())},
            "chunks": {str(k): _summary_dict(v) for k, v in sorted(col.chunks.items())},
        },
        sort_keys=True,
    )


def _summary_dict(summary: eng.Summary) -> dict[str, Any]:
    if isinstance(summary, eng.NumericSummary):
        data: dict[str, Any] = {
            "n_rows": summary.n_rows,
            "n_missing": summary.n_missing,
            "bins": [int(x) for x in summary.bins],
        }
        if summary.fine is not None:
            data["fine"] = [int(x) for x in summary.fine]
    else:
        data = {"n_rows": summary.n_rows, "n_missing": summary.n_missing, "counts": summary.counts}
    return data


def _summary_from_json(kind: str, data: dict[str, Any]) -> eng.Summary:
    if kind == "numeric":
        fine = data.get("fine")
        return eng.NumericSummary(
            data["n_rows"],
            data["n_missing"],
            np.asarray(data["bins"], dtype=np.int64),
            None if fine is None else np.asarray(fine, dtype=np.int64),
        )
    return eng.CategoricalSummary(data["n_rows"], data["n_missing"], dict(data["counts"]))


# ----------------------------------------------------------------------------- the stage


@dataclass
class DriftOutcome:
    """What the drift stage computed (and what ``store`` must write)."""

    report: eng.DriftReport | None
    settings: DriftSettings
    profile: eng.ReferenceProfile | None = None
    profile_key: str | None = None
    stored: StoredProfile | None = None
    #: Columns whose exact value summaries the profile gains in this run.
    new_value_columns: list[str] = field(default_factory=list)
    new_chunk_values: dict[str, dict[str, list[float | None]]] = field(default_factory=dict)
    reference_source: dsql.Source | None = None
    chunks: tuple[int, float] | None = None


class DriftStage:
    """Feature, prediction, label and segment drift of one model over one window."""

    name = "drift"

    def compute(self, lake: Lake, ctx: RunContext, results: dict[str, Any]) -> DriftOutcome:
        model = ctx.model
        settings = model.drift
        if not settings.enabled:
            return DriftOutcome(report=None, settings=settings)
        return compute_drift(
            lake,
            model,
            ctx.current,
            ctx.reference,
            ctx.as_of,
            n_reference=ctx.n_reference,
            fanout=getattr(ctx, "fanout", None),
        )

    def store(
        self, lake: Lake, ctx: RunContext, result: DriftOutcome, results: dict[str, Any]
    ) -> None:
        if result.report is None:
            return
        store_profile(lake, ctx.model, ctx.reference, result, run_id=ctx.run_id)
        store_results(lake, ctx, result)

    def summary(self, result: DriftOutcome) -> dict[str, Any]:
        if result.report is None:
            return {
                "n_features": 0,
                "n_drifted": 0,
                "share_drifted": None,
                "drift_score": None,
                "max_psi": None,
                "prediction_drift": None,
                "label_drift": None,
                "insufficient": [],
                "top": [],
                "findings": [],
            }
        return _jsonable(result.report.summary(result.settings))


def compute_drift(
    lake: Lake,
    model: ModelConfig,
    current: Window,
    reference: Window,
    as_of: datetime,
    *,
    n_reference: int,
    fanout: Fanout | None = None,
) -> DriftOutcome:
    """Drift of ``model`` between the two windows (read-only: nothing is written).

    With ``fanout``, the histogram scans of both windows run per time slice (possibly in
    other processes) and are summed; the results are the same as without.
    """
    settings = model.drift
    specs = feature_specs(model, settings)
    segment = bool(model.columns.segment and settings.segments)
    chunks = chunk_plan(model, reference) if settings.learned_thresholds.enabled else None
    ref_source = window_source(model, reference, segment=segment, chunks=chunks)
    cur_source = window_source(model, current, segment=segment)
    key = profile_key(model, reference, specs, segment=segment, chunks=chunks)
    loaded = load_profile(lake, key, n_reference, specs, settings)
    if loaded is not None:
        profile, stored = loaded
    else:
        profile = dsql.build_profile(
            lake.con,
            ref_source,
            specs,
            settings,
            segment_column=model.columns.segment if segment else None,
            chunks=chunks is not None,
            fanout=fanout,
            label=f"drift reference {model.id}",
        )
        stored = None
    outcome = DriftOutcome(
        report=None,
        settings=settings,
        profile=profile,
        profile_key=key,
        stored=stored,
        reference_source=ref_source,
        chunks=chunks,
    )
    methods = eng.plan_methods(profile, settings)
    if stored is not None and any(eng.needs_exact(x, settings) for x, _ in methods.values()):
        load_exact_parts(lake, profile, stored)
    window = dsql.summarize_window(
        lake.con, cur_source, profile, fanout=fanout, label=f"drift current {model.id}"
    )
    for name, (method, _) in methods.items():
        if not eng.needs_exact(method, settings):
            continue
        if stored is not None and name in stored.value_columns:
            values = dsql.ValueSource(
                "SELECT value AS v, n AS c FROM drift_profile_values "
                "WHERE build_id = $vb AND column_name = $vc",
                {"vb": stored.build_id, "vc": name},
            )
        else:
            values = dsql.ValueSource.from_rows(ref_source, name)
            outcome.new_value_columns.append(name)
        col = profile.columns[name]
        gap = dsql.exact_gap_for(lake.con, values, cur_source, col, method)
        if gap is not None:
            window.exact[name] = gap
        if chunks and (stored is None or name not in stored.chunk_value_columns):
            col.chunk_values = dsql.exact_chunk_values_sql(
                lake.con, ref_source, name, min_sample_size=settings.min_sample_size
            )
            outcome.new_chunk_values[name] = col.chunk_values
    report = eng.assess(profile, window, settings, methods=methods)
    if settings.labels:
        report.label = label_drift(lake, model, current, reference, as_of)
    report.profile_id = stored.profile_id if stored else None
    report.profile_reused = stored is not None
    outcome.report = report
    return outcome


def label_drift(
    lake: Lake, model: ModelConfig, current: Window, reference: Window, as_of: datetime
) -> eng.ColumnDrift | None:
    """Drift of the joined labels (None when neither window has a label yet)."""
    settings = model.drift
    (arrived,) = lake.fetchone(
        f"SELECT count(*) FROM {model_table(model.id, 'labels')} WHERE labelled_at <= ?", [as_of]
    )
    if not arrived:
        return None
    kind: Literal["numeric", "categorical"] = (
        "categorical" if model.task == "binary_classification" else "numeric"
    )
    spec = eng.ColumnSpec(LABEL_COLUMN, kind, "label")
    ref_source = label_source(model, reference, as_of)
    cur_source = label_source(model, current, as_of)
    profile = dsql.build_profile(lake.con, ref_source, [spec], settings)
    window = dsql.summarize_window(lake.con, cur_source, profile)
    if profile.n_rows == 0 and window.n_rows == 0:
        return None
    method, reason = eng.choose_method(spec, profile.columns[LABEL_COLUMN].reference, settings)
    col = profile.columns[LABEL_COLUMN]
    if eng.needs_exact(method, settings):
        values = dsql.ValueSource.from_rows(ref_source, LABEL_COLUMN)
        gap = dsql.exact_gap_for(lake.con, values, cur_source, col, method)
        if gap is not None:
            window.exact[LABEL_COLUMN] = gap
    return eng.compare_column(
        col,
        col.reference,
        window.columns[LABEL_COLUMN],
        method=method,
        reason=reason,
        settings=settings,
        gap=window.exact.get(LABEL_COLUMN),
    )


# ----------------------------------------------------------------------------- storing


def new_build_id(run_id: str) -> str:
    return f"{run_id}-{hashlib.sha256(run_id.encode()).hexdigest()[:6]}"


def store_profile(
    lake: Lake, model: ModelConfig, reference: Window, outcome: DriftOutcome, *, run_id: str
) -> None:
    """Write a new profile, or what an existing one gained (value summaries, chunk values).

    Runs inside the run's transaction, so it may be repeated: it checks what is there first.
    Two runs building the same profile at once may both store it; loading always takes the
    earliest build, so the duplicate is harmless.
    """
    profile = outcome.profile
    assert profile is not None and outcome.profile_key is not None
    if profile.n_rows == 0:
        return  # nothing to reuse: an empty reference is rebuilt (cheaply) next time
    stored = outcome.stored
    if stored is not None and not outcome.new_value_columns and not outcome.new_chunk_values:
        return  # reused as it is: nothing to write
    if stored is None:
        existing = lake.records(
            "SELECT profile_id, build_id FROM drift_profiles WHERE profile_key = ? AND n_rows = ? "
            "ORDER BY created_at, build_id LIMIT 1",
            [outcome.profile_key, profile.n_rows],
        )
        if existing:
            return  # a concurrent run stored it first; its own values will come next time
        stored = StoredProfile(
            profile_id=hashlib.sha256(
                f"{outcome.profile_key}:{profile.n_rows}".encode()
            ).hexdigest()[:24],
            build_id=new_build_id(run_id),
        )
        _insert(
            lake,
            "drift_profiles",
            [
                {
                    "profile_id": stored.profile_id,
                    "build_id": stored.build_id,
                    "profile_key": outcome.profile_key,
                    "model_id": model.id,
                    "reference_start": reference.start,
                    "reference_end": reference.end,
                    "n_rows": profile.n_rows,
                    "n_chunks": profile.n_chunks,
                    "segment_column": profile.segment_column,
                    "settings_json": json.dumps(
                        {"bins": profile.bins, "ks_bins": profile.ks_bins, "chunks": outcome.chunks}
                    ),
                    "created_at": datetime.now(UTC),
                    "created_by_run": run_id,
                }
            ],
        )
        _insert(
            lake,
            "drift_profile_columns",
            [
                {
                    "profile_id": stored.profile_id,
                    "build_id": stored.build_id,
                    "column_name": name,
                    "role": col.spec.role,
                    "kind": col.spec.kind,
                    "n_rows": col.reference.n_rows,
                    "n_missing": col.reference.n_missing,
                    "edges_json": _edges_json(col.edges),
                    "fine_edges_json": _edges_json(col.fine_edges),
                    "summary_json": _column_json(col),
                }
                for name, col in profile.columns.items()
            ],
        )
        have_values: set[str] = set()
        have_chunks: set[str] = set()
    else:
        have_values = {
            r[0]
            for r in lake.fetchall(
                "SELECT column_name FROM drift_profile_value_sets WHERE build_id = ?",
                [stored.build_id],
            )
        }
        have_chunks = {
            r[0]
            for r in lake.fetchall(
                "SELECT DISTINCT column_name FROM drift_profile_chunk_values WHERE build_id = ?",
                [stored.build_id],
            )
        }
    source = outcome.reference_source
    assert source is not None
    for name in outcome.new_value_columns:
        if name in have_values:
            continue
        values = dsql.ValueSource.from_rows(source, name)
        insert = (
            f"INSERT INTO drift_profile_values SELECT $pid, $build, $col, v, c FROM ({values.sql})"
        )
        params = {**values.params, "pid": stored.profile_id, "build": stored.build_id, "col": name}
        lake.execute(insert, dsql.bind(insert, params))
        (n_values,) = lake.fetchone(
            "SELECT count(*) FROM drift_profile_values WHERE build_id = ? AND column_name = ?",
            [stored.build_id, name],
        )
        _insert(
            lake,
            "drift_profile_value_sets",
            [
                {
                    "profile_id": stored.profile_id,
                    "build_id": stored.build_id,
                    "column_name": name,
                    "n_values": int(n_values),
                }
            ],
        )
    rows = []
    for name, by_method in outcome.new_chunk_values.items():
        if name in have_chunks:
            continue
        for method, chunk_list in by_method.items():
            for chunk, value in enumerate(chunk_list):
                rows.append(
                    {
                        "profile_id": stored.profile_id,
                        "build_id": stored.build_id,
                        "column_name": name,
                        "method": method,
                        "chunk": chunk,
                        "value": value,
                    }
                )
    if rows:
        _insert(lake, "drift_profile_chunk_values", rows)
    if outcome.report is not None:
        outcome.report.profile_id = stored.profile_id


def _edges_json(edges: np.ndarray | None) -> str | None:
    return None if edges is None else json.dumps([float(e) for e in edges])


def result_rows(ctx: RunContext, report: eng.DriftReport) -> list[dict[str, Any]]:
    """One row per column, segment and method (the chosen method first, then PSI)."""
    rows: list[dict[str, Any]] = []
    rank = {id(f): i for i, f in enumerate(report.features, start=1)}
    for drift in report.all_results():
        for result, primary in drift.results:
            t = result.thresholds
            details = dict(result.details)
            if primary and drift.unseen_examples:
                details["unseen_examples"] = [list(x) for x in drift.unseen_examples]
            rows.append(
                {
                    "run_id": ctx.run_id,
                    "model_id": ctx.model.id,
                    "model_version": ctx.model.version,
                    "target": drift.role,
                    "column_name": drift.column,
                    "kind": drift.kind,
                    "segment": drift.segment,
                    "method": result.method,
                    "is_primary": primary,
                    "method_reason": drift.method_reason if primary else "always computed",
                    "value": _finite(result.value),
                    "p_value": _finite(result.p_value),
                    "threshold_source": t.source,
                    "warning_threshold": _finite(t.warning),
                    "critical_threshold": _finite(t.critical),
                    "warning_lower": _finite(t.warning_lower),
                    "critical_lower": _finite(t.critical_lower),
                    "verdict": result.verdict,
                    "rank": rank.get(id(drift)) if drift.segment is None else None,
                    "weight": drift.weight,
                    "n_ref": result.n_ref,
                    "n_cur": result.n_cur,
                    "ref_missing_share": drift.ref_missing_share,
                    "cur_missing_share": drift.cur_missing_share,
                    "unseen_share": drift.unseen_share,
                    "window_start": ctx.current.start,
                    "window_end": ctx.current.end,
                    "reference_start": ctx.reference.start,
                    "reference_end": ctx.reference.end,
                    "profile_id": report.profile_id,
                    "details_json": json.dumps(_jsonable(details), sort_keys=True),
                }
            )
    return rows


def store_results(lake: Lake, ctx: RunContext, outcome: DriftOutcome) -> None:
    assert outcome.report is not None
    _insert(lake, "drift_results", result_rows(ctx, outcome.report))


def _finite(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def _jsonable(value: Any) -> Any:
    """JSON-safe copy: numpy scalars become Python numbers, non-finite floats None."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    return value


_TABLE_COLUMNS: dict[str, dict[str, str]] = {}


def _insert(lake: Lake, table: str, rows: list[dict[str, Any]]) -> None:
    """Insert dict rows in one statement (an Arrow table registered for the insert)."""
    if not rows:
        return
    if table not in _TABLE_COLUMNS:  # drift tables only change with a new migration
        _TABLE_COLUMNS[table] = lake.table_columns(table)
    columns = _TABLE_COLUMNS[table]
    data = pa.Table.from_pylist([{c: row.get(c) for c in columns} for row in rows])
    name = f"__dg_insert_{table}"
    lake.con.register(name, data)
    try:
        select = ", ".join(f"CAST({quote_ident(c)} AS {t})" for c, t in columns.items())
        lake.execute(f"INSERT INTO {table} SELECT {select} FROM {name}")
    finally:
        lake.con.unregister(name)


def drift_results(lake: Lake, run_id: str, *, primary_only: bool = True) -> list[dict[str, Any]]:
    """The stored drift rows of a run, features first in rank order."""
    where = "run_id = ?" + (" AND is_primary" if primary_only else "")
    return lake.records(
        f"SELECT * FROM drift_results WHERE {where} "
        "ORDER BY segment NULLS FIRST, CASE target WHEN 'feature' THEN 0 WHEN 'prediction' "
        "THEN 1 ELSE 2 END, rank NULLS LAST, column_name, is_primary DESC, method",
        [run_id],
    )


# ----------------------------------------------------------------------------- files


class DriftInputError(DataError):
    """A file given to :func:`compare_files` cannot be read or holds unusable values."""


class UnknownColumn(ConfigError, LookupError):
    """A column asked for is not in both files."""


_NUMERIC_TYPES = (
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "UHUGEINT",
    "FLOAT",
    "DOUBLE",
    "REAL",
)


@dataclass
class FileDrift:
    """Drift between two files: the report and the settings it was judged with."""

    reference: str
    current: str
    report: eng.DriftReport
    settings: DriftSettings

    def as_dict(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "current": self.current,
            "summary": _jsonable(self.report.summary(self.settings)),
            "columns": [column_dict(c) for c in self.report.features],
        }


def column_dict(drift: eng.ColumnDrift) -> dict[str, Any]:
    """A result for JSON output and tables."""
    r = drift.result
    return _jsonable(
        {
            "column": drift.column,
            "kind": drift.kind,
            "role": drift.role,
            "segment": drift.segment,
            "method": r.method,
            "method_reason": drift.method_reason,
            "value": r.value,
            "p_value": r.p_value,
            "threshold": r.compared_threshold,
            "threshold_source": r.thresholds.source,
            "verdict": r.verdict,
            "psi": drift.psi_value,
            "n_ref": r.n_ref,
            "n_cur": r.n_cur,
            "ref_missing_share": drift.ref_missing_share,
            "cur_missing_share": drift.cur_missing_share,
            "unseen_share": drift.unseen_share,
            "unseen_examples": [list(x) for x in drift.unseen_examples],
            "details": r.details,
        }
    )


def _read_relation(path: str) -> str:
    lower = path.lower()
    literal = quote_literal(path)
    if lower.endswith((".csv", ".csv.gz", ".tsv")):
        return f"read_csv_auto({literal})"
    if lower.endswith((".jsonl", ".json", ".ndjson")):
        return f"read_json_auto({literal})"
    return f"read_parquet({literal})"


def compare_files(
    reference: str | os.PathLike[str],
    current: str | os.PathLike[str],
    *,
    features: Sequence[str] | None = None,
    method: str | None = None,
    categorical: Sequence[str] = (),
    segment: str | None = None,
    settings: DriftSettings | None = None,
) -> FileDrift:
    """Drift of every column (or ``features``) between two Parquet/CSV/JSON-lines files.

    No lake is involved: DuckDB reads both files in memory. Column kinds come from the
    reference file's types (numbers are numeric, everything else categorical; list numeric
    codes in ``categorical``). ``method`` applies to every column it fits; others keep their
    default. NaN counts as missing; infinite numbers are refused.
    """
    settings = settings or DriftSettings()
    paths = {"reference": str(reference), "current": str(current)}
    for side, path in paths.items():
        if not Path(path).exists():
            raise DriftInputError(f"The {side} file {path} does not exist.")
    con = duckdb.connect()
    try:
        types: dict[str, dict[str, str]] = {}
        for side, path in paths.items():
            try:
                rows = con.execute(f"DESCRIBE SELECT * FROM {_read_relation(path)}").fetchall()
            except duckdb.Error as error:
                raise DriftInputError(f"Cannot read the {side} file {path}: {error}") from error
            types[side] = {r[0]: r[1] for r in rows}
        common = [c for c in types["reference"] if c in types["current"]]
        wanted = _names(features, common) if features else common
        categorical = _names(categorical, common)
        missing = [c for c in wanted if c not in common]
        if missing:
            raise UnknownColumn(
                f"Column(s) {', '.join(repr(c) for c in missing)} are not in both files. "
                f"Columns in both: {', '.join(common) or 'none'}."
            )
        unknown = [c for c in categorical if c not in wanted]
        if unknown:
            raise UnknownColumn(
                f"--categorical names column(s) not compared: {', '.join(map(repr, unknown))}."
            )
        if segment is not None and segment not in common:
            raise UnknownColumn(f"Segment column {segment!r} is not in both files.")
        specs = []
        for name in wanted:
            dtype = types["reference"][name].split("(")[0]
            kind = (
                "numeric" if dtype in _NUMERIC_TYPES and name not in categorical else "categorical"
            )
            specs.append(eng.ColumnSpec(name, kind))  # type: ignore[arg-type]
        if method is not None:
            settings = _with_method(settings, method, {s.kind for s in specs})
        for side, path in paths.items():
            select = []
            for spec in specs:
                col = quote_ident(spec.name)
                if spec.kind == "numeric":
                    value = f"CAST({col} AS DOUBLE)"
                    select.append(f"CASE WHEN isnan({value}) THEN NULL ELSE {value} END AS {col}")
                else:
                    select.append(f"CAST({col} AS VARCHAR) AS {col}")
            if segment is not None:
                select.append(f"CAST({quote_ident(segment)} AS VARCHAR) AS __dg_segment")
            con.execute(
                f"CREATE VIEW __dg_{side} AS SELECT {', '.join(select)} FROM {_read_relation(path)}"
            )
            for spec in specs:
                if spec.kind == "numeric":
                    (bad,) = con.execute(
                        f"SELECT count(*) FROM __dg_{side} WHERE isinf({quote_ident(spec.name)})"
                    ).fetchone() or (0,)
                    if bad:
                        raise DriftInputError(
                            f"{bad} infinite value(s) in column {spec.name!r} of the {side} file "
                            f"{path}: remove them or replace them with missing values."
                        )
        seg_sql = "__dg_segment" if segment is not None else None
        ref_source = dsql.Source("__dg_reference", segment=seg_sql)
        cur_source = dsql.Source("__dg_current", segment=seg_sql)
        profile = dsql.build_profile(con, ref_source, specs, settings, segment_column=segment)
        methods = eng.plan_methods(profile, settings)
        window = dsql.summarize_window(con, cur_source, profile)
        for name, (chosen, _) in methods.items():
            if eng.needs_exact(chosen, settings):
                values = dsql.ValueSource.from_rows(ref_source, name)
                gap = dsql.exact_gap_for(con, values, cur_source, profile.columns[name], chosen)
                if gap is not None:
                    window.exact[name] = gap
        report = eng.assess(profile, window, settings, methods=methods)
    finally:
        con.close()
    return FileDrift(paths["reference"], paths["current"], report, settings)


def _names(items: Sequence[str], columns: Sequence[str]) -> list[str]:
    """Column names given one by one or comma-separated ("a,b"); a name that itself holds a
    comma is taken whole when it is a column."""
    names: list[str] = []
    for item in items:
        if item in columns or "," not in item:
            names.append(item)
        else:
            names.extend(part.strip() for part in item.split(",") if part.strip())
    return list(dict.fromkeys(names))


def _with_method(settings: DriftSettings, method: str, kinds: set[str]) -> DriftSettings:
    """Settings where ``method`` is the method of every column kind it applies to."""
    spec = get_method(method)
    update: dict[str, Any] = {}
    if spec.applies_to("numeric"):
        update["numeric_method"] = method
    if spec.applies_to("categorical"):
        update["categorical_method"] = method
    if not any(spec.applies_to(k) for k in kinds):
        raise UnknownColumn(
            f"Drift method {method!r} applies to {' and '.join(sorted(spec.kinds))} columns, and "
            "none of the compared columns is one."
        )
    return DriftSettings.model_validate({**settings.model_dump(), **update})


STAGES.append(DriftStage())
