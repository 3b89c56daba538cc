"""Backup and restore drill: back up, destroy, restore, and the audit chain verifies against
the checkpoint taken before the backup."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime

import pytest

from driftguard import audit
from driftguard.backup import (
    BackupCorrupt,
    BackupUnsupported,
    RestoreRefused,
    backup,
    check_backup,
    restore,
)
from driftguard.config import Settings
from driftguard.ingest import ingest_model
from driftguard.monitor import run_monitoring
from driftguard.simulate import simulate_model

NOW = datetime(2026, 6, 1, 12, 30, tzinfo=UTC)


@pytest.fixture
def filled(workspace, request):
    if request.config.getoption("--lake") != "embedded":
        pytest.skip("backup and restore cover the embedded SQLite catalog; PostgreSQL uses pg_dump")
    with workspace.open_lake() as lake:
        for model in workspace.config.models:
            simulate_model(model, workspace.settings, lake=lake, now=NOW)
            ingest_model(lake, model, workspace.settings)
        run_monitoring(lake, workspace.config, "credit", workspace.settings, as_of=NOW)
    return workspace


def _counts(ws):
    with ws.open_lake() as lake:
        return {
            table: lake.fetchone(f"SELECT count(*) FROM {table}")[0]
            for table in (
                "predictions__credit",
                "labels__churn",
                "monitoring_runs",
                "audit_entries",
                "drift_results",
            )
        }


def test_restore_drill(filled, tmp_path):
    ws = filled
    with ws.open_lake() as lake:
        before = audit.write_checkpoint(lake, note="before the backup").to_text()
    counts = _counts(ws)
    info = backup(ws.settings, ws.config.lake, tmp_path / "backup")
    assert info.files > 2 and info.checkpoint and info.snapshot_id
    manifest = json.loads((tmp_path / "backup" / "manifest.json").read_text())
    assert manifest["format"] == "driftguard-backup/1"

    shutil.rmtree(ws.settings.home)  # the disaster
    assert not ws.settings.home.exists()

    restored, moved = restore(ws.settings, ws.config.lake, tmp_path / "backup")
    assert moved is None and restored.snapshot_id == info.snapshot_id
    assert _counts(ws) == counts  # every table as it was
    with ws.open_lake() as lake:
        verdict = audit.verify(lake, checkpoints=audit.find_checkpoints(before))
        assert verdict.status == "ok", verdict.verdict()
        # the checkpoint from before the backup anchors the restored log
        assert verdict.anchored_size is not None
        assert verdict.anchored_size >= audit.find_checkpoints(before)[0].size
        # and the restored lake accepts new work
        run_monitoring(lake, ws.config, "credit", ws.settings, as_of=NOW, force=True)

    # onto another machine: a different home and data path
    other = ws.settings.model_copy(update={"home": tmp_path / "elsewhere"})
    restore(other, ws.config.lake, tmp_path / "backup")
    from driftguard.store import Lake

    with Lake.open(other, ws.config.lake) as lake:
        assert (
            lake.fetchone("SELECT count(*) FROM predictions__credit")[0]
            == counts["predictions__credit"]
        )
        assert audit.verify(lake, checkpoints=audit.find_checkpoints(before)).status == "ok"

    # a damaged backup is refused before anything is touched
    parquet = next((tmp_path / "backup" / "lake").rglob("*.parquet"))
    original = parquet.read_bytes()
    parquet.write_bytes(original[:-10] + b"0123456789")
    with pytest.raises(BackupCorrupt, match="does not match its checksum"):
        check_backup(tmp_path / "backup")
    parquet.write_bytes(original)
    # an existing lake is never overwritten silently; with force it is moved aside, not deleted
    with pytest.raises(RestoreRefused, match="--force"):
        restore(ws.settings, ws.config.lake, tmp_path / "backup")
    _, moved = restore(ws.settings, ws.config.lake, tmp_path / "backup", force=True)
    assert moved is not None and (moved / "catalog.sqlite").exists() and (moved / "lake").is_dir()
    assert _counts(ws) == counts


def test_postgres_catalogs_are_refused_with_what_to_use(tmp_path):
    settings = Settings(home=tmp_path, config_path=tmp_path / "x.yaml", catalog="postgres:dbname=x")
    with pytest.raises(BackupUnsupported, match="pg_dump"):
        backup(settings, None, tmp_path / "b")
