"""Audit exports: JSON Lines that carry the exact hashed bytes and the checkpoints, and CSV.

The JSON Lines export is self-verifying. Line 1 is a header; then one line per checkpoint;
then one line per entry, in sequence order::

    {"format":"driftguard-audit-export/1","log_id":"...","epoch":1,"entries":3,
     "head":{"size":3,"hash":"..."},"exported_at":"...","previous":null}
    {"type":"checkpoint","log_id":"...","size":3,"head":"...","root":"...","issued_at":"...",
     "alg":"ed25519","key_id":"...","signature":"...","source":"stored"}
    {"type":"entry","seq":1,"leaf":"...","chain":"...","seal":"...","entry":{"action":...}}

``entry`` is the entry's canonical JSON written verbatim: the bytes between ``"entry":`` and
the line's closing brace are exactly the bytes that were hashed, so the verifier slices them
out instead of re-encoding anything, and ``jq`` still reads the line. Bytes that are not
valid JSON (a damaged entry) travel base64-encoded as ``canonical_b64`` instead.
:func:`verify_export` (``python -m driftguard.audit verify-export FILE``) checks such a file
with the standard library only. The CSV export is for spreadsheets: one row per entry with
decoded fields and hashes, not meant for verification.

Standard library only.
"""

from __future__ import annotations

import base64
import csv
import json
import re
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from driftguard.audit.canonical import NotAnEntry, decode_entry, dumps, timestamp_from_us
from driftguard.audit.signing import BadCheckpoint, Checkpoint, KeyRing
from driftguard.audit.verification import Chunk, Row, Verification, verify_log
from driftguard.errors import DataError

EXPORT_FORMAT = "driftguard-audit-export/1"
CSV_COLUMNS = (
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
    "payload",
    "references",
    "leaf_hash",
    "chain_hash",
    "sealed",
)


class UnreadableExport(DataError):
    """The file is not a DriftGuard audit export (or its header is damaged)."""


# --------------------------------------------------------------------------- writing


def entry_line(row: Row) -> str:
    prefix = json.dumps(
        {
            "type": "entry",
            "seq": row.seq,
            "leaf": row.leaf_hash,
            "chain": row.chain_hash,
            "seal": row.seal,
        },
        separators=(",", ":"),
    )
    try:
        text = row.canonical.decode("utf-8")
        json.loads(text)  # verbatim only if it is JSON: the line must stay valid JSON
        if not text.startswith("{") or "\n" in text or "\r" in text:
            raise ValueError("not a one-line JSON object")
    except ValueError:
        encoded = base64.b64encode(row.canonical).decode("ascii")
        return f'{prefix[:-1]},"canonical_b64":"{encoded}"}}'
    return f"{prefix[:-1]},{_ENTRY_KEY.decode()}{text}}}"


_ENTRY_KEY = b'"entry":'
#: An entry line as :func:`entry_line` writes it; anything else goes through json.loads.
_ENTRY_LINE = re.compile(
    rb'\{"type":"entry","seq":(-?\d+),"leaf":"([0-9a-f]*)","chain":"([0-9a-f]*)",'
    rb'"seal":(null|"[a-z0-9-]+:[0-9a-f]*:[0-9a-f]*"),"entry":(?=\{)'
)


def write_jsonl(
    out: IO[str],
    header: dict[str, Any],
    rows: Iterable[Row],
    checkpoints: Iterable[tuple[Checkpoint, str]] = (),
) -> int:
    """Write an export; returns the number of entry lines."""
    out.write(json.dumps({"format": EXPORT_FORMAT, **header}, separators=(",", ":")) + "\n")
    for checkpoint, origin in checkpoints:
        record = {"type": "checkpoint", **checkpoint.as_dict(), "source": origin}
        out.write(json.dumps(record, separators=(",", ":")) + "\n")
    count = 0
    for row in rows:
        out.write(entry_line(row) + "\n")
        count += 1
    return count


