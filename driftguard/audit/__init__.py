"""The tamper-evident audit log: a hash chain with signed checkpoints, kept in the lake.

Every governance decision, policy change, approval, deployment, kill-switch change, drift
alert, ingestion batch and report is recorded with :func:`append`, inside the transaction of
the change it records, so the lake holds both or neither::

    from driftguard import audit

    def work(lake):
        ...  # the change itself
        audit.append(lake, event_type="killswitch.activated", action="activate",
                     actor="erin", resource_type="model", resource_id="credit-risk",
                     severity="critical", reason="PSI 0.41 on income")

    lake.transaction(work)

Modules:

- :mod:`~driftguard.audit.canonical`: the canonical bytes of an entry.
- :mod:`~driftguard.audit.hashing`: leaf, chain and genesis hashes, RFC 6962 Merkle tree.
- :mod:`~driftguard.audit.signing`: keys, seals and checkpoints (Ed25519, HMAC-SHA256).
- :mod:`~driftguard.audit.verification`: the verifier and its verdicts.
- :mod:`~driftguard.audit.export`: JSON Lines and CSV exports, the export verifier.
- :mod:`~driftguard.audit.log`: the log in the lake (append, checkpoints, revert, epochs,
  trails, statistics, summaries); :mod:`~driftguard.audit.hooks` records ingestion batches
  and monitoring runs.

All but ``log`` and ``hooks`` use the standard library only, so ``python -m driftguard.audit
verify-export FILE`` checks an export on a machine without DuckDB. For that reason this
package imports the lake-backed names lazily, on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from driftguard.audit.canonical import (
    SEVERITIES,
    AuditEntry,
    CanonicalEncodingError,
    InvalidAuditEntry,
    canonical_bytes,
)
from driftguard.audit.signing import Checkpoint, KeyRing, find_checkpoints
from driftguard.audit.verification import Problem, Verification

if TYPE_CHECKING:  # the lake-backed API, loaded on first attribute access
    from driftguard.audit.log import (
        AlreadyReverted,
        AuditHeadCorrupt,
        AuditIntegrityError,
        AuditSummary,
        EntryNotFound,
        LogIsIntact,
        append,
        append_many,
        entries_between,
        export_csv,
        export_jsonl,
        head,
        inclusion_proof_for,
        latest_checkpoint,
        log_ids,
        revert,
        rollback_to,
        start_epoch,
        stats,
        summary,
        trail,
        verify,
        write_checkpoint,
    )

#: Names served from driftguard.audit.log on first access.
_LAZY = frozenset(
    (
        "AlreadyReverted",
        "AuditHeadCorrupt",
        "AuditIntegrityError",
        "AuditSummary",
        "EntryNotFound",
        "LogIsIntact",
        "append",
        "append_many",
        "entries_between",
        "export_csv",
        "export_jsonl",
        "head",
        "inclusion_proof_for",
        "latest_checkpoint",
        "log_ids",
        "revert",
        "rollback_to",
        "start_epoch",
        "stats",
        "summary",
        "trail",
        "verify",
        "write_checkpoint",
    )
)


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'driftguard.audit' has no attribute {name!r}")
    value = getattr(importlib.import_module("driftguard.audit.log"), name)
    globals()[name] = value
    return value


__all__ = [
    "SEVERITIES",
    "AuditEntry",
    "CanonicalEncodingError",
    "Checkpoint",
    "InvalidAuditEntry",
    "KeyRing",
    "Problem",
    "Verification",
    "canonical_bytes",
    "find_checkpoints",
    "AlreadyReverted",
    "AuditHeadCorrupt",
    "AuditIntegrityError",
    "AuditSummary",
    "EntryNotFound",
    "LogIsIntact",
    "append",
    "append_many",
    "entries_between",
    "export_csv",
    "export_jsonl",
    "head",
    "inclusion_proof_for",
    "latest_checkpoint",
    "log_ids",
    "revert",
    "rollback_to",
    "start_epoch",
    "stats",
    "summary",
    "trail",
    "verify",
    "write_checkpoint",
]
