"""The drift summaries computed by DuckDB SQL, over the lake or over plain files.

The same :class:`~driftguard.metrics.drift_engine.ReferenceProfile` and
:class:`~driftguard.metrics.drift_engine.WindowSummary` as the numpy reference path, without
pulling rows into Python:

- reference profile: one cheap scan for counts, then exact quantile edges
  (``quantile_disc`` at the same order statistics :func:`~driftguard.metrics.drift.quantile_edges`
  picks), then one scan with ``histogram(x, edges)`` for every numeric column and
  ``histogram(c)`` for every categorical one, grouped by segment and reference chunk with
  GROUPING SETS;
- current window: ONE scan for all columns (and all segments);
- exact KS / Wasserstein, only for the columns whose method needs every value: per column, a
  join of the two windows' value counts and a running sum in value order.

Floating-point sums that feed results are taken in value order (``list(... ORDER BY v)``), so a
run gives the same numbers every time regardless of threads. Column names always pass through
:func:`driftguard.sql.quote_ident`; values are bound parameters.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from driftguard.config import DriftSettings
from driftguard.metrics import drift as m
from driftguard.metrics.drift_engine import (
    CategoricalSummary,
    ColumnProfile,
    ColumnSpec,
    ExactGap,
    NumericSummary,
    ReferenceProfile,
    Summary,
    WindowSummary,
)
from driftguard.partitions import END, START, Fanout
from driftguard.sql import quote_ident

#: Exact quantiles hold every value of their columns in memory: at most this many values per
#: scan (about 200 MB of doubles), so peak memory stays bounded as the reference grows.
QUANTILE_VALUES_PER_SCAN = 24_000_000


@dataclass(frozen=True)
class Source:
    """Rows to summarise: a relation, a filter and its (named) parameters.

    ``expressions`` overrides the SQL of a column (e.g. a label cast to text); by default a
    column is read by its quoted name.
    """

    relation: str
    where: str = "TRUE"
    params: Mapping[str, Any] = field(default_factory=dict)
    expressions: Mapping[str, str] = field(default_factory=dict)
    #: SQL of the segment value (None: no segments) and of the reference chunk number.
    segment: str | None = None
    chunk: str | None = None
    chunk_params: Mapping[str, Any] = field(default_factory=dict)

    def column(self, name: str) -> str:
        return self.expressions.get(name) or quote_ident(name)

    def query(self, select: str, *, extra_where: str = "", group: str = "") -> str:
        where = f"({self.where})" + (f" AND ({extra_where})" if extra_where else "")
        return f"SELECT {select} FROM {self.relation} WHERE {where} {group}"


def _params(source: Source, **more: Any) -> dict[str, Any]:
    return {**source.params, **source.chunk_params, **more}


#: Quoted identifiers and string literals (skipped), or a named parameter ($name).
_TOKENS = re.compile(r'"(?:[^"]|"")*"|\'(?:[^\']|\'\')*\'|\$([A-Za-z_][A-Za-z0-9_]*)')


def bind(sql: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """The named parameters ``sql`` uses (DuckDB refuses unused ones)."""
    used = {m.group(1) for m in _TOKENS.finditer(sql) if m.group(1)}
    return {k: v for k, v in params.items() if k in used}


def _run(con: Any, sql: str, params: Mapping[str, Any]) -> Any:
    return con.execute(sql, bind(sql, params))


# ----------------------------------------------------------------------------- profile


def build_profile(
    con: Any,
    source: Source,
    specs: Sequence[ColumnSpec],
    settings: DriftSettings,
    *,
    segment_column: str | None = None,
    chunks: bool = False,
    fanout: Fanout | None = None,
    label: str = "drift reference",
) -> ReferenceProfile:
    """A reference profile of ``source`` (see the module docstring for the scans).

    With ``fanout``, the histogram scan runs per time slice and the counts are summed
    (:mod:`driftguard.partitions`); the quantile edges are always computed here.
    """
    numeric = [s for s in specs if s.kind == "numeric"]
    select = ["count(*)"] + [f"count({source.column(s.name)})" for s in numeric]
    row = _run(con, source.query(", ".join(select)), _params(source)).fetchone()
    n_rows = int(row[0])
    present = {s.name: int(n) for s, n in zip(numeric, row[1:], strict=True)}
    edges = _quantile_edges(con, source, numeric, present, settings.bins)
    fine = None
    if settings.ks_mode == "binned":
        fine = _quantile_edges(con, source, numeric, present, settings.ks_bins)
    columns = {
        s.name: ColumnProfile(
            spec=s,
            reference=CategoricalSummary(0, 0, {}),
            edges=edges.get(s.name),
            fine_edges=None if fine is None else fine.get(s.name),
        )
        for s in specs
    }
    profile = ReferenceProfile(
        n_rows=n_rows,
        columns=columns,
        bins=settings.bins,
        ks_bins=settings.ks_bins if settings.ks_mode == "binned" else None,
        segment_column=segment_column if source.segment else None,
    )
    groups = _histograms(
        con,
        source,
        columns,
        segments=bool(source.segment),
        chunks=chunks,
        fanout=fanout,
        label=label,
    )
    for (scope, key), summaries in groups.items():
        for name, summary in summaries.items():
            col = columns[name]
            if scope == "all":
                col.reference = summary
            elif scope == "segment":
                col.segments[key] = summary
            else:
                col.chunks[int(key)] = summary
    profile.n_chunks = len({k for scope, k in groups if scope == "chunk"})
    return profile


def _quantile_edges(
    con: Any,
    source: Source,
    numeric: Sequence[ColumnSpec],
    present: Mapping[str, int],
    bins: int,
) -> dict[str, np.ndarray]:
    """Exact reference quantile edges, the same order statistics as numpy's path."""
    edges: dict[str, np.ndarray] = {s.name: np.array([]) for s in numeric}
    wanted = [s for s in numeric if present[s.name] > 0]
    batch: list[ColumnSpec] = []
    for spec in wanted:
        batch.append(spec)
        held = sum(present[s.name] for s in batch)
        if held >= QUANTILE_VALUES_PER_SCAN or spec is wanted[-1]:
            params = _params(source)
            select = []
            for i, s in enumerate(batch):
                n = present[s.name]
                # quantile_disc(x, q) is x_(ceil(n q) - 1): (j + 0.5) / n selects x_(j) exactly
                params[f"q{i}"] = [(j + 0.5) / n for j in m.quantile_positions(n, bins)]
                select.append(f"quantile_disc({source.column(s.name)}::DOUBLE, $q{i})")
            row = _run(con, source.query(", ".join(select)), params).fetchone()
            for s, values in zip(batch, row, strict=True):
                edges[s.name] = np.unique(np.asarray(values, dtype=float))
            batch = []
    return edges


