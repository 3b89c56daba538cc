"""Ingestion batches and monitoring runs append their audit entries in their own transaction."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from driftguard import audit
from driftguard.ingest import ingest_model
from driftguard.monitor import RunContext, run_monitoring
from driftguard.simulate import simulate_model
from driftguard.store import Lake

NOW = datetime(2026, 6, 1, 12, 30, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]


class Stage:
    """A stage whose summary carries a chosen value and finding."""

    name = "probe"

    def __init__(self, value: Any = 1.5, finding: str | None = None, fail: bool = False):
        self.value, self.finding, self.fail = value, finding, fail

    def compute(self, lake: Lake, ctx: RunContext, results: dict[str, Any]) -> Any:
        return self.value

    def store(self, lake: Lake, ctx: RunContext, result: Any, results: dict[str, Any]) -> None:
        if self.fail:
            raise RuntimeError("store failed")

    def summary(self, result: Any) -> dict[str, Any]:
        return {"value": result, "findings": [self.finding] if self.finding else []}


@pytest.fixture
def lake(workspace):
    with workspace.open_lake() as opened:
        simulate_model(workspace.config.model("credit"), workspace.settings, lake=opened, now=NOW)
        yield opened


def _count(lake: Lake, table: str, version: int) -> int:
    return lake.fetchone(f"SELECT count(*) FROM {table} AT (VERSION => {version})")[0]


def test_every_ingested_batch_is_recorded_in_its_own_commit(workspace, lake):
    report = ingest_model(lake, workspace.config.model("credit"), workspace.settings)
    batches = [b for b in report.batches if b.status == "ingested"]
    entries = audit.trail(lake, resource="model:credit", event_type="ingest.batch")
    assert len(entries) == len(batches) > 1
    by_batch = {e.payload["batch_id"]: e for e in entries}
    for batch in batches:
        entry = by_batch[batch.batch_id]
        assert entry.references == (f"batch:{batch.batch_id}",)
        assert entry.payload["rows_accepted"] == batch.rows_accepted
        assert entry.severity == ("warning" if batch.rows_quarantined else "info")
    # each ingest commit added exactly one ledger row and one audit entry
    for snapshot in lake.snapshots(limit=100):
        if not (snapshot["commit_message"] or "").startswith("ingest "):
            continue
        version = snapshot["snapshot_id"]
        for table in ("ingest_batches", "audit_entries"):
            assert _count(lake, table, version) - _count(lake, table, version - 1) == 1
    again = ingest_model(lake, workspace.config.model("credit"), workspace.settings)
    assert again.count("ingested") == 0
    assert len(audit.trail(lake, event_type="ingest.batch", resource="credit")) == len(batches)


def test_ingestion_registers_the_hook_without_any_audit_import(workspace):
    """A fresh process that only imports driftguard.ingest still records its batches."""
    code = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(ROOT)!r})
        from driftguard.ingest import ingest_model
        from driftguard.workspace import Workspace
        ws = Workspace.load()
        with ws.open_lake() as lake:
            ingest_model(lake, ws.config.model("credit"), ws.settings)
            print(lake.fetchone("SELECT count(*) FROM audit_entries")[0])
        """
    )
    with workspace.open_lake() as lake:
        simulate_model(workspace.config.model("credit"), workspace.settings, lake=lake, now=NOW)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.split()[-1]) > 0


def test_a_monitoring_run_records_an_entry_and_a_checkpoint_in_its_commit(workspace, lake):
    ingest_model(lake, workspace.config.model("credit"), workspace.settings)
    run = run_monitoring(
        lake,
        workspace.config,
        "credit",
        workspace.settings,
        as_of=NOW,
        stages=[Stage(value=float("nan"), finding="probe found something")],
    )
    (entry,) = audit.trail(lake, event_type="monitoring.run")
    assert entry.run_id == run.run_id and entry.resource_id == "credit"
    assert entry.severity == "warning"  # the run has a finding
    assert entry.payload["summary"]["probe"]["value"] == "NaN"  # undefined metric kept as text
    assert entry.payload["findings"] == run.findings
    assert f"run:{run.run_id}" in entry.references
    checkpoint = audit.latest_checkpoint(lake)
    assert checkpoint is not None and checkpoint.size == entry.seq
    (stored_run,) = lake.fetchall("SELECT run_id FROM audit_checkpoints")
    assert stored_run == (run.run_id,)
    version = run.snapshot_id
    for table in ("monitoring_runs", "audit_checkpoints"):
        assert _count(lake, table, version) - _count(lake, table, version - 1) == 1
    assert _count(lake, "audit_entries", version) - _count(lake, "audit_entries", version - 1) == 1
    assert audit.verify(lake, checkpoints=[checkpoint]).ok


def test_a_failed_run_leaves_no_audit_trace(workspace, lake):
    before = lake.fetchone("SELECT count(*) FROM audit_entries")[0]
    with pytest.raises(RuntimeError, match="store failed"):
        run_monitoring(
            lake,
            workspace.config,
            "credit",
            workspace.settings,
            as_of=NOW,
            stages=[Stage(fail=True)],
        )
    assert lake.fetchone("SELECT count(*) FROM audit_entries")[0] == before
    assert lake.fetchone("SELECT count(*) FROM audit_checkpoints")[0] == 0


def test_a_run_on_a_tampered_log_commits_but_signs_no_checkpoint(workspace, lake):
    audit.append_many(
        lake,
        [
            {
                "event_type": "x",
                "action": "y",
                "actor": "a",
                "resource_type": "r",
                "resource_id": str(i),
            }
            for i in range(3)
        ],
    )
    audit.write_checkpoint(lake)
    lake.execute("DELETE FROM audit_entries WHERE seq = 3")  # the checkpoint's last entry
    run = run_monitoring(
        lake, workspace.config, "credit", workspace.settings, as_of=NOW, stages=[Stage()]
    )
    assert lake.fetchone("SELECT count(*) FROM monitoring_runs")[0] == 1
    (alert,) = audit.trail(lake, event_type="audit.integrity")
    assert alert.severity == "critical" and alert.run_id == run.run_id
    assert "entry 3 no longer has the chain value" in (alert.reason or "")
    assert lake.fetchone("SELECT count(*) FROM audit_checkpoints")[0] == 1  # none added
