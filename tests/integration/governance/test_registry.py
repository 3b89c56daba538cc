"""Registry: lifecycle transitions, approvals with separation of duties, roles, the gate."""

from __future__ import annotations

import itertools
import multiprocessing

import pytest

from driftguard import audit
from driftguard.governance import policy as policies
from driftguard.governance import registry
from driftguard.governance.registry import TRANSITIONS, State
from driftguard.governance.roles import NotAuthorised, ReasonRequired, SeparationOfDuties
from driftguard.simulate import SimulationRefused, simulate_model
from tests.integration.governance.conftest import monitored


def force_state(lake, model_id: str, state: State) -> None:
    """Test set-up only: put a registered version in any state without going through it."""
    lake.transaction(
        lambda lk: lk.execute(
            "UPDATE model_versions SET lifecycle_state = ? WHERE model_id = ?",
            [str(state), model_id],
        )
    )


def audit_actions(lake) -> list[str]:
    return [e.action for e in audit.trail(lake, limit=None)]


def test_register_and_duplicates(ws, lake):
    mv = registry.register_model(
        lake,
        ws.config,
        "credit",
        actor="bob",
        training_snapshot_id="17",
        training_metrics={"auc": 0.81},
    )
    assert (mv.lifecycle_state, mv.owner, mv.model_type) == (
        State.DRAFT,
        "olivia",
        "credit-scoring",
    )
    assert mv.health_status == "UNKNOWN"
    with pytest.raises(registry.DuplicateModelVersion, match="already registered"):
        registry.register_model(lake, ws.config, "credit", actor="bob")
    assert "model.registered" in audit_actions(lake)


def test_roles_are_checked_and_refusals_audited(ws, lake):
    with pytest.raises(
        NotAuthorised,
        match="'frank' may not model.register: it needs one of the roles admin, ml_engineer",
    ):
        registry.register_model(lake, ws.config, "credit", actor="frank")
    [refusal] = [e for e in audit.trail(lake, limit=None) if e.event_type == "access_denied"]
    assert (refusal.actor, refusal.action, refusal.severity) == (
        "frank",
        "model.register",
        "warning",
    )
    assert lake.fetchone("SELECT count(*) FROM model_versions")[0] == 0


ALL_STATES = list(State)
LEGAL = [(a, b) for a in ALL_STATES for b in sorted(TRANSITIONS[a])]  # stable order for xdist
ILLEGAL = [
    (a, b)
    for a, b in itertools.product(ALL_STATES, ALL_STATES)
    if b not in TRANSITIONS[a] and b not in (State.DRAFT,)
]


@pytest.mark.parametrize(("start", "target"), ILLEGAL, ids=lambda s: str(s))
def test_illegal_transitions_name_the_allowed_states(start, target):
    current = registry.ModelVersion(
        "m", "1", "o", "p", "t", None, None, {}, start, "UNKNOWN", "o", None, None
    )  # type: ignore[arg-type]
    with pytest.raises(registry.IllegalTransition, match="allowed next: ") as info:
        registry._check_transition(current, target)
    for allowed in TRANSITIONS[start]:
        assert str(allowed) in str(info.value)


@pytest.mark.parametrize(("start", "target"), LEGAL, ids=lambda s: str(s))
def test_legal_transitions_pass_the_check(start, target):
    current = registry.ModelVersion(
        "m", "1", "o", "p", "t", None, None, {}, start, "UNKNOWN", "o", None, None
    )  # type: ignore[arg-type]
    registry._check_transition(current, target)


def test_every_legal_transition_through_the_api(ws, lake):
    registry.register_model(lake, ws.config, "churn", actor="bob")
    registry.request_approval(lake, ws.config, "churn", "1.0", justification="ready", actor="bob")
    registry.decide(
        lake, ws.config, "churn", "1.0", approve=False, actor="carol", notes="needs a holdout check"
    )
    assert registry.get_model_version(lake, "churn", "1.0").lifecycle_state == State.REJECTED
    registry.request_approval(
        lake, ws.config, "churn", "1.0", justification="holdout added", actor="bob"
    )
    registry.decide(lake, ws.config, "churn", "1.0", approve=True, actor="carol")
    assert registry.get_model_version(lake, "churn", "1.0").lifecycle_state == State.APPROVED
    monitored(lake, ws, "churn", risk={"score": 20.0, "status": "HEALTHY"})
    for target in ("shadow", "canary", "production"):
        registry.promote(lake, ws.config, "churn", "1.0", target, actor="bob")
    registry.hold(lake, ws.config, "churn", "1.0", reason="regulator inquiry", actor="erin")
    assert registry.get_model_version(lake, "churn", "1.0").lifecycle_state == State.BLOCKED
    with pytest.raises(registry.IllegalTransition, match="returns by `driftguard model release`"):
        registry.retire(lake, ws.config, "churn", "1.0", "deprecated", actor="bob")
    released = registry.release(
        lake, ws.config, "churn", "1.0", reason="inquiry closed, ok", actor="alice"
    )
    assert released.lifecycle_state == State.PRODUCTION  # back where it was blocked from
    registry.retire(lake, ws.config, "churn", "1.0", "deprecated", actor="bob")
    final = registry.retire(lake, ws.config, "churn", "1.0", "archived", actor="bob")
    assert final.lifecycle_state == State.ARCHIVED
    assert final.health_status == "HEALTHY"
    states = [e["to_state"] for e in registry.history(lake, "churn", "1.0")["lifecycle"]]
    assert states == [
        "draft",
        "pending_approval",
        "rejected",
        "pending_approval",
        "approved",
        "shadow",
        "canary",
        "production",
        "blocked",
        "production",
        "deprecated",
        "archived",
    ]


