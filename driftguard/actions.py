"""Manual actions people start from the Prefect UI (or any other front end), as typed requests.

Each request is a pydantic model, so Prefect renders a form with field descriptions, defaults
and validation for the manual flows; each ``run_*`` function performs one request against the
lake with the same governance checks as the command line (roles, separation of duties, reasons,
audit entries) and returns an :class:`ActionResult`: a JSON-able result and the events to emit.

The acting person is a required field: the Prefect UI does not tell a flow who clicked "Run",
so the name typed in the form is what roles are checked against (see the README on
authorisation versus authentication).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from driftguard.config import Config, Settings
from driftguard.errors import DriftGuardError
from driftguard.events import Event, killswitch_event, promotion_blocked_event
from driftguard.governance.policy import Rule
from driftguard.store import Lake

ActorName = Field(
    min_length=1,
    max_length=100,
    description="Who takes this action: a name listed under `roles` in driftguard.yaml.",
)


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass
class ActionResult:
    result: dict[str, Any]
    events: list[Event] = field(default_factory=list)


# --------------------------------------------------------------------------- policy what-if


class WhatIfRequest(_Request):
    """Try draft policy rules (or an existing policy) against stored runs; writes nothing."""

    rules: list[Rule] = Field(
        default_factory=list,
        description="Draft rules, e.g. {id: psi, measure: drift.max_psi, max: 0.2}.",
    )
    policy: str | None = Field(
        None, description="Or an existing policy: NAME or NAME@VERSION (instead of rules)."
    )
    models: list[str] = Field(default_factory=list, description="Models to include (all if empty).")
    scenarios: list[dict[str, float]] = Field(
        default_factory=list,
        max_length=100,
        description="Hypothetical measure sets, e.g. {drift.max_psi: 0.3, risk.score: 60}.",
    )

    @model_validator(mode="after")
    def _one_source(self) -> WhatIfRequest:
        if bool(self.rules) == bool(self.policy):
            raise ValueError("give draft rules or the name of a policy (one of the two)")
        return self


def run_what_if(lake: Lake, config: Config, request: WhatIfRequest) -> ActionResult:
    from driftguard.governance import policy as policies

    rules = list(request.rules)
    if request.policy:
        name, _, version = request.policy.partition("@")
        rules = policies.get_policy(lake, name, int(version) if version else None).rules
    report = policies.what_if(
        lake, config, rules=rules, models=request.models or None, scenarios=request.scenarios
    )
    return ActionResult(report.as_dict())


# --------------------------------------------------------------------------- kill switches


class KillSwitchActivation(_Request):
    """Switch a model version (or a type, endpoint, segment, region, consumer) off for serving."""

    actor: str = ActorName
    scope: Literal["model_version", "model_type", "endpoint", "segment", "region", "consumer"] = (
        "model_version"
    )
    model_id: str | None = Field(
        None, description="For scope model_version: the model (its configured version is used)."
    )
    target: dict[str, str] = Field(
        default_factory=dict,
        description="Target keys for other scopes, e.g. {region: eu-west} or {model_type: churn}.",
    )
    reason: str = Field(min_length=1, description="Why: shown to serving teams and audited.")


class KillSwitchDeactivation(_Request):
    """Switch a kill switch back on, with notes on what was fixed and checked."""

    actor: str = ActorName
    switch_id: str = Field(min_length=1, description="The switch id (driftguard killswitch list).")
    recovery_notes: str = Field(min_length=1, description="What was fixed and verified.")


def run_killswitch_activation(
    lake: Lake, config: Config, settings: Settings, request: KillSwitchActivation
) -> ActionResult:
    from driftguard.governance import killswitch

    target = dict(request.target)
    if request.model_id:
        model = config.model(request.model_id)
        if request.scope == "model_version":
            target = {"model_id": model.id, "version": model.version, **target}
        else:
            target.setdefault("model_id", model.id)
    switch = killswitch.activate(
        lake,
        config,
        settings,
        scope=request.scope,
        target=target,
        reason=request.reason,
        actor=request.actor,
    )
    data = switch.as_dict()
    return ActionResult(data, [killswitch_event(data, activated=True)])


def run_killswitch_deactivation(
    lake: Lake, config: Config, settings: Settings, request: KillSwitchDeactivation
) -> ActionResult:
    from driftguard.governance import killswitch

    switch = killswitch.deactivate(
        lake,
        config,
        settings,
        request.switch_id,
        recovery_notes=request.recovery_notes,
        actor=request.actor,
    )
    data = switch.as_dict()
    return ActionResult(data, [killswitch_event(data, activated=False)])


# --------------------------------------------------------------------------- promotions


class ApprovalRequest(_Request):
    """Ask approvers to approve a registered model version for deployment."""

    actor: str = ActorName
    model_id: str
    version: str | None = Field(None, description="Default: the configured version.")
    justification: str = Field(min_length=1, description="Why this version should be approved.")


class ApprovalDecision(_Request):
    """Approve or reject an open approval request (the owner and requester may not decide)."""

    actor: str = ActorName
    model_id: str
    version: str | None = Field(None, description="Default: the configured version.")
    approve: bool = Field(True, description="Untick to reject.")
    notes: str = ""


class Promotion(_Request):
    """Move an approved version to shadow, canary or production through the policy gate."""

    actor: str = ActorName
    model_id: str
    version: str | None = Field(None, description="Default: the configured version.")
    to: Literal["shadow", "canary", "production"]
    override_reason: str | None = Field(
        None, description="Admins only: deploy despite a blocking check, with a written reason."
    )
    notes: str | None = None


def _version(config: Config, model_id: str, version: str | None) -> str:
    return version or config.model(model_id).version


def run_approval_request(lake: Lake, config: Config, request: ApprovalRequest) -> ActionResult:
    from driftguard.governance import registry

    version = _version(config, request.model_id, request.version)
    result = registry.request_approval(
        lake,
        config,
        request.model_id,
        version,
        justification=request.justification,
        actor=request.actor,
    )
    return ActionResult({"model_id": request.model_id, "version": version, **result})


def run_approval_decision(lake: Lake, config: Config, request: ApprovalDecision) -> ActionResult:
    from driftguard.governance import registry

    version = _version(config, request.model_id, request.version)
    result = registry.decide(
        lake,
        config,
        request.model_id,
        version,
        approve=request.approve,
        notes=request.notes,
        actor=request.actor,
    )
    return ActionResult({"model_id": request.model_id, "version": version, **result})


class PromotionBlocked(DriftGuardError):
    """Carries the blocked promotion's result and event out of :func:`run_promotion`."""

    def __init__(self, message: str, result: ActionResult):
        super().__init__(message)
        self.result = result


