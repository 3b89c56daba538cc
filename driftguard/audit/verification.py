"""Verify an audit log: recompute every link, compare with checkpoints, explain the first problem.

One streaming pass over the entries in stored order recomputes each leaf and chain value
(:mod:`driftguard.audit.hashing`) and, in full mode, decodes each entry, checks its canonical
form and compares the query columns with the hashed bytes. The pass stops at the first entry
that does not fit; a diagnosis then looks at the rows around it and names the kind of
problem and its sequence number:

==========  ==================================================================================
modified    an entry's bytes no longer match its hash, or a query column disagrees with them
deleted     an entry is missing (also: the log ends before a checkpoint's size, i.e. a tail
            was truncated or an older backup restored)
inserted    a row that is not part of the chain sits in the log
reordered   an entry is stored before one that precedes it
forged      hashes were recomputed over rewritten content: the entry links to nothing, its
            seal does not verify, or the recomputed log disagrees with a checkpoint
==========  ==================================================================================

Then the head is compared with every checkpoint (stored in the lake, carried in an export,
or supplied from outside: reports, e-mails). Only a checkpoint from outside, or one whose
signature verifies, *anchors* the log; a log with none is reported as ``unanchored``, never
as plain OK, because truncation and a rewrite with recomputed hashes are invisible from the
inside.

Memory stays flat: sources yield chunks and the pass keeps a handful of hashes, plus the
Merkle frontier (log2 n hashes) in full mode. Standard library only.
"""

from __future__ import annotations

import hashlib
import struct
import time
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from driftguard.audit.canonical import NotAnEntry, decode_entry, decode_entry_parts, timestamp_us
from driftguard.audit.hashing import EMPTY_ROOT, MerkleFrontier, genesis_hash
from driftguard.audit.signing import Checkpoint, KeyRing, check_seal

Kind = Literal["modified", "deleted", "inserted", "reordered", "forged"]
Status = Literal["ok", "unanchored", "tampered"]
_CHAIN_INPUT = struct.Struct(">BQ32s32s")
#: Rows after an anomaly that the diagnosis looks at before searching the whole log.
WINDOW = 8
#: Query columns and how to get their expected value from decoded fields.
COLUMN_NAMES = (
    "ts_us",
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
)


@dataclass(slots=True)
class Row:
    """One stored entry as the verifier sees it."""

    seq: int | None  # the stored sequence number (lake column, export field)
    canonical: bytes
    leaf_hash: str
    chain_hash: str
    seal: str | None = None
    columns: dict[str, Any] | None = None


@dataclass(slots=True)
class Chunk:
    """Consecutive rows in stored order, column-wise (the fast pass avoids per-row objects)."""

    seqs: list[int | None]
    canonicals: list[bytes]
    #: Stored leaf hashes; a source may read them only when indexed (the hash-only pass
    #: recomputes leaves from the bytes and never looks at the stored ones).
    leaves: Sequence[str]
    chains: list[str]
    seals: list[str | None]
    #: Query columns, column-wise (name -> one value per row), when the source has them.
    columns: dict[str, list[Any]] | None = None

    def __len__(self) -> int:
        return len(self.seqs)

    def columns_at(self, i: int) -> dict[str, Any] | None:
        if self.columns is None:
            return None
        return {name: values[i] for name, values in self.columns.items()}

    def row(self, i: int) -> Row:
        return Row(
            self.seqs[i],
            self.canonicals[i],
            self.leaves[i],
            self.chains[i],
            self.seals[i],
            self.columns_at(i),
        )

    @classmethod
    def of(cls, rows: Sequence[Row]) -> Chunk:
        columns = None
        if rows and all(r.columns is not None for r in rows):
            names = rows[0].columns or {}
            columns = {n: [(r.columns or {}).get(n) for r in rows] for n in names}
        return cls(
            [r.seq for r in rows],
            [r.canonical for r in rows],
            [r.leaf_hash for r in rows],
            [r.chain_hash for r in rows],
            [r.seal for r in rows],
            columns,
        )


class RowSource(Protocol):
    """Where a log's rows come from (the lake, an export file, a list)."""

    def chunks(self, lo: int | None = None, hi: int | None = None) -> Iterator[Chunk]:
        """Rows in stored order; with ``lo``/``hi`` only those whose stored seq is in range."""
        ...

    def row_at(self, seq: int) -> Row | None:
        """The first row whose stored seq is ``seq``."""
        ...


