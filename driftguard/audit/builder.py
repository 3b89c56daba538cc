"""Building entries on top of a log state, without the lake.

:func:`driftguard.audit.log.append` uses exactly this code inside its transaction; tests and
benchmarks use it to build logs in memory. Standard library only (Ed25519 signing aside).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from driftguard.audit.canonical import (
    AuditEntry,
    draft_fields,
    encode_entry_parts,
    entry_from_fields,
    with_position,
)
from driftguard.audit.hashing import MerkleFrontier, chain_hash, genesis_hash, leaf_hash
from driftguard.audit.signing import Checkpoint, Signer, make_seal
from driftguard.audit.verification import Row

ISSUED_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


@dataclass
class LogState:
    """What the next entry builds on: the log id, its size, chain head and Merkle frontier."""

    log_id: str
    size: int = 0
    head: bytes = b""
    frontier: MerkleFrontier = field(default_factory=MerkleFrontier)

    def __post_init__(self) -> None:
        if not self.head:
            self.head = genesis_hash(self.log_id)

    def checkpoint(self, issued_at: datetime, signer: Signer | None = None) -> Checkpoint:
        return Checkpoint(
            self.log_id,
            self.size,
            self.head.hex(),
            self.frontier.root().hex(),
            issued_at.astimezone(UTC).strftime(ISSUED_FORMAT),
        ).signed(signer)


def build_entries(
    state: LogState,
    drafts: Iterable[dict[str, Any]],
    *,
    ts_us: int,
    signer: Signer | None = None,
) -> list[AuditEntry]:
    """Chain ``drafts`` (from :func:`~driftguard.audit.canonical.draft_fields`) onto ``state``.

    Advances ``state`` in place and returns the new entries.
    """
    entries = []
    for draft in drafts:
        seq = state.size + 1
        fields = with_position(draft, seq=seq, ts_us=ts_us)
        canonical, payload_json, references_json = encode_entry_parts(fields)
        leaf = leaf_hash(canonical)
        value = chain_hash(seq, state.head, leaf)
        seal = make_seal(signer, state.log_id, seq, value) if signer else None
        state.frontier.push(leaf)
        state.size, state.head = seq, value
        entries.append(
            entry_from_fields(
                state.log_id,
                fields,
                canonical,
                leaf.hex(),
                value.hex(),
                seal,
                payload_json=payload_json,
                references_json=references_json,
            )
        )
    return entries


def build_log(
    log_id: str,
    entries: Iterable[Mapping[str, Any]],
    *,
    start_us: int,
    step_us: int = 1_000_000,
    signer: Signer | None = None,
) -> tuple[LogState, list[AuditEntry]]:
    """A whole log in memory: entry i (0-based) at ``start_us + i * step_us``."""
    state = LogState(log_id)
    built: list[AuditEntry] = []
    for i, entry in enumerate(entries):
        built += build_entries(
            state, [draft_fields(**entry)], ts_us=start_us + i * step_us, signer=signer
        )
    return state, built


def columns_of(entry: AuditEntry) -> dict[str, Any]:
    """The query columns the lake keeps beside an entry's bytes."""
    return {
        "ts_us": entry.ts_us,
        "event_type": entry.event_type,
        "severity": entry.severity,
        "actor": entry.actor,
        "resource_type": entry.resource_type,
        "resource_id": entry.resource_id,
        "action": entry.action,
        "run_id": entry.run_id,
        "reason": entry.reason,
        "payload_json": entry.payload_json,
        "references_json": entry.references_json,
    }


def row_of(entry: AuditEntry, *, columns: bool = True) -> Row:
    return Row(
        entry.seq,
        entry.canonical,
        entry.leaf_hash,
        entry.chain_hash,
        entry.seal,
        columns_of(entry) if columns else None,
    )