def _histograms(
    con: Any,
    source: Source,
    columns: Mapping[str, ColumnProfile],
    *,
    segments: bool,
    chunks: bool,
    fanout: Fanout | None = None,
    label: str = "drift",
) -> dict[tuple[str, str], dict[str, Summary]]:
    """One scan: every column's bins, overall and per segment / chunk (GROUPING SETS).

    With ``fanout`` (and a source bounded by ``$w_start``/``$w_end``), one scan per time
    slice instead, whose summaries are added up: the same counts as one scan.
    """
    params = _params(source)
    select = ["count(*)"]
    for i, (name, col) in enumerate(columns.items()):
        expr = source.column(name)
        if col.spec.kind == "numeric":
            params[f"e{i}"] = [float(e) for e in (col.edges if col.edges is not None else [])]
            select += [f"count({expr})", f"histogram({expr}::DOUBLE, $e{i}::DOUBLE[])"]
            if col.fine_edges is not None:
                params[f"f{i}"] = [float(e) for e in col.fine_edges]
                select.append(f"histogram({expr}::DOUBLE, $f{i}::DOUBLE[])")
        else:
            select += [f"count({expr})", f"histogram({expr}::VARCHAR)"]
    keys, sets = [], ["()"]
    if segments and source.segment:
        keys.append(f"{source.segment}::VARCHAR")
        sets.append(f"({source.segment}::VARCHAR)")
    if chunks and source.chunk:
        keys.append(source.chunk)
        sets.append(f"({source.chunk})")
    group = ""
    key_select = ""
    if keys:
        key_select = f"grouping({', '.join(keys)}), " + ", ".join(keys) + ", "
        group = f"GROUP BY GROUPING SETS ({', '.join(sets)})"
    sql = source.query(key_select + ", ".join(select), group=group)
    bound = bind(sql, params)
    if fanout is not None and START in bound and END in bound:
        rows = [row for part in fanout.rows(sql, bound, label=label) for row in part]
    else:
        rows = con.execute(sql, bound).fetchall()
    out: dict[tuple[str, str], dict[str, Summary]] = {}
    for row in rows:
        values = list(row)
        scope, key = "all", ""
        if keys:
            bits = int(values[0])
            key_values = values[1 : 1 + len(keys)]
            values = values[1 + len(keys) :]
            scope, key = _scope(bits, key_values, segments and bool(source.segment), len(keys))
            if scope == "skip":
                continue
        parsed = _parse_row(values, columns)
        if (scope, key) in out:  # another time slice of the same group
            parsed = {n: merge_summaries(out[(scope, key)][n], x) for n, x in parsed.items()}
        out[(scope, key)] = parsed
    if ("all", "") not in out:  # an empty relation still has one summary
        out[("all", "")] = _parse_row([0] * (1 + 3 * len(columns)), columns)
    return out


