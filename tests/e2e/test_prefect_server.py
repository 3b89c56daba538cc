"""End to end against a real Prefect server: deploy prefect.yaml, trigger runs through the REST
API with parameters, let a worker execute them, and check states, artifacts, reports, events and
the kill-switch automation. The server and the worker are stopped afterwards."""

from __future__ import annotations

import json
import os
import time

import pytest

from driftguard.serve import LocalStack, api_request, is_healthy, run_deployment
from driftguard.simulate import simulate_model
from tests.helpers import make_workspace, model_dict
from tests.smtp_sink import free_port

pytestmark = pytest.mark.e2e

WINDOWS = {"reference": {"length": "2d", "gap": "1d"}, "current": {"length": "1d"}}
SIM = {"days": 4, "shift_days": 2, "rows_per_day": 150, "seed": 11}


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    models = [
        model_dict("credit", **WINDOWS, simulation=SIM),
        model_dict(
            "fraud",
            **WINDOWS,
            simulation={**SIM, "drift": {"income": 4.0}},
            recipients=["fraud-ops@example.com"],
        ),
    ]
    ws = make_workspace(tmp_path, monkeypatch, models)
    rule = (
        "kill_switches:\n  rules:\n    - {id: psi-spike, when: {measure: drift.max_psi, "
        "above: 0.5}, models: [fraud]}\n"
    )
    ws.config_path.write_text(ws.config_path.read_text() + rule)
    from driftguard.workspace import Workspace

    return Workspace.load(ws.config_path)


@pytest.fixture
def stack(workspace, tmp_path):
    env = {
        "DRIFTGUARD_CONFIG": str(workspace.config_path),
        "DRIFTGUARD_PII_KEY": os.environ["DRIFTGUARD_PII_KEY"],
        "DRIFTGUARD_AUDIT_HMAC_KEY": "e2e-hmac-secret-0123456789",
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
    assert not is_healthy(local.url)  # the server is stopped


def _flow_runs(stack: LocalStack, deployment: str) -> list[dict]:
    flow_name, name = deployment.split("/")
    dep = api_request(stack.url, "GET", f"/deployments/name/{flow_name}/{name}")
    return api_request(
        stack.url, "POST", "/flow_runs/filter", {"deployments": {"id": {"any_": [dep["id"]]}}}
    )


def _wait_for(condition, timeout: float = 300, every: float = 2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"condition not met within {timeout} s")


def test_deployments_run_through_the_api_with_a_worker(workspace, stack):
    with workspace.open_lake() as lake:
        for model in workspace.config.models:
            simulate_model(model, workspace.settings, lake=lake)
    deployments = stack.deploy()
    assert {"hourly", "daily", "weekly", "custom-cron", "manual"} <= set(deployments)
    names = stack.deployments()
    for expected in (
        "monitor-fleet/daily",
        "verify-audit/daily",
        "apply-retention/daily",
        "killswitch-activate/manual",
        "resend-report/manual",
        "backfill/manual",
    ):
        assert expected in names
    # the manual flows take a typed request: the UI renders its fields as a form
    activate = api_request(stack.url, "GET", "/deployments/name/killswitch-activate/manual")
    schema = activate["parameter_openapi_schema"]
    fields = schema["definitions"]["KillSwitchActivation"]["properties"]
    assert {"actor", "scope", "model_id", "target", "reason"} <= set(fields)
    assert "roles" in fields["actor"]["description"]

    stack.start_worker(query_seconds=2)
    flow_run = run_deployment(
        stack.url,
        "monitor-fleet/daily",
        {"cadence": "all", "config_path": str(workspace.config_path)},
        timeout=900,
    )
    assert flow_run["state"]["type"] == "COMPLETED", flow_run["state"]
    assert flow_run["parameters"]["cadence"] == "all"
    assert flow_run["name"].startswith("monitor fleet (all) at ")
    task_runs = api_request(
        stack.url, "POST", "/task_runs/filter", {"flow_runs": {"id": {"any_": [flow_run["id"]]}}}
    )
    task_names = {t["name"] for t in task_runs}
    assert {"ingest credit", "ingest fraud", "events credit", "events fraud"} <= task_names
    assert any(n.startswith("monitor fraud 20") for n in task_names)  # names carry the window

    # the lake and the run history point at each other
    with workspace.open_lake() as lake:
        runs = lake.fetchall("SELECT model_id FROM monitoring_runs ORDER BY 1")
        history = lake.records("SELECT pipeline_run_id, status, run_ids_json FROM pipeline_runs")
    assert runs == [("credit",), ("fraud",)]
    assert history[0]["pipeline_run_id"] == flow_run["id"] and history[0]["status"] == "completed"
    assert len(json.loads(history[0]["run_ids_json"])) == 2

    # artifacts of the flow run
    artifacts = api_request(
        stack.url,
        "POST",
        "/artifacts/filter",
        {"artifacts": {"flow_run_id": {"any_": [flow_run["id"]]}}},
    )
    keys = {a["key"] for a in artifacts if a["key"]}
    assert "driftguard-pipeline-monitor-fleet-all" in keys
    assert any("report" in k for k in keys), keys
    reports = list((workspace.settings.home / "reports").rglob("report.html"))
    assert len(reports) == 2 and all(p.stat().st_size > 0 for p in reports)

    # the run's events reached the server, with the model as the resource
    events = _wait_for(
        lambda: api_request(
            stack.url,
            "POST",
            "/events/filter",
            {
                "filter": {
                    "event": {"prefix": ["driftguard.killswitch."]},
                    "related": {"id": [f"prefect.flow-run.{flow_run['id']}"]},
                }
            },
        )["events"]
    )
    assert {e["resource"]["prefect.resource.id"] for e in events} == {"driftguard.model.fraud"}

    # the automation from prefect.yaml: the kill switch started resend-report for fraud
    triggered = _wait_for(lambda: _flow_runs(stack, "resend-report/manual"), timeout=180)
    assert triggered[0]["parameters"]["request"] == {"model_id": "fraud", "send": True}
    assert triggered[0]["created_by"]["type"] == "AUTOMATION"

    def finished() -> dict | None:
        run = api_request(stack.url, "GET", f"/flow_runs/{triggered[0]['id']}")
        return run if run["state"]["type"] in ("COMPLETED", "FAILED", "CRASHED") else None

    final = _wait_for(finished, timeout=300)
    assert final["state"]["type"] == "COMPLETED", final["state"]

    # a manual flow with a typed request, through the API: the daily verification
    verdict = run_deployment(
        stack.url, "verify-audit/daily", {"request": {"full": True}}, timeout=600
    )
    assert verdict["state"]["type"] == "COMPLETED", verdict["state"]
    with workspace.open_lake() as lake:
        (status,) = lake.fetchone(
            "SELECT status FROM audit_verifications ORDER BY verified_at DESC LIMIT 1"
        )
    assert status == "ok"  # signed with the worker's HMAC key, so anchored
