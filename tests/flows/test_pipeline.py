"""A full fleet run under the session Prefect API: three models in parallel, one drifting
into a kill switch, one failing on bad data. Checks the lake, the run history, the events,
the artifacts, the JSON logs and the audit chain."""

from __future__ import annotations

import io
import json
import logging
import time

import pytest
import yaml

from driftguard import audit
from driftguard.audit.signing import HMAC_KEY_ENV
from driftguard.events import DRIFT_DETECTED, KILLSWITCH_ACTIVATED, RISK_STATUS_CHANGED
from driftguard.history import list_pipeline_runs
from driftguard.logs import ContextFilter, JsonFormatter
from driftguard.simulate import simulate_model
from tests.helpers import landing, make_workspace, model_dict

pytestmark = pytest.mark.usefixtures("prefect_api")

WINDOWS = {"reference": {"length": "2d", "gap": "1d"}, "current": {"length": "1d"}}
SIM = {"days": 4, "shift_days": 2, "rows_per_day": 150, "seed": 5}


@pytest.fixture
def fleet(tmp_path, monkeypatch):
    models = [
        model_dict("credit", **WINDOWS, simulation=SIM),
        model_dict("churn", **WINDOWS, simulation=SIM),
        model_dict("fraud", **WINDOWS, simulation={**SIM, "drift": {"income": 4.0}}),
    ]
    rules = [
        {"id": "psi-spike", "when": {"measure": "drift.max_psi", "above": 0.5}, "models": ["fraud"]}
    ]
    ws = make_workspace(tmp_path, monkeypatch, models)
    data = yaml.safe_load(ws.config_path.read_text())
    data["kill_switches"] = {"rules": rules}
    ws.config_path.write_text(yaml.safe_dump(data))
    monkeypatch.setenv(HMAC_KEY_ENV, "fleet-test-hmac-secret-0123456789")
    monkeypatch.setenv("DRIFTGUARD_METRICS_PATH", str(tmp_path / "metrics" / "dg.prom"))
    from driftguard.workspace import Workspace

    ws = Workspace.load(ws.config_path)
    with ws.open_lake() as lake:
        for model in ws.config.models:
            simulate_model(model, ws.settings, lake=lake)
    (landing(ws, "churn") / "broken.parquet").write_bytes(b"not a parquet file")
    return ws


@pytest.fixture
def json_records():
    """Collect driftguard's log records as JSON, as DRIFTGUARD_LOG_FORMAT=json prints them."""
    _reset_logging()  # a command-line test earlier in the session may have left its set-up
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ContextFilter())
    logger = logging.getLogger("driftguard")
    logger.addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    logger.removeHandler(handler)
    _reset_logging()


def _reset_logging() -> None:
    """No DriftGuard handler and no level on the ``driftguard`` logger, so the tasks set
    logging up as in a fresh worker process."""
    import tasks.runtime

    logger = logging.getLogger("driftguard")
    for other in list(logger.handlers):
        if getattr(other, "_driftguard", False):
            logger.removeHandler(other)
    logger.propagate = True
    logger.setLevel(logging.NOTSET)
    tasks.runtime._configured = False


def _events(flow_run_id: str) -> list:
    from prefect.client.orchestration import get_client
    from prefect.events.filters import EventFilter, EventNameFilter, EventRelatedFilter

    wanted = EventFilter(
        event=EventNameFilter(prefix=["driftguard."]),
        related=EventRelatedFilter(id=[f"prefect.flow-run.{flow_run_id}"]),
    )
    found = []
    with get_client(sync_client=True) as client:
        for _ in range(60):  # the server stores events asynchronously
            found = client.read_events(filter=wanted, limit=50).events
            if len(found) >= 3:
                break
            time.sleep(0.5)
    return found


def test_fleet_run_with_a_kill_switch_and_a_failing_model(fleet, json_records):
    from flows.monitor import monitor_fleet
    from flows.pipeline import PipelineFailed

    state = monitor_fleet(config_path=str(fleet.config_path), return_state=True)
    assert state.is_failed()
    with pytest.raises(PipelineFailed, match=r"1 model\(s\) failed: churn \(ingestion failed"):
        state.result()
    assert "broken.parquet" in state.message and "2 model(s) were monitored" in state.message
    flow_run_id = str(state.state_details.flow_run_id)

    with fleet.open_lake() as lake:
        # the lake: credit and fraud monitored, churn not (its data is incomplete)
        monitored = {m for (m,) in lake.fetchall("SELECT model_id FROM monitoring_runs")}
        assert monitored == {"credit", "fraud"}
        # fraud drifted into its kill switch
        switches = lake.records(
            "SELECT scope, target_json, source FROM killswitches WHERE deactivated_at IS NULL"
        )
        assert switches == [
            {
                "scope": "model_version",
                "source": "rule:psi-spike",
                "target_json": '{"model_id": "fraud", "version": "1.0"}',
            }
        ]
        # the run history: failed, naming churn, with both monitoring runs
        (record,) = list_pipeline_runs(lake)
        assert (record.pipeline_run_id, record.flow, record.status) == (
            flow_run_id,
            "monitor-fleet",
            "failed",
        )
        assert set(record.failed) == {"churn"} and len(record.run_ids) == 2
        assert record.models == ["credit", "churn", "fraud"] and record.alerts >= 2
        assert record.rows_ingested > 0
        # the audit chain verifies, anchored by the signed checkpoints
        verdict = audit.verify(lake)
        assert verdict.status == "ok", verdict.verdict()
        run_entries = [e for e in audit.trail(lake, event_type="monitoring.run")]
        assert {e.resource_id for e in run_entries} == {"credit", "fraud"}

    # the events, with the model as the resource
    events = _events(flow_run_id)
    by_name: dict[str, set[str]] = {}
    for event in events:
        by_name.setdefault(event.event, set()).add(event.resource.id)
    assert by_name[KILLSWITCH_ACTIVATED] == {"driftguard.model.fraud"}
    assert "driftguard.model.fraud" in by_name[DRIFT_DETECTED]
    # first runs: each monitored model gets its first risk status
    assert by_name[RISK_STATUS_CHANGED] == {"driftguard.model.credit", "driftguard.model.fraud"}

    # the artifacts: the pipeline summary names the failure and lists every model
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
    keyed = {a.key: a for a in artifacts if a.key}
    summary = keyed["driftguard-pipeline-monitor-fleet-all"]
    assert "churn failed:" in summary.data and "broken.parquet" in summary.data
    table = keyed["driftguard-pipeline-monitor-fleet-all-models"]
    assert {row["model"] for row in json.loads(table.data)} == {"credit", "churn", "fraud"}

    assert any(k.startswith("driftguard-") and "report" in k for k in keyed), sorted(keyed)
    reports = sorted((fleet.settings.home / "reports").rglob("report.html"))
    assert len(reports) == 2  # credit and fraud; churn failed before monitoring

    # the metrics textfile was written at the end of the run
    prom = (fleet.settings.home.parent / "metrics" / "dg.prom").read_text()
    assert 'driftguard_killswitches_active{scope="model_version"} 1' in prom
    assert 'driftguard_pipeline_runs{flow="monitor-fleet",status="failed"} 1' in prom

    # JSON logs: every record carries the pipeline run and its step; run records the model
    records = json_records()
    assert records
    odd = [r for r in records if not (r["pipeline_run_id"] == flow_run_id and r["step"])]
    assert odd == []
    monitor_records = [r for r in records if r["run_id"]]
    assert {r["model_id"] for r in monitor_records} == {"credit", "fraud"}
    assert all(r["duration_s"] is not None for r in records)