def _scope(bits: int, key_values: list[Any], has_segment: bool, n_keys: int) -> tuple[str, str]:
    """Which grouping set a row belongs to (GROUPING() bit i set = key i rolled up)."""
    if bits == (1 << n_keys) - 1:
        return "all", ""
    if has_segment and not bits & (1 << (n_keys - 1)):
        value = key_values[0]
        return ("segment", str(value)) if value is not None else ("skip", "")
    value = key_values[-1]
    return ("chunk", str(int(value))) if value is not None else ("skip", "")


def _parse_row(values: list[Any], columns: Mapping[str, ColumnProfile]) -> dict[str, Summary]:
    n_rows = int(values[0] or 0)
    position = 1
    out: dict[str, Summary] = {}
    for name, col in columns.items():
        present = int(values[position] or 0)
        if col.spec.kind == "numeric":
            edges = col.edges if col.edges is not None else np.array([])
            bins = _bin_counts(values[position + 1], edges)
            position += 2
            fine = None
            if col.fine_edges is not None:
                fine = _bin_counts(values[position], col.fine_edges)
                position += 1
            out[name] = NumericSummary(n_rows, n_rows - present, bins, fine)
        else:
            counts = {str(k): int(v) for k, v in (values[position + 1] or {}).items()}
            position += 2
            out[name] = CategoricalSummary(n_rows, n_rows - present, dict(sorted(counts.items())))
    return out


def merge_summaries(a: Summary, b: Summary) -> Summary:
    """The summary of two disjoint sets of rows: counts add up (exactly: integers)."""
    if isinstance(a, NumericSummary) and isinstance(b, NumericSummary):
        fine = None if a.fine is None or b.fine is None else a.fine + b.fine
        return NumericSummary(a.n_rows + b.n_rows, a.n_missing + b.n_missing, a.bins + b.bins, fine)
    assert isinstance(a, CategoricalSummary) and isinstance(b, CategoricalSummary)
    counts = dict(a.counts)
    for category, n in b.counts.items():
        counts[category] = counts.get(category, 0) + n
    return CategoricalSummary(
        a.n_rows + b.n_rows, a.n_missing + b.n_missing, dict(sorted(counts.items()))
    )


def _bin_counts(histogram: Mapping[float, int] | None, edges: np.ndarray) -> np.ndarray:
    """DuckDB's histogram(x, edges) map -> counts per right-closed bin, overflow last."""
    hist = dict(histogram or {})
    counts = [int(hist.get(float(e), 0)) for e in edges]
    counts.append(int(hist.get(math.inf, 0)))
    return np.asarray(counts, dtype=np.int64)


