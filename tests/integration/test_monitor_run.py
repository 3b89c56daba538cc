"""The monitoring run: one transaction for every stage, idempotent per window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from driftguard.config import Window
from driftguard.ingest import ingest_model
from driftguard.monitor import RunContext, load_run, recent_runs, run_monitoring
from driftguard.simulate import simulate_model
from driftguard.store import Lake

NOW = datetime(2026, 6, 1, 12, 30, tzinfo=UTC)


class RecordingStage:
    """A stage that writes one row per run, optionally failing in either phase."""

    name = "recording"

    def __init__(self, fail_in: str | None = None):
        self.fail_in = fail_in

    def compute(self, lake: Lake, ctx: RunContext, results: dict[str, Any]) -> int:
        if self.fail_in == "compute":
            raise RuntimeError("compute failed")
        return ctx.n_current

    def store(self, lake: Lake, ctx: RunContext, result: int, results: dict[str, Any]) -> None:
        lake.execute("CREATE TABLE IF NOT EXISTS stage_rows (run_id VARCHAR, n BIGINT)")
        lake.execute("INSERT INTO stage_rows VALUES (?, ?)", [ctx.run_id, result])
        if self.fail_in == "store":
            raise RuntimeError("store failed")

    def summary(self, result: int) -> dict[str, Any]:
        return {"n": result, "findings": [] if result else ["no rows"]}


@pytest.fixture
def lake(workspace):
    with workspace.open_lake() as opened:
        model = workspace.config.model("credit")
        simulate_model(model, workspace.settings, lake=opened, now=NOW)
        ingest_model(opened, model, workspace.settings)
        yield opened


def test_a_run_counts_windows_and_is_stored(workspace, lake):
    run = run_monitoring(
        lake, workspace.config, "credit", workspace.settings, as_of=NOW, stages=[RecordingStage()]
    )
    assert run.current == Window(
        start=datetime(2026, 5, 31, tzinfo=UTC), end=datetime(2026, 6, 1, tzinfo=UTC)
    )
    assert run.reference.end == run.current.start
    # oracle: count the window directly
    (n,) = lake.fetchone(
        "SELECT count(*) FROM predictions__credit WHERE ts >= ? AND ts < ?",
        [run.current.start, run.current.end],
    )
    assert run.n_current == n > 0
    assert run.snapshot_id == lake.snapshot_id()
    stored = load_run(lake, run.run_id)
    assert stored.summary == {"recording": {"n": n, "findings": []}}
    assert stored.snapshot_id == run.snapshot_id
    assert lake.fetchall("SELECT run_id, n FROM stage_rows") == [(run.run_id, n)]


def test_rerunning_a_window_reuses_the_run_unless_forced(workspace, lake):
    first = run_monitoring(
        lake, workspace.config, "credit", workspace.settings, as_of=NOW, stages=[RecordingStage()]
    )
    again = run_monitoring(
        lake,
        workspace.config,
        "credit",
        workspace.settings,
        as_of=NOW + timedelta(minutes=5),
        stages=[RecordingStage()],
    )
    assert again.reused and again.run_id == first.run_id
    assert again.snapshot_id == first.snapshot_id
    forced = run_monitoring(
        lake,
        workspace.config,
        "credit",
        workspace.settings,
        as_of=NOW,
        force=True,
        stages=[RecordingStage()],
    )
    assert forced.run_id != first.run_id
    assert [r.run_id for r in recent_runs(lake, "credit")] == [forced.run_id, first.run_id]


@pytest.mark.parametrize("phase", ["compute", "store"])
def test_a_failing_stage_leaves_no_trace(workspace, lake, phase):
    before = lake.snapshot_id()
    with pytest.raises(RuntimeError, match=f"{phase} failed"):
        run_monitoring(
            lake,
            workspace.config,
            "credit",
            workspace.settings,
            as_of=NOW,
            stages=[RecordingStage(fail_in=phase)],
        )
    assert lake.snapshot_id() == before
    assert lake.fetchone("SELECT count(*) FROM monitoring_runs")[0] == 0


def test_an_empty_window_is_a_finding(workspace, lake):
    run = run_monitoring(
        lake,
        workspace.config,
        "credit",
        workspace.settings,
        current=Window(
            start=datetime(2020, 1, 1, tzinfo=UTC), end=datetime(2020, 1, 2, tzinfo=UTC)
        ),
        stages=[],
    )
    assert run.n_current == 0
    assert "the current window holds no predictions" in run.findings
