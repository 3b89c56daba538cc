"""The audit log in the lake: append, checkpoints, verification, revert, epochs, queries.

Tables (migration 4): ``audit_entries`` (one row per entry: the canonical bytes, their
hashes and seal, and query columns that verification checks against the bytes),
``audit_head`` (exactly one row: the active log's id, size, chain head and Merkle frontier),
``audit_checkpoints`` and ``audit_logs`` (one row per epoch).

Why a head row: DuckLake appends never conflict with each other, so two writers could both
read size n and both write entry n+1. Every append therefore also rewrites the head row in
the same transaction; two transactions rewriting one row conflict at commit, the loser is
retried by :meth:`Lake.transaction` from the start, reads the new head and appends after it.
Sequence numbers stay contiguous and the chain never forks, whether the writers are threads
(each with its own :class:`Lake`), processes or machines sharing a PostgreSQL catalog.

Nothing is ever updated or deleted in ``audit_entries``: a revert is a compensating entry that
references its target, and recovery from a corrupted log starts a new epoch (a new log id and
genesis) whose first entry records the previous head and what verification found.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any

from driftguard.audit.builder import ISSUED_FORMAT, LogState, build_entries
from driftguard.audit.canonical import (
    AuditEntry,
    InvalidAuditEntry,
    NotAnEntry,
    decode_entry,
    draft_fields,
    entry_from_fields,
    timestamp_from_us,
    timestamp_us,
)
from driftguard.audit.export import write_csv, write_jsonl
from driftguard.audit.hashing import (
    MerkleFrontier,
    chain_hash,
    genesis_hash,
    inclusion_proof,
    leaf_hash,
)
from driftguard.audit.signing import Checkpoint, KeyRing, Signer, signer_from_env
from driftguard.audit.verification import (
    COLUMN_NAMES,
    Chunk,
    Problem,
    Row,
    Verification,
    verify_log,
)
from driftguard.errors import ConfigError, DataError, DriftGuardError
from driftguard.store import Lake

logger = logging.getLogger(__name__)

#: Columns of ``audit_entries`` in table order.
ENTRY_COLUMNS = (
    "log_id",
    "seq",
    "ts",
    "event_type",
    "severity",
    "actor",
    "resource_type",
    "resource_id",
    "action",
    "run_id",
    "reason",
    "payload_json",
    "references_json",
    "canonical",
    "leaf_hash",
    "chain_hash",
    "seal",
)
#: Appends of more rows than this go through one Arrow table instead of a VALUES list.
_VALUES_LIMIT = 64
#: Rows per query when reading a log for verification or export.
CHUNK_ROWS = 100_000


class AuditHeadCorrupt(DataError):
    """The one-row ``audit_head`` table is missing or holds several rows."""


class AuditIntegrityError(DataError):
    """The log no longer matches its last checkpoint: no new checkpoint is signed over it."""


class EntryNotFound(DriftGuardError, LookupError):
    """No entry with that sequence number (or hash) in the log."""


class AlreadyReverted(ConfigError):
    """The entry was reverted before; a second revert would say nothing new."""


class LogIsIntact(ConfigError):
    """A new epoch is only started for a log that fails verification."""


# --------------------------------------------------------------------------- head


@dataclass(frozen=True)
class Head:
    """The active log's state: what the next append builds on."""

    log_id: str
    epoch: int
    size: int
    head: str
    frontier: MerkleFrontier

    @property
    def root(self) -> str:
        return self.frontier.root().hex()

    def as_checkpoint(self) -> Checkpoint:
        """The head row as an unsigned checkpoint (verification compares it; never trusts it)."""
        return Checkpoint(self.log_id, self.size, self.head, self.root, "head row")


def head(lake: Lake) -> Head:
    """Read the head row (inside a transaction it is the transaction's view)."""
    rows = lake.fetchall("SELECT log_id, epoch, size, head, frontier FROM audit_head")
    if len(rows) != 1:
        raise AuditHeadCorrupt(
            f"audit_head holds {len(rows)} rows instead of 1; the audit log cannot be appended "
            "to safely. Run `driftguard audit verify`, then `driftguard audit recover`."
        )
    log_id, epoch, size, chain_value, frontier = rows[0]
    try:
        parsed = MerkleFrontier.from_json(int(size), frontier)
    except (ValueError, TypeError) as error:
        raise AuditHeadCorrupt(
            f"audit_head's Merkle frontier is damaged ({error}). Run `driftguard audit verify`."
        ) from error
    return Head(str(log_id), int(epoch), int(size), str(chain_value), parsed)


def _now_us() -> int:
    return time.time_ns() // 1000


#: Attempts of an audit-only transaction: every append rewrites the one head row, so busy
#: concurrent appenders lose commits often; each retry is cheap (a few rows).
OWN_TRANSACTION_ATTEMPTS = 200


def _in_transaction(lake: Lake, work: Any, message: str) -> Any:
    if lake.in_transaction:
        return work(lake)
    return lake.transaction(work, message=message, attempts=OWN_TRANSACTION_ATTEMPTS)


# --------------------------------------------------------------------------- append


