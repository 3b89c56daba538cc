"""Seeded tampering of audit logs for the detection trials.

A trial takes a clean log (rows as the verifier sees them), applies one attack the way an
attacker with write access to the storage would, and states the first bad sequence number
and kind of problem the verifier must report. Two storage semantics:

- ``file``: rows are lines of an export in file order; an attacker moves, drops or adds lines
  and edits their fields.
- ``table``: rows are lake rows, read back sorted by their seq column (as
  :class:`driftguard.audit.log.LakeSource` does); an attacker updates columns, deletes and
  inserts rows.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from driftguard.audit.builder import LogState, build_entries, build_log, columns_of, row_of
from driftguard.audit.canonical import (
    AuditEntry,
    decode_entry,
    draft_fields,
    encode_entry,
    entry_from_fields,
    timestamp_us,
    with_position,
)
from driftguard.audit.hashing import MerkleFrontier, chain_hash, genesis_hash, leaf_hash
from driftguard.audit.signing import Checkpoint, HmacSigner, KeyRing, Signer, make_seal
from driftguard.audit.verification import (
    COLUMN_NAMES,
    ListSource,
    Row,
    Verification,
    verify_log,
)

START = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
ACTORS = ["alice", "bob", "carol", "ingest-bot", "Zoë", "李雷", "o'brien"]
EVENTS = [
    ("model.approved", "approve"),
    ("killswitch.activated", "activate"),
    ("ingest.batch", "ingest"),
    ("policy.changed", "update"),
    ("drift.alert", "alert"),
    ("report.issued", "issue"),
]
NOTES = ["", "café", "e\u0301", "<script>alert(1)</script>", "naïve 🤖", 'quote " and \\']
CLASSES = (
    "byte_flip",
    "column_edit",
    "delete_middle",
    "insert_forged",
    "swap",
    "tail_truncation",
    "suffix_rewrite",
    "restored_backup",
)


def random_entry(rng: random.Random) -> dict:
    event_type, action = rng.choice(EVENTS)
    payload = {
        "score": rng.random(),
        "count": rng.randrange(10**6),
        "note": rng.choice(NOTES),
        "nested": {"list": [1, rng.random() * 100, None, True], "seq": rng.randrange(50)},
    }
    return {
        "event_type": event_type,
        "action": action,
        "actor": rng.choice(ACTORS),
        "resource_type": "model",
        "resource_id": rng.choice(["credit-risk", "churn", "fraud"]),
        "severity": rng.choice(["info", "info", "warning", "high", "critical"]),
        "run_id": rng.choice([None, f"r{rng.randrange(10**6)}"]),
        "reason": rng.choice([None, rng.choice(NOTES) or "routine"]),
        "payload": payload,
        "references": rng.sample(["batch:b1", "run:r2", "config:abc"], rng.randrange(3)),
    }


@dataclass
class Base:
    """A clean log: its state, rows and a checkpoint over all of it."""

    log_id: str
    state: LogState
    rows: list[Row]
    signer: Signer | None
    checkpoint: Checkpoint
    checkpoint_time: datetime

    @property
    def state_head(self) -> Checkpoint:
        """The untouched head row."""
        return head_of(self.log_id, self.rows)


def make_base(rng: random.Random, *, n: int, signer: Signer | None) -> Base:
    log_id = f"log-{rng.randrange(16**8):08x}"
    state, entries = build_log(
        log_id,
        [random_entry(rng) for _ in range(n)],
        start_us=timestamp_us(START),
        signer=signer,
    )
    issued = START + timedelta(seconds=n + 1)
    return Base(
        log_id,
        state,
        [row_of(e) for e in entries],
        signer,
        state.checkpoint(issued, signer),
        issued,
    )


@dataclass
class Trial:
    cls: str
    mode: str
    rows: list[Row]
    expected_seq: int
    expected_kind: str
    checkpoints: list[tuple[Checkpoint, str]] = field(default_factory=list)


def stored_order(rows: list[Row], mode: str) -> list[Row]:
    if mode == "file":
        return rows
    return sorted(rows, key=lambda r: (r.seq is None, r.seq or 0, r.chain_hash, r.canonical))


def run_trial(trial: Trial, base: Base, keyring: KeyRing) -> Verification:
    return verify_log(
        ListSource(stored_order(trial.rows, trial.mode)),
        log_id=base.log_id,
        checkpoints=trial.checkpoints,
        keyring=keyring,
    )


def head_of(log_id: str, rows: list[Row]) -> Checkpoint:
    """What an attacker would write into the head row to match the rows they left."""
    frontier = MerkleFrontier()
    for row in rows:
        frontier.push(bytes.fromhex(row.leaf_hash))
    last = rows[-1].chain_hash if rows else genesis_hash(log_id).hex()
    return Checkpoint(log_id, len(rows), last, frontier.root().hex(), "head row")


def checkpoint_at(base: Base, size: int) -> Checkpoint:
    """A checkpoint over the first ``size`` entries of the clean log (taken before an attack)."""
    state = LogState(base.log_id)
    for row in base.rows[:size]:
        state.frontier.push(bytes.fromhex(row.leaf_hash))
    if size:
        state.size, state.head = size, bytes.fromhex(base.rows[size - 1].chain_hash)
    return state.checkpoint(START + timedelta(seconds=size + 1), base.signer)


def rechain(log_id: str, rows: list[Row], start: int, signer: Signer | None) -> list[Row]:
    """Recompute leaf and chain hashes (and seals with ``signer``) from position ``start``."""
    out = list(rows[:start])
    previous = bytes.fromhex(out[-1].chain_hash) if out else genesis_hash(log_id)
    for row in rows[start:]:
        leaf = leaf_hash(row.canonical)
        value = chain_hash(row.seq, previous, leaf)
        seal = make_seal(signer, log_id, row.seq, value) if signer else None
        out.append(replace(row, leaf_hash=leaf.hex(), chain_hash=value.hex(), seal=seal))
        previous = value
    return out


# --------------------------------------------------------------------------- attacks


def byte_flip(base: Base, rng: random.Random, mode: str) -> Trial:
    """Flip bits of one byte inside an entry's payload (hashes untouched)."""
    rows = list(base.rows)
    k = rng.randrange(1, len(rows) + 1)
    canonical = bytearray(rows[k - 1].canonical)
    start = canonical.index(b'"payload":') + len(b'"payload":')
    end = canonical.index(b',"reason":')
    position = rng.randrange(start, end)
    canonical[position] ^= rng.randrange(1, 256)
    rows[k - 1] = replace(rows[k - 1], canonical=bytes(canonical))
    return Trial("byte_flip", mode, rows, k, "modified", [(base.state_head, "head")])


