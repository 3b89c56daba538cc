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
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from driftguard.audit.canonical import NotAnEntry, decode_entry, dumps, timestamp_us
from driftguard.audit.hashing import EMPTY_ROOT, MerkleFrontier, genesis_hash
from driftguard.audit.signing import Checkpoint, KeyRing, check_seal

Kind = Literal["modified", "deleted", "inserted", "reordered", "forged"]
Status = Literal["ok", "unanchored", "tampered"]
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
    leaves: list[str]
    chains: list[str]
    seals: list[str | None]
    columns: list[dict[str, Any]] | None = None

    def __len__(self) -> int:
        return len(self.seqs)

    def row(self, i: int) -> Row:
        return Row(
            self.seqs[i],
            self.canonicals[i],
            self.leaves[i],
            self.chains[i],
            self.seals[i],
            self.columns[i] if self.columns is not None else None,
        )

    @classmethod
    def of(cls, rows: Sequence[Row]) -> Chunk:
        with_columns = bool(rows) and all(r.columns is not None for r in rows)
        return cls(
            [r.seq for r in rows],
            [r.canonical for r in rows],
            [r.leaf_hash for r in rows],
            [r.chain_hash for r in rows],
            [r.seal for r in rows],
            [r.columns for r in rows] if with_columns else None,  # type: ignore[misc]
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


def expected_column(fields: dict[str, Any], name: str) -> Any:
    if name == "payload_json":
        return dumps(fields["payload"])
    if name == "references_json":
        return dumps(fields["references"])
    return fields[name]


def entry_problem(canonical: bytes, seq: int, columns: dict[str, Any] | None) -> str | None:
    """What is wrong with one entry's bytes and columns at position ``seq``, or None."""
    try:
        fields = decode_entry(canonical)
    except NotAnEntry as error:
        return f"its bytes are not a well-formed entry: {error}"
    if fields["seq"] != seq:
        return f"its hashed bytes say seq {fields['seq']}"
    if columns:
        for name in COLUMN_NAMES:
            if name not in columns:
                continue
            expected = expected_column(fields, name)
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
    sha = hashlib.sha256
    k = 1
    previous = genesis_hash(log_id)
    before: bytes | None = None
    scan = _Scan()
    if 0 in sizes:
        scan.heads[0] = previous
        scan.roots[0] = EMPTY_ROOT
    frontier = MerkleFrontier() if full else None
    first_sealed: int | None = None
    last_sealed: tuple[int, bytes, str] | None = None
    chunks = source.chunks()
    for chunk in chunks:
        seqs, canonicals, chains, seals = chunk.seqs, chunk.canonicals, chunk.chains, chunk.seals
        leaves, columns = chunk.leaves, chunk.columns
        bad = -1
        for i in range(len(seqs)):
            if seqs[i] != k:
                bad = i
                break
            leaf = sha(b"\x00" + canonicals[i]).digest()
            value = sha(b"\x02" + k.to_bytes(8, "big") + previous + leaf).digest()
            if value.hex() != chains[i]:
                bad = i
                break
            if frontier is not None:
                if leaf.hex() != leaves[i] or entry_problem(
                    canonicals[i], k, columns[i] if columns is not None else None
                ):
                    bad = i
                    break
                frontier.push(leaf)
            if seals[i]:
                if first_sealed is None:
                    first_sealed = k
                last_sealed = (k, value, seals[i])  # type: ignore[assignment]
            before, previous = previous, value
            if k in sizes:
                scan.heads[k] = value
                if frontier is not None:
                    scan.roots[k] = frontier.root()
            k += 1
        if bad >= 0:
            scan.window = [chunk.row(j) for j in range(bad, min(bad + WINDOW, len(seqs)))]
            for more in chunks:
                scan.window += [more.row(j) for j in range(min(len(more), WINDOW))]
                if len(scan.window) >= WINDOW:
                    break
            scan.window = scan.window[:WINDOW]
            break
    scan.size = k - 1
    scan.head = previous
    scan.before_head = before
    scan.first_sealed = first_sealed
    scan.last_sealed = last_sealed
    return scan


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
    genuine = next((r for r in window if _genuine(r, k, previous)), None)
    if genuine is None:
        genuine = next((r for r in _find_claims(source, {k}) if _genuine(r, k, previous)), None)
    if genuine is not None and _same(genuine, row):
        return Problem("modified", k, f"entry {k}: {_column_problem(row, k)}")
    embedded = _embedded_seq(row.canonical)
    if genuine is not None:
        if genuine.seq != k and embedded != genuine.seq:
            return Problem(
                "modified",
                k,
                f"entry {k}'s sequence column was changed to {genuine.seq}",
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

    def valid(seq: int) -> bool:
        row = source.row_at(seq)
        if row is None or not row.seal:
            return False
        return check_seal(keyring, row.seal, log_id, seq, bytes.fromhex(row.chain_hash)) is True

    a, b = lo, hi
    while a < b:
        mid = (a + b) // 2
        if valid(mid):
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
    result = Verification(
        log_id=log_id,
        mode="full" if full else "hash-only",
        size=scan.size,
        head=scan.head.hex(),
    )
    broken = bool(scan.window)
    if broken:
        result.problems.append(
            _diagnose(scan.size + 1, scan.head, scan.before_head, scan.window, source)
        )
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
    mismatched: list[CheckpointCheck] = []
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
            if broken:
                check.result = "not evaluated"
                continue
            check.result = "beyond the log"
            what = "the recorded head" if origin == "head" else f"the {origin} checkpoint of"
            when = "" if origin == "head" else f" {checkpoint.issued_at}"
            result.problems.append(
                Problem(
                    "deleted",
                    scan.size + 1,
                    f"the log ends at seq {scan.size} but {what}{when} covers "
                    f"{checkpoint.size} entries: entries {scan.size + 1}..{checkpoint.size} were "
                    "removed (tail truncated or an older backup restored)",
                )
            )
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
            mismatched.append(check)
    if mismatched:
        _locate_rewrite(source, scan, result, mismatched[0])


def _locate_rewrite(
    source: RowSource, scan: _Scan, result: Verification, check: CheckpointCheck
) -> None:
    """The log disagrees with a checkpoint it is long enough for: find where it diverges."""
    checkpoint = check.checkpoint
    trusted = [
        c.checkpoint.size
        for c in result.checkpoints
        if c.anchor and c.checkpoint.size < checkpoint.size
    ]
    lower = max(trusted, default=0)
    sealed = [p for p in result.problems if p.kind == "forged" and p.seq is not None]
    if any(p.seq is not None and p.seq <= checkpoint.size for p in sealed):
        return  # the broken seals already locate the rewrite exactly
    source_name = "recorded head" if check.source == "head" else f"{check.source} checkpoint"
    issued = _issued_us(checkpoint)
    late = (
        _first_written_after(source, lower + 1, checkpoint.size, issued)
        if issued is not None
        else None
    )
    if late is not None:
        result.problems.append(
            Problem(
                "deleted",
                late,
                f"entries from seq {late} were written after the {source_name} of "
                f"{checkpoint.issued_at} that covers {checkpoint.size} entries: the log was "
                "rolled back (an older backup restored) and grew again",
            )
        )
        return
    result.problems.append(
        Problem(
            "forged",
            lower + 1,
            f"entries 1..{checkpoint.size} do not match the {source_name} of "
            f"{checkpoint.issued_at}: they were rewritten with recomputed hashes, starting "
            f"somewhere between seq {lower + 1} and {checkpoint.size} (sign entries with a key "
            "to locate it exactly)",
            exact=lower + 1 == checkpoint.size,
            until=checkpoint.size,
        )
    )