def append(
    lake: Lake,
    *,
    event_type: str,
    action: str,
    actor: str,
    resource_type: str,
    resource_id: str,
    severity: str = "info",
    run_id: str | None = None,
    reason: str | None = None,
    payload: Any = None,
    references: Sequence[str] = (),
    signer: Signer | None = None,
) -> AuditEntry:
    """Append one entry to the audit log, inside the caller's transaction.

    entry_n = canonical(fields, seq = n, ts_us = now);  chain_n = H(0x02 ‖ n ‖ chain_{n-1} ‖
    H(0x00 ‖ entry_n)). Called inside :meth:`Lake.transaction` it joins that transaction, so
    the entry commits with the change it records or not at all; called outside one it runs
    in its own. ``signer`` defaults to the key in the environment (none: no seal).

    Notes
    -----
    The caller's transaction may be retried from the start on a commit conflict (another
    writer appended first); the entry is then rebuilt on top of the new head, which is why
    ``work`` functions must be repeatable.

    Examples
    --------
    >>> def approve(lake):  # doctest: +SKIP
    ...     return append(lake, event_type="model.approved", action="approve", actor="carol",
    ...                   resource_type="model", resource_id="credit-risk")
    >>> lake.transaction(approve).seq  # doctest: +SKIP
    42
    """
    draft = draft_fields(
        event_type=event_type,
        action=action,
        actor=actor,
        resource_type=resource_type,
        resource_id=resource_id,
        severity=severity,
        run_id=run_id,
        reason=reason,
        payload=payload,
        references=references,
    )
    entries = _in_transaction(
        lake, lambda lk: _append_drafts(lk, [draft], signer), f"audit {event_type}"
    )
    return entries[0]


def append_many(
    lake: Lake, entries: Iterable[Mapping[str, Any]], *, signer: Signer | None = None
) -> list[AuditEntry]:
    """Append many entries at once (same keywords as :func:`append`), in one transaction.

    One head read, one insert and one head update for the batch: hundreds of thousands of
    entries per second instead of one transaction per entry.
    """
    drafts = []
    for i, entry in enumerate(entries):
        try:
            drafts.append(draft_fields(**entry))
        except TypeError as error:
            raise InvalidAuditEntry(f"entry {i}: {error}") from error
    if not drafts:
        return []
    return _in_transaction(
        lake, lambda lk: _append_drafts(lk, drafts, signer), f"audit batch of {len(drafts)}"
    )


def _append_drafts(
    lake: Lake, drafts: list[dict[str, Any]], signer: Signer | None
) -> list[AuditEntry]:
    current = head(lake)
    state = LogState(
        current.log_id, current.size, bytes.fromhex(current.head), current.frontier.copy()
    )
    entries = build_entries(
        state,
        drafts,
        ts_us=_now_us(),
        signer=signer if signer is not None else signer_from_env(),
    )
    _insert_entries(lake, entries)
    lake.execute(
        "UPDATE audit_head SET size = ?, head = ?, frontier = ?, updated_at = now() "
        "WHERE log_id = ?",
        [state.size, state.head.hex(), state.frontier.to_json(), current.log_id],
    )
    return entries


def _entry_values(entry: AuditEntry) -> list[Any]:
    return [
        entry.log_id,
        entry.seq,
        entry.ts,
        entry.event_type,
        entry.severity,
        entry.actor,
        entry.resource_type,
        entry.resource_id,
        entry.action,
        entry.run_id,
        entry.reason,
        entry.payload_json,
        entry.references_json,
        entry.canonical,
        entry.leaf_hash,
        entry.chain_hash,
        entry.seal,
    ]


def _insert_entries(lake: Lake, entries: list[AuditEntry]) -> None:
    columns = ", ".join(ENTRY_COLUMNS)
    if len(entries) <= _VALUES_LIMIT:
        row = "(" + ", ".join("?" * len(ENTRY_COLUMNS)) + ")"
        params = [value for entry in entries for value in _entry_values(entry)]
        lake.execute(
            f"INSERT INTO audit_entries ({columns}) VALUES " + ", ".join([row] * len(entries)),
            params,
        )
        return
    import pyarrow as pa  # type: ignore[import-untyped]

    table = pa.table(
        {
            "log_id": pa.array([e.log_id for e in entries], pa.string()),
            "seq": pa.array([e.seq for e in entries], pa.int64()),
            "ts": pa.array([e.ts_us for e in entries], pa.timestamp("us", tz="UTC")),
            "event_type": pa.array([e.event_type for e in entries], pa.string()),
            "severity": pa.array([e.severity for e in entries], pa.string()),
            "actor": pa.array([e.actor for e in entries], pa.string()),
            "resource_type": pa.array([e.resource_type for e in entries], pa.string()),
            "resource_id": pa.array([e.resource_id for e in entries], pa.string()),
            "action": pa.array([e.action for e in entries], pa.string()),
            "run_id": pa.array([e.run_id for e in entries], pa.string()),
            "reason": pa.array([e.reason for e in entries], pa.string()),
            "payload_json": pa.array([e.payload_json for e in entries], pa.string()),
            "references_json": pa.array([e.references_json for e in entries], pa.string()),
            "canonical": pa.array([e.canonical for e in entries], pa.binary()),
            "leaf_hash": pa.array([e.leaf_hash for e in entries], pa.string()),
            "chain_hash": pa.array([e.chain_hash for e in entries], pa.string()),
            "seal": pa.array([e.seal for e in entries], pa.string()),
        }
    )
    name = f"__dg_audit_batch_{uuid.uuid4().hex[:8]}"
    lake.con.register(name, table)
    try:
        lake.execute(f"INSERT INTO audit_entries ({columns}) SELECT {columns} FROM {name}")
    finally:
        lake.con.unregister(name)


