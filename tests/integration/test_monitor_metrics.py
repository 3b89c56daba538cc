"""A monitoring run with the fairness, quality, performance and risk stages on a real lake."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from driftguard.config import parse_config
from driftguard.ingest import ingest_model
from driftguard.metrics.fairness import FairnessStage, ProtectedAttributeMissing
from driftguard.metrics.performance import PerformanceStage
from driftguard.metrics.quality import QualityStage
from driftguard.metrics.risk import RiskStage, latest_risk
from driftguard.monitor import STAGES, commit_message, run_monitoring
from driftguard.simulate import simulate_model
from tests.helpers import make_workspace, model_dict

NOW = datetime(2026, 6, 1, 12, 30, tzinfo=UTC)
TABLES = (
    "fairness_groups",
    "fairness_metrics",
    "quality_metrics",
    "performance_metrics",
    "risk_history",
)


def _credit(**overrides):
    return model_dict(
        "credit",
        protected_attributes=[
            {"name": "sex", "reference_group": "male", "groups": ["female", "male"]},
            {"name": "age_band", "groups": ["young", "old"]},
        ],
        simulation={
            "days": 6,
            "shift_days": 2,
            "rows_per_day": 400,
            "seed": 3,
            "disparity": {"sex": 1.2},
            "label_delay_hours": 2,
        },
        fairness={"favourable_outcome": 0, "min_group_size": 20},
        performance={"min_labelled": 30},
        **overrides,
    )


@pytest.fixture
def ws(tmp_path, monkeypatch):
    return make_workspace(tmp_path, monkeypatch, [_credit()])


@pytest.fixture
def lake(ws):
    with ws.open_lake() as opened:
        model = ws.config.model("credit")
        simulate_model(model, ws.settings, lake=opened, now=NOW)
        ingest_model(opened, model, ws.settings)
        yield opened


def test_the_registry_lists_the_stages_in_run_order():
    # this test module imported the stage modules in alphabetical order (performance before
    # quality); the stages module still puts the run in its documented order
    import driftguard.stages  # noqa: F401

    names = [s.name for s in STAGES]
    mine = ["fairness", "quality", "performance", "risk"]
    assert [n for n in names if n in mine] == mine
    if "drift" in names:
        assert names.index("drift") < names.index("fairness")


def test_one_run_writes_every_metric_table_in_one_snapshot(ws, lake):
    before = lake.snapshot_id()
    run = run_monitoring(lake, ws.config, "credit", ws.settings, as_of=NOW)
    assert run.snapshot_id == lake.snapshot_with_message(commit_message(run.run_id))
    for table in (*TABLES, "monitoring_runs"):
        (n,) = lake.fetchone(f"SELECT count(*) FROM {table} WHERE run_id = ?", [run.run_id])
        assert n > 0, table
        # nothing of the run is visible one snapshot earlier: all rows came in one commit
        (earlier,) = lake.fetchone(
            f"SELECT count(*) FROM {table} AT (VERSION => {run.snapshot_id - 1}) WHERE run_id = ?",
            [run.run_id],
        )
        assert earlier == 0, table
    assert run.snapshot_id == before + 1
    health = lake.records("SELECT * FROM model_health")
    assert len(health) == 1 and health[0]["run_id"] == run.run_id
    assert health[0]["status"] == run.summary["risk"]["status"]


def test_fairness_rows_equal_a_numpy_count_of_the_same_window(ws, lake):
    run = run_monitoring(lake, ws.config, "credit", ws.settings, as_of=NOW)
    frame = lake.con.execute(
        "SELECT p.sex, p.age_band, p.score, l.label FROM predictions__credit p LEFT JOIN "
        "(SELECT prediction_id, arg_max(label, labelled_at) AS label FROM labels__credit "
        "GROUP BY 1) l USING (prediction_id) WHERE ts >= ? AND ts < ?",
        [run.current.start, run.current.end],
    ).df()
    # oracle: numpy over the raw rows, favourable outcome 0 = score below the 0.5 threshold
    favourable = frame["score"].to_numpy() < 0.5
    stored = {
        r["group_label"]: r
        for r in lake.records(
            "SELECT * FROM fairness_groups WHERE run_id = ? AND attribute = 'sex'", [run.run_id]
        )
    }
    for group in ("female", "male"):
        mask = (frame["sex"] == group).to_numpy()
        assert stored[group]["n"] == mask.sum()
        assert stored[group]["selection_rate"] == pytest.approx(favourable[mask].mean())
        labelled = mask & frame["label"].notna().to_numpy()
        deserved = labelled & (frame["label"].to_numpy() == 0)
        assert stored[group]["tpr"] == pytest.approx(favourable[deserved].mean())
    assert stored["male"]["is_reference"] and not stored["female"]["is_reference"]
    # the simulated disparity against women shows as disparate impact below 1
    assert stored["female"]["disparate_impact"] == pytest.approx(
        stored["female"]["selection_rate"] / stored["male"]["selection_rate"]
    )
    attributes = {
        r["attribute"]
        for r in lake.records(
            "SELECT DISTINCT attribute FROM fairness_metrics WHERE run_id = ?", [run.run_id]
        )
    }
    assert attributes == {"sex", "age_band", "sex × age_band"}
    summary = run.summary["fairness"]
    assert summary["min_disparate_impact"] < 0.8
    assert any("sex: disparate impact" in f for f in summary["findings"])


def test_risk_without_drift_is_renormalised_and_says_so(ws, lake):
    stages = [FairnessStage(), QualityStage(), PerformanceStage(), RiskStage()]
    run = run_monitoring(lake, ws.config, "credit", ws.settings, as_of=NOW, stages=stages)
    risk = run.summary["risk"]
    assert risk["missing"] == ["drift"]
    assert risk["missing_reasons"] == {"drift": "the drift stage did not run"}
    assert risk["components"]["drift"] is None
    assert "weights renormalised" in risk["note"]
    assert risk["available_weight"] == pytest.approx(0.65)
    row = lake.records("SELECT * FROM risk_history WHERE run_id = ?", [run.run_id])[0]
    assert row["drift"] is None and json.loads(row["missing_json"]) == risk["missing_reasons"]
    # recompute the documented formula from the stored components
    comps = {c: row[c] for c in ("fairness", "quality", "performance")}
    weights = {"fairness": 0.25, "quality": 0.15, "performance": 0.25}
    mean = sum(weights[c] * v for c, v in comps.items()) / 0.65
    assert row["score"] == pytest.approx(0.5 * mean + 0.5 * max(comps.values()), abs=1e-5)


def test_history_and_trend_across_runs(ws, lake):
    stages = [FairnessStage(), QualityStage(), PerformanceStage(), RiskStage()]
    runs = [
        run_monitoring(
            lake, ws.config, "credit", ws.settings, as_of=NOW - timedelta(days=d), stages=stages
        )
        for d in (3, 2, 1, 0)
    ]
    rows = lake.records("SELECT run_id, score, trend FROM risk_history ORDER BY window_end")
    assert [r["run_id"] for r in rows] == [r.run_id for r in runs]
    scores = [r["score"] for r in rows if r["score"] is not None]
    from driftguard.metrics.risk import trend_of

    # the last run's trend is the documented rule over the scored runs so far (max 5)
    assert rows[-1]["trend"] == trend_of(scores[-5:], band=5.0)[0]
    assert lake.fetchone("SELECT count(*) FROM model_health")[0] == 1
    latest = latest_risk(lake, "credit")[0]
    assert latest["run_id"] == runs[-1].run_id
    assert [h["run_id"] for h in latest["history"]] == [r.run_id for r in runs]


def test_a_protected_attribute_missing_from_the_logs_is_an_error(ws, lake, tmp_path):
    data = ws.config.model_dump(exclude_none=True)
    data["models"][0]["protected_attributes"].append({"name": "religion"})
    config = parse_config(data)
    before = lake.snapshot_id()
    with pytest.raises(ProtectedAttributeMissing, match="'religion' has no value in any of the"):
        run_monitoring(lake, config, "credit", ws.settings, as_of=NOW)
    # the table gained the (empty) column, but no run was recorded
    assert lake.fetchone("SELECT count(*) FROM monitoring_runs")[0] == 0
    assert lake.snapshot_id() <= before + 1


def test_quality_counts_missing_values_and_quarantine(ws, lake):
    run = run_monitoring(lake, ws.config, "credit", ws.settings, as_of=NOW)
    rows = lake.records(
        'SELECT "check", "column", value, numerator, denominator FROM quality_metrics '
        "WHERE run_id = ?",
        [run.run_id],
    )
    by_key = {(r["check"], r["column"]): r for r in rows}
    (n, missing_income) = lake.fetchone(
        "SELECT count(*), count(*) - count(income) FROM predictions__credit "
        "WHERE ts >= ? AND ts < ?",
        [run.current.start, run.current.end],
    )
    assert by_key[("missing_rate", "income")]["value"] == pytest.approx(missing_income / n)
    # the simulator logs clean rows: nothing quarantined
    assert by_key[("quarantine_rate", None)]["value"] == 0.0
    assert np.isfinite(by_key[("volume_ratio", None)]["value"])