def run_promotion(lake: Lake, config: Config, request: Promotion) -> ActionResult:
    """Promote; a refusal by the gate raises :class:`PromotionBlocked` with the event to emit
    (the blocked attempt is already recorded in the deployment history and the audit log)."""
    from driftguard.governance import registry

    version = _version(config, request.model_id, request.version)
    try:
        result = registry.promote(
            lake,
            config,
            request.model_id,
            version,
            request.to,
            actor=request.actor,
            override_reason=request.override_reason,
            notes=request.notes,
        )
    except registry.GateBlocked as blocked:
        check = registry.pre_deployment_check(
            lake, config, config.model(request.model_id), version, registry.State(request.to)
        )
        event = promotion_blocked_event(
            request.model_id, version, request.to, request.actor, check.reasons, check.outcome
        )
        raise PromotionBlocked(
            str(blocked), ActionResult({"status": "blocked", "check": check.as_dict()}, [event])
        ) from blocked
    return ActionResult({"model_id": request.model_id, "version": version, **result})


# ----------------------------------------------------------------- reports, audit, retention


class ReportRequest(_Request):
    """Re-render a report from its run's snapshot, or re-send it to the recipients."""

    run_id: str | None = Field(None, description="A monitoring run id (default: the model's last).")
    model_id: str | None = Field(None, description="Or a model: its most recent run.")
    send: bool = Field(False, description="Also e-mail it to the model's recipients again.")

    @model_validator(mode="after")
    def _one(self) -> ReportRequest:
        if bool(self.run_id) == bool(self.model_id):
            raise ValueError("give a run id or a model id (one of the two)")
        return self


def resolve_report_runs(lake: Lake, request: ReportRequest) -> list[str]:
    """The run ids a report request means."""
    from driftguard.monitor import RunNotFound, load_run, recent_runs

    if request.run_id:
        return [load_run(lake, request.run_id).run_id]
    assert request.model_id is not None
    runs = recent_runs(lake, request.model_id, 1)
    if not runs:
        raise RunNotFound(f"{request.model_id} has no monitoring run yet to report on")
    return [runs[0].run_id]


class AuditVerification(_Request):
    """Verify the whole audit log (optionally against checkpoint lines from reports)."""

    checkpoints: list[str] = Field(
        default_factory=list,
        description="Checkpoint lines (driftguard-audit-checkpoint/1 ...) held outside the lake.",
    )
    full: bool = Field(True, description="Also decode every entry and compare its columns.")


class RetentionRequest(_Request):
    """Delete raw logs older than each model's retention and expire old lake snapshots."""

    models: list[str] = Field(default_factory=list, description="Models (all if empty).")
    dry_run: bool = Field(False, description="Only count what would be deleted.")
    expire_snapshots: bool = Field(True, description="Also expire old snapshots and files.")
    actor: str = Field("driftguard-retention", description="Recorded in the audit entries.")