class ListSource:
    """Rows held in memory, in stored order."""

    def __init__(self, rows: Sequence[Row], chunk_size: int = 4096):
        self.rows = rows
        self.chunk_size = chunk_size
        self._by_seq: dict[int, Row] | None = None

    def chunks(self, lo: int | None = None, hi: int | None = None) -> Iterator[Chunk]:
        rows: Sequence[Row] = self.rows
        if lo is not None or hi is not None:
            low = lo if lo is not None else -(2**63)
            high = hi if hi is not None else 2**63
            rows = [r for r in rows if r.seq is not None and low <= r.seq <= high]
        for start in range(0, len(rows), self.chunk_size):
            yield Chunk.of(rows[start : start + self.chunk_size])

    def row_at(self, seq: int) -> Row | None:
        if self._by_seq is None:
            self._by_seq = {}
            for row in self.rows:
                if row.seq is not None:
                    self._by_seq.setdefault(row.seq, row)
        return self._by_seq.get(seq)


# --------------------------------------------------------------------------- results


@dataclass
class Problem:
    """One thing wrong with the log. ``seq`` is the first bad sequence number when known."""

    kind: Kind
    seq: int | None
    detail: str
    #: False when only a range is known: the first bad entry lies in [seq, until].
    exact: bool = True
    until: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "seq": self.seq,
            "detail": self.detail,
            "exact": self.exact,
            "until": self.until,
        }


@dataclass
class CheckpointCheck:
    """How one checkpoint compared with the log."""

    checkpoint: Checkpoint
    source: str  # stored | export | supplied | head
    signature: str  # valid | invalid | unsigned | unknown key
    result: str  # match | mismatch | beyond the log | not evaluated | bad signature
    anchor: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.checkpoint.as_dict(),
            "source": self.source,
            "signature_check": self.signature,
            "result": self.result,
            "anchor": self.anchor,
        }


@dataclass
class Verification:
    """The verdict on one log."""

    log_id: str
    mode: Literal["full", "hash-only"]
    size: int  # entries verified from the start of the log (the intact prefix)
    head: str  # chain value after them
    problems: list[Problem] = field(default_factory=list)
    checkpoints: list[CheckpointCheck] = field(default_factory=list)
    sealed_through: int | None = None
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def anchored_size(self) -> int | None:
        sizes = [c.checkpoint.size for c in self.checkpoints if c.anchor]
        return max(sizes) if sizes else None

    @property
    def status(self) -> Status:
        if self.problems:
            return "tampered"
        return "ok" if self.anchored_size is not None else "unanchored"

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def first_problem(self) -> Problem | None:
        located = [p for p in self.problems if p.seq is not None]
        if located:
            return min(located, key=lambda p: p.seq or 0)
        return self.problems[0] if self.problems else None

    @property
    def first_bad_seq(self) -> int | None:
        problem = self.first_problem
        return problem.seq if problem else None

    @property
    def kind(self) -> Kind | None:
        problem = self.first_problem
        return problem.kind if problem else None

    def verdict(self) -> str:
        """One sentence for people."""
        if self.status == "tampered":
            problem = self.first_problem
            assert problem is not None
            where = (
                f"first bad seq {problem.seq}"
                if problem.exact
                else f"first bad seq between {problem.seq} and {problem.until}"
            )
            if problem.seq is None:
                where = "checkpoint problem"
            return f"TAMPERED ({problem.kind}, {where}): {problem.detail}"
        if self.status == "unanchored":
            return (
                f"UNANCHORED: the chain of {self.size} entries is internally consistent, but no "
                "trusted checkpoint was available to compare it with, so a truncated tail or a "
                "rewrite with recomputed hashes would not show. Compare with a checkpoint from "
                "a report (--checkpoint/--reports) or configure a signing key."
            )
        tail = self.size - (self.anchored_size or 0)
        extra = f"; the {tail} later entries are chain-consistent" if tail else ""
        return (
            f"OK: {self.size} entries verified, anchored by a checkpoint up to seq "
            f"{self.anchored_size}{extra}"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "log_id": self.log_id,
            "status": self.status,
            "verdict": self.verdict(),
            "mode": self.mode,
            "size": self.size,
            "head": self.head,
            "first_bad_seq": self.first_bad_seq,
            "kind": self.kind,
            "problems": [p.as_dict() for p in self.problems],
            "anchored_size": self.anchored_size,
            "sealed_through": self.sealed_through,
            "checkpoints": [c.as_dict() for c in self.checkpoints],
            "notes": list(self.notes),
            "seconds": round(self.seconds, 4),
        }


