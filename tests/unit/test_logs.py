"""Log records: JSON lines with the run context in every record, and no secrets."""

from __future__ import annotations

import io
import json
import logging

import pytest

from driftguard.logs import configure_logging, log_context, redact, register_secret


@pytest.fixture
def json_log():
    stream = io.StringIO()
    handler = configure_logging("json", verbose=True, stream=stream)
    yield stream
    logger = logging.getLogger("driftguard")
    logger.removeHandler(handler)
    logger.propagate = True
    logger.setLevel(logging.NOTSET)


def _records(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_every_json_record_has_the_run_context(json_log):
    log = logging.getLogger("driftguard.test")
    log.info("outside any run")
    with log_context(pipeline_run_id="p1", model_id="fraud"):
        with log_context(run_id="r1", step="drift"):
            log.info("computed %s", "drift")
        log.info("done", extra={"duration_s": 1.5, "step": "report"})
    outside, inside, done = _records(json_log)
    fields = {"pipeline_run_id", "run_id", "model_id", "step", "duration_s"}
    assert fields <= set(outside) and fields <= set(inside) and fields <= set(done)
    assert outside["model_id"] is None and outside["duration_s"] is None
    assert (inside["pipeline_run_id"], inside["run_id"], inside["model_id"], inside["step"]) == (
        "p1",
        "r1",
        "fraud",
        "drift",
    )
    assert inside["message"] == "computed drift"
    assert isinstance(inside["duration_s"], float) and inside["duration_s"] >= 0  # since step began
    assert (done["step"], done["duration_s"], done["run_id"]) == ("report", 1.5, None)


def test_secrets_never_appear(json_log, monkeypatch):
    monkeypatch.setenv("DRIFTGUARD_SMTP_PASSWORD", "smtp-pass-4711")
    monkeypatch.setenv("DRIFTGUARD_PII_KEY", "pii-key-0123456789")
    register_secret("block-secret-abcdef")
    log = logging.getLogger("driftguard.test")
    log.warning("login with smtp-pass-4711 and %s", "pii-key-0123456789")
    log.warning("catalog dbname=lake password=hunter22 host=db; key block-secret-abcdef")
    try:
        raise RuntimeError("could not connect to postgresql://bob:topsecret@db/lake")
    except RuntimeError:
        log.exception("failed")
    text = json_log.getvalue()
    for secret in (
        "smtp-pass-4711",
        "pii-key-0123456789",
        "hunter22",
        "block-secret-abcdef",
        "topsecret",
    ):
        assert secret not in text
    assert text.count("***") >= 5


def test_short_values_are_not_treated_as_secrets(monkeypatch):
    monkeypatch.setenv("DRIFTGUARD_SMTP_PASSWORD", "1")  # would blank every "1"
    assert redact("run 1 of 10") == "run 1 of 10"


def test_human_format_shows_only_bound_fields():
    stream = io.StringIO()
    handler = configure_logging("human", verbose=True, stream=stream)
    try:
        with log_context(model_id="churn"):
            logging.getLogger("driftguard.x").info("hello")
    finally:
        logging.getLogger("driftguard").removeHandler(handler)
    assert stream.getvalue().strip() == "info    driftguard.x: hello [model_id=churn]"
