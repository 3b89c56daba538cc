"""The Prefect ingestion flow under a throw-away Prefect API."""

from __future__ import annotations

import pytest

from driftguard.simulate import simulate_model
from tests.helpers import landing

pytestmark = pytest.mark.usefixtures("prefect_api")


def test_flow_ingests_every_model_and_reports_failures(workspace):
    from flows.ingest import IngestFailed, ingest_logs

    with workspace.open_lake() as lake:
        for model in workspace.config.models:
            simulate_model(model, workspace.settings, lake=lake)
    reports = ingest_logs(config_path=str(workspace.config_path))
    assert {r["model_id"] for r in reports} == {"credit", "churn"}
    assert all(r["predictions_accepted"] > 0 and r["files_failed"] == 0 for r in reports)

    (landing(workspace, "churn") / "broken.parquet").write_bytes(b"junk")
    state = ingest_logs(config_path=str(workspace.config_path), return_state=True)
    assert state.is_failed()
    with pytest.raises(IngestFailed, match="ingestion failed for churn"):
        state.result()


def test_task_retries_only_transient_failures():
    from driftguard.errors import DataError
    from driftguard.store import CatalogBusy
    from tasks.retry import is_transient_failure

    assert is_transient_failure(CatalogBusy("busy"))
    assert is_transient_failure(ConnectionRefusedError())
    assert not is_transient_failure(DataError("bad rows"))
    assert not is_transient_failure(FileNotFoundError("gone"))
    assert not is_transient_failure(ValueError("bug"))