def column_edit(base: Base, rng: random.Random, mode: str) -> Trial:
    """Change one query column; the hashed bytes stay as they were."""
    rows = list(base.rows)
    k = rng.randrange(1, len(rows) + 1)
    row = rows[k - 1]
    assert row.columns is not None
    name = rng.choice(COLUMN_NAMES)
    value = row.columns[name]
    if name == "ts_us":
        changed = value + rng.choice([-1, 1, 3_600_000_000])
    elif name == "payload_json":
        changed = value.replace('"count":', '"count":1', 1)
    elif name == "references_json":
        changed = '["forged:1"]' if value != '["forged:1"]' else "[]"
    elif value is None:
        changed = "edited"
    else:
        changed = rng.choice([value + "x", value.upper() + "!", "admin"])
        if changed == value:
            changed = value + "?"
    rows[k - 1] = replace(row, columns={**row.columns, name: changed})
    return Trial("column_edit", mode, rows, k, "modified", [(base.state_head, "head")])


def delete_middle(base: Base, rng: random.Random, mode: str) -> Trial:
    """Remove one entry that is neither first nor last (sometimes renumbering the rest)."""
    rows = list(base.rows)
    k = rng.randrange(2, len(rows))
    del rows[k - 1]
    if mode == "table" and rng.random() < 0.5:
        rows = rows[: k - 1] + [replace(r, seq=(r.seq or 0) - 1) for r in rows[k - 1 :]]
    return Trial("delete_middle", mode, rows, k, "deleted", [(base.state_head, "head")])


def insert_forged(base: Base, rng: random.Random, mode: str) -> Trial:
    """Insert a plausible forged entry at seq k, linked to entry k-1 when the attacker bothers,
    with the later rows renumbered or left holding a duplicate seq."""
    rows = list(base.rows)
    n = len(rows)
    k = rng.randrange(2, n + 1)
    previous = bytes.fromhex(rows[k - 2].chain_hash)
    ts = decode_entry(rows[k - 2].canonical)["ts_us"] + 1
    fields = with_position(draft_fields(**random_entry(rng)), seq=k, ts_us=ts)
    canonical = encode_entry(fields)
    leaf = leaf_hash(canonical)
    if rng.random() < 0.6:
        value = chain_hash(k, previous, leaf).hex()
    else:
        value = f"{rng.randrange(16**64):064x}"
    seal = rng.choice([None, rows[k - 1].seal])  # no key: copy a seal, or leave none
    forged = Row(k, canonical, leaf.hex(), value, seal, None)
    forged.columns = columns_of(entry_from_fields(base.log_id, fields, canonical, "", ""))
    if rng.random() < 0.3:  # a careless forger: the query columns disagree with the bytes
        forged.columns = {**forged.columns, "actor": "mallory", "event_type": "x"}
    if rng.random() < 0.5:  # renumber the rest: their seq columns (and export fields) shift
        tail = [replace(r, seq=(r.seq or 0) + 1) for r in rows[k - 1 :]]
        rows = rows[: k - 1] + [forged] + tail
    else:  # a duplicate seq k, stored before or after the genuine entry
        rows.insert(k - 1 + rng.randrange(2), forged)
    return Trial("insert_forged", mode, rows, k, "inserted", [(base.state_head, "head")])


