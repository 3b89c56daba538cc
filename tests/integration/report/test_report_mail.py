"""Report e-mails against a real local SMTP server (aiosmtpd on 127.0.0.1), the .eml fallback,
and retries that never send twice."""

from __future__ import annotations

import secrets
from email import message_from_bytes
from email.policy import default
from pathlib import Path

import pytest
import yaml

from driftguard import audit
from driftguard.config import parse_config
from driftguard.notify import SmtpSettings
from driftguard.report.mail import DeliveryIncomplete, deliver_reports
from driftguard.report.render import render_reports
from tests.smtp_sink import Sink, free_port, start


@pytest.fixture(scope="module")
def rendered(report_world):
    ws = report_world.ws
    with ws.open_lake() as lake:
        return render_reports(lake, ws.config, ws.settings, report_world.runs)


def addresses(tag: str) -> dict[str, list[str]]:
    """Fresh recipients per test: the delivery ledger keys messages by their recipients."""
    token = secrets.token_hex(3)
    return {
        "credit": [f"risk-{tag}-{token}@example.com", f"owner-{tag}-{token}@example.com"],
        "xss": [f"xss-{tag}-{token}@example.com"],
        "fleet": [f"board-{tag}-{token}@example.com"],
    }


def configured(world, recipients: dict[str, list[str]], **reports):
    """The world's configuration with other recipients and report settings."""
    data = yaml.safe_load(world.ws.config_path.read_text(encoding="utf-8"))
    for model in data["models"]:
        model["recipients"] = recipients[model["id"]]
    data["reports"].update(fleet_recipients=recipients["fleet"], **reports)
    return parse_config(data)


def parts(message):
    body, *attachments = list(message.iter_parts())
    return body, {a.get_filename(): a for a in attachments}


def test_reports_reach_a_real_smtp_server_with_parts_recipients_and_attachments(
    report_world, rendered, tmp_path
):
    ws, to = report_world.ws, addresses("smtp")
    config = configured(report_world, to)
    sink = Sink()
    server = start(sink)
    try:
        smtp = SmtpSettings(host="127.0.0.1", port=server.port, sender="driftguard@example.com")
        with ws.open_lake() as lake:
            result = deliver_reports(
                lake, config, ws.settings, rendered, smtp=smtp, outbox=tmp_path / "outbox"
            )
            again = deliver_reports(
                lake, config, ws.settings, rendered, smtp=smtp, outbox=tmp_path / "outbox"
            )
            token = to["fleet"][0].split("@")[0][-6:]
            ledger = lake.fetchall(
                "SELECT kind, status FROM report_deliveries WHERE recipients_json LIKE ? "
                "ORDER BY kind",
                [f"%{token}@%"],
            )
            audited = [
                e
                for e in audit.trail(lake, event_type="report.delivery", limit=None)
                if set(e.payload["recipients"]) & set(to["credit"] + to["xss"] + to["fleet"])
            ]
    finally:
        server.stop()
    assert result["sent"] == 3 and result["undelivered"] == 0
    assert again["already_delivered"] == 3 and len(sink.received) == 3  # never twice
    assert ledger == [("fleet", "sent"), ("model", "sent"), ("model", "sent")]
    assert len(audited) == 3 and {e.action for e in audited} == {"email.sent"}
    by_recipients = {tuple(r.recipients): r for r in sink.received}
    assert set(by_recipients) == {tuple(to["credit"]), tuple(to["xss"]), tuple(to["fleet"])}

    metas = {m["model_id"]: m for m in rendered["models"]}
    for model_id in ("credit", "xss"):
        received = by_recipients[tuple(to[model_id])]
        message, meta = received.message, metas[model_id]
        assert received.sender == "driftguard@example.com"
        assert message["To"] == ", ".join(to[model_id])
        assert message["Subject"].startswith(f"[DriftGuard] {model_id} 1.0: ")
        assert message.get_content_type() == "multipart/mixed"
        body, attached = parts(message)
        assert body.get_content_type() == "multipart/alternative"
        assert [p.get_content_type() for p in body.iter_parts()] == ["text/plain", "text/html"]
        html = body.get_body(("html",)).get_content()
        text = body.get_body(("plain",)).get_content()
        assert "<svg" not in html and "<script" not in html.lower() and "<style" not in html
        assert 'style="' in html and "<table" in html  # inline styles, table layout
        assert meta["status"] in text and meta["run_id"] in text
        report = attached[f"driftguard-{model_id}-{meta['run_id']}.html"]
        assert report.get_content_type() == "text/html"
        assert report.get_payload(decode=True) == Path(meta["path"]).read_bytes()
        assert report.get_content() == Path(meta["path"]).read_text(encoding="utf-8")
        checkpoint = attached["audit-checkpoint.txt"]
        assert checkpoint.get_content().strip() == meta["checkpoint"]
    xss_html = by_recipients[tuple(to["xss"])].message.get_body(("html",)).get_content()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in xss_html
    fleet = by_recipients[tuple(to["fleet"])].message
    assert fleet["Subject"].startswith("[DriftGuard] Fleet: ")
    _, attached = parts(fleet)
    lines = attached["audit-checkpoint.txt"].get_content().split()
    assert sum(line == "driftguard-audit-checkpoint/1" for line in lines) == 2  # both runs


