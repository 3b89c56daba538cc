"""Kill switches: scopes and hierarchy, roles, automatic rules, export, guard, concurrency."""

from __future__ import annotations

import json
import multiprocessing

import pytest
import yaml

from driftguard import audit
from driftguard.governance import killswitch, registry
from driftguard.governance.killswitch import KillSwitchStage
from driftguard.governance.policy import PolicyStage
from driftguard.governance.registry import State
from driftguard.governance.roles import NotAuthorised, ReasonRequired
from driftguard.guard import Guard, parse_export
from driftguard.monitor import run_monitoring
from driftguard.workspace import Workspace
from tests.integration.governance.conftest import SummaryStage


@pytest.fixture
def ws(ws):
    data = yaml.safe_load(ws.config_path.read_text())
    data["kill_switches"] = {
        "rules": [
            {"id": "psi-spike", "when": {"measure": "drift.max_psi", "above": 0.5}},
            {
                "id": "risk-critical",
                "when": {"measure": "risk.score", "at_least": 85},
                "scope": "model_type",
            },
            {
                "id": "empty-window",
                "when": {"measure": "window.rows", "at_most": 0},
                "models": ["churn"],
            },
        ],
        "safeguards": {"credit": {"min": 0.0, "max": 1.0, "fallback_ttl_seconds": 60}},
    }
    ws.config_path.write_text(yaml.safe_dump(data))
    return Workspace.load(ws.config_path)


def exported(ws) -> dict:
    return json.loads(killswitch.export_path(ws.config, ws.settings).read_text())


def run(lake, ws, model_id, **summaries):
    stages = [SummaryStage(n, s) for n, s in summaries.items()] + [PolicyStage(), KillSwitchStage()]
    return run_monitoring(lake, ws.config, model_id, ws.settings, stages=stages, force=True)


def in_production(lake, ws, model_id):
    registry.register_model(lake, ws.config, model_id, actor="bob")
    lake.transaction(
        lambda lk: lk.execute(
            "UPDATE model_versions SET lifecycle_state = 'production' WHERE model_id = ?",
            [model_id],
        )
    )


@pytest.mark.parametrize(
    ("scope", "target", "blocked", "free"),
    [
        (
            "model_version",
            {"model_id": "credit", "version": "1.0"},
            {"model_id": "credit", "version": "1.0", "region": "eu"},
            {"model_id": "credit", "version": "2.0"},
        ),
        (
            "model_type",
            {"model_type": "credit-scoring"},
            {"model_id": "any", "version": "9", "model_type": "credit-scoring"},
            {"model_id": "credit", "version": "1.0", "model_type": "churn"},
        ),
        ("endpoint", {"endpoint": "api-v1"}, {"endpoint": "api-v1"}, {"endpoint": "api-v2"}),
        ("segment", {"segment": "premium"}, {"segment": "premium"}, {"segment": "retail"}),
        (
            "region",
            {"region": "eu-west", "model_id": "credit"},  # narrowed to one model
            {"region": "eu-west", "model_id": "credit"},
            {"region": "eu-west", "model_id": "churn"},
        ),
        (
            "consumer",
            {"consumer": "collections"},
            {"consumer": "collections"},
            {"consumer": "marketing"},
        ),
    ],
)
def test_each_scope_blocks_what_it_targets(ws, lake, scope, target, blocked, free):
    switch = killswitch.activate(
        lake, ws.config, ws.settings, scope=scope, target=target, reason="test", actor="erin"
    )
    assert [s.switch_id for s in killswitch.blocking(lake, **blocked)] == [switch.switch_id]
    assert killswitch.blocking(lake, **free) == []
    # the serving guard reads the same export and agrees
    guard = Guard(killswitch.export_path(ws.config, ws.settings))
    assert guard.is_blocked(**blocked) and not guard.is_blocked(**free)


