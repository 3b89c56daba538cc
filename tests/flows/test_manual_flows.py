"""Manual flows (typed requests from the Prefect UI), backfills and the scheduled operations
flows, under the session Prefect API."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
import yaml

from driftguard.actions import (
    ApprovalDecision,
    ApprovalRequest,
    KillSwitchActivation,
    KillSwitchDeactivation,
    Promotion,
    RetentionRequest,
    WhatIfRequest,
)
from driftguard.events import KILLSWITCH_ACTIVATED, KILLSWITCH_DEACTIVATED, PROMOTION_BLOCKED
from driftguard.governance.registry import register_model
from driftguard.history import list_pipeline_runs
from driftguard.simulate import simulate_model
from driftguard.workspace import Workspace
from tests.helpers import make_workspace, model_dict

pytestmark = pytest.mark.usefixtures("prefect_api")


@pytest.fixture
def ws(tmp_path, monkeypatch):
    model = model_dict(
        "credit",
        reference={"length": "1d", "gap": "1d"},
        current={"length": "1d"},
        simulation={"days": 4, "shift_days": 2, "rows_per_day": 100, "seed": 9},
    )
    workspace = make_workspace(tmp_path, monkeypatch, [model])
    data = yaml.safe_load(workspace.config_path.read_text())
    data["roles"] = {"admin": ["alice"], "approver": ["amy"], "on_call": ["erin"]}
    # shadow deployments need monitoring results too, so a model without runs is blocked
    data["governance"] = {"results_optional_states": []}
    workspace.config_path.write_text(yaml.safe_dump(data))
    workspace = Workspace.load(workspace.config_path)
    with workspace.open_lake() as lake:
        simulate_model(workspace.config.model("credit"), workspace.settings, lake=lake)
        register_model(lake, workspace.config, "credit", actor="alice")
    return workspace


def _flow_events(flow_run_id: str, minimum: int) -> list:
    from prefect.client.orchestration import get_client
    from prefect.events.filters import EventFilter, EventNameFilter, EventRelatedFilter

    wanted = EventFilter(
        event=EventNameFilter(prefix=["driftguard."]),
        related=EventRelatedFilter(id=[f"prefect.flow-run.{flow_run_id}"]),
    )
    with get_client(sync_client=True) as client:
        for _ in range(60):
            found = client.read_events(filter=wanted, limit=20).events
            if len(found) >= minimum:
                return found
            time.sleep(0.5)
    return found


def test_governance_flows_emit_their_events(ws):
    from flows.manual import (
        activate_kill_switch,
        deactivate_kill_switch,
        decide_approval,
        policy_what_if,
        promote_model,
        request_approval,
    )

    config = str(ws.config_path)
    request_approval(ApprovalRequest(actor="alice", model_id="credit", justification="v1"), config)
    decided = decide_approval(ApprovalDecision(actor="amy", model_id="credit", notes="ok"), config)
    assert decided["status"] == "approved"
    # no monitoring run exists yet: the gate blocks shadow, the flow fails and says why
    state = promote_model(
        Promotion(actor="alice", model_id="credit", to="shadow"), config, return_state=True
    )
    assert state.is_failed() and "blocked by the pre-deployment check" in state.message
    (event,) = _flow_events(str(state.state_details.flow_run_id), 1)
    assert (event.event, event.resource.id) == (PROMOTION_BLOCKED, "driftguard.model.credit")
    assert event.payload["to"] == "shadow" and event.payload["check"] == "no_results"

    # roles are checked on the typed actor: amy is not on call
    refused = activate_kill_switch(
        KillSwitchActivation(actor="amy", model_id="credit", reason="test"),
        config,
        return_state=True,
    )
    assert refused.is_failed() and "amy" in refused.message
    state = activate_kill_switch(
        KillSwitchActivation(actor="erin", model_id="credit", reason="bad scores seen"),
        config,
        return_state=True,
    )
    switch = state.result()
    assert switch["target"] == {"model_id": "credit", "version": "1.0"}
    (on,) = _flow_events(str(state.state_details.flow_run_id), 1)
    assert (on.event, on.resource.id) == (KILLSWITCH_ACTIVATED, "driftguard.model.credit")
    state = deactivate_kill_switch(
        KillSwitchDeactivation(
            actor="erin",
            switch_id=switch["switch_id"],
            recovery_notes="scores checked against the logs, fine",
        ),
        config,
        return_state=True,
    )
    assert state.is_completed()
    (off,) = _flow_events(str(state.state_details.flow_run_id), 1)
    assert off.event == KILLSWITCH_DEACTIVATED and off.payload["actor"] == "erin"

    # what-if writes nothing and needs rules or a policy
    with pytest.raises(ValueError, match="draft rules or the name of a policy"):
        WhatIfRequest()
    report = policy_what_if(
        WhatIfRequest(
            rules=[{"id": "psi", "measure": "drift.max_psi", "max": 0.1}],
            scenarios=[{"drift.max_psi": 0.3}],
        ),
        config,
    )
    assert report["scenarios"][0]["candidate"] == "block"  # 0.3 > 0.1


@pytest.mark.slow  # make e2e: flows beyond the must-show fleet and governance runs
def test_backfill_verify_and_retention_flows(ws):
    from flows.manual import apply_retention, verify_audit
    from flows.monitor import BackfillRange, backfill, monitor_model

    model = ws.config.model("credit")
    with ws.open_lake() as lake:
        (last,) = lake.fetchone(
            "SELECT max(ts) FROM read_parquet(?)",
            [str(ws.settings.home / "landing" / "credit" / "predictions" / "**" / "*.parquet")],
        )
    end = model.current_window(last + timedelta(hours=1)).end
    summary = backfill(
        "credit",
        span=BackfillRange(start=end - timedelta(days=2), end=end),
        config_path=str(ws.config_path),
    )
    assert [r["window"]["start"] for r in summary["runs"]] == [
        end - timedelta(days=2),
        end - timedelta(days=1),
    ]  # oldest first
    assert summary["rows"][0]["window"].endswith("00:00")
    again = monitor_model(
        "credit",
        window=summary["runs"][-1]["window"] and {"start": end - timedelta(days=1), "end": end},
        config_path=str(ws.config_path),
    )
    assert again["runs"][0]["reused"] is True  # the same window and config: no new run

    verdict = verify_audit(config_path=str(ws.config_path))
    assert verdict["status"] in ("ok", "unanchored")
    result = apply_retention(RetentionRequest(dry_run=True), config_path=str(ws.config_path))
    assert result["models"] == [] and result["expiry"]["dry_run"] is True
    with ws.open_lake() as lake:
        flows = [r.flow for r in list_pipeline_runs(lake)]
        (recorded,) = lake.fetchone("SELECT count(*) FROM audit_verifications")
    assert flows == ["monitor-model", "backfill"] and recorded == 1