def csv_record(log_id: str, row: Row) -> dict[str, Any]:
    """Decoded fields of one entry for the CSV export (from the hashed bytes, not columns)."""
    try:
        fields = decode_entry(row.canonical)
    except NotAnEntry as error:
        return {"log_id": log_id, "seq": row.seq, "reason": f"UNREADABLE ENTRY: {error}"}
    return {
        "log_id": log_id,
        "seq": fields["seq"],
        "ts": timestamp_from_us(fields["ts_us"]).isoformat(),
        "event_type": fields["event_type"],
        "severity": fields["severity"],
        "actor": fields["actor"],
        "resource_type": fields["resource_type"],
        "resource_id": fields["resource_id"],
        "action": fields["action"],
        "run_id": fields["run_id"] or "",
        "reason": fields["reason"] or "",
        "payload": dumps(fields["payload"]),
        "references": dumps(fields["references"]),
        "leaf_hash": row.leaf_hash,
        "chain_hash": row.chain_hash,
        "sealed": "yes" if row.seal else "no",
    }


def write_csv(out: IO[str], log_id: str, rows: Iterable[Row]) -> int:
    writer = csv.DictWriter(out, fieldnames=list(CSV_COLUMNS), extrasaction="ignore")
    writer.writeheader()
    count = 0
    for row in rows:
        writer.writerow(csv_record(log_id, row))
        count += 1
    return count


# --------------------------------------------------------------------------- reading


@dataclass
class ExportFile:
    """A JSON Lines export opened for verification (a :class:`RowSource`)."""

    path: Path
    header: dict[str, Any] = field(default_factory=dict)
    checkpoints: list[Checkpoint] = field(default_factory=list)
    chunk_size: int = 8192
    _offsets: array = field(default_factory=lambda: array("q"))

    @classmethod
    def open(cls, path: str | Path) -> ExportFile:
        export = cls(Path(path))
        export._index()
        return export

    def _index(self) -> None:
        with self.path.open("rb") as stream:
            first = stream.readline()
            try:
                header = json.loads(first)
            except ValueError as error:
                raise UnreadableExport(
                    f"{self.path}: the first line is not JSON; is this an audit export?"
                ) from error
            if not isinstance(header, dict) or header.get("format") != EXPORT_FORMAT:
                raise UnreadableExport(
                    f"{self.path}: not a {EXPORT_FORMAT} file (write one with "
                    "`driftguard audit export`)"
                )
            if not isinstance(header.get("log_id"), str):
                raise UnreadableExport(f"{self.path}: the header names no log id")
            self.header = header
            offset = len(first)
            for line in stream:
                if line.startswith(b'{"type":"checkpoint"'):
                    try:
                        self.checkpoints.append(Checkpoint.from_dict(json.loads(line)))
                    except (ValueError, BadCheckpoint) as error:
                        raise UnreadableExport(
                            f"{self.path}: a checkpoint line cannot be read: {error}"
                        ) from error
                elif line.strip():
                    self._offsets.append(offset)
                offset += len(line)

    @property
    def log_id(self) -> str:
        return str(self.header["log_id"])

    @property
    def head(self) -> Checkpoint | None:
        """The head recorded at export time, as an unsigned checkpoint without a root."""
        head = self.header.get("head")
        if not isinstance(head, dict) or not isinstance(head.get("size"), int):
            return None
        return Checkpoint(
            log_id=self.log_id,
            size=head["size"],
            head=str(head.get("hash", "")),
            root=str(head.get("root", "")),
            issued_at=str(self.header.get("exported_at", "")),
        )

    def __len__(self) -> int:
        return len(self._offsets)

    def _rows(self, start: int = 0) -> Iterator[Row]:
        with self.path.open("rb") as stream:
            if start < len(self._offsets):
                stream.seek(self._offsets[start])
            else:
                return
            for line in stream:
                if line.startswith(b'{"type":"checkpoint"') or not line.strip():
                    continue
                yield parse_entry_line(line)

    def chunks(self, lo: int | None = None, hi: int | None = None) -> Iterator[Chunk]:
        if lo is not None or hi is not None:
            low = lo if lo is not None else -(2**63)
            high = hi if hi is not None else 2**63
            batch: list[Row] = []
            for row in self._rows():
                if row.seq is not None and low <= row.seq <= high:
                    batch.append(row)
                if len(batch) >= self.chunk_size:
                    yield Chunk.of(batch)
                    batch = []
            if batch:
                yield Chunk.of(batch)
            return
        yield from self._all_chunks()

    def _all_chunks(self) -> Iterator[Chunk]:
        """Every entry line, column-wise; well-formed lines are sliced, not JSON-decoded."""
        match = _ENTRY_LINE.match
        chunk = Chunk([], [], [], [], [])
        with self.path.open("rb") as stream:
            if not self._offsets:
                return
            stream.seek(self._offsets[0])
            for line in stream:
                found = match(line)
                end = line.rfind(b"}") if found is not None else -1
                if found is not None and end > found.end():
                    seal = found.group(4)
                    chunk.seqs.append(int(found.group(1)))
                    chunk.leaves.append(found.group(2).decode())
                    chunk.chains.append(found.group(3).decode())
                    chunk.seals.append(None if seal == b"null" else seal[1:-1].decode())
                    chunk.canonicals.append(line[found.end() : end])
                elif line.startswith(b'{"type":"checkpoint"') or not line.strip():
                    continue
                else:
                    row = parse_entry_line(line)
                    chunk.seqs.append(row.seq)
                    chunk.leaves.append(row.leaf_hash)
                    chunk.chains.append(row.chain_hash)
                    chunk.seals.append(row.seal)
                    chunk.canonicals.append(row.canonical)
                if len(chunk.seqs) >= self.chunk_size:
                    yield chunk
                    chunk = Chunk([], [], [], [], [])
        if chunk.seqs:
            yield chunk

    def row_at(self, seq: int) -> Row | None:
        index = seq - 1
        if 0 <= index < len(self._offsets):
            row = next(self._rows(index), None)
            if row is not None and row.seq == seq:
                return row
        return next((r for r in self._rows() if r.seq == seq), None)


