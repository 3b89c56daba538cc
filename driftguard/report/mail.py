"""Report e-mails: who gets which report, when, and a delivery that never sends twice.

Each model report goes to the model's ``recipients``, the fleet report to
``reports.fleet_recipients``. When (``reports.send`` for models, ``reports.fleet_send`` for the
fleet):

- ``always``: after every run;
- ``findings``: when the run has findings (for the fleet: when any of its models has);
- ``status_change``: when the model's health status differs from its previous scored run's
  (a first run counts as a change: there was no status before).

A message is ``multipart/mixed``: a ``multipart/alternative`` body (plain text, then an HTML
summary with inline styles and table layout: no SVG, no script, no external image), the full
HTML report as an attachment, and ``audit-checkpoint.txt`` with the run's checkpoint line in
7-bit text, so a folder of sent mail is a set of checkpoint copies (``driftguard audit verify
--reports <outbox>``). Delivery goes through :mod:`driftguard.notify`: SMTP when configured,
else an .eml file in ``<home>/outbox/``; a failed send keeps the message in
``outbox/undelivered``, so the report is never lost.

Every attempt is a row in ``report_deliveries`` (and an audit entry), keyed by the message's
kind, runs, recipients and report digest. A retry (the Prefect task retries transient SMTP
failures) skips messages already sent or written and re-sends a kept message from its .eml,
so nobody receives a report twice.
"""

from __future__ import annotations

import hashlib
import json
import logging
import smtplib
import ssl
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from driftguard import audit
from driftguard.config import Config, SendPolicy, Settings
from driftguard.errors import DriftGuardError
from driftguard.ingest import default_actor
from driftguard.notify import (
    DeliveryFailed,
    SmtpSettings,
    build_message,
    check_subject,
    deliver,
    resend_file,
)
from driftguard.report.format import score
from driftguard.report.narrative import status_words
from driftguard.report.render import environment, link_for
from driftguard.store import Lake

log = logging.getLogger(__name__)

#: Narratives listed in an e-mail (the attached report has all of them).
MAX_NARRATIVES = 6


class DeliveryIncomplete(DriftGuardError):
    """Some report e-mails could not be sent; they are kept in the outbox.

    ``transient`` is true when every failure was of the kind that may pass by itself
    (connection refused or dropped, timeout, a 4xx reply): running again can deliver them.
    """

    def __init__(self, message: str, *, transient: bool, results: list[dict[str, Any]]):
        super().__init__(message)
        self.transient = transient
        self.results = results


def is_transient_smtp_error(error: BaseException | None) -> bool:
    """True for failures that may pass on a later attempt (server down, timeout, 4xx);
    false for ones that need a person (bad password, refused address, certificate)."""
    if isinstance(error, DeliveryFailed):
        error = error.__cause__
    if error is None:
        return False
    if isinstance(error, smtplib.SMTPServerDisconnected):
        return True
    if isinstance(error, smtplib.SMTPAuthenticationError):
        return False
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in error.recipients.values()]
        return bool(codes) and all(400 <= code < 500 for code in codes)
    if isinstance(error, smtplib.SMTPResponseException):
        return 400 <= error.smtp_code < 500
    if isinstance(error, smtplib.SMTPException):
        return False
    if isinstance(error, ssl.SSLCertVerificationError):
        return False
    return isinstance(error, OSError)


# --------------------------------------------------------------------------- policy


def should_send(policy: SendPolicy, meta: dict[str, Any]) -> tuple[bool, str]:
    """Whether a model report is e-mailed under ``policy``, and why (for the log)."""
    if policy == "always":
        return True, "send policy always"
    if policy == "findings":
        n = len(meta.get("findings") or [])
        return (n > 0, f"{n} finding(s)" if n else "no findings (send policy findings)")
    before, now = meta.get("previous_status"), meta.get("status")
    if before is None:
        return True, f"first scored run: status {now}"
    if before != now:
        return True, f"status changed from {before} to {now}"
    return False, f"status unchanged ({now}; send policy status_change)"