# ----------------------------------------------------------------------------- current window


def summarize_window(
    con: Any,
    source: Source,
    profile: ReferenceProfile,
    *,
    fanout: Fanout | None = None,
    label: str = "drift current",
) -> WindowSummary:
    """The current window binned on the profile's edges: one scan, all columns, all segments
    (or one scan per time slice with ``fanout``, summed)."""
    groups = _histograms(
        con,
        source,
        profile.columns,
        segments=bool(source.segment),
        chunks=False,
        fanout=fanout,
        label=label,
    )
    all_rows = groups.pop(("all", ""))
    n_rows = next(iter(all_rows.values())).n_rows if all_rows else 0
    window = WindowSummary(n_rows=n_rows, columns=all_rows)
    for (scope, key), summaries in groups.items():
        if scope == "segment":
            window.segments[key] = summaries
    return window


# ----------------------------------------------------------------------------- exact methods


@dataclass(frozen=True)
class ValueSource:
    """The reference's distinct values with counts for one column, as a SQL relation
    ``(v DOUBLE, c BIGINT)``: from a stored profile or straight from the reference rows."""

    sql: str
    params: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_rows(cls, source: Source, column: str) -> ValueSource:
        expr = source.column(column)
        sql = source.query(
            f"{expr}::DOUBLE AS v, count(*) AS c",
            extra_where=f"{expr} IS NOT NULL",
            group="GROUP BY 1",
        )
        return cls(sql, _params(source))


def exact_gap_sql(
    con: Any,
    reference: ValueSource,
    current: Source,
    column: str,
    *,
    distance: bool = True,
    shift: float = 0.0,
) -> ExactGap | None:
    """KS numerator (and, with ``distance``, Wasserstein integral and reference std) of one
    column, inside DuckDB.

    One sort of the reference's distinct values (with counts) and the current window's values:
    a running sum over a RANGE frame gives, on every row, A and B = reference and current
    counts up to and including its value (ties included), so numerator = max |A·n_c − B·n_r|
    (HUGEINT, exact) and W1 = Σ |A/n_r − B/n_c|·(next v − v), summed in value order so the
    result does not depend on threads. The reference variance comes from running sums of
    (v − shift) and (v − shift)², ``shift`` being a value near the centre (the median edge) so
    the subtraction loses no precision.
    """
    expr = current.column(column)
    cur = current.query(f"{expr}::DOUBLE AS v", extra_where=f"{expr} IS NOT NULL")
    # both windows may bind the same parameter names ($w_start, ...): rename the reference's
    ref_sql, ref_params = _prefixed(reference.sql, reference.params, "ref_")
    extra_cols = extra_select = ""
    if distance:
        extra_cols = (
            ", lead(v) OVER (ORDER BY v) AS nv, sum(rc * (v - $shift)) OVER o AS s1,"
            " sum(rc * (v - $shift) * (v - $shift)) OVER o AS s2"
        )
        extra_select = (
            ", sum(abs(a / n.nr - b / n.nc) * (nv - v) ORDER BY v), arg_max(s1, v), arg_max(s2, v)"
        )
    sql = f"""
    WITH r AS ({ref_sql}),
         c AS ({cur}),
         n AS (SELECT (SELECT sum(c) FROM r)::BIGINT AS nr, (SELECT count(*) FROM c)::BIGINT AS nc),
         u AS (SELECT v, c AS rc, 0 AS cc FROM r UNION ALL SELECT v, 0 AS rc, 1 AS cc FROM c),
         w AS (SELECT v, sum(rc) OVER o AS a, sum(cc) OVER o AS b {extra_cols}
               FROM u WINDOW o AS (ORDER BY v RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW))
    SELECT n.nr, n.nc, max(abs(a::HUGEINT * n.nc - b::HUGEINT * n.nr)) {extra_select}
    FROM w, n GROUP BY n.nr, n.nc
    """
    params = {**ref_params, **_params(current), "shift": shift}
    row = _run(con, sql, params).fetchone()
    if row is None or not row[0] or not row[1]:
        return None
    nr, nc, numerator = int(row[0]), int(row[1]), int(row[2])
    if not distance:
        return ExactGap(numerator, math.nan, nr, nc, math.nan)
    w1, s1, s2 = row[3], row[4], row[5]
    mean = s1 / nr
    std = math.sqrt(max(s2 / nr - mean * mean, 0.0))
    return ExactGap(numerator, float(w1 or 0.0), nr, nc, std)


