"""E-mail: build report messages, send them over SMTP, or leave them as .eml files.

Messages are ``multipart/mixed``: a ``multipart/alternative`` body (plain text, then an HTML
summary with inline styles and table layout, no SVG or script) and the full HTML report as an
attachment. SMTP settings come from the environment (``DRIFTGUARD_SMTP_*``) or, through the
Prefect task layer, from a Secret block; without them messages are written to
``<home>/outbox/`` so nothing needs a mail server to be seen. A message that cannot be sent is
kept in ``<home>/outbox/undelivered/`` so the report is never lost, and can be re-sent.

Header injection is impossible by construction: addresses are validated against a strict
pattern and subjects may not contain line breaks.
"""

from __future__ import annotations

import logging
import mimetypes
import os
import re
import smtplib
import ssl
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Literal

from driftguard.errors import ConfigError, DriftGuardError
from driftguard.files import write_atomically

log = logging.getLogger(__name__)

#: A deliberately plain address pattern: no display names, quotes, comments or line breaks.
_ADDRESS = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_MAX_SUBJECT = 200


class InvalidAddress(ConfigError):
    """A recipient or sender that is not a plain e-mail address."""


class InvalidHeader(ConfigError):
    """A subject or other header value that could inject headers."""


class DeliveryFailed(DriftGuardError):
    """The SMTP server refused or could not be reached; the message was kept in the outbox."""

    def __init__(self, message: str, kept_at: Path):
        super().__init__(message)
        self.kept_at = kept_at


def check_address(address: str) -> str:
    """Return ``address`` if it is a plain e-mail address, else raise :class:`InvalidAddress`."""
    if not isinstance(address, str) or not _ADDRESS.match(address) or len(address) > 254:
        raise InvalidAddress(
            f"{address!r} is not a plain e-mail address (name@example.com); display names, "
            "line breaks and lists in one string are not accepted"
        )
    return address


def check_subject(subject: str) -> str:
    if any(c in subject for c in "\r\n\x00") or len(subject) > _MAX_SUBJECT:
        raise InvalidHeader(
            f"subject must be one line of at most {_MAX_SUBJECT} characters without line breaks"
        )
    return subject


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to send. The password is never part of ``repr`` or logs."""

    host: str
    port: int = 25
    security: Literal["none", "starttls", "ssl"] = "none"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    sender: str = "driftguard@localhost.localdomain"
    timeout: float = 30.0
    verify_tls: bool = True

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> SmtpSettings | None:
        """Settings from DRIFTGUARD_SMTP_HOST, _PORT, _SECURITY, _USER, _PASSWORD, _FROM;
        None when no host is configured (messages then go to the outbox as .eml files)."""
        env = os.environ if environ is None else environ
        host = env.get("DRIFTGUARD_SMTP_HOST")
        if not host:
            return None
        security = env.get("DRIFTGUARD_SMTP_SECURITY", "none").lower()
        if security not in ("none", "starttls", "ssl"):
            raise ConfigError(f"DRIFTGUARD_SMTP_SECURITY={security!r}: use none, starttls or ssl")
        default_port = {"none": 25, "starttls": 587, "ssl": 465}[security]
        try:
            port = int(env.get("DRIFTGUARD_SMTP_PORT", default_port))
        except ValueError as error:
            raise ConfigError("DRIFTGUARD_SMTP_PORT must be a number") from error
        return cls(
            host=host,
            port=port,
            security=security,  # type: ignore[arg-type]
            username=env.get("DRIFTGUARD_SMTP_USER") or None,
            password=env.get("DRIFTGUARD_SMTP_PASSWORD") or None,
            sender=check_address(
                env.get("DRIFTGUARD_SMTP_FROM", "driftguard@localhost.localdomain")
            ),
            verify_tls=env.get("DRIFTGUARD_SMTP_VERIFY_TLS", "true").lower()
            not in ("0", "false", "no"),
        )

    def with_password(self, password: str | None) -> SmtpSettings:
        """A copy with the password filled in (e.g. from a Prefect Secret block)."""
        from dataclasses import replace

        return replace(self, password=password)


def build_message(
    *,
    subject: str,
    text: str,
    html: str,
    recipients: list[str],
    sender: str,
    attachments: list[Path] = (),  # type: ignore[assignment]
    cc: list[str] = (),  # type: ignore[assignment]
) -> EmailMessage:
    """A report e-mail: text and HTML alternatives, then the attachments."""
    if not recipients:
        raise InvalidAddress("a message needs at least one recipient")
    message = EmailMessage(policy=SMTP)
    message["Subject"] = check_subject(subject)
    message["From"] = check_address(sender)
    message["To"] = ", ".join(check_address(r) for r in recipients)
    if cc:
        message["Cc"] = ", ".join(check_address(r) for r in cc)
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain=sender.rsplit("@", 1)[1])
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    for path in attachments:
        path = Path(path)
        ctype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        maintype, subtype = ctype.split("/", 1)
        message.add_attachment(
            path.read_bytes(), maintype=maintype, subtype=subtype, filename=path.name
        )
    return message


def write_eml(message: EmailMessage, folder: Path) -> Path:
    """Write ``message`` as an .eml file atomically (temporary name, then rename)."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    token = re.sub(r"[^A-Za-z0-9]", "", str(message["Message-ID"]))[:16]
    target = folder / f"{stamp}-{token}.eml"
    return write_atomically(target, message.as_bytes())


