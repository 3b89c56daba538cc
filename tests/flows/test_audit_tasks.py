"""Audit keys from Prefect Secret blocks, and the audit tasks, under a throw-away Prefect API."""

from __future__ import annotations

import logging
import os

import pytest

from driftguard import audit
from driftguard.audit.signing import HMAC_KEY_ENV, SIGNING_KEY_ENV

pytestmark = pytest.mark.usefixtures("prefect_api")

SEED = "44" * 32
HMAC_SECRET = "prefect-block-hmac-secret-0123456789"


@pytest.fixture
def blocks():
    from prefect.blocks.system import Secret

    names = ["test-audit-signing-key", "test-audit-hmac-key"]
    Secret(value=SEED).save(names[0], overwrite=True)
    Secret(value=HMAC_SECRET).save(names[1], overwrite=True)
    yield {names[0]: SIGNING_KEY_ENV, names[1]: HMAC_KEY_ENV, "test-audit-absent": "UNUSED_VAR"}
    for name in names:
        Secret.delete(name)


def test_keys_come_from_secret_blocks_and_are_never_logged(blocks, monkeypatch, caplog, capsys):
    from tasks.audit import load_audit_keys

    monkeypatch.setenv(SIGNING_KEY_ENV, "")  # unset for the helper, restored afterwards
    monkeypatch.setenv(HMAC_KEY_ENV, "already-set-in-the-environment-123")
    caplog.set_level(logging.DEBUG)
    used = load_audit_keys(blocks)
    assert used == ["test-audit-signing-key"]  # the environment wins; a missing block is skipped
    assert os.environ[SIGNING_KEY_ENV] == SEED
    assert os.environ[HMAC_KEY_ENV] == "already-set-in-the-environment-123"
    output = caplog.text + capsys.readouterr().out
    assert SEED not in output and HMAC_SECRET not in output


def test_the_checkpoint_task_signs_with_the_block_key(blocks, workspace, monkeypatch):
    import tasks.audit as audit_tasks

    monkeypatch.setenv(SIGNING_KEY_ENV, "")  # unset for the helper, restored afterwards
    monkeypatch.setattr(audit_tasks, "SECRET_BLOCKS", {"test-audit-signing-key": SIGNING_KEY_ENV})
    with workspace.open_lake() as lake:
        audit.append(
            lake,
            event_type="e",
            action="a",
            actor="bob",
            resource_type="model",
            resource_id="credit",
        )
    line = audit_tasks.audit_checkpoint_task.fn(str(workspace.config_path), note="test")
    assert " alg=ed25519 " in line
    verdict = audit_tasks.audit_verify_task.fn(str(workspace.config_path), [line])
    assert verdict["status"] == "ok"  # anchored by the supplied checkpoint line
    assert verdict["sealed_through"] is None  # the entry predates the key: not sealed
