"""Audit exports: JSON Lines that carry the exact hashed bytes and the checkpoints, and CSV.

The JSON Lines export is self-verifying. Line 1 is a header; then one line per checkpoint;
then one line per entry, in sequence order::

    {"format":"driftguard-audit-export/1","log_id":"...","epoch":1,"entries":3,
     "head":{"size":3,"hash":"..."},"exported_at":"...","previous":null}
    {"type":"checkpoint","log_id":"...","size":3,"head":"...","root":"...","issued_at":"...",
     "alg":"ed25519","key_id":"...","signature":"...","source":"stored"}
    {"type":"entry","seq":1,"leaf":"...","chain":"...","seal":"...","canonical":"{...}"}

``canonical`` is the entry's canonical JSON as a string (its UTF-8 encoding is the hashed
bytes); bytes that are not valid UTF-8 (a damaged entry) travel as ``canonical_b64``.
:func:`verify_export` (``python -m driftguard.audit verify-export FILE``) checks such a file
with the standard library only. The CSV export is for spreadsheets: one row per entry with
decoded fields and hashes, not meant for verification.

Standard library only.
"""

from __future__ import annotations

import base64
import csv
import json
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
    record: dict[str, Any] = {
        "type": "entry",
        "seq": row.seq,
        "leaf": row.leaf_hash,
        "chain": row.chain_hash,
        "seal": row.seal,
    }
    try:
        record["canonical"] = row.canonical.decode("utf-8")
    except UnicodeDecodeError:
        record["canonical_b64"] = base64.b64encode(row.canonical).decode("ascii")
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


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
        batch: list[Row] = []
        for row in self._rows():
            if lo is not None or hi is not None:
                if row.seq is None:
                    continue
                if (lo is not None and row.seq < lo) or (hi is not None and row.seq > hi):
                    continue
            batch.append(row)
            if len(batch) >= self.chunk_size:
                yield Chunk.of(batch)
                batch = []
        if batch:
            yield Chunk.of(batch)

    def row_at(self, seq: int) -> Row | None:
        index = seq - 1
        if 0 <= index < len(self._offsets):
            row = next(self._rows(index), None)
            if row is not None and row.seq == seq:
                return row
        return next((r for r in self._rows() if r.seq == seq), None)


def parse_entry_line(line: bytes) -> Row:
    """One entry line as a :class:`Row`; a damaged line becomes a row that cannot verify."""
    try:
        record = json.loads(line)
        if "canonical_b64" in record:
            canonical = base64.b64decode(record["canonical_b64"])
        else:
            canonical = str(record["canonical"]).encode("utf-8", "surrogatepass")
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
