"""Report tasks: render the HTML reports, publish Prefect artifacts, e-mail the recipients.

The flows call them at the end of a monitoring run::

    rendered = render_reports_task(run_ids, config_path)   # model + fleet reports on disk
    publish_artifacts_task(rendered)                       # markdown, table and link artifacts
    notify_task(rendered, config_path)                     # e-mails per the send policies

SMTP settings come from the environment (``DRIFTGUARD_SMTP_*``, see driftguard.notify) or
from Prefect Secret blocks: ``driftguard-smtp`` (a JSON secret with any of host, port,
security, user, password, from, verify_tls) and ``driftguard-smtp-password`` (the password
alone). A variable already set wins over a block; values are never logged. Only transient
SMTP failures are retried (server unreachable or dropping the connection, timeouts, 4xx
replies); a refused password or address fails at once. Either way the message is kept in
``<home>/outbox/undelivered`` and a retry never e-mails anyone twice.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from prefect import task

from driftguard.notify import SmtpSettings
from driftguard.report.artifacts import artifact_plan
from driftguard.report.mail import DeliveryIncomplete, deliver_reports
from driftguard.report.render import render_reports
from driftguard.workspace import Workspace
from tasks.audit import load_audit_keys
from tasks.retry import BACKOFF, failure_of, is_transient_failure, transient_only
from tasks.runtime import lake_write_slot, step

log = logging.getLogger(__name__)

#: Keys of the ``driftguard-smtp`` JSON secret -> the environment variable the core reads.
SMTP_FIELDS = {
    "host": "DRIFTGUARD_SMTP_HOST",
    "port": "DRIFTGUARD_SMTP_PORT",
    "security": "DRIFTGUARD_SMTP_SECURITY",
    "user": "DRIFTGUARD_SMTP_USER",
    "password": "DRIFTGUARD_SMTP_PASSWORD",
    "from": "DRIFTGUARD_SMTP_FROM",
    "verify_tls": "DRIFTGUARD_SMTP_VERIFY_TLS",
}
SMTP_BLOCK = "driftguard-smtp"
SMTP_PASSWORD_BLOCK = "driftguard-smtp-password"


def _secret(name: str) -> Any:
    from prefect.blocks.system import Secret

    try:
        block: Any = Secret.load(name)  # synchronous here (no running event loop)
        return block.get()
    except ValueError:  # no block of that name
        return None


def load_smtp_settings() -> list[str]:
    """Copy SMTP settings from the Secret blocks that exist into this process's environment.

    Returns the names of the blocks used (never their values); variables already set win.
    """
    used = []
    settings = _secret(SMTP_BLOCK)
    if isinstance(settings, dict):
        for key, variable in SMTP_FIELDS.items():
            if key in settings and settings[key] is not None and not os.environ.get(variable):
                os.environ[variable] = str(settings[key])
        used.append(SMTP_BLOCK)
    elif settings is not None:
        log.warning("Secret block %s is not a JSON object; ignored", SMTP_BLOCK)
    if not os.environ.get(SMTP_FIELDS["password"]):
        password = _secret(SMTP_PASSWORD_BLOCK)
        if password:
            os.environ[SMTP_FIELDS["password"]] = str(password)
            used.append(SMTP_PASSWORD_BLOCK)
    if used:
        log.info("SMTP settings loaded from Secret block(s) %s", ", ".join(used))
    return used


def smtp_transient_only(task: Any, task_run: Any, state: Any) -> bool:
    """Retry a failed notify run only when every failed message may go through later."""
    error = failure_of(state)
    if isinstance(error, DeliveryIncomplete):
        return error.transient
    return is_transient_failure(error)


@task(
    name="render-reports",
    retries=len(BACKOFF),
    retry_delay_seconds=BACKOFF,
    retry_condition_fn=transient_only,
    timeout_seconds=1800,
)
def render_reports_task(run_ids: list[str], config_path: str | None = None) -> dict[str, Any]:
    """Render each run's HTML report and the fleet report; returns their paths and metadata."""
    with step("report", runs=len(run_ids)):
        load_audit_keys()  # verification uses the trusted keys, if any
        ws = Workspace.load(config_path)
        with lake_write_slot(), ws.open_lake() as lake:  # appends the report.issued entries
            return render_reports(lake, ws.config, ws.settings, run_ids)


@task(
    name="publish-report-artifacts",
    retries=2,
    retry_delay_seconds=[2.0, 10.0],
    retry_condition_fn=transient_only,
    timeout_seconds=300,
)
def publish_artifacts_task(report: dict[str, Any]) -> None:
    """Markdown summary, table of models and risk, and links to the HTML reports, keyed per
    model so the Prefect UI keeps their history."""
    with step("artifacts"):
        _publish(artifact_plan(report))


def _publish(plan: list[dict[str, Any]]) -> None:
    from prefect.artifacts import (
        create_link_artifact,
        create_markdown_artifact,
        create_table_artifact,
    )

    for item in plan:
        if item["type"] == "markdown":
            create_markdown_artifact(
                key=item["key"], markdown=item["markdown"], description=item["description"]
            )
        elif item["type"] == "table":
            create_table_artifact(
                key=item["key"], table=item["table"], description=item["description"]
            )
        else:
            create_link_artifact(
                key=item["key"],
                link=item["link"],
                link_text=item["link_text"],
                description=item["description"],
            )


@task(
    name="notify-reports",
    retries=len(BACKOFF),
    retry_delay_seconds=BACKOFF,
    retry_condition_fn=smtp_transient_only,
    timeout_seconds=900,
)
def notify_task(report: dict[str, Any], config_path: str | None = None) -> dict[str, Any]:
    """E-mail the reports per model and for the fleet as ``reports.send``/``fleet_send`` say.

    Returns the delivery summary; raises :class:`DeliveryIncomplete` (retried when transient)
    if a message could not be sent. Undelivered messages stay in ``<home>/outbox/undelivered``.
    """
    with step("notify"):
        load_smtp_settings()
        load_audit_keys()  # delivery audit entries are sealed with the signing key
        ws = Workspace.load(config_path)
        smtp = SmtpSettings.from_env()
        with lake_write_slot(), ws.open_lake() as lake:
            return deliver_reports(lake, ws.config, ws.settings, report, smtp=smtp)