# --------------------------------------------------------------------------- reading rows


_HASH_ONLY_SELECT = "seq, canonical, chain_hash, seal"  # leaf_hash added unless lazy
_FULL_SELECT = (
    "seq, canonical, leaf_hash, chain_hash, seal, epoch_us(ts) AS ts_us, event_type, severity, "
    "actor, resource_type, resource_id, action, run_id, reason, payload_json, references_json"
)


class _StoredLeaves(Sequence[str]):
    """The stored leaf hashes of a hash-only chunk, each read when indexed.

    The hash-only pass never needs them; only the diagnosis of an anomaly looks at a few
    rows' stored leaves. Not reading the 64-character column for every row saves about a sixth
    of the pass.
    """

    def __init__(
        self, source: LakeSource, seqs: list[int | None], chains: list[str], canonicals: list[bytes]
    ) -> None:
        self.source = source
        self.rows = seqs, chains, canonicals  # the chunk's own lists, not copies

    def __len__(self) -> int:
        return len(self.rows[0])

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        seqs, chains, canonicals = self.rows
        return self.source.stored_leaf(seqs[i], chains[i], canonicals[i])


class LakeSource:
    """One log's rows in the lake, read in sequence order, chunk by chunk (flat memory).

    ``lazy_leaves`` (hash-only passes that look at few rows' stored leaf hashes) reads the
    leaf_hash column only for the rows indexed; readers of every row keep it False.
    """

    def __init__(
        self,
        lake: Lake,
        log_id: str,
        *,
        full: bool,
        lazy_leaves: bool = False,
        chunk_rows: int | None = None,
    ):
        self.lake = lake
        self.log_id = log_id
        self.full = full
        self.lazy_leaves = lazy_leaves and not full
        # full rows carry eleven more columns: half the rows per query
        self.chunk_rows = chunk_rows or (CHUNK_ROWS // 2 if full else CHUNK_ROWS)

    def _chunk(self, where: str, params: list[Any]) -> Chunk:
        if self.full:
            select = _FULL_SELECT
        else:
            select = _HASH_ONLY_SELECT if self.lazy_leaves else _HASH_ONLY_SELECT + ", leaf_hash"
        cursor = self.lake.execute(
            f"SELECT {select} FROM audit_entries WHERE log_id = ? AND {where} "
            "ORDER BY seq, chain_hash",
            [self.log_id, *params],
        )
        table = cursor.to_arrow_table()
        seqs = table.column("seq").to_pylist()
        columns = None
        if self.full:
            columns = {name: table.column(name).to_pylist() for name in COLUMN_NAMES}
        canonicals = table.column("canonical").to_pylist()
        chains = table.column("chain_hash").to_pylist()
        if self.lazy_leaves:
            leaves: Sequence[str] = _StoredLeaves(self, seqs, chains, canonicals)
        else:
            leaves = table.column("leaf_hash").to_pylist()
        return Chunk(seqs, canonicals, leaves, chains, table.column("seal").to_pylist(), columns)

    def stored_leaf(self, seq: int | None, chain: str, canonical: bytes) -> str:
        """The leaf_hash column of the row with these seq, chain hash and bytes."""
        found = self.lake.fetchone(
            "SELECT leaf_hash FROM audit_entries WHERE log_id = ? AND seq IS NOT DISTINCT FROM ? "
            "AND chain_hash IS NOT DISTINCT FROM ? AND canonical = ? ORDER BY leaf_hash LIMIT 1",
            [self.log_id, seq, chain, canonical],
        )
        return found[0] if found else ""

    def chunks(self, lo: int | None = None, hi: int | None = None) -> Iterator[Chunk]:
        bounds = self.lake.fetchone(
            "SELECT min(seq), max(seq) FROM audit_entries WHERE log_id = ?", [self.log_id]
        )
        first, last = bounds if bounds else (None, None)
        if first is not None:
            start = max(int(first), lo) if lo is not None else int(first)
            stop = min(int(last or 0), hi) if hi is not None else int(last or 0)
            while start <= stop:
                end = min(start + self.chunk_rows, stop + 1)
                chunk = self._chunk("seq >= ? AND seq < ?", [start, end])
                if len(chunk):
                    yield chunk
                    start = end
                    continue
                following = self.lake.fetchone(
                    "SELECT min(seq) FROM audit_entries WHERE log_id = ? AND seq >= ?",
                    [self.log_id, end],
                )
                if not following or following[0] is None:
                    break
                start = int(following[0])
        if lo is None and hi is None:
            stray = self._chunk("seq IS NULL", [])
            if len(stray):
                yield stray

    def row_at(self, seq: int) -> Row | None:
        chunk = self._chunk("seq = ?", [seq])
        return chunk.row(0) if len(chunk) else None


# --------------------------------------------------------------------------- checkpoints


def _checkpoint_from_row(row: Mapping[str, Any]) -> Checkpoint:
    return Checkpoint(
        log_id=row["log_id"],
        size=int(row["size"]),
        head=row["head"],
        root=row["root"],
        issued_at=_issued_text(row["issued_at"]),
        alg=row["alg"],
        key_id=row["key_id"],
        signature=row["signature"],
    )


def _issued_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(ISSUED_FORMAT)


def stored_checkpoints(lake: Lake, log_id: str) -> list[Checkpoint]:
    rows = lake.records(
        "SELECT * FROM audit_checkpoints WHERE log_id = ? ORDER BY size, issued_at", [log_id]
    )
    return [_checkpoint_from_row(r) for r in rows]


def latest_checkpoint(lake: Lake, log_id: str | None = None) -> Checkpoint | None:
    """The most recent checkpoint of the active log (or of ``log_id``)."""
    log_id = log_id or head(lake).log_id
    rows = lake.records(
        "SELECT * FROM audit_checkpoints WHERE log_id = ? ORDER BY size DESC, issued_at DESC "
        "LIMIT 1",
        [log_id],
    )
    return _checkpoint_from_row(rows[0]) if rows else None


def write_checkpoint(
    lake: Lake,
    *,
    run_id: str | None = None,
    note: str | None = None,
    signer: Signer | None = None,
    check: bool = True,
) -> Checkpoint:
    """Sign the active log's head and root now and store the checkpoint (joins a transaction).

    With ``check`` (the default) the entries written since the last checkpoint are verified
    first, and :class:`AuditIntegrityError` is raised instead of signing a log that no longer
    extends that checkpoint: a checkpoint must never bless a tampered log.
    """

    def work(lk: Lake) -> Checkpoint:
        current = head(lk)
        key = signer if signer is not None else signer_from_env()
        if check:
            _check_since_last_checkpoint(lk, current, KeyRing.for_signer(key))
        issued = datetime.now(UTC)
        checkpoint = Checkpoint(
            current.log_id,
            current.size,
            current.head,
            current.root,
            issued.strftime(ISSUED_FORMAT),
        ).signed(key)
        lk.execute(
            "INSERT INTO audit_checkpoints VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                checkpoint.log_id,
                checkpoint.size,
                checkpoint.head,
                checkpoint.root,
                issued,
                checkpoint.alg,
                checkpoint.key_id,
                checkpoint.signature,
                current.frontier.to_json(),
                run_id,
                note,
            ],
        )
        return checkpoint

    return _in_transaction(lake, work, "audit checkpoint")