def test_without_smtp_settings_messages_are_eml_files_that_anchor_the_audit_log(
    report_world, rendered, tmp_path
):
    ws = report_world.ws
    config = configured(report_world, addresses("eml"))
    outbox = tmp_path / "outbox"
    with ws.open_lake() as lake:
        result = deliver_reports(lake, config, ws.settings, rendered, smtp=None, outbox=outbox)
        files = sorted(outbox.glob("*.eml"))
        found = [c for f in files for c in audit.find_checkpoints(f.read_text(errors="replace"))]
        verdict = audit.verify(lake, checkpoints=found, full=False)
    assert result["written"] == 3 and len(files) == 3
    message = message_from_bytes(files[0].read_bytes(), policy=default)
    assert [p.get_content_type() for p in message.walk()][:4] == [
        "multipart/mixed",
        "multipart/alternative",
        "text/plain",
        "text/html",
    ]
    # the raw .eml carries each checkpoint line verbatim (7-bit attachment), so a folder of
    # mail anchors the log: `driftguard audit verify --reports <outbox>`
    assert {c.to_text() for c in found} == {m["checkpoint"] for m in rendered["models"]}
    assert verdict.status == "ok"


def test_a_transient_failure_keeps_the_message_and_a_retry_sends_it_once(
    report_world, rendered, tmp_path
):
    ws = report_world.ws
    config = configured(report_world, addresses("retry"), send="always", fleet_send="always")
    outbox = tmp_path / "outbox"
    down = SmtpSettings(host="127.0.0.1", port=free_port(), timeout=2)
    with ws.open_lake() as lake:
        with pytest.raises(DeliveryIncomplete, match="kept in") as failed:
            deliver_reports(lake, config, ws.settings, rendered, smtp=down, outbox=outbox)
        assert failed.value.transient  # connection refused: a retry may succeed
        kept = sorted((outbox / "undelivered").glob("*.eml"))
        assert len(kept) == 3
        sink = Sink()
        server = start(sink)
        try:
            up = SmtpSettings(host="127.0.0.1", port=server.port)
            retry = deliver_reports(lake, config, ws.settings, rendered, smtp=up, outbox=outbox)
            third = deliver_reports(lake, config, ws.settings, rendered, smtp=up, outbox=outbox)
        finally:
            server.stop()
    assert retry["sent"] == 3 and third["already_delivered"] == 3
    assert {d["reason"] for d in retry["deliveries"]} == {"kept message sent on retry"}
    assert len(sink.received) == 3
    assert list((outbox / "undelivered").glob("*.eml")) == []
    assert len(list((outbox / "sent").glob("*.eml"))) == 3


class RefusingSink(Sink):
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        return "550 5.1.1 no such mailbox"


def test_a_refused_address_is_not_transient_and_the_report_is_kept(
    report_world, rendered, tmp_path
):
    ws = report_world.ws
    to = addresses("refused")
    config = configured(report_world, to, fleet_send="findings")
    server = start(RefusingSink())
    try:
        smtp = SmtpSettings(host="127.0.0.1", port=server.port)
        with ws.open_lake() as lake, pytest.raises(DeliveryIncomplete) as failed:
            deliver_reports(
                lake,
                config,
                ws.settings,
                {"models": rendered["models"][:1], "fleet": None},
                smtp=smtp,
                outbox=tmp_path / "outbox",
            )
    finally:
        server.stop()
    assert not failed.value.transient  # 550: retrying cannot help
    [result] = failed.value.results
    assert result["status"] == "undelivered" and Path(result["path"]).is_file()


def test_send_policy_and_missing_recipients_skip_messages(report_world, rendered, tmp_path):
    ws = report_world.ws
    to = addresses("policy")
    to["xss"] = []
    config = configured(report_world, to, send="status_change", fleet_send="findings")
    metas = {m["model_id"]: m for m in rendered["models"]}
    with ws.open_lake() as lake:
        result = deliver_reports(
            lake, config, ws.settings, rendered, smtp=None, outbox=tmp_path / "outbox"
        )
    statuses = {(d["kind"], d["model_id"]): d for d in result["deliveries"]}
    credit = statuses[("model", "credit")]
    changed = metas["credit"]["previous_status"] != metas["credit"]["status"]
    assert credit["status"] == ("written" if changed else "skipped")
    assert statuses[("model", "xss")]["reason"] == "no recipients configured for this model"
    assert statuses[("fleet", None)]["status"] == "written"  # both runs have findings
