"""``driftguard model ...`` (registry, approvals, deployments) and ``driftguard policy ...``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
import yaml

from driftguard.cli._common import (
    HINTS,
    console,
    load_workspace,
    parse_pairs,
    print_json,
    print_table,
    subapp,
)
from driftguard.governance import policy as policies
from driftguard.governance import registry
from driftguard.governance.roles import NotAuthorised

model_app = subapp("model", "Model registry: register, approve, promote, history, lineage.")
policy_app = subapp("policy", "Versioned governance policies and what-if simulation.")

HINTS[NotAuthorised] = "Roles are granted in the `roles:` section of driftguard.yaml."
HINTS[registry.ModelNotRegistered] = "`driftguard model list` shows registered versions."

ACTOR = typer.Option(None, "--actor", help="Acting identity (default: the OS user).")
JSON = typer.Option(False, "--json", help="Print JSON.")


def _version(ws: Any, model_id: str, version: str | None) -> str:
    return version or ws.config.model(model_id).version


def _show(result: Any, as_json: bool, line: str) -> None:
    if as_json:
        print_json(result)
    else:
        console.print(line, markup=False)


# --------------------------------------------------------------------------- model


@model_app.command("register")
def register(
    model_id: str = typer.Argument(..., help="Configured model id."),
    version: str = typer.Option(None, help="Version (default: the configured version)."),
    training_snapshot: str = typer.Option(
        None, "--training-snapshot", help="Id of the data snapshot it was trained on."
    ),
    feature_version: str = typer.Option(None, "--feature-version", help="Feature set version."),
    metric: list[str] = typer.Option(None, "--metric", help="Training metric NAME=VALUE."),
    actor: str = ACTOR,
    as_json: bool = JSON,
) -> None:
    """Register a model version (state draft) with owner, purpose, type and training facts.

    Example: driftguard model register credit-risk --training-snapshot 412 --metric auc=0.81
    """
    ws = load_workspace()
    with ws.open_lake() as lake:
        mv = registry.register_model(
            lake,
            ws.config,
            model_id,
            version=version,
            actor=actor,
            training_snapshot_id=training_snapshot,
            feature_version=feature_version,
            training_metrics=parse_pairs(metric, example="roc_auc=0.81", numbers=True),
        )
    _show(mv.as_dict(), as_json, f"registered {mv.model_id}@{mv.version} ({mv.lifecycle_state})")


@model_app.command("list")
def list_models(as_json: bool = JSON) -> None:
    """List registered model versions with lifecycle and health.

    Example: driftguard model list
    """
    ws = load_workspace()
    with ws.open_lake() as lake:
        versions = registry.list_model_versions(lake)
    if as_json:
        print_json([v.as_dict() for v in versions])
        return
    print_table(
        "Registered model versions",
        ["model", "version", "type", "owner", "lifecycle", "health", "updated"],
        [
            (
                v.model_id,
                v.version,
                v.model_type,
                v.owner,
                str(v.lifecycle_state),
                v.health_status,
                v.updated_at,
            )
            for v in versions
        ],
    )


@model_app.command("request-approval")
def request_approval(
    model_id: str = typer.Argument(...),
    justification: str = typer.Option(..., "--justification", "-j", help="Why it should ship."),
    version: str = typer.Option(None),
    actor: str = ACTOR,
    as_json: bool = JSON,
) -> None:
    """Ask for approval of a draft (or rejected) version.

    Example: driftguard model request-approval credit-risk -j "Retrained on Q3 data, AUC +2pt"
    """
    ws = load_workspace()
    with ws.open_lake() as lake:
        result = registry.request_approval(
            lake,
            ws.config,
            model_id,
            _version(ws, model_id, version),
            justification=justification,
            actor=actor,
        )
    _show(
        result,
        as_json,
        f"approval request {result['request_id']} open; "
        f"{result['required_approvals']} distinct approver(s) needed",
    )


def _decide(
    model_id: str, version: str | None, notes: str, actor: str | None, approve: bool, as_json: bool
) -> None:
    ws = load_workspace()
    with ws.open_lake() as lake:
        result = registry.decide(
            lake,
            ws.config,
            model_id,
            _version(ws, model_id, version),
            approve=approve,
            notes=notes,
            actor=actor,
        )
    _show(
        result,
        as_json,
        f"request {result['request_id']}: {result['status']} "
        f"({result['approvals']}/{result['required_approvals']} approvals)",
    )


@model_app.command("approve")
def approve(
    model_id: str = typer.Argument(...),
    version: str = typer.Option(None),
    notes: str = typer.Option("", help="Approver's notes."),
    actor: str = ACTOR,
    as_json: bool = JSON,
) -> None:
    """Approve the open request (never by the owner or the requester).

    Example: driftguard model approve credit-risk --actor carol --notes "Fairness checked"
    """
    _decide(model_id, version, notes, actor, True, as_json)


@model_app.command("reject")
def reject(
    model_id: str = typer.Argument(...),
    version: str = typer.Option(None),
    notes: str = typer.Option("", help="Why it is rejected."),
    actor: str = ACTOR,
    as_json: bool = JSON,
) -> None:
    """Reject the open request.

    Example: driftguard model reject churn --actor dave --notes "Label leakage in tenure"
    """
    _decide(model_id, version, notes, actor, False, as_json)


@model_app.command("promote")
def promote(
    model_id: str = typer.Argument(...),
    to: str = typer.Option(..., "--to", help="shadow, canary or production."),
    version: str = typer.Option(None),
    override_reason: str = typer.Option(
        None, "--override-reason", help="Admin only: promote despite a failing check."
    ),
    notes: str = typer.Option(None, help="Deployment notes."),
    actor: str = ACTOR,
    as_json: bool = JSON,
) -> None:
    """Promote through the pre-deployment check (exit 1 when the check blocks it).

    Example: driftguard model promote credit-risk --to shadow
    """
    ws = load_workspace()
    with ws.open_lake() as lake:
        result = registry.promote(
            lake,
            ws.config,
            model_id,
            _version(ws, model_id, version),
            to,
            actor=actor,
            override_reason=override_reason,
            notes=notes,
        )
    _show(
        result,
        as_json,
        f"{model_id}: {result['from']} -> {result['to']} "
        f"(check {result['check']['outcome']}{', overridden' if result['override'] else ''})",
    )


@model_app.command("hold")
def hold(
    model_id: str = typer.Argument(...),
    reason: str = typer.Option(..., "--reason"),
    version: str = typer.Option(None),
    actor: str = ACTOR,
    as_json: bool = JSON,
) -> None:
    """Put a version on governance hold (state blocked).

    Example: driftguard model hold fraud --reason "Regulator inquiry, freeze changes"
    """
    ws = load_workspace()
    with ws.open_lake() as lake:
        mv = registry.hold(
            lake, ws.config, model_id, _version(ws, model_id, version), reason=reason, actor=actor
        )
    _show(mv.as_dict(), as_json, f"{model_id}@{mv.version} is {mv.lifecycle_state}")


@model_app.command("release")
def release(
    model_id: str = typer.Argument(...),
    reason: str = typer.Option(..., "--reason"),
    version: str = typer.Option(None),
    actor: str = ACTOR,
    as_json: bool = JSON,
) -> None:
    """Release a blocked version back to the state it was blocked from.

    Example: driftguard model release fraud --reason "Root cause fixed in feed, PSI back to 0.04"
    """
    ws = load_workspace()
    with ws.open_lake() as lake:
        mv = registry.release(
            lake, ws.config, model_id, _version(ws, model_id, version), reason=reason, actor=actor
        )
    _show(mv.as_dict(), as_json, f"{model_id}@{mv.version} is {mv.lifecycle_state}")


@model_app.command("retire")
def retire(
    model_id: str = typer.Argument(...),
    to: str = typer.Option(..., "--to", help="deprecated or archived."),
    version: str = typer.Option(None),
    reason: str = typer.Option(""),
    actor: str = ACTOR,
    as_json: bool = JSON,
) -> None:
    """Deprecate or archive a version.

    Example: driftguard model retire churn --to deprecated --reason "Replaced by 2.0"
    """
    ws = load_workspace()
    with ws.open_lake() as lake:
        mv = registry.retire(
            lake,
            ws.config,
            model_id,
            _version(ws, model_id, version),
            to,
            actor=actor,
            reason=reason,
        )
    _show(mv.as_dict(), as_json, f"{model_id}@{mv.version} is {mv.lifecycle_state}")


@model_app.command("history")
def model_history(
    model_id: str = typer.Argument(...), version: str = typer.Option(None), as_json: bool = JSON
) -> None:
    """Lifecycle changes, approvals and deployments of a version.

    Example: driftguard model history credit-risk --json
    """
    ws = load_workspace()
    with ws.open_lake() as lake:
        data = registry.history(lake, model_id, _version(ws, model_id, version))
    if as_json:
        print_json(data)
        return
    m = data["model"]
    console.print(
        f"{m['model_id']}@{m['version']}: {m['lifecycle_state']}, health "
        f"{m['health_status']}, owner {m['owner']}",
        markup=False,
    )
    print_table(
        "Lifecycle",
        ["at", "from", "to", "actor", "reason"],
        [
            (e["changed_at"], e["from_state"], e["to_state"], e["actor"], e["reason"])
            for e in data["lifecycle"]
        ],
    )
    print_table(
        "Deployments",
        ["at", "from", "to", "status", "check", "override", "actor"],
        [
            (
                d["deployed_at"],
                d["from_state"],
                d["to_state"],
                d["status"],
                d["check_outcome"],
                d["override_reason"] or "-",
                d["actor"],
            )
            for d in data["deployments"]
        ],
    )


@model_app.command("lineage")
def model_lineage(
    model_id: str = typer.Argument(...), version: str = typer.Option(None), as_json: bool = JSON
) -> None:
    """Training snapshot, feature version, ingestion batches, runs, approvals, deployments.

    Example: driftguard model lineage credit-risk --json
    """
    ws = load_workspace()
    with ws.open_lake() as lake:
        data = registry.lineage(lake, model_id, _version(ws, model_id, version))
    if as_json:
        print_json(data)
        return
    console.print(
        f"{model_id}@{data['version']}: trained on snapshot "
        f"{data['training_snapshot_id'] or '-'}, features "
        f"{data['feature_version'] or '-'}",
        markup=False,
    )
    console.print(
        f"{len(data['ingestion_batches'])} ingestion batches, "
        f"{len(data['monitoring_runs'])} monitoring runs, "
        f"{len({a['request_id'] for a in data['approvals']})} approval requests, "
        f"{len(data['deployments'])} deployments"
    )


# --------------------------------------------------------------------------- policy


def _rules_from(path: Path | None) -> list[policies.Rule] | None:
    if path is None:
        return None
    return policies.parse_rules(yaml.safe_load(path.read_text(encoding="utf-8")))


@policy_app.command("create")
def policy_create(
    name: str = typer.Argument(...),
    scope: str = typer.Option("global", help="global, model_type:<type> or model:<id>."),
    rules: Path = typer.Option(None, "--rules", help="YAML/JSON file with a rules list."),
    template: str = typer.Option(None, help="Start from: " + ", ".join(sorted(policies.TEMPLATES))),
    description: str = typer.Option(""),
    actor: str = ACTOR,
    as_json: bool = JSON,
) -> None:
    """Create version 1 of a policy (activate it separately).

    Example: driftguard policy create credit --scope model_type:credit-scoring \
    --template credit-strict
    """
    ws = load_workspace()
    with ws.open_lake() as lake:
        created = policies.create_policy(
            lake,
            ws.config,
            name,
            scope=scope,
            rules=_rules_from(rules),
            template=template,
            description=description,
            actor=actor,
        )
    _show(
        {"policy": created.name, "version": created.version, "scope": created.scope},
        as_json,
        f"created {created.name} v{created.version} for {created.scope}",
    )


@policy_app.command("update")
def policy_update(
    name: str = typer.Argument(...),
    rules: Path = typer.Option(..., "--rules", help="File with the new rules."),
    description: str = typer.Option(None),
    actor: str = ACTOR,
    as_json: bool = JSON,
) -> None:
    """Add a new version of a policy (the active version changes only on activate).

    Example: driftguard policy update credit --rules credit-v2.yaml
    """
    ws = load_workspace()
    with ws.open_lake() as lake:
        new = policies.update_policy(
            lake,
            ws.config,
            name,
            rules=_rules_from(rules) or [],
            description=description,
            actor=actor,
        )
    _show(
        {"policy": new.name, "version": new.version},
        as_json,
        f"{new.name} is now at version {new.version} (not active until activated)",
    )


@policy_app.command("activate")
def policy_activate(
    name: str = typer.Argument(...),
    version: int = typer.Option(None),
    reason: str = typer.Option(""),
    actor: str = ACTOR,
    as_json: bool = JSON,
) -> None:
    """Make a version (default: the latest) the active policy of its scope.

    Example: driftguard policy activate credit --version 2 --reason "Board approved"
    """
    ws = load_workspace()
    with ws.open_lake() as lake:
        chosen = policies.activate_policy(
            lake, ws.config, name, version=version, actor=actor, reason=reason
        )
    _show(
        {"policy": chosen.name, "version": chosen.version, "scope": chosen.scope},
        as_json,
        f"{chosen.name} v{chosen.version} is active for {chosen.scope}",
    )


@policy_app.command("deactivate")
def policy_deactivate(
    name: str = typer.Argument(...), reason: str = typer.Option(""), actor: str = ACTOR
) -> None:
    """Leave the policy's scope without an active policy.

    Example: driftguard policy deactivate credit --reason "Superseded by global policy"
    """
    ws = load_workspace()
    with ws.open_lake() as lake:
        policies.deactivate_policy(lake, ws.config, name, actor=actor, reason=reason)
    console.print(f"{name} deactivated")


@policy_app.command("rollback")
def policy_rollback(
    name: str = typer.Argument(...),
    to: int = typer.Option(..., "--to"),
    reason: str = typer.Option(""),
    actor: str = ACTOR,
    as_json: bool = JSON,
) -> None:
    """Activate an earlier version again.

    Example: driftguard policy rollback credit --to 1 --reason "v2 blocked every run"
    """
    ws = load_workspace()
    with ws.open_lake() as lake:
        chosen = policies.rollback_policy(
            lake, ws.config, name, to_version=to, actor=actor, reason=reason
        )
    _show(
        {"policy": chosen.name, "version": chosen.version},
        as_json,
        f"{chosen.name} rolled back to v{chosen.version}",
    )


@policy_app.command("history")
def policy_history(
    name: str = typer.Argument(None, help="Policy (default: list all)."), as_json: bool = JSON
) -> None:
    """Versions and activations of a policy, or every policy with its active version.

    Example: driftguard policy history credit
    """
    ws = load_workspace()
    with ws.open_lake() as lake:
        if name:
            data: Any = policies.policy_history(lake, name)
        else:
            active = policies.active_policies(lake)
            data = [
                {"scope": f"{k}:{v}" if k != "global" else "global", "policy": n, "version": ver}
                for (k, v), (n, ver) in sorted(active.items())
            ]
    if as_json:
        print_json(data)
        return
    if not name:
        print_table(
            "Active policies",
            ["scope", "policy", "version"],
            [(d["scope"], d["policy"], d["version"]) for d in data],
        )
        return
    print_table(
        f"Policy {name} ({data['scope']})",
        ["version", "created by", "created at", "rules"],
        [
            (v["version"], v["created_by"], v["created_at"], len(v["rules"]))
            for v in data["versions"]
        ],
    )
    print_table(
        "Activations",
        ["at", "version", "active", "actor", "reason"],
        [
            (e["changed_at"], e["version"], e["active"], e["actor"], e["reason"])
            for e in data["activations"]
        ],
    )


@policy_app.command("diff")
def policy_diff(
    name: str = typer.Argument(...), a: int = typer.Argument(...), b: int = typer.Argument(...)
) -> None:
    """Rule-level differences between two versions (JSON).

    Example: driftguard policy diff credit 1 2
    """
    ws = load_workspace()
    with ws.open_lake() as lake:
        print_json(policies.diff_policy(lake, name, a, b))


@policy_app.command("simulate")
def policy_simulate(
    rules: Path = typer.Option(None, "--rules", help="Draft rules to try."),
    policy: str = typer.Option(None, "--policy", help="Or an existing policy NAME[@VERSION]."),
    model: list[str] = typer.Option(None, "--model", "-m"),
    scenarios: Path = typer.Option(
        None, "--scenarios", help="YAML/JSON list of hypothetical measure sets (<=100)."
    ),
    as_json: bool = JSON,
) -> None:
    """What-if: which stored runs would change outcome under draft rules; writes nothing.

    Example: driftguard policy simulate --rules draft.yaml --scenarios what-if.yaml
    """
    ws = load_workspace()
    with ws.open_lake() as lake:
        if policy:
            name, _, version = policy.partition("@")
            candidate = policies.get_policy(lake, name, int(version) if version else None).rules
        else:
            candidate = _rules_from(rules) or []
        if not candidate:
            raise typer.BadParameter("give --rules FILE or --policy NAME")
        scenario_list = (yaml.safe_load(scenarios.read_text()) if scenarios else []) or []
        report = policies.what_if(
            lake, ws.config, rules=candidate, models=model, scenarios=scenario_list
        )
    if as_json:
        print_json(report.as_dict())
        return
    console.print(
        f"{report.runs_evaluated} stored runs evaluated; {len(report.changes)} would change outcome"
    )
    print_table(
        "Changed outcomes",
        ["model", "run", "window", "now", "with draft", "why"],
        [
            (
                c["model_id"],
                c["run_id"],
                c["window_start"],
                c["before"],
                c["after"],
                "; ".join(c["reasons"]),
            )
            for c in report.changes
        ],
    )
    if report.scenarios:
        print_table(
            "Scenarios",
            ["#", "measures", "draft", "current per model"],
            [
                (s["scenario"], json.dumps(s["measures"]), s["candidate"], json.dumps(s["current"]))
                for s in report.scenarios
            ],
        )