def _check_since_last_checkpoint(lake: Lake, current: Head, keyring: KeyRing) -> None:
    rows = lake.records(
        "SELECT * FROM audit_checkpoints WHERE log_id = ? ORDER BY size DESC, issued_at DESC "
        "LIMIT 1",
        [current.log_id],
    )
    if rows:
        last = _checkpoint_from_row(rows[0])
        if last.check_signature(keyring) == "invalid":
            raise AuditIntegrityError(
                f"the last stored checkpoint ({last.issued_at}, size {last.size}) has an invalid "
                "signature. Run `driftguard audit verify`."
            )
        if last.size > current.size:
            raise AuditIntegrityError(
                f"the log holds {current.size} entries but the checkpoint of {last.issued_at} "
                f"covered {last.size}: entries were removed. Run `driftguard audit verify`."
            )
        start, previous = last.size, bytes.fromhex(last.head)
        frontier = MerkleFrontier.from_json(last.size, rows[0]["frontier"])
        if start:
            row = LakeSource(lake, current.log_id, full=False).row_at(start)
            if row is None or row.chain_hash != last.head:
                raise AuditIntegrityError(
                    f"entry {start} no longer has the chain value that the checkpoint of "
                    f"{last.issued_at} recorded. Run `driftguard audit verify`."
                )
    else:
        start, previous, frontier = 0, genesis_hash(current.log_id), MerkleFrontier()
    expected = start + 1
    source = LakeSource(lake, current.log_id, full=False, lazy_leaves=True)
    for chunk in source.chunks(start + 1, current.size):
        for seq, canonical, stored in zip(chunk.seqs, chunk.canonicals, chunk.chains, strict=True):
            leaf = leaf_hash(canonical)
            value = chain_hash(expected, previous, leaf)
            if seq != expected or value.hex() != stored:
                raise AuditIntegrityError(
                    f"entry {expected} does not link to the entry before it. Run "
                    "`driftguard audit verify` to see what happened."
                )
            frontier.push(leaf)
            previous, expected = value, expected + 1
    if expected - 1 != current.size or previous.hex() != current.head:
        raise AuditIntegrityError(
            f"the head row says {current.size} entries ending in {current.head[:12]}..., but the "
            f"entries end at seq {expected - 1}. Run `driftguard audit verify`."
        )
    if frontier.root().hex() != current.root:
        raise AuditIntegrityError(
            "the head row's Merkle frontier does not match the entries. Run "
            "`driftguard audit verify`."
        )