def swap(base: Base, rng: random.Random, mode: str) -> Trial:
    """Exchange two entries: lines in a file, seq columns in a table."""
    rows = list(base.rows)
    n = len(rows)
    k = rng.randrange(1, n)
    m = k + 1 if rng.random() < 0.7 else rng.randrange(k + 1, n + 1)
    a, b = rows[k - 1], rows[m - 1]
    if mode == "file":
        rows[k - 1], rows[m - 1] = b, a
    else:
        rows[k - 1], rows[m - 1] = replace(a, seq=m), replace(b, seq=k)
    return Trial("swap", mode, rows, k, "reordered", [(base.state_head, "head")])


def tail_truncation(base: Base, rng: random.Random, mode: str) -> Trial:
    """Drop the last t entries and fix the head row to match; only a checkpoint tells."""
    rows = list(base.rows)
    n = len(rows)
    keep = rng.randrange(1, n)
    rows = rows[:keep]
    return Trial(
        "tail_truncation",
        mode,
        rows,
        keep + 1,
        "deleted",
        [(base.checkpoint, "supplied"), (head_of(base.log_id, rows), "head")],
    )


def suffix_rewrite(base: Base, rng: random.Random, mode: str) -> Trial:
    """Rewrite entry j and recompute every hash after it (head row too), without the key:
    keep the old seals, strip them, or sign with a key of one's own."""
    rows = list(base.rows)
    j = rng.randrange(1, len(rows) + 1)
    fields = decode_entry(rows[j - 1].canonical)
    fields["reason"] = "nothing to see here"
    fields["payload"] = {**fields["payload"], "count": -1}
    rows[j - 1] = replace(rows[j - 1], canonical=encode_entry(fields))
    choice = rng.choice(["keep", "strip", "own-key"])
    attacker = HmacSigner(b"attacker-key-0123456789") if choice == "own-key" else None
    rewritten = rechain(base.log_id, rows, j - 1, attacker)
    if choice == "keep":
        rewritten = [replace(r, seal=o.seal) for r, o in zip(rewritten, base.rows, strict=True)]
    rewritten[j - 1] = replace(
        rewritten[j - 1], columns=row_of(_entry(base.log_id, rewritten[j - 1])).columns
    )
    return Trial(
        "suffix_rewrite",
        mode,
        rewritten,
        j,
        "forged",
        [(base.checkpoint, "supplied"), (head_of(base.log_id, rewritten), "head")],
    )


def restored_backup(base: Base, rng: random.Random, mode: str) -> Trial:
    """Put back a copy of the log taken at size m < n, after the checkpoint over n was
    issued; sometimes the restored log has grown again since (new, validly sealed entries)."""
    n = len(base.rows)
    m = rng.randrange(1, n)
    rows = list(base.rows[:m])
    if rng.random() < 0.5:
        state = LogState(base.log_id, m, bytes.fromhex(rows[-1].chain_hash), _frontier(rows))
        grow = rng.randrange(1, n - m + 4)
        later = timestamp_us(base.checkpoint_time + timedelta(minutes=5))
        entries = build_entries(
            state,
            [draft_fields(**random_entry(rng)) for _ in range(grow)],
            ts_us=later,
            signer=base.signer,
        )
        rows += [row_of(e) for e in entries]
    return Trial(
        "restored_backup",
        mode,
        rows,
        m + 1,
        "deleted",
        [(base.checkpoint, "supplied"), (head_of(base.log_id, rows), "head")],
    )


ATTACKS = {
    "byte_flip": byte_flip,
    "column_edit": column_edit,
    "delete_middle": delete_middle,
    "insert_forged": insert_forged,
    "swap": swap,
    "tail_truncation": tail_truncation,
    "suffix_rewrite": suffix_rewrite,
    "restored_backup": restored_backup,
}


def _frontier(rows: list[Row]) -> MerkleFrontier:
    frontier = MerkleFrontier()
    for row in rows:
        frontier.push(bytes.fromhex(row.leaf_hash))
    return frontier


def _entry(log_id: str, row: Row) -> AuditEntry:
    return entry_from_fields(
        log_id, decode_entry(row.canonical), row.canonical, row.leaf_hash, row.chain_hash
    )