def send(message: EmailMessage, settings: SmtpSettings) -> list[str]:
    """Send over SMTP; return the recipients the server accepted. Raises smtplib errors."""
    context = ssl.create_default_context()
    if not settings.verify_tls:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if settings.security == "ssl":
        client: smtplib.SMTP = smtplib.SMTP_SSL(
            settings.host, settings.port, timeout=settings.timeout, context=context
        )
    else:
        client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
    with client:
        if settings.security == "starttls":
            client.starttls(context=context)
        if settings.username:
            client.login(settings.username, settings.password or "")
        refused = client.send_message(message)
    recipients = [a.strip() for h in ("To", "Cc") for a in str(message.get(h, "")).split(",")]
    return [r for r in recipients if r and r not in refused]


@dataclass(frozen=True)
class Delivery:
    """What happened to one message."""

    method: Literal["smtp", "outbox"]
    recipients: list[str]
    path: Path | None = None

    def describe(self) -> str:
        if self.method == "smtp":
            return f"sent to {', '.join(self.recipients)}"
        return f"written to {self.path}"


def deliver(message: EmailMessage, settings: SmtpSettings | None, outbox: Path) -> Delivery:
    """Send by SMTP when configured, else write to the outbox.

    On an SMTP failure the message is kept in ``outbox/undelivered`` and
    :class:`DeliveryFailed` is raised (the task layer retries transient failures).
    """
    recipients = [r.strip() for r in str(message["To"]).split(",")]
    if settings is None:
        return Delivery("outbox", recipients, write_eml(message, outbox))
    try:
        accepted = send(message, settings)
    except (smtplib.SMTPException, OSError) as error:
        kept = write_eml(message, outbox / "undelivered")
        log.warning("mail to %s failed (%s); kept at %s", recipients, type(error).__name__, kept)
        raise DeliveryFailed(
            f"Could not send to {', '.join(recipients)} via {settings.host}:{settings.port}: "
            f"{error}. The message was kept at {kept}; `driftguard notify resend` retries it.",
            kept,
        ) from error
    return Delivery("smtp", accepted)


def resend_file(path: Path, settings: SmtpSettings, outbox: Path) -> Path:
    """Send one kept .eml again; on success move it to ``outbox/sent`` and return its new
    path. Raises the smtplib or socket error when the server still refuses."""
    from email import message_from_bytes
    from email.policy import default

    message = message_from_bytes(path.read_bytes(), policy=default)
    send(message, settings)  # type: ignore[arg-type]
    sent = outbox / "sent"
    sent.mkdir(parents=True, exist_ok=True)
    os.replace(path, sent / path.name)
    return sent / path.name


def resend_undelivered(settings: SmtpSettings, outbox: Path) -> list[tuple[Path, str]]:
    """Try again every kept message; sent ones move to ``outbox/sent``."""
    results = []
    folder = outbox / "undelivered"
    for path in sorted(folder.glob("*.eml")) if folder.exists() else []:
        try:
            moved = resend_file(path, settings, outbox)
        except (smtplib.SMTPException, OSError) as error:
            results.append((path, f"failed again: {error}"))
            continue
        results.append((moved, "sent"))
    return results
