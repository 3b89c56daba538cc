"""Flows people start by hand from the Prefect UI; each takes one typed request (a pydantic
model from driftguard.actions), so the UI's "Run" form shows its fields, descriptions and
defaults, and validates them before the run starts.

Scheduled too: ``verify_audit`` (daily) and ``apply_retention`` (daily), in prefect.yaml.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger

from driftguard.actions import (
    ApprovalDecision,
    ApprovalRequest,
    AuditVerification,
    KillSwitchActivation,
    KillSwitchDeactivation,
    Promotion,
    ReportRequest,
    RetentionRequest,
    WhatIfRequest,
)
from tasks.artifacts import publish_what_if_task
from tasks.governance import (
    approval_decision_task,
    approval_request_task,
    killswitch_activate_task,
    killswitch_deactivate_task,
    promotion_task,
    what_if_task,
)
from tasks.ops import retention_task, verify_audit_task
from tasks.report import notify_task, publish_artifacts_task, render_reports_task


class AuditVerificationFailed(RuntimeError):
    """The audit log is not intact (the event driftguard.audit.verification_failed was sent)."""


@flow(name="policy-what-if", flow_run_name="what-if policy simulation", timeout_seconds=3600)
def policy_what_if(request: WhatIfRequest, config_path: str | None = None) -> dict[str, Any]:
    """Which stored runs would change outcome under draft rules (or another policy); scenarios
    of hypothetical measures. Writes nothing to the lake; the result is an artifact."""
    report = what_if_task(request, config_path)
    publish_what_if_task(report)
    return report


@flow(
    name="killswitch-activate", flow_run_name="kill switch on: {request.scope}", timeout_seconds=900
)
def activate_kill_switch(
    request: KillSwitchActivation, config_path: str | None = None
) -> dict[str, Any]:
    """Switch a target off for serving (role killswitch.activate); re-exports the switches
    file and emits driftguard.killswitch.activated."""
    return killswitch_activate_task(request, config_path)


@flow(
    name="killswitch-deactivate",
    flow_run_name="kill switch off: {request.switch_id}",
    timeout_seconds=900,
)
def deactivate_kill_switch(
    request: KillSwitchDeactivation, config_path: str | None = None
) -> dict[str, Any]:
    """Switch it back on with recovery notes (role killswitch.deactivate); emits
    driftguard.killswitch.deactivated."""
    return killswitch_deactivate_task(request, config_path)


@flow(
    name="request-approval",
    flow_run_name="request approval: {request.model_id}",
    timeout_seconds=900,
)
def request_approval(request: ApprovalRequest, config_path: str | None = None) -> dict[str, Any]:
    """Open an approval request for a registered model version."""
    return approval_request_task(request, config_path)


@flow(
    name="decide-approval",
    flow_run_name="approval decision: {request.model_id}",
    timeout_seconds=900,
)
def decide_approval(request: ApprovalDecision, config_path: str | None = None) -> dict[str, Any]:
    """Approve or reject (separation of duties: not the owner, not the requester)."""
    return approval_decision_task(request, config_path)


@flow(
    name="promote-model",
    flow_run_name="promote {request.model_id} to {request.to}",
    timeout_seconds=900,
)
def promote_model(request: Promotion, config_path: str | None = None) -> dict[str, Any]:
    """Promote through the pre-deployment check; a block emits
    driftguard.policy.promotion_blocked and fails the run."""
    return promotion_task(request, config_path)


def _report_flow(request: ReportRequest, config_path: str | None, send: bool) -> dict[str, Any]:
    from driftguard.actions import resolve_report_runs
    from driftguard.workspace import Workspace

    ws = Workspace.load(config_path)
    with ws.open_lake() as lake:
        run_ids = resolve_report_runs(lake, request)
    report = render_reports_task(run_ids, config_path)
    publish_artifacts_task(report)
    if send or request.send:
        report = {**report, "notification": notify_task(report, config_path)}
    return report


@flow(name="rerender-report", flow_run_name="re-render report", timeout_seconds=3600)
def rerender_report(request: ReportRequest, config_path: str | None = None) -> dict[str, Any]:
    """Render a run's report again from the run's lake snapshot (byte-identical while the
    snapshot is kept); ``send`` also e-mails it."""
    return _report_flow(request, config_path, send=False)


@flow(name="resend-report", flow_run_name="re-send report", timeout_seconds=3600)
def resend_report(request: ReportRequest, config_path: str | None = None) -> dict[str, Any]:
    """Render and e-mail a report to the model's recipients again (e.g. from an automation
    when a kill switch trips)."""
    return _report_flow(request, config_path, send=True)


@flow(name="verify-audit", flow_run_name="verify audit log", timeout_seconds=6 * 3600)
def verify_audit(
    request: AuditVerification = AuditVerification(), config_path: str | None = None
) -> dict[str, Any]:
    """Verify the whole audit log (scheduled daily). A tampered log emits
    driftguard.audit.verification_failed and fails the run; an unanchored one is a warning."""
    verdict = verify_audit_task(config_path, request.checkpoints, request.full)
    logger = get_run_logger()
    if verdict["status"] == "tampered":
        raise AuditVerificationFailed(verdict["verdict"])
    if verdict["status"] == "unanchored":
        logger.warning(verdict["verdict"])
    return verdict


@flow(name="apply-retention", flow_run_name="apply data retention", timeout_seconds=6 * 3600)
def apply_retention(
    request: RetentionRequest = RetentionRequest(), config_path: str | None = None
) -> dict[str, Any]:
    """Delete raw logs past each model's retention (results and audit entries are kept, the
    deletion is audited), then expire old lake snapshots and delete their files."""
    return retention_task(
        request.models, config_path, request.dry_run, request.expire_snapshots, request.actor
    )