# --------------------------------------------------------------------------- verification


def verify(
    lake: Lake,
    *,
    log_id: str | None = None,
    checkpoints: Iterable[Checkpoint] = (),
    keyring: KeyRing | None = None,
    full: bool = True,
) -> Verification:
    """Verify the active log (or ``log_id``) against stored and ``checkpoints`` from outside.

    Reads one snapshot (inside one transaction), so concurrent appends cannot cause false
    alarms. See :mod:`driftguard.audit.verification` for the verdicts.
    """
    keyring = keyring if keyring is not None else KeyRing.from_env()
    supplied = list(checkpoints)
    with lake.atomic(), _one_thread(lake):
        problems: list[Problem] = []
        try:
            current: Head | None = head(lake)
        except AuditHeadCorrupt as error:
            current = None
            problems.append(Problem("modified", None, str(error)))
        known = {r["log_id"]: r for r in log_ids(lake)}
        target = log_id or (current.log_id if current else _newest_log(known))
        if target is None:
            raise AuditHeadCorrupt("the lake holds no audit log; was migration 4 applied?")
        pairs = [(c, "stored") for c in stored_checkpoints(lake, target)]
        pairs += [(c, "supplied") for c in supplied]
        if current is not None and current.log_id == target:
            pairs.append((current.as_checkpoint(), "head"))
        result = verify_log(
            LakeSource(lake, target, full=full, lazy_leaves=True),
            log_id=target,
            checkpoints=pairs,
            keyring=keyring,
            full=full,
        )
    result.problems[:0] = problems
    for checkpoint in supplied:
        if checkpoint.log_id == target:
            continue
        if checkpoint.log_id not in known:
            result.problems.append(
                Problem(
                    "deleted",
                    None,
                    f"a supplied checkpoint of {checkpoint.issued_at} ({checkpoint.size} "
                    f"entries) belongs to log {checkpoint.log_id}, which this lake does not "
                    "hold: that log was removed or replaced",
                )
            )
        else:
            epoch = known[checkpoint.log_id]["epoch"]
            result.notes.append(
                f"a checkpoint of epoch {epoch} (log {checkpoint.log_id}) was not used; verify "
                f"that epoch with --log-id {checkpoint.log_id}"
            )
    return result


@contextmanager
def _one_thread(lake: Lake) -> Iterator[None]:
    """Run DuckDB on one thread while verifying: the work is a sequential hash pass, and one
    thread keeps DuckDB's read buffers (and so peak memory) smallest."""
    (threads,) = lake.fetchone("SELECT current_setting('threads')")
    lake.execute("SET threads = 1")
    try:
        yield
    finally:
        lake.execute(f"SET threads = {int(threads)}")


def _newest_log(known: Mapping[str, Mapping[str, Any]]) -> str | None:
    if not known:
        return None
    return max(known.values(), key=lambda r: r["epoch"])["log_id"]


def log_ids(lake: Lake) -> list[dict[str, Any]]:
    """Every epoch of the audit log: id, number, start and what it recorded of its predecessor."""
    return lake.records(
        "SELECT log_id, epoch, started_at, previous_log_id, previous_size, previous_head, "
        "reason FROM audit_logs ORDER BY epoch"
    )


# --------------------------------------------------------------------------- revert, epochs


def get_entry(lake: Lake, seq: int, *, log_id: str | None = None) -> AuditEntry:
    """Entry ``seq`` of the active log (or ``log_id``), decoded from its hashed bytes."""
    log_id = log_id or head(lake).log_id
    found = _entries(lake, "log_id = ? AND seq = ?", [log_id, seq], limit=1)
    if not found:
        raise EntryNotFound(
            f"The audit log {log_id} has no entry {seq}. `driftguard audit trail` lists entries."
        )
    return found[0]


def revert(
    lake: Lake,
    seq: int,
    *,
    reason: str,
    actor: str,
    log_id: str | None = None,
    signer: Signer | None = None,
) -> AuditEntry:
    """Revert entry ``seq`` by appending a compensating entry that references it.

    Nothing is deleted or edited: the reverted entry stays, and readers see the revert that
    names it (``references = ["audit:<seq>:<leaf hash>"]``).
    """
    if not reason or not reason.strip():
        raise InvalidAuditEntry("a revert needs a reason")

    def work(lk: Lake) -> AuditEntry:
        target = get_entry(lk, seq, log_id=log_id)
        if target.event_type == "audit.epoch":
            raise InvalidAuditEntry(
                "the first entry of an epoch records a recovery; it cannot be reverted"
            )
        (count,) = lk.fetchone(
            "SELECT count(*) FROM audit_entries WHERE event_type = 'audit.revert' "
            "AND contains(references_json, ?)",
            [json.dumps(target.reference)],
        )
        if count:
            raise AlreadyReverted(
                f"Entry {seq} was already reverted; `driftguard audit trail --resource "
                f"{target.resource_type}:{target.resource_id}` shows the revert."
            )
        return append(
            lk,
            event_type="audit.revert",
            action="revert",
            actor=actor,
            resource_type=target.resource_type,
            resource_id=target.resource_id,
            severity=target.severity if target.severity in ("high", "critical") else "warning",
            run_id=target.run_id,
            reason=reason,
            payload={
                "target": {
                    "log_id": target.log_id,
                    "seq": target.seq,
                    "leaf_hash": target.leaf_hash,
                    "event_type": target.event_type,
                    "action": target.action,
                }
            },
            references=[target.reference],
            signer=signer,
        )

    return _in_transaction(lake, work, f"audit revert {seq}")


