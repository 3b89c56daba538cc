"""Audit tasks: signing keys from Prefect Secret blocks, checkpoints and verification.

The core reads audit keys from the environment only (``driftguard.audit.signing``). On a
Prefect worker the keys usually live in Secret blocks instead; :func:`load_audit_keys` copies
them into this process's environment before the core runs. A variable that is already set
wins over a block, and the values are never logged.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from prefect import task

from driftguard import audit
from driftguard.audit.signing import HMAC_KEY_ENV, SIGNING_KEY_ENV
from driftguard.workspace import Workspace
from tasks.retry import BACKOFF, transient_only

log = logging.getLogger(__name__)

#: Secret block name -> the environment variable the core reads.
SECRET_BLOCKS = {
    "driftguard-audit-signing-key": SIGNING_KEY_ENV,
    "driftguard-audit-hmac-key": HMAC_KEY_ENV,
}


def load_audit_keys(blocks: dict[str, str] | None = None) -> list[str]:
    """Copy audit keys from the Secret blocks that exist into the environment.

    Returns the names of the blocks used (not their values). A missing block is skipped;
    an environment variable that is already set is kept.
    """
    from prefect.blocks.system import Secret

    used = []
    for block, variable in (blocks or SECRET_BLOCKS).items():
        if os.environ.get(variable):
            continue
        try:
            value = Secret.load(block).get()
        except ValueError:  # no block of that name
            continue
        if value:
            os.environ[variable] = str(value)
            used.append(block)
            log.info("audit key loaded from Secret block %s into %s", block, variable)
    return used


@task(
    name="audit-checkpoint",
    retries=len(BACKOFF),
    retry_delay_seconds=BACKOFF,
    retry_condition_fn=transient_only,
    timeout_seconds=600,
)
def audit_checkpoint_task(config_path: str | None = None, note: str | None = None) -> str:
    """Sign and store a checkpoint of the audit log; returns its one-line text form."""
    load_audit_keys()
    ws = Workspace.load(config_path)
    with ws.open_lake() as lake:
        return audit.write_checkpoint(lake, note=note).to_text()


@task(
    name="audit-verify",
    retries=len(BACKOFF),
    retry_delay_seconds=BACKOFF,
    retry_condition_fn=transient_only,
    timeout_seconds=3600,
)
def audit_verify_task(
    config_path: str | None = None, checkpoints: list[str] | None = None
) -> dict[str, Any]:
    """Verify the audit log (against checkpoint lines from reports, if given)."""
    load_audit_keys()
    supplied = [c for text in checkpoints or [] for c in audit.find_checkpoints(text)]
    ws = Workspace.load(config_path)
    with ws.open_lake() as lake:
        return audit.verify(lake, checkpoints=supplied).as_dict()
