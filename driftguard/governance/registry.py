"""The model registry: model versions, their lifecycle, approvals and deployments.

Lifecycle (``TRANSITIONS``): draft -> pending_approval -> approved | rejected; approved ->
shadow -> canary -> production -> deprecated -> archived; a rejected version may be submitted
again; any state but archived -> blocked (kill switch or governance hold) and back to the state
it was blocked from by an authorised release. Health status (from the latest risk score) is a
separate field and never changes the lifecycle by itself.

Approval needs the configured number of distinct approvers for the model type, none of whom is
the owner or the requester (separation of duties). Promotion to a gated state runs the
pre-deployment check: the model's active policy against its latest monitoring results. A
failing check blocks the promotion unless an admin overrides it with a written reason; blocked
attempts are recorded in the deployment history too.

Every change and its audit entry commit in one transaction; a per-version guard row makes
concurrent changes to one version conflict and retry, so two approvals racing each other are
both counted.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from driftguard import audit
from driftguard.config import Config, ModelConfig
from driftguard.errors import DriftGuardError
from driftguard.governance.measures import measures_of
from driftguard.governance.policy import PolicyEvaluation, evaluate_for
from driftguard.governance.roles import (
    SeparationOfDuties,
    record_refusal,
    require,
    require_reason,
    resolve_actor,
)
from driftguard.store import Lake


class State(StrEnum):
    DRAFT = "draft"
    PENDING_APPROVAL = "pending_approval"
    APPROVED = "approved"
    REJECTED = "rejected"
    SHADOW = "shadow"
    CANARY = "canary"
    PRODUCTION = "production"
    DEPRECATED = "deprecated"
    ARCHIVED = "archived"
    BLOCKED = "blocked"


TRANSITIONS: dict[State, set[State]] = {
    State.DRAFT: {State.PENDING_APPROVAL},
    State.PENDING_APPROVAL: {State.APPROVED, State.REJECTED},
    State.REJECTED: {State.PENDING_APPROVAL},
    State.APPROVED: {State.SHADOW},
    State.SHADOW: {State.CANARY},
    State.CANARY: {State.PRODUCTION},
    State.PRODUCTION: {State.DEPRECATED},
    State.DEPRECATED: {State.ARCHIVED},
    State.ARCHIVED: set(),
    State.BLOCKED: set(),  # left only by release(), back to the state it was blocked from
}
for _state in State:
    if _state not in (State.ARCHIVED, State.BLOCKED):
        TRANSITIONS[_state].add(State.BLOCKED)
DEPLOYMENT_STATES = (State.SHADOW, State.CANARY, State.PRODUCTION)
#: States in which a model serves real traffic: simulated logs are refused for them.
LIVE_STATES = (State.PRODUCTION, State.BLOCKED, State.ARCHIVED)


class RegistryError(DriftGuardError):
    """A registry action that cannot be taken as asked."""


class ModelNotRegistered(RegistryError, LookupError):
    """The model version is not in the registry."""


class DuplicateModelVersion(RegistryError):
    """Name + version already registered."""


class IllegalTransition(RegistryError):
    """The lifecycle does not allow this move from the current state."""


class GateBlocked(RegistryError):
    """The pre-deployment check failed and no valid override was given."""


@dataclass(frozen=True)
class ModelVersion:
    model_id: str
    version: str
    owner: str
    purpose: str
    model_type: str
    training_snapshot_id: str | None
    feature_version: str | None
    training_metrics: dict[str, float]
    lifecycle_state: State
    health_status: str
    registered_by: str
    registered_at: datetime
    updated_at: datetime

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["lifecycle_state"] = str(self.lifecycle_state)
        return data


def _resource(model_id: str, version: str) -> str:
    return f"{model_id}@{version}"


def _touch(lake: Lake, model_id: str, version: str) -> None:
    resource = f"model:{_resource(model_id, version)}"
    lake.execute("DELETE FROM governance_heads WHERE resource = ?", [resource])
    lake.execute("INSERT INTO governance_heads VALUES (?, ?)", [resource, datetime.now(UTC)])


def _require(
    lake: Lake, config: Config, actor: str, action: str, model_id: str, version: str
) -> None:
    """The role check of an action on one model version (refusals are audited)."""
    require(
        lake,
        config,
        actor,
        action,
        resource_type="model_version",
        resource_id=_resource(model_id, version),
    )


def _new_id(prefix: str) -> str:
    return f"{prefix}-{datetime.now(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"


def latest_run_summary(lake: Lake, model_id: str, version: str) -> dict[str, Any] | None:
    rows = lake.records(
        "SELECT run_id, n_current, summary_json FROM monitoring_runs WHERE model_id = ? AND "
        "model_version = ? ORDER BY started_at DESC LIMIT 1",
        [model_id, version],
    )
    if not rows:
        return None
    return {
        "run_id": rows[0]["run_id"],
        "n_current": rows[0]["n_current"],
        "summary": json.loads(rows[0]["summary_json"] or "{}"),
    }


def health_status(lake: Lake, model_id: str, version: str) -> str:
    """HEALTHY / ATTENTION_NEEDED / AT_RISK from the latest run's risk score, else UNKNOWN."""
    latest = latest_run_summary(lake, model_id, version)
    risk = (latest or {}).get("summary", {}).get("risk") or {}
    return str(risk.get("status") or "UNKNOWN")


