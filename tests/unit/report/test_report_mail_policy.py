"""Who gets a report e-mail and when, and which SMTP failures are worth retrying."""

from __future__ import annotations

import smtplib
import ssl

import pytest

from driftguard.notify import DeliveryFailed
from driftguard.report.mail import (
    checkpoint_fields,
    delivery_key,
    fleet_should_send,
    is_transient_smtp_error,
    should_send,
)

LINE = (
    "driftguard-audit-checkpoint/1 log=4851d808 size=12 head=c9e1 root=ec5f "
    "at=2026-03-01T12:30:00.123456Z alg=none key=- sig=-"
)


@pytest.mark.parametrize(
    ("policy", "meta", "expected"),
    [
        ("always", {"findings": []}, True),
        ("findings", {"findings": []}, False),
        ("findings", {"findings": ["x"]}, True),
        ("status_change", {"status": "AT_RISK", "previous_status": "AT_RISK"}, False),
        ("status_change", {"status": "AT_RISK", "previous_status": "HEALTHY"}, True),
        ("status_change", {"status": "HEALTHY", "previous_status": None}, True),  # first run
    ],
)
def test_send_policies(policy, meta, expected):
    assert should_send(policy, meta)[0] is expected


def test_the_fleet_is_sent_when_any_model_qualifies():
    quiet = {"model_id": "a", "findings": [], "status": "HEALTHY", "previous_status": "HEALTHY"}
    loud = {"model_id": "b", "findings": ["x"], "status": "HEALTHY", "previous_status": "HEALTHY"}
    assert fleet_should_send("findings", [quiet])[0] is False
    go, why = fleet_should_send("findings", [quiet, loud])
    assert go and why == "b: 1 finding(s)"


def wrapped(error: BaseException) -> DeliveryFailed:
    try:
        raise DeliveryFailed("could not send", kept_at=None) from error  # type: ignore[arg-type]
    except DeliveryFailed as failure:
        return failure


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (ConnectionRefusedError(), True),
        (TimeoutError(), True),
        (smtplib.SMTPServerDisconnected("gone"), True),
        (smtplib.SMTPConnectError(421, b"busy"), True),  # 4xx: try later
        (smtplib.SMTPDataError(451, b"local error"), True),
        (smtplib.SMTPRecipientsRefused({"a@example.com": (450, b"mailbox busy")}), True),
        (smtplib.SMTPRecipientsRefused({"a@example.com": (550, b"no such user")}), False),
        (smtplib.SMTPAuthenticationError(535, b"bad credentials"), False),
        (smtplib.SMTPSenderRefused(553, b"sender refused", "x@example.com"), False),
        (smtplib.SMTPNotSupportedError("no STARTTLS"), False),
        (ssl.SSLCertVerificationError("self-signed"), False),
        (ValueError("bug"), False),
    ],
)
def test_transient_smtp_errors(error, transient):
    assert is_transient_smtp_error(error) is transient
    assert is_transient_smtp_error(wrapped(error)) is transient


def test_checkpoint_fields_and_keys():
    fields = checkpoint_fields(LINE)
    assert fields["log"] == "4851d808" and fields["size"] == "12" and fields["sig"] == "-"
    assert checkpoint_fields(None) == {}
    # the key ignores the order of runs and recipients, not their content
    a = delivery_key("model", ["r1", "r2"], ["x@example.com", "y@example.com"], "d")
    assert a == delivery_key("model", ["r2", "r1"], ["y@example.com", "x@example.com"], "d")
    assert a != delivery_key("model", ["r1", "r2"], ["x@example.com"], "d")
    assert a != delivery_key("model", ["r1", "r2"], ["x@example.com", "y@example.com"], "e")