def fleet_should_send(policy: SendPolicy, models: list[dict[str, Any]]) -> tuple[bool, str]:
    """The fleet report is sent when any of its models qualifies under ``policy``."""
    reasons = [
        f"{m['model_id']}: {why}" for m in models for ok, why in [should_send(policy, m)] if ok
    ]
    if reasons:
        return True, "; ".join(reasons)
    return False, f"no model qualifies (send policy {policy})"


# --------------------------------------------------------------------------- messages


@dataclass
class Outgoing:
    """One e-mail to send, before delivery."""

    kind: str
    key: str
    model_id: str | None
    run_ids: list[str]
    recipients: list[str]
    subject: str
    message: EmailMessage
    report_path: str
    report_sha256: str


def delivery_key(kind: str, run_ids: list[str], recipients: list[str], digest: str) -> str:
    text = json.dumps([kind, sorted(run_ids), sorted(recipients), digest])
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _subject(prefix: str, text: str) -> str:
    return check_subject(f"{prefix} {text}".strip()[:200])


def checkpoint_fields(line: str | None) -> dict[str, str]:
    """The fields of a checkpoint line (log, size, head, root, at, alg, key, sig).

    Message bodies show these fields, never the line itself: bodies are quoted-printable
    (``=`` becomes ``=3D``, long lines are folded), which would hand the audit verifier a
    garbled copy. The verbatim line travels in the 7-bit ``audit-checkpoint.txt``.
    """
    if not line:
        return {}
    return dict(part.split("=", 1) for part in line.split()[1:] if "=" in part)


def _attach(message: EmailMessage, report: tuple[Path, str] | None, checkpoints: list[str]) -> None:
    """Add the full report (path, file name) and the checkpoint lines as attachments."""
    if report is not None and report[0].is_file():
        message.add_attachment(
            report[0].read_bytes(),
            maintype="text",
            subtype="html",
            filename=report[1],
            params={"charset": "utf-8"},
        )
    if checkpoints:
        # 7-bit text keeps each line verbatim in the raw message (no line folding or
        # quoted-printable), so the audit verifier finds it in a folder of .eml files
        message.add_attachment(
            "\n".join(checkpoints) + "\n",
            subtype="plain",
            charset="us-ascii",
            cte="7bit",
            filename="audit-checkpoint.txt",
        )


def model_email(
    meta: dict[str, Any],
    *,
    config: Config,
    settings: Settings,
    recipients: list[str],
    sender: str,
) -> Outgoing:
    """The e-mail of one model report (``meta`` is the report's ``report.json``)."""
    env = environment()
    path = Path(meta["path"])
    link = link_for(path, settings, config.reports.base_url)
    values = {
        "m": meta,
        "status_words": status_words(meta["status"]),
        "narratives": meta.get("narratives", [])[:MAX_NARRATIVES],
        "more": max(len(meta.get("narratives", [])) - MAX_NARRATIVES, 0),
        "link": link,
        "hosted": bool(config.reports.base_url),
        "attached": config.reports.attach_report,
        "checkpoint": checkpoint_fields(meta.get("checkpoint")),
    }
    subject = _subject(
        config.reports.subject_prefix,
        f"{meta['model_id']} {meta['model_version']}: {meta['status'].replace('_', ' ')} "
        f"(risk {score(meta['score'])}, grade {meta['grade']}), "
        f"{len(meta.get('findings') or [])} finding(s)",
    )
    message = build_message(
        subject=subject,
        text=env.get_template("email.txt").render(**values),
        html=env.get_template("email.html").render(**values),
        recipients=recipients,
        sender=sender,
    )
    _attach(
        message,
        (path, f"driftguard-{meta['model_id']}-{meta['run_id']}.html")
        if config.reports.attach_report
        else None,
        [meta["checkpoint"]] if meta.get("checkpoint") else [],
    )
    return Outgoing(
        kind="model",
        key=delivery_key("model", [meta["run_id"]], recipients, meta["sha256"]),
        model_id=meta["model_id"],
        run_ids=[meta["run_id"]],
        recipients=recipients,
        subject=subject,
        message=message,
        report_path=str(path),
        report_sha256=meta["sha256"],
    )