def get_model_version(lake: Lake, model_id: str, version: str) -> ModelVersion:
    rows = lake.records(
        "SELECT * FROM model_versions WHERE model_id = ? AND version = ?", [model_id, version]
    )
    if not rows:
        raise ModelNotRegistered(
            f"Model {model_id!r} version {version!r} is not registered. Run `driftguard model "
            f"register {model_id} --version {version}` first."
        )
    row = rows[0]
    return ModelVersion(
        model_id=row["model_id"],
        version=row["version"],
        owner=row["owner"],
        purpose=row["purpose"],
        model_type=row["model_type"],
        training_snapshot_id=row["training_snapshot_id"],
        feature_version=row["feature_version"],
        training_metrics=json.loads(row["training_metrics_json"] or "{}"),
        lifecycle_state=State(row["lifecycle_state"]),
        health_status=health_status(lake, model_id, version),
        registered_by=row["registered_by"],
        registered_at=row["registered_at"],
        updated_at=row["updated_at"],
    )


def list_model_versions(lake: Lake) -> list[ModelVersion]:
    rows = lake.fetchall("SELECT model_id, version FROM model_versions ORDER BY 1, 2")
    return [get_model_version(lake, m, v) for m, v in rows]


def _set_state(
    lake: Lake,
    current: ModelVersion,
    to: State,
    actor: str,
    reason: str | None,
    *,
    event: str,
    severity: str = "info",
    payload: dict[str, Any] | None = None,
    run_id: str | None = None,
) -> None:
    now = datetime.now(UTC)
    lake.execute(
        "UPDATE model_versions SET lifecycle_state = ?, updated_at = ? "
        "WHERE model_id = ? AND version = ?",
        [str(to), now, current.model_id, current.version],
    )
    lake.execute(
        "INSERT INTO lifecycle_events VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            _new_id("lc"),
            current.model_id,
            current.version,
            str(current.lifecycle_state),
            str(to),
            actor,
            reason,
            now,
        ],
    )
    audit.append(
        lake,
        event_type="lifecycle_change",
        action=event,
        actor=actor,
        severity=severity,
        resource_type="model_version",
        resource_id=_resource(current.model_id, current.version),
        reason=reason,
        run_id=run_id,
        payload={"from": str(current.lifecycle_state), "to": str(to), **(payload or {})},
    )


def _check_transition(current: ModelVersion, to: State) -> None:
    if to not in TRANSITIONS[current.lifecycle_state]:
        allowed_next = sorted(str(s) for s in TRANSITIONS[current.lifecycle_state])
        hint = (
            " (a blocked version returns by `driftguard model release`)"
            if current.lifecycle_state == State.BLOCKED
            else ""
        )
        raise IllegalTransition(
            f"{_resource(current.model_id, current.version)} cannot go from "
            f"{current.lifecycle_state} to {to}; allowed next: "
            f"{', '.join(allowed_next) or 'none (terminal state)'}{hint}"
        )


# --------------------------------------------------------------------------- registration


