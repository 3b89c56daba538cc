"""Retention, run history, events and the Prometheus textfile on a real lake."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from driftguard import audit
from driftguard.events import DRIFT_DETECTED, RISK_STATUS_CHANGED, previous_risk_status, run_events
from driftguard.history import (
    finish_pipeline_run,
    list_pipeline_runs,
    pipeline_stats,
    start_pipeline_run,
)
from driftguard.ingest import ingest_model
from driftguard.monitor import run_monitoring
from driftguard.prometheus import collect, render, write_metrics
from driftguard.retention import apply_retention, expire_snapshots
from driftguard.simulate import simulate_model
from tests.helpers import make_workspace, model_dict

NOW = datetime(2026, 6, 1, 12, 30, tzinfo=UTC)


@pytest.fixture
def ws(tmp_path, monkeypatch):
    short = {"reference": {"length": "1d"}, "current": {"length": "1d"}}
    models = [
        model_dict("credit", retention={"raw_days": 2}, **short),
        model_dict(
            "churn",
            **short,
            simulation={
                "days": 4,
                "shift_days": 2,
                "rows_per_day": 120,
                "seed": 3,
                "drift": {"income": 3.0},
            },
        ),
    ]
    workspace = make_workspace(tmp_path, monkeypatch, models)
    with workspace.open_lake() as lake:
        for model in workspace.config.models:
            simulate_model(model, workspace.settings, lake=lake, now=NOW)
            ingest_model(lake, model, workspace.settings)
    return workspace


@pytest.mark.slow  # make e2e: rewrites and expires files (the refusal rules are unit tests)
def test_retention_deletes_old_raw_rows_keeps_results_and_audits_itself(ws, tmp_path):
    cutoff = NOW - timedelta(days=2)
    with ws.open_lake() as lake:
        run = run_monitoring(lake, ws.config, "credit", ws.settings, as_of=NOW)
        (old,) = lake.fetchone("SELECT count(*) FROM predictions__credit WHERE ts < ?", [cutoff])
        (old_labels,) = lake.fetchone(
            "SELECT count(*) FROM labels__credit WHERE prediction_id IN "
            "(SELECT prediction_id FROM predictions__credit WHERE ts < ?)",
            [cutoff],
        )
        (total,) = lake.fetchone("SELECT count(*) FROM predictions__credit")
        (churn_rows,) = lake.fetchone("SELECT count(*) FROM predictions__churn")
        assert 0 < old < total  # the simulation spans 4 days, so about half is older

        dry = apply_retention(lake, ws.config, now=NOW, dry_run=True)
        assert [(r.model_id, r.predictions_deleted) for r in dry] == [("credit", old)]
        assert lake.fetchone("SELECT count(*) FROM predictions__credit")[0] == total  # untouched

        (result,) = apply_retention(lake, ws.config, now=NOW, actor="retention-bot")
        assert (result.model_id, result.predictions_deleted, result.labels_deleted) == (
            "credit",
            old,
            old_labels,
        )
        assert lake.fetchone(
            "SELECT count(*), min(ts) >= ? FROM predictions__credit", [cutoff]
        ) == (total - old, True)
        # churn has no raw_days (and no default): kept whole
        assert lake.fetchone("SELECT count(*) FROM predictions__churn")[0] == churn_rows
        # results and the run stay
        assert (
            lake.fetchone("SELECT count(*) FROM drift_results WHERE run_id = ?", [run.run_id])[0]
            > 0
        )
        (entry,) = [
            e
            for e in audit.trail(lake, resource="model:credit", event_type="retention")
            if e.action == "retention.applied"
        ]
        assert entry.actor == "retention-bot" and entry.payload["predictions_deleted"] == old

        # the deleted rows are still in files of older snapshots until those expire
        data = ws.settings.home / "lake"
        files = f"{data}/**/predictions__credit/*.parquet"
        expiry = expire_snapshots(lake, keep=timedelta(0), now=datetime.now(UTC) + timedelta(1))
        assert expiry.snapshots_expired > 0 and expiry.files_deleted > 0
        # no data file on disk holds a deleted row any more
        (on_disk_old,) = lake.fetchone(
            f"SELECT count(*) FROM read_parquet('{files}') WHERE ts < ?", [cutoff]
        )
        assert on_disk_old == 0
        assert lake.fetchone("SELECT count(*) FROM predictions__credit")[0] == total - old
        assert audit.verify(lake).status in ("ok", "unanchored")


def test_history_events_and_metrics(ws, tmp_path, monkeypatch):
    metrics_file = tmp_path / "textfiles" / "driftguard.prom"
    monkeypatch.setenv("DRIFTGUARD_METRICS_PATH", str(metrics_file))
    with ws.open_lake() as lake:
        start_pipeline_run(
            lake,
            pipeline_run_id="p1",
            flow="monitor-fleet",
            name="fleet",
            orchestrator="local",
            models=["credit", "churn"],
        )
        first = run_monitoring(lake, ws.config, "churn", ws.settings, as_of=NOW)
        second = run_monitoring(lake, ws.config, "churn", ws.settings, as_of=NOW, force=True)
        finish_pipeline_run(
            lake, "p1", run_ids=[first.run_id], findings=3, alerts=1, failed={"credit": "bad data"}
        )
        start_pipeline_run(
            lake,
            pipeline_run_id="p2",
            flow="monitor-fleet",
            name="fleet",
            orchestrator="local",
            models=["churn"],
        )
        finish_pipeline_run(lake, "p2", run_ids=[second.run_id], alerts=2)

        runs = list_pipeline_runs(lake)
        assert [r.pipeline_run_id for r in runs] == ["p2", "p1"]
        assert [r.status for r in runs] == ["completed", "failed"]
        assert [r.pipeline_run_id for r in list_pipeline_runs(lake, model_id="credit")] == ["p1"]
        stats = pipeline_stats(runs)
        # 1 of 2 finished runs completed; 1 + 2 alerts
        assert (stats.success_rate, stats.alerts, stats.monitoring_runs) == (0.5, 3, 2)

        # events: churn drifts strongly (income shifted by 3 sd); its first run sets a status
        assert previous_risk_status(lake, "churn", first.run_id) is None
        names = [e.name for e in run_events(first.as_dict(), None)]
        assert DRIFT_DETECTED in names and RISK_STATUS_CHANGED in names
        status = first.summary["risk"]["status"]
        assert previous_risk_status(lake, "churn", second.run_id) == status
        # same status as before: no status change event the second time
        assert RISK_STATUS_CHANGED not in [e.name for e in run_events(second.as_dict(), status)]
        drift_event = next(e for e in run_events(first.as_dict(), None) if e.name == DRIFT_DETECTED)
        assert drift_event.resource()["prefect.resource.id"] == "driftguard.model.churn"
        assert "income" in [f["feature"] for f in drift_event.payload["features"]]

        text = render(collect(lake, ws.config))
        path = write_metrics(lake, ws.config, ws.settings)
    assert (
        path == metrics_file and metrics_file.read_text().splitlines()[:2] == text.splitlines()[:2]
    )
    assert oct(metrics_file.stat().st_mode & 0o777) == "0o644"
    families = {f.name: f for f in text_string_to_metric_families(metrics_file.read_text())}
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in families.values()
        for s in f.samples
    }
    assert (
        samples[("driftguard_pipeline_runs", (("flow", "monitor-fleet"), ("status", "failed")))]
        == 1
    )
    assert samples[("driftguard_model_runs", (("model", "churn"),))] == 2
    assert (
        samples[("driftguard_model_drifted_features", (("model", "churn"),))]
        == second.summary["drift"]["n_drifted"]
    )
    # one-hot risk status
    statuses = [
        samples[("driftguard_model_risk_status", (("model", "churn"), ("status", s)))]
        for s in ("HEALTHY", "ATTENTION_NEEDED", "AT_RISK", "UNKNOWN")
    ]
    assert sorted(statuses) == [0, 0, 0, 1]
    assert samples[("driftguard_model_rows_ingested", (("model", "credit"),))] > 0
    assert ("driftguard_audit_chain_length", ()) in samples
    assert list(metrics_file.parent.glob(".*tmp")) == []  # no temporary file left behind


@pytest.mark.slow  # make e2e: the same steps as the flow test, without Prefect
def test_the_fleet_pipeline_without_prefect(ws, tmp_path, monkeypatch):
    from driftguard.local import run_fleet_locally

    monkeypatch.setenv("DRIFTGUARD_METRICS_PATH", str(tmp_path / "local.prom"))
    summary = run_fleet_locally(ws, as_of=NOW)
    assert summary["status"] == "completed" and summary["failed"] == {}
    assert {r["model_id"] for r in summary["runs"]} == {"credit", "churn"}
    assert summary["checkpoint"].startswith("driftguard-audit-checkpoint/1 ")
    churn = next(r for r in summary["runs"] if r["model_id"] == "churn")
    assert DRIFT_DETECTED in [e["event"] for e in churn["events"]]  # decided, not emitted
    with ws.open_lake() as lake:
        (record,) = list_pipeline_runs(lake)
    assert (record.orchestrator, record.status, len(record.run_ids)) == ("local", "completed", 2)
    assert (tmp_path / "local.prom").exists()
    report = summary["report"]  # rendered as the Prefect report task renders them
    assert {m["model_id"] for m in report["models"]} == {"credit", "churn"}
    assert all(Path(m["path"]).is_file() for m in report["models"])
    assert Path(report["fleet"]["path"]).is_file()