def test_separation_of_duties(ws, lake):
    registry.register_model(lake, ws.config, "credit", actor="bob")
    registry.request_approval(lake, ws.config, "credit", "1.0", justification="ready", actor="bob")
    # olivia holds the approver role but owns the model; bob requested it
    with pytest.raises(SeparationOfDuties, match="'olivia' is the owner"):
        registry.decide(lake, ws.config, "credit", "1.0", approve=True, actor="olivia")
    with pytest.raises(NotAuthorised):  # bob is no approver at all
        registry.decide(lake, ws.config, "credit", "1.0", approve=True, actor="bob")
    first = registry.decide(lake, ws.config, "credit", "1.0", approve=True, actor="carol")
    assert (first["status"], first["approvals"], first["required_approvals"]) == ("open", 1, 2)
    with pytest.raises(registry.RegistryError, match="already decided"):
        registry.decide(lake, ws.config, "credit", "1.0", approve=True, actor="carol")
    second = registry.decide(lake, ws.config, "credit", "1.0", approve=True, actor="dave")
    assert second["status"] == "approved"
    refusals = [e for e in audit.trail(lake, limit=None) if e.event_type == "access_denied"]
    assert {e.actor for e in refusals} == {"olivia", "bob"}


def test_requester_cannot_approve(ws, lake):
    registry.register_model(lake, ws.config, "churn", actor="alice")
    registry.request_approval(lake, ws.config, "churn", "1.0", justification="x", actor="alice")
    with pytest.raises(SeparationOfDuties, match="'alice' is the requester"):
        registry.decide(lake, ws.config, "churn", "1.0", approve=True, actor="alice")


def _approve(args) -> str:
    config_path, approver = args
    from driftguard.workspace import Workspace

    workspace = Workspace.load(config_path)
    with workspace.open_lake() as lk:
        return registry.decide(lk, workspace.config, "credit", "1.0", approve=True, actor=approver)[
            "status"
        ]


def test_concurrent_approvals_are_both_counted(ws, lake):
    registry.register_model(lake, ws.config, "credit", actor="bob")
    registry.request_approval(lake, ws.config, "credit", "1.0", justification="x", actor="bob")
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        statuses = pool.map(
            _approve, [(str(ws.config_path), "carol"), (str(ws.config_path), "dave")]
        )
    assert sorted(statuses) == ["approved", "open"]
    assert registry.get_model_version(lake, "credit", "1.0").lifecycle_state == State.APPROVED


def approved(ws, lake, model_id="churn"):
    registry.register_model(lake, ws.config, model_id, actor="bob")
    registry.request_approval(lake, ws.config, model_id, "1.0", justification="x", actor="bob")
    for approver in ("carol", "dave")[
        : ws.config.governance.approvals_needed(ws.config.model(model_id).model_type)
    ]:
        registry.decide(lake, ws.config, model_id, "1.0", approve=True, actor=approver)


def test_gate_needs_results_except_for_shadow(ws, lake):
    approved(ws, lake)
    shadow = registry.promote(lake, ws.config, "churn", "1.0", "shadow", actor="bob")
    assert shadow["check"]["outcome"] == "warn"
    with pytest.raises(registry.GateBlocked, match="no monitoring run exists"):
        registry.promote(lake, ws.config, "churn", "1.0", "canary", actor="bob")
    [blocked] = [d for d in registry.deployments(lake, "churn") if d["status"] == "blocked"]
    assert blocked["check_outcome"] == "no_results"


