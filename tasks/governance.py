"""Governance actions started by people from the Prefect UI (see driftguard.actions)."""

from __future__ import annotations

from typing import Any

from prefect import task

from driftguard import actions
from driftguard.workspace import Workspace
from tasks.audit import load_audit_keys
from tasks.events import emit
from tasks.retry import BACKOFF, transient_only
from tasks.runtime import step

_IO = {
    "retries": len(BACKOFF),
    "retry_delay_seconds": BACKOFF,
    "retry_condition_fn": transient_only,
    "timeout_seconds": 600,
}


def _run(kind: str, request: Any, config_path: str | None, with_settings: bool) -> dict:
    load_audit_keys()
    with step(kind, model_id=getattr(request, "model_id", None)):
        ws = Workspace.load(config_path)
        with ws.open_lake() as lake:
            runner = getattr(actions, f"run_{kind.replace('-', '_')}")
            try:
                if with_settings:
                    result = runner(lake, ws.config, ws.settings, request)
                else:
                    result = runner(lake, ws.config, request)
            except actions.PromotionBlocked as blocked:
                emit(blocked.result.events)
                raise
    emit(result.events)
    return result.result


@task(name="policy-what-if", task_run_name="what-if policy simulation", **_IO)
def what_if_task(request: actions.WhatIfRequest, config_path: str | None = None) -> dict:
    return _run("what-if", request, config_path, False)


@task(name="killswitch-activate", task_run_name="kill switch on ({request.scope})", **_IO)
def killswitch_activate_task(
    request: actions.KillSwitchActivation, config_path: str | None = None
) -> dict:
    return _run("killswitch-activation", request, config_path, True)


@task(name="killswitch-deactivate", task_run_name="kill switch off {request.switch_id}", **_IO)
def killswitch_deactivate_task(
    request: actions.KillSwitchDeactivation, config_path: str | None = None
) -> dict:
    return _run("killswitch-deactivation", request, config_path, True)


@task(name="approval-request", task_run_name="request approval {request.model_id}", **_IO)
def approval_request_task(request: actions.ApprovalRequest, config_path: str | None = None) -> dict:
    return _run("approval-request", request, config_path, False)


@task(name="approval-decision", task_run_name="decide approval {request.model_id}", **_IO)
def approval_decision_task(
    request: actions.ApprovalDecision, config_path: str | None = None
) -> dict:
    return _run("approval-decision", request, config_path, False)


@task(name="promote", task_run_name="promote {request.model_id} to {request.to}", **_IO)
def promotion_task(request: actions.Promotion, config_path: str | None = None) -> dict:
    """Promote through the gate; a refusal emits ``driftguard.policy.promotion_blocked`` and
    fails the task (not retried: the monitoring results must change first)."""
    return _run("promotion", request, config_path, False)