# --------------------------------------------------------------------------- entry checks


def entry_problem(canonical: bytes, seq: int, columns: dict[str, Any] | None) -> str | None:
    """What is wrong with one entry's bytes and columns at position ``seq``, or None."""
    try:
        fields, payload_json, references_json = decode_entry_parts(canonical)
    except NotAnEntry as error:
        return f"its bytes are not a well-formed entry: {error}"
    if fields["seq"] != seq:
        return f"its hashed bytes say seq {fields['seq']}"
    if columns:
        for name in COLUMN_NAMES:
            if name not in columns:
                continue
            if name == "payload_json":
                expected: Any = payload_json
            elif name == "references_json":
                expected = references_json
            else:
                expected = fields[name]
            if columns[name] != expected:
                return (
                    f"its {name} column holds {_short(columns[name])} but the hashed entry "
                    f"says {_short(expected)}"
                )
    return None


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _embedded_seq(canonical: bytes) -> int | None:
    try:
        return decode_entry(canonical)["seq"]
    except NotAnEntry:
        return None


def _leaf(row: Row) -> bytes:
    return hashlib.sha256(b"\x00" + row.canonical).digest()


def _links(row: Row, seq: int, previous: bytes) -> bool:
    expected = hashlib.sha256(b"\x02" + seq.to_bytes(8, "big") + previous + _leaf(row))
    return expected.hexdigest() == row.chain_hash


def _genuine(row: Row, seq: int, previous: bytes) -> bool:
    """The row is entry ``seq`` of the chain: its content says so and it links to ``previous``."""
    return _links(row, seq, previous) and _embedded_seq(row.canonical) == seq


def _leaf_ok(row: Row) -> bool:
    return _leaf(row).hex() == row.leaf_hash


def _same(a: Row, b: Row) -> bool:
    return a is b or (a.seq, a.canonical, a.chain_hash) == (b.seq, b.canonical, b.chain_hash)


# --------------------------------------------------------------------------- the pass


@dataclass
class _Scan:
    size: int = 0
    head: bytes = b""
    before_head: bytes | None = None  # chain value of entry size-1
    heads: dict[int, bytes] = field(default_factory=dict)
    roots: dict[int, bytes] = field(default_factory=dict)
    first_sealed: int | None = None
    last_sealed: tuple[int, bytes, str] | None = None
    window: list[Row] = field(default_factory=list)  # the anomalous row and a few after it