def fleet_email(
    fleet: dict[str, Any],
    models: list[dict[str, Any]],
    *,
    config: Config,
    settings: Settings,
    recipients: list[str],
    sender: str,
) -> Outgoing:
    """The e-mail of a fleet report, with every model's checkpoint line."""
    env = environment()
    path = Path(fleet["path"])
    needing = fleet.get("needing_attention") or []
    values = {
        "f": fleet,
        "models": fleet["models"],
        "link": link_for(path, settings, config.reports.base_url),
        "hosted": bool(config.reports.base_url),
        "attached": config.reports.attach_report,
        "links": {
            m["run_id"]: link_for(
                (path.parent / m["link"]).resolve(), settings, config.reports.base_url
            )
            for m in fleet["models"]
        },
    }
    subject = _subject(
        config.reports.subject_prefix,
        f"Fleet: {len(needing)} of {len(fleet['models'])} model(s) need attention",
    )
    message = build_message(
        subject=subject,
        text=env.get_template("email_fleet.txt").render(**values),
        html=env.get_template("email_fleet.html").render(**values),
        recipients=recipients,
        sender=sender,
    )
    checkpoints = sorted({m["checkpoint"] for m in models if m.get("checkpoint")})
    _attach(
        message,
        (path, f"driftguard-fleet-{fleet['snapshot_id']}.html")
        if config.reports.attach_report
        else None,
        checkpoints,
    )
    return Outgoing(
        kind="fleet",
        key=delivery_key("fleet", fleet["run_ids"], recipients, fleet["sha256"]),
        model_id=None,
        run_ids=list(fleet["run_ids"]),
        recipients=recipients,
        subject=subject,
        message=message,
        report_path=str(path),
        report_sha256=fleet["sha256"],
    )


# --------------------------------------------------------------------------- delivery


@dataclass
class DeliveryResult:
    kind: str
    model_id: str | None
    run_ids: list[str]
    recipients: list[str]
    status: str  # sent | written | undelivered | already_delivered | skipped
    reason: str = ""
    method: str | None = None
    path: str | None = None
    error: str | None = None
    transient: bool = False
    subject: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _latest_attempt(lake: Lake, key: str) -> dict[str, Any] | None:
    rows = lake.records(
        "SELECT status, method, eml_path FROM report_deliveries WHERE delivery_key = ? "
        "ORDER BY attempted_at DESC LIMIT 1",
        [key],
    )
    return rows[0] if rows else None


def _record(lake: Lake, out: Outgoing, result: DeliveryResult, actor: str) -> None:
    def work(lk: Lake) -> None:
        lk.execute(
            "INSERT INTO report_deliveries VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                out.key,
                out.kind,
                out.model_id,
                json.dumps(out.run_ids),
                json.dumps(out.recipients),
                out.subject,
                result.status,
                result.method or "outbox",
                result.path,
                result.error,
                out.report_path,
                out.report_sha256,
                datetime.now(UTC),
                actor,
            ],
        )
        audit.append(
            lk,
            event_type="report.delivery",
            action=f"email.{result.status}",
            actor=actor,
            resource_type="report",
            resource_id=out.model_id or "fleet",
            severity="warning" if result.status == "undelivered" else "info",
            run_id=out.run_ids[0] if len(out.run_ids) == 1 else None,
            reason=result.error,
            payload={
                "kind": out.kind,
                "recipients": out.recipients,
                "subject": out.subject,
                "method": result.method,
                "report_sha256": out.report_sha256,
                "run_ids": out.run_ids,
            },
            references=[f"run:{r}" for r in out.run_ids],
        )

    lake.transaction(work, message=f"report delivery {out.key}")


