"""Simulated logs: deterministic, drifting where asked, refusing to mix with real logs, atomic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from driftguard import simulate as simulate_module
from driftguard.config import SimulationSpec, align_down
from driftguard.simulate import SimulationRefused, generate, simulate_model
from tests.helpers import good_row, landing, write_rows

NOW = datetime(2026, 6, 1, 12, 30, tzinfo=UTC)


def test_same_seed_same_logs(workspace):
    model = workspace.config.model("credit")
    spec = SimulationSpec(days=3, shift_days=1, rows_per_day=200, seed=11)
    a, la = generate(model, spec, NOW)
    b, lb = generate(model, spec, NOW)
    assert a.equals(b) and la.equals(lb)
    c, _ = generate(model, spec.model_copy(update={"seed": 12}), NOW)
    assert not a.equals(c)


def test_drift_and_disparity_are_where_they_were_asked(workspace):
    model = workspace.config.model("credit")
    spec = SimulationSpec(
        days=6,
        shift_days=3,
        rows_per_day=3000,
        seed=5,
        drift={"income": 1.0},
        disparity={"sex": 1.5},
    )
    logs, labels = generate(model, spec, NOW)
    shift_start = align_down(NOW, timedelta(hours=1)) - timedelta(days=3)  # as documented
    shifted = logs["ts"] >= shift_start
    before, after = logs.loc[~shifted, "income"], logs.loc[shifted, "income"]
    # a one-standard-deviation shift of the mean, within sampling noise
    assert (after.mean() - before.mean()) / before.std() == pytest.approx(1.0, abs=0.15)
    age_shift = logs.loc[shifted, "age"].mean() - logs.loc[~shifted, "age"].mean()
    assert abs(age_shift) / logs["age"].std() < 0.1
    by_group = logs.groupby("sex")["score"].mean()
    assert by_group["female"] > by_group["male"] + 0.1  # the penalised group scores higher risk
    assert 0 < len(labels) < len(logs)
    assert (labels["labelled_at"] <= NOW).all()


def test_simulation_writes_files_ingestion_reads(workspace):
    model = workspace.config.model("credit")
    with workspace.open_lake() as lake:
        result = simulate_model(model, workspace.settings, lake=lake, now=NOW)
    assert result.rows > 0 and result.files
    assert all("/.tmp-" not in f for f in result.files)
    from driftguard.ingest import ingest_model

    with workspace.open_lake() as lake:
        report = ingest_model(lake, model, workspace.settings)
    assert report.rows_quarantined == 0
    assert report.as_dict()["predictions_accepted"] == result.rows
    assert report.as_dict()["labels_accepted"] == result.labels


def test_refuses_a_model_that_already_has_logs(workspace):
    write_rows(landing(workspace, "credit") / "real.parquet", [good_row(1)])
    with pytest.raises(SimulationRefused, match="already has 1 log file"):
        simulate_model(workspace.config.model("credit"), workspace.settings, now=NOW)
    assert sorted(p.name for p in landing(workspace, "credit").iterdir()) == ["real.parquet"]


def test_refuses_when_the_lake_has_rows(workspace):
    from driftguard.ingest import ingest_model

    folder = landing(workspace, "credit")
    write_rows(folder / "real.parquet", [good_row(1)])
    with workspace.open_lake() as lake:
        ingest_model(lake, workspace.config.model("credit"), workspace.settings)
        (folder / "real.parquet").unlink()  # files archived away; the lake still has logs
        with pytest.raises(SimulationRefused, match="already has logs in the lake"):
            simulate_model(workspace.config.model("credit"), workspace.settings, lake=lake)


def test_a_failed_simulation_leaves_no_files(workspace, monkeypatch):
    calls = []
    real_write = simulate_module._write

    def fail_on_third(frame, path):
        calls.append(path)
        if len(calls) == 3:
            raise OSError("disk full")
        real_write(frame, path)

    monkeypatch.setattr(simulate_module, "_write", fail_on_third)
    with pytest.raises(OSError, match="disk full"):
        simulate_model(workspace.config.model("credit"), workspace.settings, now=NOW)
    folder = landing(workspace, "credit")
    assert not any(p.is_file() for p in folder.rglob("*"))