def _scan(source: RowSource, log_id: str, sizes: set[int], full: bool) -> _Scan:
    """The streaming pass: accept rows while they link, stop at the first that does not."""
    sha = hashlib.sha256
    pack_chain = _CHAIN_INPUT.pack  # 0x02 ‖ seq (8 bytes, big-endian) ‖ previous ‖ leaf
    k = 1
    previous = genesis_hash(log_id)
    before: bytes | None = None
    scan = _Scan()
    heads = scan.heads
    if 0 in sizes:
        heads[0] = previous
        scan.roots[0] = EMPTY_ROOT
    frontier = MerkleFrontier() if full else None
    sorted_sizes = sorted(sizes)
    chunks = source.chunks()
    for chunk in chunks:
        seqs, canonicals, chains = chunk.seqs, chunk.canonicals, chunk.chains
        bad = -1
        if frontier is None:  # hash-only: the tight loop, comparisons done list-wise
            values, bad = _chain_values(seqs, canonicals, chains, k, previous)
            if values:
                at = bisect_left(sorted_sizes, k)
                while at < len(sorted_sizes) and sorted_sizes[at] < k + len(values):
                    heads[sorted_sizes[at]] = values[sorted_sizes[at] - k]
                    at += 1
                before = values[-2] if len(values) > 1 else previous
                previous = values[-1]
                k += len(values)
        else:
            leaves = chunk.leaves
            columns_at = chunk.columns_at
            for i, (stored_seq, canonical, stored) in enumerate(
                zip(seqs, canonicals, chains, strict=True)
            ):
                if stored_seq != k:
                    bad = i
                    break
                leaf = sha(b"\x00" + canonical).digest()
                value = sha(pack_chain(2, k, previous, leaf)).digest()
                if (
                    value.hex() != stored
                    or leaf.hex() != leaves[i]
                    or entry_problem(canonical, k, columns_at(i))
                ):
                    bad = i
                    break
                frontier.push(leaf)
                before, previous = previous, value
                if k in sizes:
                    heads[k] = value
                    scan.roots[k] = frontier.root()
                k += 1
        accepted = len(seqs) if bad < 0 else bad
        _note_seals(scan, chunk, accepted, k - accepted)
        if bad >= 0:
            scan.window = [chunk.row(j) for j in range(bad, min(bad + WINDOW, len(seqs)))]
            for more in chunks:
                scan.window += [more.row(j) for j in range(min(len(more), WINDOW))]
                if len(scan.window) >= WINDOW:
                    break
            scan.window = scan.window[:WINDOW]
            break
        # drop this chunk before the source builds the next one: one chunk in memory at a time
        del chunk, seqs, canonicals, chains
    scan.size = k - 1
    scan.head = previous
    scan.before_head = before
    return scan


def _chain_values(
    seqs: list[int | None], canonicals: list[bytes], chains: list[str], k: int, previous: bytes
) -> tuple[list[bytes], int]:
    """The chain values of a chunk's rows taken as entries ``k, k+1, ...`` after ``previous``.

    Returns the values of the rows that fit (stored seq and stored chain hash as recomputed)
    and the index of the first row that does not, or -1. The stored seqs and hashes are
    compared as whole lists, in C, rather than row by row: the loop is two SHA-256 per entry.
    """
    n = len(seqs)
    expected = list(range(k, k + n))
    fits = n if seqs == expected else next(i for i in range(n) if seqs[i] != k + i)
    sha = hashlib.sha256
    pack_chain = _CHAIN_INPUT.pack  # 0x02 ‖ seq (8 bytes, big-endian) ‖ previous ‖ leaf
    values: list[bytes] = []
    append = values.append
    for seq, canonical in zip(expected[:fits], canonicals, strict=False):
        previous = sha(pack_chain(2, seq, previous, sha(b"\x00" + canonical).digest())).digest()
        append(previous)
    recomputed = [value.hex() for value in values]
    if recomputed != chains[:fits]:
        fits = next(i for i in range(fits) if recomputed[i] != chains[i])
        del values[fits:]
    return values, (-1 if fits == n else fits)


def _note_seals(scan: _Scan, chunk: Chunk, accepted: int, first_seq: int) -> None:
    """Track the first and last sealed entries among the ``accepted`` rows of a chunk."""
    seals = chunk.seals
    if not any(seals[:accepted]):
        return
    if scan.first_sealed is None:
        first = next((i for i in range(accepted) if seals[i]), None)
        if first is not None:
            scan.first_sealed = first_seq + first
    last = next((i for i in range(accepted - 1, -1, -1) if seals[i]), None)
    if last is not None:
        seal = seals[last]
        assert seal is not None
        scan.last_sealed = (first_seq + last, bytes.fromhex(chunk.chains[last]), seal)


def _find_claims(source: RowSource, wanted: set[int]) -> list[Row]:
    """Rows anywhere in the log whose hashed bytes claim one of the ``wanted`` seqs."""
    patterns = {s: b'"seq":%d,' % s for s in wanted}
    found = []
    for chunk in source.chunks():
        for i, canonical in enumerate(chunk.canonicals):
            for seq, pattern in patterns.items():
                if pattern in canonical and _embedded_seq(canonical) == seq:
                    found.append(chunk.row(i))
    return found


# --------------------------------------------------------------------------- diagnosis


