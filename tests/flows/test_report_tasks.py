"""Report tasks in a flow under a throw-away Prefect API: reports, artifacts, e-mail with SMTP
settings from a Prefect Secret block."""

from __future__ import annotations

import logging
import secrets

import pytest
import yaml

from tests.helpers import PII_KEY
from tests.smtp_sink import Sink, start

pytestmark = pytest.mark.usefixtures("prefect_api")
SMTP_VARS = (
    "DRIFTGUARD_SMTP_HOST",
    "DRIFTGUARD_SMTP_PORT",
    "DRIFTGUARD_SMTP_SECURITY",
    "DRIFTGUARD_SMTP_USER",
    "DRIFTGUARD_SMTP_PASSWORD",
    "DRIFTGUARD_SMTP_FROM",
    "DRIFTGUARD_SMTP_VERIFY_TLS",
)


@pytest.fixture
def clean_smtp_env(monkeypatch):
    """The task copies block values into os.environ: restore the environment afterwards."""
    for name in SMTP_VARS:
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)


@pytest.fixture
def config_path(report_world, tmp_path, monkeypatch):
    """The report world's configuration with recipients of this test only."""
    monkeypatch.setenv("DRIFTGUARD_HOME", str(report_world.ws.settings.home))
    monkeypatch.setenv("DRIFTGUARD_PII_KEY", PII_KEY)
    token = secrets.token_hex(3)
    data = yaml.safe_load(report_world.ws.config_path.read_text(encoding="utf-8"))
    for model in data["models"]:
        model["recipients"] = [f"{model['id']}-{token}@example.com"]
    data["reports"]["fleet_recipients"] = [f"board-{token}@example.com"]
    path = tmp_path / "driftguard.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def test_a_flow_renders_publishes_and_mails_with_a_secret_block(
    report_world, config_path, clean_smtp_env, caplog
):
    from prefect import flow
    from prefect.blocks.system import Secret
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from tasks.report import notify_task, publish_artifacts_task, render_reports_task

    sink = Sink()
    server = start(sink)
    password = "smtp-secret-" + secrets.token_hex(4)
    Secret(value={"host": "127.0.0.1", "port": server.port, "from": "driftguard@example.com"}).save(
        "driftguard-smtp", overwrite=True
    )
    Secret(value=password).save("driftguard-smtp-password", overwrite=True)

    @flow(name="report-tasks-test")
    def publish(run_ids: list[str], path: str) -> dict:
        rendered = render_reports_task(run_ids, path)
        publish_artifacts_task(rendered)
        return notify_task(rendered, path)

    caplog.set_level(logging.DEBUG)
    try:
        result = publish(report_world.runs, str(config_path))
    finally:
        server.stop()
        Secret.delete("driftguard-smtp")
        Secret.delete("driftguard-smtp-password")
    # the sink accepts anyone: the password from the block was loaded (login is attempted
    # only with a user), and never logged
    assert result["sent"] == 3 and len(sink.received) == 3
    assert password not in caplog.text
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(like_="driftguard-%"))
        )
    keys = {a.key for a in found}
    assert {
        "driftguard-fleet-summary",
        "driftguard-fleet-risk",
        "driftguard-fleet-report",
        "driftguard-credit-summary",
        "driftguard-credit-report",
        "driftguard-xss-summary",
        "driftguard-xss-report",
    } <= keys
    link = next(a for a in found if a.key == "driftguard-credit-report")
    assert "file://" in str(link.data) and "report.html" in str(link.data)
    summary = next(a for a in found if a.key == "driftguard-xss-summary")
    assert "<script>" not in str(summary.data)


def test_notify_retries_only_transient_failures():
    from driftguard.report.mail import DeliveryIncomplete
    from tasks.report import smtp_transient_only

    class State:
        def __init__(self, error):
            self.data = error

    transient = DeliveryIncomplete("down", transient=True, results=[])
    permanent = DeliveryIncomplete("refused", transient=False, results=[])
    assert smtp_transient_only(None, None, State(transient))
    assert not smtp_transient_only(None, None, State(permanent))
    assert smtp_transient_only(None, None, State(ConnectionRefusedError()))
    assert not smtp_transient_only(None, None, State(ValueError("bug")))
