"""The SQL path (DuckDB) gives the same summaries and results as the numpy reference path."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

from driftguard.config import DriftSettings
from driftguard.metrics import drift_engine as eng
from driftguard.metrics import drift_sql as dsql

SPECS = [
    eng.ColumnSpec("x", "numeric"),
    eng.ColumnSpec("y", "numeric"),
    eng.ColumnSpec("c", "categorical"),
]


def both_paths(
    ref: pd.DataFrame, cur: pd.DataFrame, s: DriftSettings, *, segments=False, chunks=False
):
    """Profile, window and report from numpy and from DuckDB over the same frames."""
    con = duckdb.connect()
    con.register("ref_rows", ref)
    con.register("cur_rows", cur)
    seg = '"seg"' if segments else None
    ref_source = dsql.Source("ref_rows", segment=seg, chunk='"chunk"' if chunks else None)
    cur_source = dsql.Source("cur_rows", segment=seg)
    sql_profile = dsql.build_profile(
        con, ref_source, SPECS, s, segment_column="seg" if segments else None, chunks=chunks
    )
    sql_window = dsql.summarize_window(con, cur_source, sql_profile)
    columns = {sp.name: ref[sp.name].to_numpy() for sp in SPECS}
    current = {sp.name: cur[sp.name].to_numpy() for sp in SPECS}
    np_profile = eng.profile_from_arrays(
        columns,
        SPECS,
        s,
        segments=ref["seg"].to_numpy() if segments else None,
        segment_column="seg" if segments else None,
        chunks=ref["chunk"].to_numpy() if chunks else None,
    )
    np_window = eng.window_from_arrays(
        np_profile, current, reference=columns, segments=cur["seg"].to_numpy() if segments else None
    )
    for name in ("x", "y"):
        edges = sql_profile.columns[name].edges
        gap = dsql.exact_gap_sql(
            con,
            dsql.ValueSource.from_rows(ref_source, name),
            cur_source,
            name,
            shift=float(edges[edges.size // 2]) if edges.size else 0.0,
        )
        if gap is not None:
            sql_window.exact[name] = gap
        if chunks:
            sql_profile.columns[name].chunk_values = dsql.exact_chunk_values_sql(
                con, ref_source, name, min_sample_size=s.min_sample_size
            )
    return (np_profile, np_window), (sql_profile, sql_window)


def assert_same_summary(a: eng.Summary, b: eng.Summary) -> None:
    assert type(a) is type(b)
    assert (a.n_rows, a.n_missing) == (b.n_rows, b.n_missing)
    if isinstance(a, eng.NumericSummary):
        assert a.bins.tolist() == b.bins.tolist()
        assert (a.fine is None) == (b.fine is None)
        if a.fine is not None:
            assert a.fine.tolist() == b.fine.tolist()
    else:
        assert a.counts == b.counts


def assert_same_profile(p: eng.ReferenceProfile, q: eng.ReferenceProfile) -> None:
    assert p.n_rows == q.n_rows and p.columns.keys() == q.columns.keys()
    for name in p.columns:
        a, b = p.columns[name], q.columns[name]
        if a.edges is not None:
            assert a.edges.tolist() == b.edges.tolist()  # bit-identical quantile edges
        assert_same_summary(a.reference, b.reference)
        assert a.segments.keys() == b.segments.keys()
        for k in a.segments:
            assert_same_summary(a.segments[k], b.segments[k])
        assert a.chunks.keys() == b.chunks.keys()
        for k in a.chunks:
            assert_same_summary(a.chunks[k], b.chunks[k])


def assert_same_report(r1: eng.DriftReport, r2: eng.DriftReport) -> None:
    rows1, rows2 = r1.all_results(), r2.all_results()
    assert [(f.column, f.segment, f.method, f.verdict) for f in rows1] == [
        (f.column, f.segment, f.method, f.verdict) for f in rows2
    ]
    for f, g in zip(rows1, rows2, strict=True):
        for a, b in ((f.result, g.result), (f.psi, g.psi)):
            if a is None:
                assert b is None
                continue
            assert (a.n_ref, a.n_cur) == (b.n_ref, b.n_cur)
            for x, y in ((a.value, b.value), (a.p_value, b.p_value)):
                assert (x is None) == (y is None)
                if x is not None:
                    # floating sums in another order: the last bits may differ
                    assert x == pytest.approx(y, rel=1e-10, abs=1e-14)


def frame(rng: np.random.Generator, n: int, shift: float, missing: float) -> pd.DataFrame:
    x = np.round(rng.normal(shift, 1, n), 1)  # rounding: many ties, edges on data values
    x[rng.random(n) < missing] = np.nan
    return pd.DataFrame(
        {
            "x": x,
            "y": rng.integers(0, 4, n).astype(float),  # few distinct values: duplicate edges
            "c": rng.choice(
                np.array(["a", "b", "c", None], dtype=object), n, p=[0.5, 0.3, 0.1, 0.1]
            ),
            "seg": rng.choice(["s1", "s2", "s3"], n),
            "chunk": rng.integers(0, 5, n),
        }
    )


@pytest.mark.parametrize("ks_mode", ["exact", "binned"])
def test_sql_and_numpy_agree_on_a_drifted_window(ks_mode):
    rng = np.random.default_rng(8)
    ref, cur = frame(rng, 4000, 0.0, 0.02), frame(rng, 2500, 0.3, 0.1)
    cur.loc[:40, "c"] = "new"
    s = DriftSettings(ks_mode=ks_mode, ks_bins=64, learned_thresholds={"enabled": True})
    (np_profile, np_window), (sql_profile, sql_window) = both_paths(
        ref, cur, s, segments=True, chunks=True
    )
    assert_same_profile(np_profile, sql_profile)
    for name in ("x", "y"):
        a, b = np_window.exact[name], sql_window.exact[name]
        assert (a.numerator, a.n_ref, a.n_cur) == (b.numerator, b.n_ref, b.n_cur)  # integers
        assert a.distance == pytest.approx(b.distance, rel=1e-12)
        assert a.ref_std == pytest.approx(b.ref_std, rel=1e-12)
    for method in ("psi", "ks", "wasserstein", "jensen_shannon", "kl"):
        st = DriftSettings(
            ks_mode=ks_mode,
            ks_bins=64,
            numeric_method=method,
            learned_thresholds={"enabled": True},
        )
        assert_same_report(
            eng.assess(np_profile, np_window, st), eng.assess(sql_profile, sql_window, st)
        )
    for method in ("chi_square", "z_test", "jensen_shannon"):
        st = DriftSettings(categorical_method=method)
        assert_same_report(
            eng.assess(np_profile, np_window, st), eng.assess(sql_profile, sql_window, st)
        )


@settings(max_examples=40, deadline=None)
@given(
    hs.integers(1, 300),
    hs.integers(1, 300),
    hs.floats(0, 1),
    hs.floats(0, 0.5),
    hs.integers(2, 12),
    hs.integers(0, 2**32 - 1),
)
def test_sql_and_numpy_agree_property(n_ref, n_cur, shift, missing, bins, seed):
    rng = np.random.default_rng(seed)
    ref, cur = frame(rng, n_ref, 0.0, missing), frame(rng, n_cur, shift, missing)
    s = DriftSettings(bins=bins, min_sample_size=5)
    (np_profile, np_window), (sql_profile, sql_window) = both_paths(ref, cur, s, segments=True)
    assert_same_profile(np_profile, sql_profile)
    assert np_window.exact.keys() == sql_window.exact.keys()
    for name, a in np_window.exact.items():
        b = sql_window.exact[name]
        assert (a.numerator, a.n_ref, a.n_cur) == (b.numerator, b.n_ref, b.n_cur)
    for method in ("psi", "ks", "wasserstein"):
        st = DriftSettings(bins=bins, min_sample_size=5, numeric_method=method)
        assert_same_report(
            eng.assess(np_profile, np_window, st), eng.assess(sql_profile, sql_window, st)
        )


@settings(max_examples=60, deadline=None)
@given(hs.lists(hs.floats(-1e6, 1e6), min_size=1, max_size=500), hs.integers(2, 50))
def test_duckdb_picks_the_same_quantile_edges(values, bins):
    # pins DuckDB's quantile_disc to the order statistics numpy indexing picks
    con = duckdb.connect()
    con.register("rows", pd.DataFrame({"x": values}))
    spec = eng.ColumnSpec("x", "numeric")
    profile = dsql.build_profile(con, dsql.Source("rows"), [spec], DriftSettings(bins=bins))
    from driftguard.metrics.drift import quantile_edges

    assert profile.columns["x"].edges.tolist() == quantile_edges(values, bins=bins).tolist()


def test_an_empty_current_window_is_insufficient():
    rng = np.random.default_rng(3)
    ref = frame(rng, 500, 0.0, 0.0)
    cur = ref.iloc[:0]
    (np_profile, np_window), (sql_profile, sql_window) = both_paths(ref, cur, DriftSettings())
    report = eng.assess(sql_profile, sql_window, DriftSettings())
    assert {f.verdict for f in report.features} == {"insufficient_data"}
    assert_same_report(eng.assess(np_profile, np_window, DriftSettings()), report)