def _diagnose(
    k: int, previous: bytes, before: bytes | None, window: list[Row], source: RowSource
) -> Problem:
    """Name the first problem: the verified prefix ends at k-1 with chain value ``previous``."""
    row = window[0]
    # The entry accepted at k-1 may itself be an insertion: a genuine k-1 follows it.
    if before is not None and k > 1:
        for other in window[:4]:
            if _genuine(other, k - 1, before):
                return Problem(
                    "inserted",
                    k - 1,
                    f"two rows claim seq {k - 1}, each linking to entry {k - 2}; the one stored "
                    "first is not the entry the rest of the chain continues from",
                )
    if row.seq is None:
        return Problem("inserted", k, f"a row without a sequence number follows entry {k - 1}")
    if row.seq < k:
        return Problem(
            "inserted", row.seq, f"a second row claims seq {row.seq}, after entry {k - 1}"
        )
    candidates = [r for r in window if _genuine(r, k, previous)]
    if len(candidates) > 1:
        return Problem(
            "inserted",
            k,
            f"two rows claim seq {k}, each linking to entry {k - 1}: one of them was inserted",
        )
    genuine = candidates[0] if candidates else None
    if genuine is None:
        genuine = next((r for r in _find_claims(source, {k}) if _genuine(r, k, previous)), None)
    if genuine is not None and _same(genuine, row):
        return Problem("modified", k, f"entry {k}: {_column_problem(row, k)}")
    embedded = _embedded_seq(row.canonical)
    if genuine is not None:
        # Entry k exists further on, so the row standing at k is out of place.
        if row.seq != k and genuine.seq not in (k, None) and embedded != genuine.seq:
            return Problem(
                "modified", k, f"entry {k}'s sequence column was changed to {genuine.seq}"
            )
        if embedded is not None and embedded > k and _leaf_ok(row):
            return Problem("reordered", k, f"entry {embedded} is stored in the place of entry {k}")
        return Problem("inserted", k, f"a row that is not part of the chain precedes entry {k}")
    # No genuine entry k anywhere.
    if row.seq == k and not _leaf_ok(row):
        return Problem(
            "modified", k, f"entry {k}'s bytes were changed: they no longer match its hash"
        )
    claims = [r for r in window if _embedded_seq(r.canonical) == k] or _find_claims(source, {k})
    if claims:
        if not _leaf_ok(claims[0]):
            return Problem(
                "modified", k, f"entry {k}'s bytes were changed: they no longer match its hash"
            )
        return Problem(
            "forged",
            k,
            f"entry {k} does not link to entry {k - 1}: its content or hashes were rewritten",
        )
    if row.seq == k and _leaf_ok(row) and embedded is None:
        return Problem(
            "forged", k, f"the row at seq {k} is not a valid entry although its hash matches"
        )
    if row.seq == k and embedded is not None and embedded < k:
        return Problem("inserted", k, f"a copy of entry {embedded} is stored at seq {k}")
    renumbered = " (the rows after it were renumbered)" if row.seq == k else ""
    return Problem("deleted", k, f"entry {k} is missing{renumbered}")


def _column_problem(row: Row, k: int) -> str:
    if not _leaf_ok(row):
        return "its stored leaf hash does not match its bytes"
    return entry_problem(row.canonical, k, row.columns) or (
        f"its stored sequence number is {row.seq}"
    )


# --------------------------------------------------------------------------- seals, time


def _first_bad_seal(source: RowSource, keyring: KeyRing, log_id: str, lo: int, hi: int) -> int:
    """Smallest seq in [lo, hi] whose seal is missing or invalid (seals valid before it)."""

    a, b = lo, hi
    while a < b:
        mid = (a + b) // 2
        if _sealed(source, keyring, log_id, mid):
            a = mid + 1
        else:
            b = mid
    return a


def _first_written_after(source: RowSource, lo: int, hi: int, limit_us: int) -> int | None:
    """First entry in [lo, hi] whose time is after ``limit_us``: it cannot predate a
    checkpoint that covers it, so the log was rolled back and grew again from there."""
    for chunk in source.chunks(lo, hi):
        for i, canonical in enumerate(chunk.canonicals):
            try:
                fields = decode_entry(canonical)
            except NotAnEntry:
                continue
            if fields["ts_us"] > limit_us:
                return chunk.seqs[i]
    return None


def _issued_us(checkpoint: Checkpoint) -> int | None:
    try:
        return timestamp_us(datetime.fromisoformat(checkpoint.issued_at.replace("Z", "+00:00")))
    except ValueError:
        return None