def _deliver_one(
    lake: Lake,
    out: Outgoing,
    smtp: SmtpSettings | None,
    outbox: Path,
    actor: str,
    *,
    again: bool = False,
) -> DeliveryResult:
    base = DeliveryResult(
        out.kind, out.model_id, out.run_ids, out.recipients, "skipped", subject=out.subject
    )
    previous = None if again else _latest_attempt(lake, out.key)
    if previous and previous["status"] in ("sent", "written"):
        base.status, base.reason = "already_delivered", f"{previous['status']} earlier"
        base.method, base.path = previous["method"], previous["eml_path"]
        return base
    kept = Path(previous["eml_path"]) if previous and previous["eml_path"] else None
    try:
        if kept is not None and kept.is_file() and smtp is not None:
            try:
                moved = resend_file(kept, smtp, outbox)
            except (smtplib.SMTPException, OSError) as error:
                raise DeliveryFailed(f"Could not send {kept.name} again: {error}", kept) from error
            base.status, base.method, base.path = "sent", "smtp", str(moved)
            base.reason = "kept message sent on retry"
        else:
            delivery = deliver(out.message, smtp, outbox)
            base.method = delivery.method
            base.status = "sent" if delivery.method == "smtp" else "written"
            base.path = str(delivery.path) if delivery.path else None
    except DeliveryFailed as failure:
        base.status, base.method, base.path = "undelivered", "smtp", str(failure.kept_at)
        base.error = str(failure)
        base.transient = is_transient_smtp_error(failure)
    _record(lake, out, base, actor)
    return base


def deliver_reports(
    lake: Lake,
    config: Config,
    settings: Settings,
    rendered: dict[str, Any],
    *,
    smtp: SmtpSettings | None,
    outbox: Path | None = None,
    actor: str | None = None,
    raise_on_failure: bool = True,
    again: bool = False,
) -> dict[str, Any]:
    """E-mail the reports of ``rendered`` (what ``render_reports_task`` returns: model report
    metadata under ``models``, the fleet report's under ``fleet``) as the send policies say.

    Returns ``{"deliveries": [...], "sent": n, "written": n, "undelivered": n, ...}``. With
    ``raise_on_failure``, a message that could not be sent raises :class:`DeliveryIncomplete`
    after every other message was tried (the message itself is kept in the outbox).
    ``again`` sends even messages that were delivered before (a person asked for it).
    """
    outbox = outbox or settings.home / "outbox"
    actor = actor or default_actor()
    sender = smtp.sender if smtp else "driftguard@localhost.localdomain"
    models: list[dict[str, Any]] = rendered.get("models") or []
    results: list[DeliveryResult] = []
    for meta in models:
        model = next((m for m in config.models if m.id == meta["model_id"]), None)
        recipients = list(model.recipients) if model else []
        go, why = should_send(config.reports.send, meta)
        if not recipients or not go:
            reason = why if recipients else "no recipients configured for this model"
            results.append(
                DeliveryResult(
                    "model", meta["model_id"], [meta["run_id"]], recipients, "skipped", reason
                )
            )
            continue
        out = model_email(
            meta, config=config, settings=settings, recipients=recipients, sender=sender
        )
        results.append(_deliver_one(lake, out, smtp, outbox, actor, again=again))
    fleet = rendered.get("fleet")
    if fleet:
        recipients = list(config.reports.fleet_recipients)
        go, why = fleet_should_send(config.reports.fleet_send, models)
        if recipients and go:
            out = fleet_email(
                fleet,
                models,
                config=config,
                settings=settings,
                recipients=recipients,
                sender=sender,
            )
            results.append(_deliver_one(lake, out, smtp, outbox, actor, again=again))
        else:
            reason = why if recipients else "no fleet_recipients configured"
            results.append(
                DeliveryResult("fleet", None, list(fleet["run_ids"]), recipients, "skipped", reason)
            )
    counts = {s: sum(1 for r in results if r.status == s) for s in _STATUSES}
    deliveries = [r.as_dict() for r in results]
    summary: dict[str, Any] = {"deliveries": deliveries, **counts, "outbox": str(outbox)}
    failed = [r for r in results if r.status == "undelivered"]
    if failed and raise_on_failure:
        transient = all(r.transient for r in failed)
        raise DeliveryIncomplete(
            f"{len(failed)} report e-mail(s) could not be sent "
            f"({'; '.join(r.error or '' for r in failed)}). They are kept in "
            f"{outbox / 'undelivered'}; "
            + ("a retry will send them." if transient else "fix the SMTP settings or addresses."),
            transient=transient,
            results=deliveries,
        )
    return summary


_STATUSES = ("sent", "written", "undelivered", "already_delivered", "skipped")
