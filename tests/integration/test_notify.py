"""E-mail against a real local SMTP server (aiosmtpd on 127.0.0.1), and the .eml fallback."""

from __future__ import annotations

import dataclasses
from email import message_from_bytes
from email.policy import default

import pytest

from driftguard.notify import (
    DeliveryFailed,
    InvalidAddress,
    InvalidHeader,
    SmtpSettings,
    build_message,
    deliver,
    resend_undelivered,
)
from tests.smtp_sink import Sink, free_port, start


@pytest.fixture
def report(tmp_path):
    path = tmp_path / "report.html"
    path.write_text("<!doctype html><title>r</title><h1>Compliance report</h1>")
    return path


def message(report, **overrides):
    args = dict(
        subject="[DriftGuard] credit-risk AT_RISK",
        text="Risk 72 (AT_RISK)",
        html="<table><tr><td>Risk 72</td></tr></table>",
        recipients=["risk@example.com", "ops@example.com"],
        sender="driftguard@example.com",
        attachments=[report],
    )
    args.update(overrides)
    return build_message(**args)


def check_parts(received, report):
    msg = received.message
    assert msg.get_content_type() == "multipart/mixed"
    body, attachment = list(msg.iter_parts())
    assert body.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in body.iter_parts()] == ["text/plain", "text/html"]
    assert attachment.get_filename() == "report.html"
    assert attachment.get_content_type() == "text/html"
    assert attachment.get_content() == report.read_text()
    html = body.get_body(("html",)).get_content()
    assert "<svg" not in html and "<script" not in html


def test_plain_smtp_delivers_parts_recipients_and_attachment(tmp_path, report):
    sink = Sink()
    server = start(sink)
    try:
        settings = SmtpSettings(host="127.0.0.1", port=server.port, sender="driftguard@example.com")
        delivery = deliver(message(report), settings, tmp_path / "outbox")
    finally:
        server.stop()
    assert delivery.method == "smtp"
    [received] = sink.received
    assert received.recipients == ["risk@example.com", "ops@example.com"]
    assert received.sender == "driftguard@example.com"
    check_parts(received, report)
    assert not (tmp_path / "outbox").exists()


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_tls_and_login(tmp_path, report, security):
    sink = Sink()
    server = start(sink, tls=security, tmp=tmp_path, users={"dg": "s3cret"})
    try:
        settings = SmtpSettings(
            host="127.0.0.1",
            port=server.port,
            security=security,
            username="dg",
            password="s3cret",
            verify_tls=False,
            sender="driftguard@example.com",
        )
        deliver(message(report), settings, tmp_path / "outbox")
        # aiosmtpd stops answering after a failed login, so the client waits for its timeout
        wrong = dataclasses.replace(settings.with_password("nope"), timeout=3)
        with pytest.raises(DeliveryFailed):
            deliver(message(report), wrong, tmp_path / "outbox")
    finally:
        server.stop()
    assert len(sink.received) == 1
    assert "s3cret" not in repr(settings)


def test_without_smtp_settings_messages_go_to_the_outbox(tmp_path, report):
    delivery = deliver(message(report), None, tmp_path / "outbox")
    assert delivery.method == "outbox" and delivery.path.parent == tmp_path / "outbox"
    parsed = message_from_bytes(delivery.path.read_bytes(), policy=default)
    assert parsed["To"] == "risk@example.com, ops@example.com"
    assert [p.get_filename() for p in parsed.iter_attachments()] == ["report.html"]


def test_a_failed_send_keeps_the_message_and_resend_delivers_it(tmp_path, report):
    down = SmtpSettings(host="127.0.0.1", port=free_port(), timeout=2)
    with pytest.raises(DeliveryFailed, match="kept at") as info:
        deliver(message(report), down, tmp_path / "outbox")
    assert info.value.kept_at.exists()
    sink = Sink()
    server = start(sink)
    try:
        up = SmtpSettings(host="127.0.0.1", port=server.port)
        assert [status for _, status in resend_undelivered(up, tmp_path / "outbox")] == ["sent"]
    finally:
        server.stop()
    assert len(sink.received) == 1
    assert list((tmp_path / "outbox" / "undelivered").glob("*.eml")) == []


@pytest.mark.parametrize(
    "recipient",
    [
        "ops@example.com\r\nBcc: attacker@evil.test",
        "Ops <ops@example.com>",
        "a@b",
        "",
        "ops@example.com, other@example.com",
    ],
)
def test_recipients_cannot_inject_headers(report, recipient):
    with pytest.raises(InvalidAddress):
        message(report, recipients=[recipient])


def test_subjects_cannot_inject_headers(report):
    with pytest.raises(InvalidHeader):
        message(report, subject="hello\r\nBcc: attacker@evil.test")


def test_settings_from_environment():
    assert SmtpSettings.from_env({}) is None
    settings = SmtpSettings.from_env(
        {
            "DRIFTGUARD_SMTP_HOST": "mail",
            "DRIFTGUARD_SMTP_SECURITY": "starttls",
            "DRIFTGUARD_SMTP_PASSWORD": "pw",
        }
    )
    assert (settings.port, settings.security, settings.password) == (587, "starttls", "pw")
    assert "pw" not in repr(settings)