def exact_gap_for(
    con: Any, reference: ValueSource, current: Source, col: ColumnProfile, method: str
) -> ExactGap | None:
    """The exact gap a method needs: the Wasserstein integral only for ``wasserstein``."""
    edges = col.edges if col.edges is not None and col.edges.size else np.array([0.0])
    return exact_gap_sql(
        con,
        reference,
        current,
        col.spec.name,
        distance=method == "wasserstein",
        shift=float(edges[edges.size // 2]),
    )


def _prefixed(sql: str, params: Mapping[str, Any], prefix: str) -> tuple[str, dict[str, Any]]:
    """Rename the named parameters of ``sql`` so two sources can share one statement
    (both windows bind ``$w_start``, for instance)."""

    def rename(match: re.Match[str]) -> str:
        name = match.group(1)
        return f"${prefix}{name}" if name in params else match.group(0)

    return _TOKENS.sub(rename, sql), {f"{prefix}{k}": v for k, v in params.items()}


def exact_chunk_values_sql(
    con: Any, source: Source, column: str, *, min_sample_size: int
) -> dict[str, list[float | None]]:
    """KS statistic and normalised Wasserstein of every reference chunk against the whole
    reference (for learned thresholds)."""
    if not source.chunk:
        return {}
    expr = source.column(column)
    cv = source.query(
        f"{source.chunk} AS k, {expr}::DOUBLE AS v, count(*) AS c",
        extra_where=f"{expr} IS NOT NULL",
        group="GROUP BY 1, 2",
    )
    sql = f"""
    WITH cv AS ({cv}),
         rv AS (SELECT v, sum(c) AS c FROM cv GROUP BY v),
         nr AS (SELECT sum(c)::BIGINT AS nr FROM rv),
         mean AS (SELECT sum(c * v ORDER BY v) / (SELECT nr FROM nr) AS mu FROM rv),
         sd AS (SELECT sqrt(sum(c * (v - mu) * (v - mu) ORDER BY v) / (SELECT nr FROM nr)) AS sd
                FROM rv, mean),
         ks AS (SELECT k, sum(c)::BIGINT AS nk FROM cv GROUP BY k),
         grid AS (SELECT ks.k, rv.v, rv.c AS rc, coalesce(cv.c, 0) AS cc
                  FROM ks CROSS JOIN rv LEFT JOIN cv ON cv.k = ks.k AND cv.v = rv.v),
         w AS (SELECT k, v, sum(rc) OVER o AS a, sum(cc) OVER o AS b, lead(v) OVER o AS nv
               FROM grid WINDOW o AS (PARTITION BY k ORDER BY v
                                      ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW))
    SELECT w.k, ks.nk, nr.nr,
           max(abs(a::HUGEINT * ks.nk - b::HUGEINT * nr.nr)),
           sum(abs(a / nr.nr - b / ks.nk) * (nv - v) ORDER BY v),
           sd.sd
    FROM w JOIN ks USING (k), nr, sd
    GROUP BY w.k, ks.nk, nr.nr, sd.sd ORDER BY w.k
    """
    rows = _run(con, sql, _params(source)).fetchall()
    ks: list[float | None] = []
    wd: list[float | None] = []
    for _, nk, nr, numerator, distance, sd in rows:
        if min(int(nk), int(nr)) < min_sample_size:
            ks.append(None)
            wd.append(None)
            continue
        ks.append(int(numerator) / (int(nr) * int(nk)))
        wd.append(float(distance or 0.0) / (float(sd) if sd else 1.0))
    return {"ks": ks, "wasserstein": wd}