def register_model(
    lake: Lake,
    config: Config,
    model_id: str,
    *,
    version: str | None = None,
    actor: str | None = None,
    training_snapshot_id: str | None = None,
    feature_version: str | None = None,
    training_metrics: dict[str, float] | None = None,
) -> ModelVersion:
    """Register a configured model version in state draft; name + version must be new."""
    actor = resolve_actor(actor)
    model = config.model(model_id)
    version = version or model.version
    _require(lake, config, actor, "model.register", model_id, version)

    def work(lk: Lake) -> ModelVersion:
        _touch(lk, model_id, version)
        exists = lk.fetchone(
            "SELECT count(*) FROM model_versions WHERE model_id = ? AND version = ?",
            [model_id, version],
        )[0]
        if exists:
            raise DuplicateModelVersion(
                f"{model_id} version {version} is already registered; register a new version "
                "number for a retrained model"
            )
        now = datetime.now(UTC)
        lk.execute(
            "INSERT INTO model_versions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                model_id,
                version,
                model.owner,
                model.purpose,
                model.model_type,
                training_snapshot_id,
                feature_version,
                json.dumps(training_metrics or {}),
                str(State.DRAFT),
                actor,
                now,
                now,
            ],
        )
        lk.execute(
            "INSERT INTO lifecycle_events VALUES (?, ?, ?, NULL, ?, ?, ?, ?)",
            [_new_id("lc"), model_id, version, str(State.DRAFT), actor, "registered", now],
        )
        audit.append(
            lk,
            event_type="registry",
            action="model.registered",
            actor=actor,
            resource_type="model_version",
            resource_id=_resource(model_id, version),
            payload={
                "owner": model.owner,
                "model_type": model.model_type,
                "training_snapshot_id": training_snapshot_id,
                "feature_version": feature_version,
                "training_metrics": training_metrics or {},
            },
        )
        return get_model_version(lk, model_id, version)

    return lake.transaction(work, message=f"register {model_id}@{version}", author=actor)


# --------------------------------------------------------------------------- approvals


def request_approval(
    lake: Lake,
    config: Config,
    model_id: str,
    version: str,
    *,
    justification: str,
    actor: str | None = None,
) -> dict[str, Any]:
    actor = resolve_actor(actor)
    if not justification.strip():
        raise RegistryError("an approval request needs a justification")
    _require(lake, config, actor, "model.request_approval", model_id, version)

    def work(lk: Lake) -> dict[str, Any]:
        _touch(lk, model_id, version)
        current = get_model_version(lk, model_id, version)
        _check_transition(current, State.PENDING_APPROVAL)
        needed = config.governance.approvals_needed(current.model_type)
        request_id = _new_id("apr")
        lk.execute(
            "INSERT INTO approval_requests VALUES (?, ?, ?, ?, ?, ?, 'open', ?, NULL)",
            [request_id, model_id, version, actor, justification, needed, datetime.now(UTC)],
        )
        _set_state(
            lk,
            current,
            State.PENDING_APPROVAL,
            actor,
            justification,
            event="model.approval_requested",
            payload={"request_id": request_id, "required_approvals": needed},
        )
        return {"request_id": request_id, "required_approvals": needed}

    return lake.transaction(work, message=f"approval requested {model_id}@{version}", author=actor)


def _open_request(lake: Lake, model_id: str, version: str) -> dict[str, Any]:
    rows = lake.records(
        "SELECT * FROM approval_requests WHERE model_id = ? AND version = ? AND status = 'open' "
        "ORDER BY requested_at DESC LIMIT 1",
        [model_id, version],
    )
    if not rows:
        raise RegistryError(
            f"{_resource(model_id, version)} has no open approval request; run `driftguard "
            "model request-approval` first"
        )
    return rows[0]