def test_a_type_switch_blocks_every_deployed_version_of_the_type(ws, lake):
    in_production(lake, ws, "credit")
    in_production(lake, ws, "churn")  # another type
    killswitch.activate(
        lake,
        ws.config,
        ws.settings,
        scope="model_type",
        target={"model_type": "credit-scoring"},
        reason="bureau outage",
        actor="erin",
    )
    assert registry.get_model_version(lake, "credit", "1.0").lifecycle_state == State.BLOCKED
    assert registry.get_model_version(lake, "churn", "1.0").lifecycle_state == State.PRODUCTION


def test_bad_targets_and_roles(ws, lake):
    with pytest.raises(killswitch.KillSwitchError, match="a model_version switch needs version"):
        killswitch.activate(
            lake,
            ws.config,
            ws.settings,
            scope="model_version",
            target={"model_id": "credit"},
            reason="x",
            actor="erin",
        )
    with pytest.raises(killswitch.KillSwitchError, match="unknown scope 'planet'"):
        killswitch.activate(
            lake, ws.config, ws.settings, scope="planet", target={}, reason="x", actor="erin"
        )
    with pytest.raises(NotAuthorised, match="killswitch.activate"):
        killswitch.activate(
            lake,
            ws.config,
            ws.settings,
            scope="endpoint",
            target={"endpoint": "a"},
            reason="x",
            actor="bob",
        )
    switch = killswitch.activate(
        lake,
        ws.config,
        ws.settings,
        scope="endpoint",
        target={"endpoint": "a"},
        reason="x",
        actor="erin",
    )
    with pytest.raises(NotAuthorised, match="killswitch.deactivate"):
        killswitch.deactivate(
            lake,
            ws.config,
            ws.settings,
            switch.switch_id,
            recovery_notes="fixed and verified",
            actor="bob",
        )
    with pytest.raises(ReasonRequired, match=r"needs recovery notes \(what was fixed"):
        killswitch.deactivate(
            lake, ws.config, ws.settings, switch.switch_id, recovery_notes="ok", actor="erin"
        )
    refused = {e.action for e in audit.trail(lake, event_type="access_denied", limit=None)}
    assert refused == {"killswitch.activate", "killswitch.deactivate"}


def test_export_is_current_after_every_change_and_digest_is_audited(ws, lake):
    path = killswitch.export_path(ws.config, ws.settings)
    first = killswitch.activate(
        lake,
        ws.config,
        ws.settings,
        scope="region",
        target={"region": "eu"},
        reason="flood",
        actor="erin",
    )
    doc = exported(ws)
    assert doc["version"] == 1 and [s["id"] for s in doc["switches"]] == [first.switch_id]
    assert doc["safeguards"]["credit"]["fallback_ttl_seconds"] == 60
    assert parse_export(path.read_bytes()).version == 1  # digest verifies in the guard
    second = killswitch.activate(
        lake,
        ws.config,
        ws.settings,
        scope="segment",
        target={"segment": "vip"},
        reason="complaints",
        actor="erin",
    )
    assert exported(ws)["version"] == 2
    killswitch.deactivate(
        lake,
        ws.config,
        ws.settings,
        first.switch_id,
        recovery_notes="levees repaired, traffic normal",
        actor="alice",
    )
    doc = exported(ws)
    assert doc["version"] == 3 and [s["id"] for s in doc["switches"]] == [second.switch_id]
    digests = [
        e.payload["digest"]
        for e in audit.trail(lake, limit=None)
        if e.action == "killswitch.exported"
    ]
    assert digests[-1] == doc["digest"] and len(digests) == 3
    assert not list(path.parent.glob(f".{path.name}.*"))  # no temporary file left behind


def test_guard_rereads_the_file_after_a_change(ws, lake):
    killswitch.export(lake, ws.config, ws.settings, actor="erin")
    guard = Guard(killswitch.export_path(ws.config, ws.settings), check_interval=0)
    assert not guard.is_blocked(endpoint="api-v1")
    switch = killswitch.activate(
        lake,
        ws.config,
        ws.settings,
        scope="endpoint",
        target={"endpoint": "api-v1"},
        reason="5xx storm",
        actor="erin",
    )
    assert guard.is_blocked(endpoint="api-v1")
    killswitch.deactivate(
        lake,
        ws.config,
        ws.settings,
        switch.switch_id,
        recovery_notes="rolled back the bad release",
        actor="erin",
    )
    assert not guard.is_blocked(endpoint="api-v1")


