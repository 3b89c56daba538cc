"""End to end against a real Prefect server: deploy prefect.yaml, trigger a run through the
REST API with parameters, let a worker execute it, and check the outcome."""

from __future__ import annotations

import os

import pytest

from driftguard.serve import LocalStack, api_request, run_deployment
from driftguard.simulate import simulate_model
from tests.smtp_sink import free_port

pytestmark = pytest.mark.e2e


@pytest.fixture
def stack(workspace, tmp_path):
    env = {
        "DRIFTGUARD_CONFIG": str(workspace.config_path),
        "DRIFTGUARD_PII_KEY": os.environ["DRIFTGUARD_PII_KEY"],
        "PREFECT_HOME": str(tmp_path / "prefect-server-home"),
        "PREFECT_LOGGING_LEVEL": "INFO",
    }
    local = LocalStack(
        home=workspace.settings.home, port=free_port(), env=env, log_dir=tmp_path / "logs"
    )
    try:
        local.start_server(timeout=240)
        yield local
    finally:
        local.stop()
        for log in sorted((tmp_path / "logs").glob("*.log")):
            print(f"==== {log.name}\n{log.read_text(errors='replace')[-4000:]}")


def test_deployment_run_through_the_api_with_a_worker(workspace, stack):
    with workspace.open_lake() as lake:
        for model in workspace.config.models:
            simulate_model(model, workspace.settings, lake=lake)
    deployments = stack.deploy()
    assert {"hourly", "daily"} <= set(deployments)
    stack.start_worker(query_seconds=2)
    flow_run = run_deployment(
        stack.url,
        "monitor-fleet/daily",
        {"cadence": "all", "config_path": str(workspace.config_path)},
        timeout=600,
    )
    assert flow_run["state"]["type"] == "COMPLETED", flow_run["state"]
    assert flow_run["parameters"]["cadence"] == "all"
    task_runs = api_request(
        stack.url, "POST", "/task_runs/filter", {"flow_runs": {"id": {"any_": [flow_run["id"]]}}}
    )
    names = sorted(t["name"] for t in task_runs)
    assert names == ["ingest churn", "ingest credit", "monitor churn", "monitor credit"]
    with workspace.open_lake() as lake:
        runs = lake.fetchall("SELECT model_id FROM monitoring_runs ORDER BY 1")
    assert runs == [("churn",), ("credit",)]