def decide(
    lake: Lake,
    config: Config,
    model_id: str,
    version: str,
    *,
    approve: bool,
    notes: str = "",
    actor: str | None = None,
) -> dict[str, Any]:
    """Record one approver's decision; the request closes when enough distinct approvers
    approved, or at the first rejection."""
    actor = resolve_actor(actor)
    resource = _resource(model_id, version)
    require(
        lake, config, actor, "model.approve", resource_type="model_version", resource_id=resource
    )
    request = _open_request(lake, model_id, version)
    current = get_model_version(lake, model_id, version)
    if actor in (current.owner, request["requested_by"]):
        role = "owner" if actor == current.owner else "requester"
        reason = (
            f"separation of duties: {actor!r} is the {role} of {resource} and cannot "
            "decide its approval"
        )
        record_refusal(
            lake,
            actor=actor,
            action="model.approve",
            resource_type="model_version",
            resource_id=resource,
            reason=reason,
        )
        raise SeparationOfDuties(reason + "; another approver must.")

    def work(lk: Lake) -> dict[str, Any]:
        _touch(lk, model_id, version)
        req = _open_request(lk, model_id, version)
        earlier = lk.fetchone(
            "SELECT count(*) FROM approval_decisions WHERE request_id = ? AND approver = ?",
            [req["request_id"], actor],
        )[0]
        if earlier:
            raise RegistryError(f"{actor!r} has already decided request {req['request_id']}")
        now = datetime.now(UTC)
        lk.execute(
            "INSERT INTO approval_decisions VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                req["request_id"],
                model_id,
                version,
                actor,
                "approve" if approve else "reject",
                notes,
                now,
            ],
        )
        audit.append(
            lk,
            event_type="approval",
            action="model.approved" if approve else "model.rejected",
            actor=actor,
            resource_type="model_version",
            resource_id=resource,
            reason=notes or None,
            payload={"request_id": req["request_id"]},
        )
        (approvals,) = lk.fetchone(
            "SELECT count(DISTINCT approver) FROM approval_decisions "
            "WHERE request_id = ? AND decision = 'approve'",
            [req["request_id"]],
        )
        status = "open"
        if not approve:
            status = "rejected"
        elif approvals >= req["required_approvals"]:
            status = "approved"
        if status != "open":
            lk.execute(
                "UPDATE approval_requests SET status = ?, closed_at = ? WHERE request_id = ?",
                [status, now, req["request_id"]],
            )
            state = get_model_version(lk, model_id, version)
            _set_state(
                lk,
                state,
                State.APPROVED if status == "approved" else State.REJECTED,
                actor,
                notes or None,
                event=f"model.{status}",
                payload={"request_id": req["request_id"], "approvals": approvals},
            )
        return {
            "request_id": req["request_id"],
            "status": status,
            "approvals": approvals,
            "required_approvals": req["required_approvals"],
        }

    return lake.transaction(work, message=f"decision on {resource}", author=actor)


# --------------------------------------------------------------------------- deployment


@dataclass(frozen=True)
class GateResult:
    outcome: str  # pass | warn | block | no_results
    run_id: str | None
    evaluation: PolicyEvaluation | None
    reasons: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "run_id": self.run_id,
            "reasons": self.reasons,
            "evaluation": self.evaluation.as_dict() if self.evaluation else None,
        }


def pre_deployment_check(
    lake: Lake, config: Config, model: ModelConfig, version: str, to_state: State
) -> GateResult:
    """The active policy against the version's latest monitoring results."""
    latest = latest_run_summary(lake, model.id, version)
    if latest is None:
        optional = str(to_state) in config.governance.results_optional_states
        return GateResult(
            "warn" if optional else "no_results",
            None,
            None,
            [
                f"no monitoring run exists for {model.id} version {version}"
                + (
                    "; allowed for a shadow deployment, which gathers them"
                    if optional
                    else "; run `driftguard monitor` first"
                )
            ],
        )
    evaluation = evaluate_for(lake, model, measures_of(latest["summary"], rows=latest["n_current"]))
    reasons = evaluation.reasons
    if evaluation.policy_name is None:
        reasons = ["no active policy applies to this model; promotion is unchecked"]
        return GateResult("warn", latest["run_id"], evaluation, reasons)
    return GateResult(evaluation.outcome, latest["run_id"], evaluation, reasons)