def parse_entry_line(line: bytes) -> Row:
    """One entry line as a :class:`Row`; a damaged line becomes a row that cannot verify."""
    line = line.rstrip(b"\r\n")
    cut = line.find(b"," + _ENTRY_KEY)
    try:
        if cut > 0 and line.endswith(b"}"):
            record = json.loads(line[:cut] + b"}")
            canonical = line[cut + 1 + len(_ENTRY_KEY) : -1]
        else:
            record = json.loads(line)
            canonical = base64.b64decode(record["canonical_b64"], validate=True)
        seq = record.get("seq")
        return Row(
            seq if isinstance(seq, int) and not isinstance(seq, bool) else None,
            canonical,
            str(record.get("leaf", "")),
            str(record.get("chain", "")),
            record.get("seal") or None,
        )
    except (ValueError, TypeError, KeyError, AttributeError):
        return Row(None, bytes(line), "", "", None)


def verify_export(
    path: str | Path,
    *,
    keyring: KeyRing | None = None,
    supplied: Iterable[Checkpoint] = (),
    full: bool = True,
) -> Verification:
    """Verify an export file against its own checkpoints, its recorded head and ``supplied``."""
    export = ExportFile.open(path)
    checkpoints: list[tuple[Checkpoint, str]] = [(c, "export") for c in export.checkpoints]
    checkpoints += [(c, "supplied") for c in supplied]
    if export.head is not None:
        checkpoints.append((export.head, "head"))
    result = verify_log(
        export, log_id=export.log_id, checkpoints=checkpoints, keyring=keyring, full=full
    )
    others = sorted({c.log_id for c in supplied if c.log_id != export.log_id})
    if others:
        result.notes.append(
            f"supplied checkpoints of other logs were not used: {', '.join(others)}"
        )
    return result
