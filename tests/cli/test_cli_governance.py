"""`driftguard model ...` and `driftguard policy ...` end to end through the command line."""

from __future__ import annotations

import json

import yaml
from typer.testing import CliRunner

from driftguard.cli import app
from tests.integration.governance.conftest import ROLES

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_governance_through_the_cli(workspace, tmp_path):
    data = yaml.safe_load(workspace.config_path.read_text())
    data["roles"] = ROLES
    workspace.config_path.write_text(yaml.safe_dump(data))
    assert (
        invoke(
            "model",
            "register",
            "churn",
            "--actor",
            "bob",
            "--metric",
            "auc=0.8",
            "--training-snapshot",
            "12",
        ).exit_code
        == 0
    )
    denied = invoke("model", "register", "credit", "--actor", "frank")
    assert denied.exit_code == 1 and "needs one of the roles" in denied.output
    assert "roles:" in denied.output  # the hint says where roles are granted
    assert (
        invoke("model", "request-approval", "churn", "-j", "ready", "--actor", "bob").exit_code == 0
    )
    own = invoke("model", "approve", "churn", "--actor", "olivia")
    assert own.exit_code == 1 and "separation of duties" in own.output
    result = invoke("model", "approve", "churn", "--actor", "carol", "--json")
    assert json.loads(result.stdout)["status"] == "approved"
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump([{"id": "risk", "measure": "risk.score", "max": 60}]))
    assert (
        invoke(
            "policy",
            "create",
            "p",
            "--scope",
            "model:churn",
            "--rules",
            str(rules),
            "--actor",
            "carol",
        ).exit_code
        == 0
    )
    assert invoke("policy", "activate", "p", "--actor", "carol").exit_code == 0
    blocked = invoke("model", "promote", "churn", "--to", "canary", "--actor", "bob")
    assert blocked.exit_code == 1 and "cannot go from approved to canary" in blocked.output
    assert invoke("model", "promote", "churn", "--to", "shadow", "--actor", "bob").exit_code == 0
    history = json.loads(invoke("model", "history", "churn", "--json").stdout)
    assert [e["to_state"] for e in history["lifecycle"]][-1] == "shadow"
    lineage = json.loads(invoke("model", "lineage", "churn", "--json").stdout)
    assert lineage["training_snapshot_id"] == "12"
    active = json.loads(invoke("policy", "history", "--json").stdout)
    assert active == [{"scope": "model:churn", "policy": "p", "version": 1}]
    what_if = invoke("policy", "simulate", "--rules", str(rules), "--json")
    assert json.loads(what_if.stdout)["runs_evaluated"] == 0
    listing = json.loads(invoke("model", "list", "--json").stdout)
    assert [(m["model_id"], m["lifecycle_state"]) for m in listing] == [("churn", "shadow")]


def test_killswitch_through_the_cli(workspace):
    data = yaml.safe_load(workspace.config_path.read_text())
    data["roles"] = ROLES
    workspace.config_path.write_text(yaml.safe_dump(data))
    on = invoke(
        "killswitch",
        "activate",
        "--scope",
        "model_version",
        "-m",
        "credit",
        "--reason",
        "feed outage",
        "--actor",
        "erin",
        "--json",
    )
    assert on.exit_code == 0, on.output
    switch_id = json.loads(on.stdout)["switch_id"]
    blocked = invoke("killswitch", "check", "-m", "credit")
    assert blocked.exit_code == 1 and "feed outage" in blocked.output
    assert invoke("killswitch", "check", "-m", "churn").exit_code == 0
    assert [s["switch_id"] for s in json.loads(invoke("killswitch", "list", "--json").stdout)] == [
        switch_id
    ]
    off = invoke(
        "killswitch",
        "deactivate",
        switch_id,
        "--notes",
        "feed restored, replayed",
        "--actor",
        "erin",
    )
    assert off.exit_code == 0
    events = json.loads(invoke("killswitch", "history", "--json").stdout)
    assert [e["event"] for e in events] == ["deactivated", "activated"]
    export = json.loads(invoke("killswitch", "export", "--json").stdout)
    assert export["version"] == 3 and export["switches"] == 0
