"""The drift stage inside monitoring runs over a real DuckLake."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from driftguard.drift import DriftStage, drift_results
from driftguard.ingest import ingest_model
from driftguard.metrics import drift_engine as eng
from driftguard.metrics import drift_sql
from driftguard.monitor import run_monitoring
from driftguard.simulate import simulate_model
from tests.helpers import good_row, landing, make_workspace, model_dict, write_rows

NOW = datetime(2026, 6, 1, 12, 30, tzinfo=UTC)
CONTRACT_KEYS = {
    "n_features",
    "n_drifted",
    "share_drifted",
    "drift_score",
    "max_psi",
    "prediction_drift",
    "label_drift",
    "insufficient",
    "top",
    "findings",
}


def credit(**drift):
    return model_dict(
        "credit",
        columns={
            "prediction_id": "prediction_id",
            "timestamp": "ts",
            "score": "score",
            "segment": "segment",
        },
        reference={"length": "3d"},
        simulation={
            "days": 6,
            "shift_days": 2,
            "rows_per_day": 900,
            "seed": 3,
            "drift": {"income": 1.0, "region": 0.4},
        },
        drift=drift,
    )


@pytest.fixture
def lake_for(tmp_path, monkeypatch):
    opened = []

    def make(**drift):
        ws = make_workspace(tmp_path, monkeypatch, [credit(**drift)])
        lake = ws.open_lake()
        opened.append(lake)
        model = ws.config.model("credit")
        simulate_model(model, ws.settings, lake=lake, now=NOW)
        ingest_model(lake, model, ws.settings)
        return ws, lake

    yield make
    for lake in opened:
        lake.close()


def monitor(ws, lake, **kwargs):
    return run_monitoring(lake, ws.config, "credit", ws.settings, as_of=NOW, **kwargs)


def test_a_run_flags_the_simulated_drift_and_stores_one_row_per_result(lake_for):
    ws, lake = lake_for()
    run = monitor(ws, lake)
    summary = run.summary["drift"]
    assert set(summary) == CONTRACT_KEYS
    verdicts = {t["feature"]: t["verdict"] for t in summary["top"]}
    # the simulation shifts income by 1 sd and moves 40% of region rows (config above)
    assert verdicts["income"] == "critical" and verdicts["region"] == "critical"
    assert summary["n_features"] == 3 and summary["prediction_drift"]["method"] == "psi"
    assert summary["label_drift"] is not None  # the simulation writes labels
    rows = drift_results(lake, run.run_id, primary_only=False)
    overall = [r for r in rows if r["segment"] is None]
    # 3 features + score + label, each with its method (PSI here: large reference)
    assert sorted((r["target"], r["column_name"]) for r in overall if r["is_primary"]) == [
        ("feature", "age"),
        ("feature", "income"),
        ("feature", "region"),
        ("label", "label"),
        ("prediction", "score"),
    ]
    assert [r["rank"] for r in overall if r["target"] == "feature"] == [1, 2, 3]
    assert all(
        r["window_start"] == run.current.start and r["window_end"] == run.current.end for r in rows
    )
    assert all(r["reference_start"] == run.reference.start for r in rows)
    segments = {r["segment"] for r in rows} - {None}
    assert segments == {"retail", "small-business", "premium"}  # simulator's segment values
    (n,) = lake.fetchone(
        "SELECT count(*) FROM predictions__credit WHERE ts >= ? AND ts < ?",
        [run.current.start, run.current.end],
    )
    income = next(r for r in overall if r["column_name"] == "income")
    assert income["n_cur"] == n and income["profile_id"]  # oracle: counting the window directly


class FailingStore:
    name = "later"

    def compute(self, lake, ctx, results):
        return None

    def store(self, lake, ctx, result, results):
        raise RuntimeError("later stage failed")

    def summary(self, result):
        return {"findings": []}


def test_drift_rows_and_profile_commit_with_the_run_or_not_at_all(lake_for):
    ws, lake = lake_for()
    with pytest.raises(RuntimeError, match="later stage failed"):
        monitor(ws, lake, stages=[DriftStage(), FailingStore()])
    for table in ("drift_results", "drift_profiles", "drift_profile_columns"):
        assert lake.fetchone(f"SELECT count(*) FROM {table}")[0] == 0, table
    run = monitor(ws, lake, stages=[DriftStage()])
    assert lake.fetchone("SELECT count(*) FROM drift_results WHERE run_id = ?", [run.run_id])[0]
    assert lake.snapshot_with_message(f"monitoring run {run.run_id}") == run.snapshot_id


def test_the_profile_is_stored_once_and_later_runs_scan_only_the_current_window(
    lake_for, monkeypatch
):
    ws, lake = lake_for()
    first = monitor(ws, lake)
    assert not first.results["drift"].report.profile_reused

    build = drift_sql.build_profile

    def no_reference_scan(con, source, specs, *args, **kwargs):
        # label drift is computed afresh every run (labels arrive late); features are not
        if [s.role for s in specs] != ["label"]:
            raise AssertionError("the reference window was profiled again")
        return build(con, source, specs, *args, **kwargs)

    monkeypatch.setattr(drift_sql, "build_profile", no_reference_scan)
    second = monitor(ws, lake, force=True)
    assert second.results["drift"].report.profile_reused
    assert second.summary["drift"] == first.summary["drift"]
    assert lake.fetchone("SELECT count(*) FROM drift_profiles")[0] == 1


def test_a_reference_that_gained_rows_is_profiled_again(lake_for, workspace_rows=40):
    ws, lake = lake_for()
    run = monitor(ws, lake)
    start = run.reference.start + timedelta(hours=1)
    late = [
        good_row(
            i,
            prediction_id=f"late{i}",
            ts=(start + timedelta(minutes=i)).isoformat(),
            segment="retail",
        )
        for i in range(workspace_rows)
    ]
    write_rows(landing(ws, "credit") / "late.parquet", late)
    ingest_model(lake, ws.config.model("credit"), ws.settings)
    again = monitor(ws, lake, force=True)
    assert again.n_reference == run.n_reference + workspace_rows
    assert not again.results["drift"].report.profile_reused
    assert lake.fetchone("SELECT count(*) FROM drift_profiles")[0] == 2


def _frames(lake, run):
    def rows(window):
        return (
            lake.con.execute(
                "SELECT * FROM predictions__credit WHERE ts >= ? AND ts < ? ORDER BY prediction_id",
                [window.start, window.end],
            )
            .to_arrow_table()
            .to_pandas()
        )

    return rows(run.reference), rows(run.current)


def _numpy_report(ws, ref: pd.DataFrame, cur: pd.DataFrame, run, *, chunks=None):
    model = ws.config.model("credit")
    s = model.drift
    specs = [
        eng.ColumnSpec(n, f.kind, "feature", f.method, f.weight) for n, f in model.features.items()
    ]
    specs.append(eng.ColumnSpec("score", "numeric", "prediction"))

    def arrays(frame):
        out = {}
        for spec in specs:
            column = frame[spec.name]
            out[spec.name] = (
                column.to_numpy(dtype=float, na_value=np.nan)
                if spec.kind == "numeric"
                else column.astype(object).where(column.notna(), None).to_numpy()
            )
        return out

    reference = arrays(ref)
    profile = eng.profile_from_arrays(
        reference,
        specs,
        s,
        segments=ref["segment"].to_numpy(),
        segment_column="segment",
        chunks=chunks,
    )
    window = eng.window_from_arrays(
        profile, arrays(cur), reference=reference, segments=cur["segment"].to_numpy()
    )
    return eng.assess(profile, window, s)


@pytest.mark.parametrize(
    "drift",
    [
        {},
        {"numeric_method": "ks", "categorical_method": "chi_square"},
        {"numeric_method": "wasserstein", "learned_thresholds": {"enabled": True}},
    ],
)
def test_the_lake_path_equals_the_numpy_reference_path(lake_for, drift):
    ws, lake = lake_for(**drift)
    run = monitor(ws, lake)
    ref, cur = _frames(lake, run)
    chunks = None
    if drift.get("learned_thresholds"):
        # oracle chunks: 3 equal slices of the 3-day reference (reference / current length)
        origin = run.reference.start.timestamp()
        seconds = (run.reference.end - run.reference.start).total_seconds() / 3
        chunks = np.minimum(
            np.floor((ref["ts"].map(lambda t: t.timestamp()).to_numpy() - origin) / seconds), 2
        ).astype(int)
    expected = _numpy_report(ws, ref, cur, run, chunks=chunks)
    stored = {
        (r["column_name"], r["segment"], r["method"]): r
        for r in drift_results(lake, run.run_id, primary_only=False)
        if r["target"] != "label"
    }
    for f in expected.all_results():
        for result, _ in f.results:
            row = stored.pop((f.column, f.segment, result.method))
            assert row["verdict"] == result.verdict, (f.column, f.segment, result.method)
            assert (row["n_ref"], row["n_cur"]) == (result.n_ref, result.n_cur)
            assert row["threshold_source"] == result.thresholds.source
            for got, want in ((row["value"], result.value), (row["p_value"], result.p_value)):
                if want is None or not math.isfinite(want):
                    assert got is None
                else:
                    assert got == pytest.approx(want, rel=1e-9, abs=1e-12)
    assert stored == {}


def test_exact_value_summaries_are_stored_and_reused(lake_for, monkeypatch):
    ws, lake = lake_for(numeric_method="ks")
    first = monitor(ws, lake)
    sets = lake.fetchall("SELECT column_name, n_values FROM drift_profile_value_sets ORDER BY 1")
    (n_distinct,) = lake.fetchone(
        "SELECT count(DISTINCT income) FROM predictions__credit WHERE ts >= ? AND ts < ?",
        [first.reference.start, first.reference.end],
    )
    assert dict(sets)["income"] == n_distinct  # oracle: distinct reference values, counted
    assert {name for name, _ in sets} == {"age", "income", "score"}

    def no_reference_rows(*args, **kwargs):
        raise AssertionError("reference values were read from the prediction rows again")

    monkeypatch.setattr(drift_sql.ValueSource, "from_rows", no_reference_rows)
    second = monitor(ws, lake, force=True)
    assert second.summary["drift"] == first.summary["drift"]


def test_disabled_drift_reports_nothing(lake_for):
    ws, lake = lake_for(enabled=False)
    run = monitor(ws, lake)
    assert run.summary["drift"]["n_features"] == 0 and run.summary["drift"]["findings"] == []
    assert lake.fetchone("SELECT count(*) FROM drift_results")[0] == 0