def promote(
    lake: Lake,
    config: Config,
    model_id: str,
    version: str,
    to_state: str | State,
    *,
    actor: str | None = None,
    override_reason: str | None = None,
    notes: str | None = None,
) -> dict[str, Any]:
    """Move a version to its next deployment stage through the pre-deployment check."""
    actor = resolve_actor(actor)
    target = State(to_state)
    resource = _resource(model_id, version)
    model = config.model(model_id)
    require(
        lake, config, actor, "model.promote", resource_type="model_version", resource_id=resource
    )
    if override_reason is not None:
        require_reason(config, override_reason, what="an override")
        require(
            lake,
            config,
            actor,
            "model.override_gate",
            resource_type="model_version",
            resource_id=resource,
        )
    current = get_model_version(lake, model_id, version)
    _check_transition(current, target)
    gated = target in DEPLOYMENT_STATES and str(target) in config.governance.gated_states
    gate = (
        pre_deployment_check(lake, config, model, version, target)
        if gated
        else GateResult("pass", None, None, ["no pre-deployment check for this transition"])
    )
    failing = gate.outcome in ("block", "no_results")
    blocked = failing and override_reason is None

    def work(lk: Lake) -> dict[str, Any]:
        _touch(lk, model_id, version)
        state = get_model_version(lk, model_id, version)
        _check_transition(state, target)
        deployment_id = _new_id("dep")
        lk.execute(
            "INSERT INTO deployments VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                deployment_id,
                model_id,
                version,
                str(state.lifecycle_state),
                str(target),
                actor,
                datetime.now(UTC),
                "blocked" if blocked else "promoted",
                gate.outcome,
                json.dumps(gate.as_dict(), default=str),
                gate.run_id,
                bool(failing and override_reason),
                override_reason,
                notes,
            ],
        )
        if blocked:
            audit.append(
                lk,
                event_type="deployment",
                action="model.promotion_blocked",
                actor=actor,
                severity="high",
                resource_type="model_version",
                resource_id=resource,
                reason="; ".join(gate.reasons),
                run_id=gate.run_id,
                payload={"deployment_id": deployment_id, "to": str(target), "check": gate.outcome},
            )
        else:
            _set_state(
                lk,
                state,
                target,
                actor,
                override_reason or notes,
                event="model.promoted",
                severity="high" if failing else "info",
                run_id=gate.run_id,
                payload={
                    "deployment_id": deployment_id,
                    "check": gate.outcome,
                    "override": bool(failing and override_reason),
                },
            )
        return {
            "deployment_id": deployment_id,
            "status": "blocked" if blocked else "promoted",
            "from": str(state.lifecycle_state),
            "to": str(target),
            "check": gate.as_dict(),
            "override": bool(failing and override_reason),
        }

    result = lake.transaction(work, message=f"promote {resource} to {target}", author=actor)
    if blocked:
        raise GateBlocked(
            f"Promotion of {resource} to {target} blocked by the pre-deployment check "
            f"({gate.outcome}): {'; '.join(gate.reasons)}. An admin may override with "
            "--override-reason."
        )
    return result


def retire(
    lake: Lake,
    config: Config,
    model_id: str,
    version: str,
    to_state: str | State,
    *,
    actor: str | None = None,
    reason: str = "",
) -> ModelVersion:
    """production -> deprecated -> archived."""
    actor = resolve_actor(actor)
    target = State(to_state)
    if target not in (State.DEPRECATED, State.ARCHIVED):
        raise IllegalTransition("retire moves a version to deprecated or archived")
    _require(lake, config, actor, "model.retire", model_id, version)

    def work(lk: Lake) -> ModelVersion:
        _touch(lk, model_id, version)
        current = get_model_version(lk, model_id, version)
        _check_transition(current, target)
        _set_state(lk, current, target, actor, reason or None, event=f"model.{target}")
        return get_model_version(lk, model_id, version)

    return lake.transaction(work, message=f"{target} {model_id}@{version}", author=actor)


def block_version(
    lake: Lake,
    model_id: str,
    version: str,
    *,
    actor: str,
    reason: str,
    run_id: str | None = None,
    source: str = "governance_hold",
) -> bool:
    """Set a registered version to blocked inside the caller's transaction.

    Returns False when the version is not registered or already blocked or archived. Used by
    a governance hold (``hold``) and by kill switches.
    """
    _touch(lake, model_id, version)
    try:
        current = get_model_version(lake, model_id, version)
    except ModelNotRegistered:
        return False
    if current.lifecycle_state in (State.BLOCKED, State.ARCHIVED):
        return False
    _set_state(
        lake,
        current,
        State.BLOCKED,
        actor,
        reason,
        event="model.blocked",
        severity="critical",
        run_id=run_id,
        payload={"source": source},
    )
    return True


def hold(
    lake: Lake,
    config: Config,
    model_id: str,
    version: str,
    *,
    reason: str,
    actor: str | None = None,
) -> ModelVersion:
    """Governance hold: block a version (role model.block)."""
    actor = resolve_actor(actor)
    _require(lake, config, actor, "model.block", model_id, version)
    require_reason(config, reason, what="a hold")

    def work(lk: Lake) -> ModelVersion:
        current = get_model_version(lk, model_id, version)
        _check_transition(current, State.BLOCKED)
        block_version(lk, model_id, version, actor=actor, reason=reason)
        return get_model_version(lk, model_id, version)

    return lake.transaction(work, message=f"hold {model_id}@{version}", author=actor)