def rollback_to(
    lake: Lake, target: int | str, *, reason: str, actor: str, signer: Signer | None = None
) -> AuditEntry:
    """Declare every entry after ``target`` (a seq, or a chain-hash prefix) reverted.

    The "rollback to hash" of earlier designs, done without deleting anything: one
    compensating entry names the target and the reverted range.
    """
    if not reason or not reason.strip():
        raise InvalidAuditEntry("a rollback needs a reason")

    def work(lk: Lake) -> AuditEntry:
        current = head(lk)
        entry = _resolve_target(lk, current.log_id, target)
        if entry.seq >= current.size:
            raise InvalidAuditEntry(
                f"entry {entry.seq} is the head of the log; there is nothing after it to revert"
            )
        return append(
            lk,
            event_type="audit.rollback",
            action="rollback",
            actor=actor,
            resource_type="audit_log",
            resource_id=current.log_id,
            severity="high",
            reason=reason,
            payload={
                "to": {"seq": entry.seq, "chain_hash": entry.chain_hash},
                "reverted": {"from": entry.seq + 1, "to": current.size},
            },
            references=[entry.reference],
            signer=signer,
        )

    return _in_transaction(lake, work, "audit rollback")


def _resolve_target(lake: Lake, log_id: str, target: int | str) -> AuditEntry:
    if isinstance(target, int) or str(target).isdigit():
        return get_entry(lake, int(target), log_id=log_id)
    prefix = str(target).lower()
    if len(prefix) < 8 or any(c not in "0123456789abcdef" for c in prefix):
        raise InvalidAuditEntry(
            f"{target!r} is neither a sequence number nor a chain-hash prefix of at least 8 "
            "hex digits"
        )
    found = _entries(lake, "log_id = ? AND starts_with(chain_hash, ?)", [log_id, prefix], limit=2)
    if len(found) != 1:
        raise EntryNotFound(
            f"{len(found)} entries of log {log_id} have a chain hash starting with {prefix}"
        )
    return found[0]


def start_epoch(
    lake: Lake,
    *,
    reason: str,
    actor: str,
    force: bool = False,
    keyring: KeyRing | None = None,
    signer: Signer | None = None,
) -> AuditEntry:
    """Recover from a corrupted log: start a new log (epoch) whose first entry records the old.

    The old log stays in the lake as evidence; its entries are never touched. The new log has
    its own id and genesis; its first entry (``audit.epoch``) records the previous log's head
    row, the verified prefix and the problem verification found. Refused for a log that
    verifies unless ``force``.
    """
    if not reason or not reason.strip():
        raise InvalidAuditEntry("starting a new epoch needs a reason")
    verdict = verify(lake, keyring=keyring)
    if verdict.status != "tampered" and not force:
        raise LogIsIntact(
            f"The audit log verifies ({verdict.status}); a new epoch is for a corrupted log. "
            "Pass --force to start one anyway."
        )
    problem = verdict.first_problem

    def work(lk: Lake) -> AuditEntry:
        previous = head(lk)
        new_id = str(uuid.uuid4())
        epoch = previous.epoch + 1
        lk.execute(
            "INSERT INTO audit_logs VALUES (?, ?, now(), ?, ?, ?, ?)",
            [new_id, epoch, previous.log_id, previous.size, previous.head, reason],
        )
        lk.execute(
            "UPDATE audit_head SET log_id = ?, epoch = ?, size = 0, head = ?, frontier = '[]', "
            "updated_at = now() WHERE log_id = ?",
            [new_id, epoch, genesis_hash(new_id).hex(), previous.log_id],
        )
        return append(
            lk,
            event_type="audit.epoch",
            action="start_epoch",
            actor=actor,
            resource_type="audit_log",
            resource_id=new_id,
            severity="high",
            reason=reason,
            payload={
                "epoch": epoch,
                "previous": {
                    "log_id": previous.log_id,
                    "epoch": previous.epoch,
                    "size": previous.size,
                    "head": previous.head,
                },
                "verified_prefix": {"size": verdict.size, "head": verdict.head},
                "status": verdict.status,
                "problem": problem.as_dict() if problem else None,
            },
            references=[f"audit-log:{previous.log_id}"],
            signer=signer,
        )

    return lake.transaction(work, message="audit new epoch", attempts=OWN_TRANSACTION_ATTEMPTS)


# --------------------------------------------------------------------------- queries