# --------------------------------------------------------------------------- verify


def verify_log(
    source: RowSource,
    *,
    log_id: str,
    checkpoints: Iterable[tuple[Checkpoint, str]] = (),
    keyring: KeyRing | None = None,
    full: bool = True,
) -> Verification:
    """Verify one log from ``source``.

    ``checkpoints`` pairs each checkpoint with where it came from: ``"supplied"`` (from outside
    the lake: reports, e-mails, files; trusted as an anchor), ``"stored"`` or ``"export"``
    (anchors only when their signature verifies) or ``"head"`` (the lake's head row; never an
    anchor). Checkpoints of other logs are ignored; the caller decides what they mean.
    """
    started = time.perf_counter()
    keyring = keyring or KeyRing()
    own = [(cp, src) for cp, src in checkpoints if cp.log_id == log_id]
    scan = _scan(source, log_id, {cp.size for cp, _ in own}, full)
    broken = bool(scan.window)
    problem = None
    if broken:
        problem = _diagnose(scan.size + 1, scan.head, scan.before_head, scan.window, source)
        if problem.seq is not None and problem.seq <= scan.size and scan.before_head:
            # the last entry the pass accepted turned out to be an insertion
            scan.size, scan.head = scan.size - 1, scan.before_head
            scan.before_head = None
    result = Verification(
        log_id=log_id,
        mode="full" if full else "hash-only",
        size=scan.size,
        head=scan.head.hex(),
    )
    if problem is not None:
        result.problems.append(problem)
    _check_seals(source, scan, keyring, result)
    _check_checkpoints(source, scan, own, keyring, result, broken)
    result.seconds = time.perf_counter() - started
    return result


def _check_seals(source: RowSource, scan: _Scan, keyring: KeyRing, result: Verification) -> None:
    if scan.last_sealed is None:
        if keyring.empty is False and scan.size:
            result.notes.append("no entry carries a seal (no signing key was configured)")
        return
    seq, value, seal = scan.last_sealed
    state = check_seal(keyring, seal, result.log_id, seq, value)
    if state is True:
        result.sealed_through = seq
    elif state is False:
        assert scan.first_sealed is not None
        first = _first_bad_seal(source, keyring, result.log_id, scan.first_sealed, seq)
        result.problems.append(
            Problem(
                "forged",
                first,
                f"entry {first} and later carry seals that do not match their chain values: the "
                f"chain was recomputed from entry {first} by someone without the signing key",
            )
        )
        result.sealed_through = first - 1 if first > scan.first_sealed else None
    else:
        alg, _, rest = seal.partition(":")
        result.notes.append(
            f"entries are sealed with {alg} key {rest.partition(':')[0]}, which this verifier "
            "does not hold: seals not checked"
        )
    if seq < scan.size and state is not False:
        result.notes.append(f"the {scan.size - seq} entries after seq {seq} carry no seal")


def _check_checkpoints(
    source: RowSource,
    scan: _Scan,
    own: list[tuple[Checkpoint, str]],
    keyring: KeyRing,
    result: Verification,
    broken: bool,
) -> None:
    disagreeing: list[CheckpointCheck] = []
    for checkpoint, origin in sorted(own, key=lambda pair: pair[0].size):
        signature = checkpoint.check_signature(keyring)
        check = CheckpointCheck(checkpoint, origin, signature, "match")
        result.checkpoints.append(check)
        if signature == "invalid":
            check.result = "bad signature"
            result.problems.append(
                Problem(
                    "forged",
                    None,
                    f"the {origin} checkpoint of {checkpoint.issued_at} (size {checkpoint.size}) "
                    f"has an invalid {checkpoint.alg} signature: it was not issued with key "
                    f"{checkpoint.key_id}",
                )
            )
            continue
        if checkpoint.size > scan.size:
            check.result = "not evaluated" if broken else "beyond the log"
            if not broken:
                disagreeing.append(check)
            continue
        if origin == "head" and checkpoint.size < scan.size and not broken:
            result.problems.append(
                Problem(
                    "inserted",
                    checkpoint.size + 1,
                    f"the recorded head ends at seq {checkpoint.size} but the log holds "
                    f"{scan.size} entries: entries from seq {checkpoint.size + 1} were added "
                    "without going through the audit log's append",
                )
            )
        head_ok = scan.heads[checkpoint.size].hex() == checkpoint.head
        root = scan.roots.get(checkpoint.size)
        root_ok = root is None or not checkpoint.root or root.hex() == checkpoint.root
        if head_ok and root_ok:
            check.anchor = origin == "supplied" or (origin != "head" and signature == "valid")
        else:
            check.result = "mismatch"
            disagreeing.append(check)
    if disagreeing:
        # Locate with the most trusted evidence: a checkpoint from outside or with a valid
        # signature, then unverifiable stored ones, then the head row.
        def trust(c: CheckpointCheck) -> int:
            if c.source == "supplied" or c.signature == "valid":
                return 0
            return 2 if c.source == "head" else 1

        first = min(
            disagreeing, key=lambda c: (trust(c), c.result != "mismatch", c.checkpoint.size)
        )
        _locate(source, scan, keyring, result, first)