def release(
    lake: Lake,
    config: Config,
    model_id: str,
    version: str,
    *,
    reason: str,
    actor: str | None = None,
) -> ModelVersion:
    """Return a blocked version to the state it was blocked from (role model.release)."""
    actor = resolve_actor(actor)
    _require(lake, config, actor, "model.release", model_id, version)
    require_reason(config, reason, what="a release")

    def work(lk: Lake) -> ModelVersion:
        _touch(lk, model_id, version)
        current = get_model_version(lk, model_id, version)
        if current.lifecycle_state != State.BLOCKED:
            raise IllegalTransition(
                f"{_resource(model_id, version)} is {current.lifecycle_state}, not blocked"
            )
        (previous,) = lk.fetchone(
            "SELECT arg_max(from_state, changed_at) FROM lifecycle_events WHERE model_id = ? AND "
            "version = ? AND to_state = 'blocked'",
            [model_id, version],
        )
        _set_state(
            lk, current, State(previous), actor, reason, event="model.released", severity="high"
        )
        return get_model_version(lk, model_id, version)

    return lake.transaction(work, message=f"release {model_id}@{version}", author=actor)


# --------------------------------------------------------------------------- history


def history(lake: Lake, model_id: str, version: str) -> dict[str, Any]:
    current = get_model_version(lake, model_id, version)
    params = [model_id, version]
    return {
        "model": current.as_dict(),
        "lifecycle": lake.records(
            "SELECT changed_at, from_state, to_state, actor, reason FROM lifecycle_events "
            "WHERE model_id = ? AND version = ? ORDER BY changed_at",
            params,
        ),
        "approvals": lake.records(
            "SELECT r.request_id, r.requested_by, r.justification, r.status, r.requested_at, "
            "d.approver, d.decision, d.notes, d.decided_at FROM approval_requests r LEFT JOIN "
            "approval_decisions d USING (request_id) WHERE r.model_id = ? AND r.version = ? "
            "ORDER BY r.requested_at, d.decided_at",
            params,
        ),
        "deployments": deployments(lake, model_id, version),
    }


def deployments(
    lake: Lake, model_id: str | None = None, version: str | None = None
) -> list[dict[str, Any]]:
    where, params = [], []
    if model_id:
        where.append("model_id = ?")
        params.append(model_id)
    if version:
        where.append("version = ?")
        params.append(version)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    rows = lake.records(f"SELECT * FROM deployments {clause} ORDER BY deployed_at", params)
    for row in rows:
        row["check"] = json.loads(row.pop("check_json"))
    return rows


def lineage(lake: Lake, model_id: str, version: str) -> dict[str, Any]:
    """Training snapshot, feature version, ingestion batches, runs, approvals, deployments."""
    current = get_model_version(lake, model_id, version)
    params = [model_id, version]
    return {
        "model_id": model_id,
        "version": version,
        "training_snapshot_id": current.training_snapshot_id,
        "feature_version": current.feature_version,
        "training_metrics": current.training_metrics,
        "ingestion_batches": lake.records(
            "SELECT batch_id, kind, source_path, sha256, rows_accepted, rows_quarantined, "
            "min_ts, max_ts, finished_at FROM ingest_batches WHERE model_id = ? AND "
            "model_version = ? ORDER BY finished_at",
            params,
        ),
        "monitoring_runs": lake.records(
            "SELECT run_id, window_start, window_end, n_current, started_at FROM "
            "monitoring_runs WHERE model_id = ? AND model_version = ? ORDER BY started_at",
            params,
        ),
        **{
            k: v
            for k, v in history(lake, model_id, version).items()
            if k in ("approvals", "deployments")
        },
    }


def refuse_simulation_for_live_models(model: ModelConfig, lake: Lake | None) -> None:
    """Simulated logs must never mix with a live model's logs (simulate.GUARDS)."""
    if lake is None or not lake.table_exists("model_versions"):
        return
    rows = lake.fetchall(
        "SELECT lifecycle_state FROM model_versions WHERE model_id = ? AND version = ?",
        [model.id, model.version],
    )
    if rows and rows[0][0] in {str(s) for s in LIVE_STATES}:
        from driftguard.simulate import SimulationRefused

        raise SimulationRefused(
            f"Model {model.id!r} version {model.version} is {rows[0][0]}: simulated logs are "
            "never mixed with a live model's logs."
        )


def _register_guard() -> None:
    from driftguard import simulate

    if refuse_simulation_for_live_models not in simulate.GUARDS:
        simulate.GUARDS.append(refuse_simulation_for_live_models)


_register_guard()