def _entries(
    lake: Lake,
    where: str,
    params: list[Any],
    *,
    order: str = "ts, seq",
    limit: int | None = None,
) -> list[AuditEntry]:
    sql = (
        f"SELECT {', '.join(ENTRY_COLUMNS)}, epoch_us(ts) AS ts_us FROM audit_entries "
        f"WHERE {where} ORDER BY {order}"
    )
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    entries = []
    for row in lake.records(sql, params):
        canonical = bytes(row["canonical"])
        try:
            fields = decode_entry(canonical)
        except NotAnEntry:
            logger.warning(
                "audit entry %s of log %s cannot be decoded; showing its columns (run "
                "`driftguard audit verify`)",
                row["seq"],
                row["log_id"],
            )
            fields = {
                "seq": row["seq"],
                "ts_us": row["ts_us"],
                **{k: row[k] for k in ("event_type", "severity", "actor", "action")},
                **{k: row[k] for k in ("resource_type", "resource_id", "run_id", "reason")},
                "payload": json.loads(row["payload_json"] or "null"),
                "references": json.loads(row["references_json"] or "[]"),
            }
        entries.append(
            entry_from_fields(
                row["log_id"], fields, canonical, row["leaf_hash"], row["chain_hash"], row["seal"]
            )
        )
    return entries


def _range_filter(
    since: datetime | None, until: datetime | None, where: list[str], params: list[Any]
) -> None:
    if since is not None:
        where.append("ts >= ?")
        params.append(timestamp_from_us(timestamp_us(since)))
    if until is not None:
        where.append("ts < ?")
        params.append(timestamp_from_us(timestamp_us(until)))


def trail(
    lake: Lake,
    *,
    actor: str | None = None,
    resource: str | None = None,
    resource_type: str | None = None,
    event_type: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    log_id: str | None = None,
    run_id: str | None = None,
    limit: int | None = 1000,
) -> list[AuditEntry]:
    """Entries by actor, resource (``id`` or ``type:id``) and/or monitoring run, in time
    order, across epochs.

    ``since`` is inclusive and ``until`` exclusive.
    """
    where: list[str] = ["1 = 1"]
    params: list[Any] = []
    if actor is not None:
        where.append("actor = ?")
        params.append(actor)
    if resource is not None:
        kind, sep, ident = resource.partition(":")
        if sep and resource_type is None:
            where.append("resource_type = ? AND resource_id = ?")
            params += [kind, ident]
        else:
            where.append("resource_id = ?")
            params.append(resource)
    if resource_type is not None:
        where.append("resource_type = ?")
        params.append(resource_type)
    if event_type is not None:
        where.append("event_type = ?")
        params.append(event_type)
    if log_id is not None:
        where.append("log_id = ?")
        params.append(log_id)
    if run_id is not None:
        where.append("run_id = ?")
        params.append(run_id)
    _range_filter(since, until, where, params)
    return _entries(lake, " AND ".join(where), params, limit=limit)


def entries_between(
    lake: Lake, since: datetime | None, until: datetime | None, *, limit: int | None = None
) -> list[AuditEntry]:
    """Entries with since <= ts < until, in time order."""
    return trail(lake, since=since, until=until, limit=limit)


def _counts(lake: Lake, column: str, where: str, params: list[Any]) -> dict[str, int]:
    rows = lake.fetchall(
        f"SELECT {column}, count(*) AS n FROM audit_entries WHERE {where} "
        f"GROUP BY {column} ORDER BY n DESC, {column}",
        params,
    )
    return {str(k): int(n) for k, n in rows}


def stats(
    lake: Lake, *, since: datetime | None = None, until: datetime | None = None
) -> dict[str, Any]:
    """Entries, actors, and counts by action, event type, severity and actor (all epochs)."""
    where_parts: list[str] = ["1 = 1"]
    params: list[Any] = []
    _range_filter(since, until, where_parts, params)
    where = " AND ".join(where_parts)
    total, actors, first, last = lake.fetchone(
        f"SELECT count(*), count(DISTINCT actor), min(ts), max(ts) FROM audit_entries "
        f"WHERE {where}",
        params,
    )
    current = head(lake)
    latest = latest_checkpoint(lake, current.log_id)
    (n_checkpoints,) = lake.fetchone("SELECT count(*) FROM audit_checkpoints")
    return {
        "log_id": current.log_id,
        "epoch": current.epoch,
        "size": current.size,
        "head": current.head,
        "entries": int(total),
        "actors": int(actors),
        "first": first,
        "last": last,
        "by_action": _counts(lake, "action", where, params),
        "by_event_type": _counts(lake, "event_type", where, params),
        "by_severity": _counts(lake, "severity", where, params),
        "by_actor": _counts(lake, "actor", where, params),
        "checkpoints": int(n_checkpoints),
        "latest_checkpoint": latest.as_dict() if latest else None,
    }


@dataclass
class AuditSummary:
    """What happened in a period, for compliance reports."""

    since: datetime
    until: datetime
    log_id: str
    entries: int
    actors: int
    by_severity: dict[str, int]
    by_event_type: dict[str, int]
    by_action: dict[str, int]
    #: Critical and high entries, oldest first.
    notable: list[AuditEntry] = field(default_factory=list)
    reverts: int = 0
    checkpoints: int = 0
    latest_checkpoint: Checkpoint | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "log_id": self.log_id,
            "entries": self.entries,
            "actors": self.actors,
            "by_severity": self.by_severity,
            "by_event_type": self.by_event_type,
            "by_action": self.by_action,
            "critical": [e.as_dict() for e in self.notable if e.severity == "critical"],
            "high": [e.as_dict() for e in self.notable if e.severity == "high"],
            "reverts": self.reverts,
            "checkpoints": self.checkpoints,
            "latest_checkpoint": (
                self.latest_checkpoint.to_text() if self.latest_checkpoint else None
            ),
        }