def test_a_drifting_run_trips_the_switch_blocks_the_version_and_alerts(ws, lake):
    in_production(lake, ws, "credit")
    result = run(lake, ws, "credit", drift={"max_psi": 0.72})
    summary = result.summary["killswitch"]
    [alert] = summary["alerts"]
    assert alert["rule"] == "psi-spike" and alert["value"] == 0.72
    assert "kill switch activated by rule psi-spike: drift.max_psi above 0.5" in result.findings[0]
    [switch] = killswitch.active_switches(lake)
    assert (switch.source, switch.run_id, switch.target) == (
        "rule:psi-spike",
        result.run_id,
        {"model_id": "credit", "version": "1.0"},
    )
    assert registry.get_model_version(lake, "credit", "1.0").lifecycle_state == State.BLOCKED
    assert [s["id"] for s in exported(ws)["switches"]] == [switch.switch_id]
    # the switch, the lifecycle change and the run share one snapshot (one transaction)
    snapshot = lake.snapshot_with_message(f"monitoring run {result.run_id}")
    rows = lake.fetchall(f"SELECT count(*) FROM killswitches AT (VERSION => {snapshot})")
    assert rows == [(1,)]
    again = run(lake, ws, "credit", drift={"max_psi": 0.8})
    assert "stays active" in again.findings[0] and len(killswitch.active_switches(lake)) == 1


def test_a_rule_never_reactivates_a_switch_a_person_turned_off_for_that_window(ws, lake):
    first = run(lake, ws, "credit", drift={"max_psi": 0.9})
    [switch] = killswitch.active_switches(lake)
    killswitch.deactivate(
        lake,
        ws.config,
        ws.settings,
        switch.switch_id,
        recovery_notes="known seasonal shift, accepted by risk",
        actor="erin",
    )
    rerun = run(lake, ws, "credit", drift={"max_psi": 0.9})  # the same window again
    assert rerun.current == first.current
    assert killswitch.active_switches(lake) == []
    assert "not re-activated because erin deactivated it" in rerun.findings[0]
    assert rerun.summary["killswitch"]["alerts"] == []


def test_rules_respect_models_and_missing_measures(ws, lake):
    quiet = run(lake, ws, "credit", drift={"max_psi": 0.1})  # risk not computed: no trip
    assert quiet.summary["killswitch"]["fired"] == []
    empty = run(lake, ws, "credit")  # empty window, but the rule is for churn only
    assert empty.n_current == 0 and empty.summary["killswitch"]["fired"] == []
    churn = run(lake, ws, "churn")
    assert [f["rule_id"] for f in churn.summary["killswitch"]["fired"]] == ["empty-window"]
    typed = run(lake, ws, "credit", risk={"score": 91})
    assert typed.summary["killswitch"]["fired"][0]["target"] == {"model_type": "credit-scoring"}


def _activate(args) -> str:
    config_path, segment = args
    workspace = Workspace.load(config_path)
    with workspace.open_lake() as lk:
        return killswitch.activate(
            lk,
            workspace.config,
            workspace.settings,
            scope="segment",
            target={"segment": segment},
            reason="parallel",
            actor="erin",
        ).switch_id


def test_concurrent_activation_from_two_processes_ends_consistent(ws, lake):
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        different = pool.map(_activate, [(str(ws.config_path), "a"), (str(ws.config_path), "b")])
        same = pool.map(_activate, [(str(ws.config_path), "c"), (str(ws.config_path), "c")])
    assert len(set(different)) == 2 and len(set(same)) == 1  # one switch for one target
    active = {s.switch_id for s in killswitch.active_switches(lake)}
    assert active == set(different) | set(same)
    doc = exported(ws)
    assert {s["id"] for s in doc["switches"]} == active  # the newest export has all three
    assert doc["version"] == lake.fetchone("SELECT max(version) FROM killswitch_exports")[0]