def test_gate_blocks_on_policy_and_admin_override_needs_a_reason(ws, lake):
    approved(ws, lake)
    policies.create_policy(
        lake,
        ws.config,
        "strict",
        scope="model:churn",
        rules=policies.parse_rules([{"id": "risk", "measure": "risk.score", "max": 50}]),
        actor="carol",
    )
    policies.activate_policy(lake, ws.config, "strict", actor="carol")
    monitored(lake, ws, "churn", risk={"score": 77.0, "status": "AT_RISK"})
    with pytest.raises(registry.GateBlocked, match="risk: composite risk score .* 77 exceeds"):
        registry.promote(lake, ws.config, "churn", "1.0", "shadow", actor="bob")
    with pytest.raises(NotAuthorised):  # bob is no admin
        registry.promote(
            lake,
            ws.config,
            "churn",
            "1.0",
            "shadow",
            actor="bob",
            override_reason="business needs it now, risk accepted",
        )
    with pytest.raises(ReasonRequired, match="an override needs a written reason of at least 10"):
        registry.promote(
            lake, ws.config, "churn", "1.0", "shadow", actor="alice", override_reason="ok"
        )
    result = registry.promote(
        lake,
        ws.config,
        "churn",
        "1.0",
        "shadow",
        actor="alice",
        override_reason="shadow only, no customer impact; CRO accepted",
    )
    assert result["status"] == "promoted" and result["override"] is True
    history = registry.deployments(lake, "churn", "1.0")
    assert [(d["status"], d["override"]) for d in history] == [
        ("blocked", False),
        ("promoted", True),
    ]
    assert history[1]["check"]["evaluation"]["outcome"] == "block"
    actions = audit_actions(lake)
    assert "model.promotion_blocked" in actions and "model.promoted" in actions


def test_simulation_is_refused_for_live_models(ws, lake):
    registry.register_model(lake, ws.config, "churn", actor="bob")
    for state in (State.PRODUCTION, State.BLOCKED, State.ARCHIVED):
        force_state(lake, "churn", state)
        with pytest.raises(SimulationRefused, match=f"is {state}"):
            simulate_model(ws.config.model("churn"), ws.settings, lake=lake)
    force_state(lake, "churn", State.CANARY)
    assert simulate_model(ws.config.model("churn"), ws.settings, lake=lake).rows > 0


def test_lineage_gathers_everything(ws, lake):
    from driftguard.ingest import ingest_model

    simulate_model(ws.config.model("churn"), ws.settings, lake=lake)
    ingest_model(lake, ws.config.model("churn"), ws.settings)
    approved(ws, lake)
    run = monitored(lake, ws, "churn", risk={"score": 10.0})
    registry.promote(lake, ws.config, "churn", "1.0", "shadow", actor="bob")
    data = registry.lineage(lake, "churn", "1.0")
    assert len(data["ingestion_batches"]) >= 2
    assert [r["run_id"] for r in data["monitoring_runs"]] == [run.run_id]
    assert {a["approver"] for a in data["approvals"]} == {"carol"}
    assert [d["to_state"] for d in data["deployments"]] == ["shadow"]


def test_full_journey_is_audited_and_verifies(ws, lake, monkeypatch):
    # checkpoints are signed as in a real deployment, so verification is anchored
    monkeypatch.setenv("DRIFTGUARD_AUDIT_HMAC_KEY", "journey-test-hmac-key-0123456789")
    registry.register_model(lake, ws.config, "credit", actor="bob", training_snapshot_id="3")
    registry.request_approval(lake, ws.config, "credit", "1.0", justification="v1", actor="bob")
    registry.decide(lake, ws.config, "credit", "1.0", approve=True, actor="carol")
    registry.decide(lake, ws.config, "credit", "1.0", approve=True, actor="dave")
    policies.create_policy(
        lake,
        ws.config,
        "credit",
        scope="model_type:credit-scoring",
        template="credit-strict",
        actor="carol",
    )
    policies.activate_policy(lake, ws.config, "credit", actor="dave")
    good = {
        "drift": {"max_psi": 0.05, "share_drifted": 0.0},
        "fairness": {"min_disparate_impact": 0.93},
        "risk": {"score": 22.0},
        "quality": {"quarantine_rate": 0.0},
        "performance": {"label_coverage": 0.8, "metrics": {"roc_auc": 0.83}},
    }
    monitored(lake, ws, "credit", **good)
    registry.promote(lake, ws.config, "credit", "1.0", "shadow", actor="bob")
    registry.promote(lake, ws.config, "credit", "1.0", "canary", actor="bob")
    bad = dict(good, fairness={"min_disparate_impact": 0.62})
    monitored(lake, ws, "credit", **bad)
    with pytest.raises(registry.GateBlocked, match="four-fifths"):
        registry.promote(lake, ws.config, "credit", "1.0", "production", actor="bob")
    registry.promote(
        lake,
        ws.config,
        "credit",
        "1.0",
        "production",
        actor="alice",
        override_reason="remediation plan R-17 signed off by the CRO",
    )
    deployments = registry.deployments(lake, "credit", "1.0")
    assert [(d["to_state"], d["status"]) for d in deployments] == [
        ("shadow", "promoted"),
        ("canary", "promoted"),
        ("production", "blocked"),
        ("production", "promoted"),
    ]
    assert deployments[-1]["override_reason"].startswith("remediation plan")
    actions = audit_actions(lake)
    for action in (
        "model.registered",
        "model.approval_requested",
        "model.approved",
        "policy.created",
        "policy.activated",
        "policy.pass",
        "policy.block",
        "model.promotion_blocked",
        "model.promoted",
    ):
        assert action in actions, action
    verdict = audit.verify(lake)
    assert verdict.ok, verdict