def _locate(
    source: RowSource, scan: _Scan, keyring: KeyRing, result: Verification, check: CheckpointCheck
) -> None:
    """The log disagrees with a checkpoint: it is shorter, or its entries differ. Find the
    first entry that is not the one the checkpoint covered, from the evidence available:

    - seals: the first entry without a valid seal (a rewrite without the key);
    - time: the first entry written after the checkpoint that covers it (a rolled-back log
      that grew again);
    - otherwise the end of the log (truncation), or only a range: after the last trusted
      checkpoint that still matches.
    """
    checkpoint = check.checkpoint
    limit = min(checkpoint.size, scan.size)
    if any(p.kind == "forged" and p.seq is not None and p.seq <= limit for p in result.problems):
        return  # broken seals already locate the rewrite exactly
    lower = max(
        (c.checkpoint.size for c in result.checkpoints if c.anchor and c.checkpoint.size < limit),
        default=0,
    )
    what = "the recorded head" if check.source == "head" else f"the {check.source} checkpoint"
    if check.source != "head":
        what += f" of {checkpoint.issued_at}"
    unsealed = None
    if not keyring.empty and scan.first_sealed is not None and scan.first_sealed <= limit:
        low = max(scan.first_sealed, lower + 1)
        if low <= limit and not _sealed(source, keyring, result.log_id, limit):
            unsealed = _first_bad_seal(source, keyring, result.log_id, low, limit)
    issued = _issued_us(checkpoint)
    late = (
        _first_written_after(source, lower + 1, limit, issued)
        if issued is not None and limit > lower
        else None
    )
    if unsealed is not None and (late is None or unsealed <= late):
        result.problems.append(
            Problem(
                "forged",
                unsealed,
                f"entries from seq {unsealed} differ from what {what} covers and carry no valid "
                "seal: they were rewritten with recomputed hashes by someone without the key",
            )
        )
    elif late is not None:
        result.problems.append(
            Problem(
                "deleted",
                late,
                f"entries from seq {late} were written after {what}, which covers "
                f"{checkpoint.size} entries: the log was rolled back (an older backup restored) "
                "and grew again; the original entries from there on are gone",
            )
        )
    elif checkpoint.size > scan.size:
        result.problems.append(
            Problem(
                "deleted",
                scan.size + 1,
                f"the log ends at seq {scan.size} but {what} covers {checkpoint.size} entries: "
                f"entries {scan.size + 1}..{checkpoint.size} were removed (tail truncated or an "
                "older backup restored)",
            )
        )
    else:
        result.problems.append(
            Problem(
                "forged",
                lower + 1,
                f"entries 1..{checkpoint.size} do not match {what}: they were rewritten with "
                f"recomputed hashes, starting somewhere between seq {lower + 1} and "
                f"{checkpoint.size} (sealing entries with a key locates it exactly)",
                exact=lower + 1 == checkpoint.size,
                until=checkpoint.size,
            )
        )


def _sealed(source: RowSource, keyring: KeyRing, log_id: str, seq: int) -> bool:
    row = source.row_at(seq)
    if row is None or not row.seal:
        return False
    return check_seal(keyring, row.seal, log_id, seq, bytes.fromhex(row.chain_hash)) is True