def summary(lake: Lake, *, since: datetime, until: datetime) -> AuditSummary:
    """Counts for [since, until), the critical and high entries, and the latest checkpoint."""
    where_parts: list[str] = ["1 = 1"]
    params: list[Any] = []
    _range_filter(since, until, where_parts, params)
    where = " AND ".join(where_parts)
    total, actors = lake.fetchone(
        f"SELECT count(*), count(DISTINCT actor) FROM audit_entries WHERE {where}", params
    )
    notable = _entries(lake, f"{where} AND severity IN ('critical', 'high')", params)
    (reverts,) = lake.fetchone(
        f"SELECT count(*) FROM audit_entries WHERE {where} "
        "AND event_type IN ('audit.revert', 'audit.rollback')",
        params,
    )
    (n_checkpoints,) = lake.fetchone(
        "SELECT count(*) FROM audit_checkpoints WHERE issued_at >= ? AND issued_at < ?",
        [since, until],
    )
    return AuditSummary(
        since=since,
        until=until,
        log_id=head(lake).log_id,
        entries=int(total),
        actors=int(actors),
        by_severity=_counts(lake, "severity", where, params),
        by_event_type=_counts(lake, "event_type", where, params),
        by_action=_counts(lake, "action", where, params),
        notable=notable,
        reverts=int(reverts),
        checkpoints=int(n_checkpoints),
        latest_checkpoint=latest_checkpoint(lake),
    )


def inclusion_proof_for(
    lake: Lake, seq: int, *, size: int | None = None, log_id: str | None = None
) -> dict[str, Any]:
    """RFC 6962 inclusion proof of entry ``seq`` in the tree of the first ``size`` entries."""
    current = head(lake)
    log_id = log_id or current.log_id
    size = size or current.size
    if not 1 <= seq <= size:
        raise EntryNotFound(f"entry {seq} is not among the first {size} entries")
    leaves = [
        leaf_hash(bytes(c))
        for (c,) in lake.fetchall(
            "SELECT canonical FROM audit_entries WHERE log_id = ? AND seq <= ? ORDER BY seq",
            [log_id, size],
        )
    ]
    if len(leaves) != size:
        raise AuditIntegrityError(f"the log has {len(leaves)} of the first {size} entries")
    from driftguard.audit.hashing import merkle_root

    return {
        "log_id": log_id,
        "seq": seq,
        "size": size,
        "leaf": leaves[seq - 1].hex(),
        "root": merkle_root(leaves).hex(),
        "proof": [p.hex() for p in inclusion_proof(leaves, seq - 1)],
    }


# --------------------------------------------------------------------------- export


def _export_header(lake: Lake, log_id: str) -> dict[str, Any]:
    current = head(lake)
    epochs = {r["log_id"]: r for r in log_ids(lake)}
    info = epochs.get(log_id, {})
    previous = None
    if info.get("previous_log_id"):
        previous = {
            "log_id": info["previous_log_id"],
            "size": info["previous_size"],
            "head": info["previous_head"],
        }
    (count,) = lake.fetchone("SELECT count(*) FROM audit_entries WHERE log_id = ?", [log_id])
    return {
        "log_id": log_id,
        "epoch": info.get("epoch"),
        "exported_at": datetime.now(UTC).strftime(ISSUED_FORMAT),
        "entries": int(count),
        "head": (
            {"size": current.size, "hash": current.head, "root": current.root}
            if current.log_id == log_id
            else None
        ),
        "previous": previous,
        "hashes": "leaf=SHA256(00|canonical) chain=SHA256(02|seq8|prev|leaf) "
        "genesis=SHA256(03|log_id) node=SHA256(01|left|right)",
    }


def _rows(lake: Lake, log_id: str) -> Iterator[Row]:
    for chunk in LakeSource(lake, log_id, full=False).chunks():
        for i in range(len(chunk)):
            yield chunk.row(i)


def export_jsonl(lake: Lake, out: IO[str], *, log_id: str | None = None) -> int:
    """Write the log (canonical bytes, hashes, seals) and its checkpoints as JSON Lines."""
    with lake.atomic():
        log_id = log_id or head(lake).log_id
        header = _export_header(lake, log_id)
        checkpoints = [(c, "stored") for c in stored_checkpoints(lake, log_id)]
        return write_jsonl(out, header, _rows(lake, log_id), checkpoints)


def export_csv(lake: Lake, out: IO[str], *, log_id: str | None = None) -> int:
    """Write the log's entries, decoded from their hashed bytes, as CSV."""
    with lake.atomic():
        log_id = log_id or head(lake).log_id
        return write_csv(out, log_id, _rows(lake, log_id))
