"""Prediction logger for serving code: buffered JSON-lines files that appear atomically.

Standard library only, and importing nothing else from DriftGuard, so a model server can
log its predictions without the monitoring stack. Serving code calls
:meth:`PredictionLogger.log`; records are buffered in memory, written to a hidden part-file
(``.<name>.jsonl.part``, which ingestion skips) and published by renaming it to
``<name>.jsonl`` in the model's landing folder when it is rotated (by size or age) or the
logger is closed. The scheduled ingestion therefore only ever sees complete files.

Guarantees (POSIX):

- A published file is complete and never modified again: it is written under a hidden
  name, flushed to disk (``fsync``, unless disabled) and then renamed, and rename is atomic.
- Every record handed to ``log`` is written to exactly one file, once; a failed write is
  cut back to its last whole line and retried, never duplicated.
- A crash (``SIGKILL``, out of memory, power loss) loses at most the records still in
  memory: at most ``flush_records`` records or ``flush_interval`` seconds of them (with
  the background thread). Records already in the open part-file are published by the next
  logger started on the same folder and host (``recover=True``), which cuts a partial last
  line and drops lines that are not valid JSON. A process killed by ``SIGTERM`` without
  handling it also counts as a crash; normal exit flushes and publishes (``atexit``).

Types survive ingestion, which reads each JSON field as text and casts it: floats are
written with Python's shortest round-trip repr (exact), NaN and infinities as the strings
``"NaN"``, ``"Infinity"``, ``"-Infinity"`` (so the file stays valid JSON and ingestion
quarantines a non-finite score with its reason), booleans as 1/0, times as ISO-8601 UTC with
microseconds.
"""

from __future__ import annotations

import atexit
import fnmatch
import json
import logging
import math
import os
import re
import secrets
import socket
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path, PurePath
from typing import Any

try:
    import fcntl
except ImportError:  # Windows: no advisory locks, hence no recovery of orphaned part-files
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

SUFFIX = ".jsonl"
PART_SUFFIX = ".part"
#: Canonical fields and their default column names (the defaults of ``columns:`` in
#: driftguard.yaml). ``None``: the field is not logged.
DEFAULT_COLUMNS: Mapping[str, str | None] = {
    "prediction_id": "prediction_id",
    "timestamp": "timestamp",
    "score": "score",
    "predicted_class": None,
    "label": None,
    "segment": None,
    "region": None,
    "endpoint": None,
}
_CONTEXT_FIELDS = ("segment", "region", "endpoint")
_NON_FINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}
_write = os.write  # one place for tests to inject a failing disk
#: One encoder for every record (json.dumps with options builds a new one per call).
_ENCODER = json.JSONEncoder(ensure_ascii=True, allow_nan=False, separators=(",", ":"))


class LoggerClosed(RuntimeError):
    """``log`` was called after ``close``."""


def _host_token() -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", socket.gethostname())[:40] or "host"


@dataclass
class _OpenFile:
    fd: int
    part: Path
    final: Path
    opened_at: float
    size: int = 0
    lines: int = 0


class _PartialWrite(Exception):
    def __init__(self, lines_done: int, error: OSError):
        super().__init__(str(error))
        self.lines_done = lines_done
        self.error = error


class PredictionLogger:
    """Buffered, thread-safe writer of prediction records into a landing folder.

    Parameters
    ----------
    folder
        The model's landing folder (created if missing). Its configured source must read
        ``*.jsonl`` there, e.g. ``{home}/landing/credit/predictions/**/*.jsonl``;
        :meth:`for_model` derives folder and columns from the model's configuration.
    columns
        Column names of the canonical fields, as in the model's ``columns:`` (defaults:
        :data:`DEFAULT_COLUMNS`). A configured ``predicted_class``/``label`` column is
        written in every record (null when not given), as ingestion requires.
    declared
        Column names written in every record, null when a call does not give them: the
        model's features, protected attributes and context columns. Ingestion quarantines
        every row of a file that lacks a declared column altogether.
    max_bytes, rotate_seconds
        A file is published when the next record would take it past ``max_bytes`` or when
        it has been open ``rotate_seconds``.
    flush_records, flush_interval
        Buffered records are written to the part-file when there are ``flush_records`` of
        them or the oldest is ``flush_interval`` seconds old (the crash-loss bound).
    max_buffer_records
        When this many records wait (the disk is not keeping up), ``log`` writes them
        itself; if that fails too, the new record is dropped and counted in :meth:`stats`.
    fsync
        Flush a file to disk before publishing it, and the folder after.
    recover
        At start, publish part-files of this prefix and host whose logger died.
    background
        Start a daemon thread for time-based flushing and rotation; without it, call
        :meth:`poll` periodically (tests do, with an injected ``clock``).
    """

    def __init__(
        self,
        folder: str | os.PathLike[str],
        *,
        columns: Mapping[str, str | None] | None = None,
        declared: Iterable[str] = (),
        prefix: str = "predictions",
        max_bytes: int = 16 << 20,
        rotate_seconds: float = 300.0,
        flush_records: int = 500,
        flush_interval: float = 1.0,
        max_buffer_records: int = 100_000,
        fsync: bool = True,
        recover: bool = True,
        background: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        unknown = sorted(set(columns or {}) - set(DEFAULT_COLUMNS))
        if unknown:
            raise ValueError(
                f"unknown column field(s) {', '.join(unknown)}; known: {', '.join(DEFAULT_COLUMNS)}"
            )
        if not re.fullmatch(r"[A-Za-z0-9_]+", prefix):
            raise ValueError(f"prefix {prefix!r} must be letters, digits or underscores")
        if max_bytes < 1 or flush_records < 1 or max_buffer_records < flush_records:
            raise ValueError("need max_bytes >= 1 and 1 <= flush_records <= max_buffer_records")
        if rotate_seconds <= 0 or flush_interval <= 0:
            raise ValueError("rotate_seconds and flush_interval must be positive")
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.columns: dict[str, str | None] = {**DEFAULT_COLUMNS, **(columns or {})}
        for field in ("prediction_id", "timestamp"):
            if not self.columns[field]:
                raise ValueError(f"the {field} column cannot be switched off")
        always = [self.columns[f] for f in ("predicted_class", "label", *_CONTEXT_FIELDS)]
        self.declared = tuple(dict.fromkeys([*declared, *(c for c in always if c)]))
        self.prefix = prefix
        self._max_bytes = max_bytes
        self._rotate_seconds = rotate_seconds
        self._flush_records = flush_records
        self._flush_interval = flush_interval
        self._max_buffer = max_buffer_records
        self._fsync = fsync
        self._background = background
        self._clock = clock
        self._host = _host_token()
        self._orphan = re.compile(
            rf"^\.(?P<final>{prefix}-\d{{8}}T\d{{12}}Z-{re.escape(self._host)}-\d+-\d{{6}}"
            rf"-[0-9a-f]{{6}}{re.escape(SUFFIX)}){re.escape(PART_SUFFIX)}$"
        )
        self._init_runtime()
        self._closed = False
        self._seq = 0
        self._counts = dict.fromkeys(
            ("logged", "written", "published_files", "published_records", "dropped", "errors"),
            0,
        )
        self._counts["recovered_files"] = 0
        self._last_error: str | None = None
        self._needs_recovery = False
        _LIVE.add(self)
        if recover:
            self.recover()

    def _init_runtime(self) -> None:
        self._lock = threading.Lock()  # the buffer and counters
        self._io = threading.Lock()  # the open file
        self._buffer: list[bytes] = []
        self._buffered_since: float | None = None
        self._file: _OpenFile | None = None
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()

    @classmethod
    def for_model(
        cls,
        model: Any,
        settings: Any = None,
        *,
        base: str | os.PathLike[str] | None = None,
        **options: Any,
    ) -> PredictionLogger:
        """A logger for a configured model (a ``ModelConfig``; ``settings`` a ``Settings``).

        The folder is the fixed part of the model's first prediction source that would read
        this logger's files (a ``.jsonl`` glob such as ``{home}/landing/<id>/**/*.jsonl``);
        columns and declared columns come from the model. Both objects are duck-typed, so
        this module imports no configuration code.
        """
        prefix = options.get("prefix", "predictions")
        sample = f"{prefix}-20260101T000000000000Z-host-1-000001-abcdef{SUFFIX}"
        folder = None
        for source in model.sources.predictions:
            if getattr(source, "type", "files") != "files" or source.format not in (
                "auto",
                "jsonl",
            ):
                continue
            pattern = settings.expand(source.path, base=base) if settings else source.path
            folder = _landing_folder(pattern, sample)
            if folder is not None:
                break
        if folder is None:
            raise ValueError(
                f"model {model.id!r} has no prediction source that reads .jsonl files from a "
                f"folder; add one such as {{path: '{{home}}/landing/{model.id}/predictions/"
                "**/*.jsonl'}"
            )
        cols = model.columns
        columns = {field: getattr(cols, field) for field in DEFAULT_COLUMNS}
        declared = [*model.features, *(p.name for p in model.protected_attributes)]
        return cls(folder, columns=columns, declared=declared, **options)

    # ------------------------------------------------------------------ logging

    def log(
        self,
        prediction_id: Any,
        features: Mapping[str, Any],
        score: Any = None,
        *,
        timestamp: datetime | float | str | None = None,
        predicted_class: Any = None,
        label: Any = None,
        protected: Mapping[str, Any] | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> None:
        """Buffer one prediction record. Cheap: encodes one JSON line, appends it to a list.

        ``timestamp`` defaults to now (UTC); a datetime must be time-zone aware, a number is
        epoch seconds. ``context`` keys ``segment``, ``region``, ``endpoint`` are written
        under their configured column names, other keys as given. Wrong arguments raise
        ``ValueError``/``TypeError`` at once; disk errors never reach the caller (they are
        retried and reported by :meth:`stats` and the ``driftguard.serving_log`` logger).
        """
        line = self._encode(
            prediction_id, features, score, timestamp, predicted_class, label, protected, context
        )
        if not self._append(line):
            self.flush()  # back-pressure: the disk is not keeping up, so the caller writes
            if not self._append(line):
                with self._lock:
                    self._counts["dropped"] += 1
                    dropped = self._counts["dropped"]
                if dropped & (dropped - 1) == 0:  # 1, 2, 4, 8, ...: warn without flooding
                    log.warning(
                        "prediction log %s: %d record(s) dropped, the buffer is full and "
                        "writing fails (%s)",
                        self.folder,
                        dropped,
                        self._last_error,
                    )
                return
        pending = len(self._buffer)
        if pending >= self._flush_records:
            if self._background:
                self._ensure_thread()
                self._wake.set()
            else:
                self.flush()
        elif self._background and self._thread is None:
            self._ensure_thread()

    def _append(self, line: bytes) -> bool:
        with self._lock:
            if self._closed:
                raise LoggerClosed(f"prediction logger for {self.folder} is closed")
            if len(self._buffer) >= self._max_buffer:
                return False
            if not self._buffer:
                self._buffered_since = self._clock()
            self._buffer.append(line)
            self._counts["logged"] += 1
            return True

    def _encode(
        self,
        prediction_id: Any,
        features: Mapping[str, Any],
        score: Any,
        timestamp: Any,
        predicted_class: Any,
        label: Any,
        protected: Mapping[str, Any] | None,
        context: Mapping[str, Any] | None,
    ) -> bytes:
        if prediction_id is None or not str(prediction_id).strip():
            raise ValueError("prediction_id must be a non-empty value")
        if not isinstance(features, Mapping):
            raise TypeError(f"features must be a mapping of name to value, not {type(features)}")
        cols = self.columns
        record: dict[str, Any] = {
            cols["prediction_id"]: str(prediction_id),  # type: ignore[dict-item]
            cols["timestamp"]: _timestamp(timestamp),  # type: ignore[dict-item]
        }
        for field, value in (
            ("score", score),
            ("predicted_class", predicted_class),
            ("label", label),
        ):
            column = cols[field]
            if column is None:
                if value is not None:
                    raise ValueError(f"{field} given, but no {field} column is configured")
                continue
            _put(record, column, value, field)
        for values, what in ((features, "feature"), (protected, "protected attribute")):
            if not values:
                continue
            for name, value in values.items():  # _put inlined: this loop is the hot path
                if name in record:
                    raise ValueError(f"column {name!r} is given twice (again as {what})")
                kind = type(value)
                if (
                    kind is str
                    or value is None
                    or kind is int
                    or (kind is float and value - value == 0)
                ):
                    record[name] = value
                else:
                    record[name] = _scalar(value)
        for name, value in (context or {}).items():
            column = (cols.get(name) if name in _CONTEXT_FIELDS else name) or name
            if column in record and record[column] == _scalar(value):
                continue  # e.g. region both a feature and the serving context: one column
            _put(record, column, value, "context")
        for name in self.declared:
            if name not in record:
                record[name] = None
        return (_ENCODER.encode(record) + "\n").encode("ascii")

    # ------------------------------------------------------------------ writing

    def flush(self) -> None:
        """Write buffered records to the open part-file (publishing files that fill up)."""
        with self._io:
            with self._lock:
                lines, self._buffer = self._buffer, []
                self._buffered_since = None
            if not lines:
                return
            done = 0
            try:
                if self._needs_recovery:
                    self.recover()
                done = self._write(lines)
            except _PartialWrite as error:
                done = error.lines_done
                self._report(error.error)
            except OSError as error:
                self._report(error)
            if done < len(lines):  # not written: back to the front of the queue, in order
                with self._lock:
                    self._buffer[:0] = lines[done:]
                    self._buffered_since = self._clock()

    def _write(self, lines: list[bytes]) -> int:
        """Write ``lines`` across as many files as ``max_bytes`` needs; return lines written."""
        done = 0
        while done < len(lines):
            file = self._file or self._open()
            room = self._max_bytes - file.size
            end, size = done, 0
            while end < len(lines) and (
                size + len(lines[end]) <= room or (file.size == 0 and end == done)
            ):
                size += len(lines[end])
                end += 1
            if end == done:  # the next line does not fit: this file is full
                self._publish()
                continue
            try:
                self._append_lines(file, lines[done:end])
            except _PartialWrite as error:
                raise _PartialWrite(done + error.lines_done, error.error) from error
            done = end
            if file.size >= self._max_bytes:
                self._publish()
        return done

    def _append_lines(self, file: _OpenFile, chunk: list[bytes]) -> None:
        data = memoryview(b"".join(chunk))
        written = 0
        try:
            while written < len(data):
                written += _write(file.fd, data[written:])
        except OSError as error:
            # keep only whole lines: cut the file back to the end of the last complete one
            whole, keep = 0, 0
            for line in chunk:
                if keep + len(line) > written:
                    break
                keep += len(line)
                whole += 1
            with self._lock:
                self._counts["written"] += whole
            try:
                os.ftruncate(file.fd, file.size + keep)
                file.size += keep
                file.lines += whole
            except OSError:
                # cannot repair it: leave it hidden for recovery (which cuts the partial line)
                self._abandon(file)
            raise _PartialWrite(whole, error) from error
        file.size += len(data)
        file.lines += len(chunk)
        with self._lock:
            self._counts["written"] += len(chunk)

    def _open(self) -> _OpenFile:
        while True:
            self._seq += 1
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
            name = (
                f"{self.prefix}-{stamp}-{self._host}-{os.getpid()}-{self._seq % 1_000_000:06d}"
                f"-{secrets.token_hex(3)}{SUFFIX}"
            )
            part = self.folder / f".{name}{PART_SUFFIX}"
            # O_APPEND: after a failed write is cut back, the next write starts at the cut
            flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL | _CLOEXEC
            fd = os.open(part, flags, 0o666)
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
                if not _same_file(part, fd):  # a recovering logger took it before our lock
                    os.close(fd)
                    continue
            self._file = _OpenFile(fd, part, self.folder / name, self._clock())
            return self._file

    def _publish(self) -> None:
        """Make the open file visible under its final name (atomic rename), then close it."""
        file, self._file = self._file, None
        if file is None:
            return
        try:
            if file.size == 0:
                os.unlink(file.part)
                return
            if self._fsync:
                os.fsync(file.fd)
            os.rename(file.part, file.final)  # still holding the lock: no recovery can race
        except OSError as error:
            self._needs_recovery = True  # the hidden file keeps the records; recover() later
            self._report(error)
            return
        finally:
            os.close(file.fd)
        if self._fsync:
            _fsync_folder(self.folder)
        with self._lock:
            self._counts["published_files"] += 1
            self._counts["published_records"] += file.lines

    def _abandon(self, file: _OpenFile) -> None:
        self._file = None
        self._needs_recovery = True
        try:
            os.close(file.fd)
        except OSError:
            pass

    def _report(self, error: OSError) -> None:
        with self._lock:
            self._counts["errors"] += 1
            first = self._last_error != str(error)
            self._last_error = str(error)
        if first:
            log.warning("prediction log %s: write failed, will retry: %s", self.folder, error)

    def rotate(self) -> None:
        """Write everything buffered and publish the open file now."""
        self.flush()
        with self._io:
            self._publish()

    def poll(self) -> None:
        """Time-based work: flush an old buffer, publish a file open ``rotate_seconds``."""
        now = self._clock()
        with self._lock:
            since = self._buffered_since
        if since is not None and now - since >= self._flush_interval:
            self.flush()
        file = self._file
        if file is not None and now - file.opened_at >= self._rotate_seconds:
            self.rotate()

    # ------------------------------------------------------------------ lifecycle

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is not None or self._closed:
                return
            self._thread = threading.Thread(
                target=self._run, name=f"driftguard-log-{self.folder.name}", daemon=True
            )
            self._thread.start()

    def _run(self) -> None:
        tick = min(self._flush_interval, self._rotate_seconds)
        while not self._stop.is_set():
            self._wake.wait(tick)
            self._wake.clear()
            if self._stop.is_set():
                break
            try:
                if len(self._buffer) >= self._flush_records:
                    self.flush()
                self.poll()
            except Exception:  # keep the thread alive; the error is counted and logged
                log.exception("prediction log %s: background flush failed", self.folder)

    def close(self) -> None:
        """Write everything, publish the open file and stop. Idempotent; ``atexit`` calls it."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            thread = self._thread
        self._stop.set()
        self._wake.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        self.rotate()
        _LIVE.discard(self)
        if self._buffer:
            log.error(
                "prediction log %s closed with %d record(s) not written: %s",
                self.folder,
                len(self._buffer),
                self._last_error,
            )

    def __enter__(self) -> PredictionLogger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def stats(self) -> dict[str, Any]:
        """Counters since start: logged, written, published files/records, dropped, errors."""
        with self._lock:
            counts: dict[str, Any] = dict(self._counts)
            counts["buffered"] = len(self._buffer)
            counts["last_error"] = self._last_error
        file = self._file
        counts["open_file"] = str(file.part) if file else None
        return counts

    # ------------------------------------------------------------------ recovery

    def recover(self) -> list[Path]:
        """Publish part-files of this prefix and host whose writer is gone; return them.

        A live writer holds an exclusive ``flock`` on its part-file for as long as it is
        open, and the kernel releases it when the process dies, so a part-file whose lock
        can be taken is an orphan. Its complete lines that are valid JSON are published;
        a partial last line (the crash cut it) is dropped.
        """
        if fcntl is None:
            return []
        published = []
        for entry in sorted(os.scandir(self.folder), key=lambda e: e.name):
            match = self._orphan.match(entry.name)
            if match is None:
                continue
            final = self.folder / match.group("final")
            path = Path(entry.path)
            try:
                fd = os.open(path, os.O_RDWR | _CLOEXEC)
            except FileNotFoundError:
                continue
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # its writer is alive
                if not _same_file(path, fd):
                    continue  # published or recovered meanwhile
                if self._salvage(fd, path, final):
                    published.append(final)
            except OSError as error:
                self._report(error)
            finally:
                os.close(fd)
        self._needs_recovery = False
        with self._lock:
            self._counts["recovered_files"] += len(published)
        return published

    def _salvage(self, fd: int, path: Path, final: Path) -> bool:
        data = _read_all(fd)
        complete = data[: data.rfind(b"\n") + 1]
        lines = complete.splitlines(keepends=True)
        good = [line for line in lines if _is_json_object(line)]
        if not good:
            os.unlink(path)
            return False
        if len(good) == len(lines):
            if len(complete) < len(data):
                os.ftruncate(fd, len(complete))
            if self._fsync:
                os.fsync(fd)
            os.rename(path, final)
        else:  # write the valid lines beside it; a crash here repeats the same bytes next time
            staging = self.folder / f".{final.name}.recovering.tmp"
            with open(staging, "wb") as handle:
                handle.write(b"".join(good))
                handle.flush()
                if self._fsync:
                    os.fsync(handle.fileno())
            os.rename(staging, final)
            os.unlink(path)
        if self._fsync:
            _fsync_folder(self.folder)
        log.warning(
            "prediction log %s: published %s left by a logger that stopped without closing "
            "(%d record(s) kept, %d partial or invalid line(s) dropped)",
            self.folder,
            final.name,
            len(good),
            len(lines) - len(good) + (len(data) > len(complete)),
        )
        return True

    def _forget_parent(self) -> None:
        """In a forked child: the parent's buffer and open file stay the parent's."""
        file = self._file
        self._init_runtime()
        if file is not None:
            os.close(file.fd)  # the child's copy only: the parent keeps the file and its lock


# --------------------------------------------------------------------------- helpers

_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_LIVE: weakref.WeakSet[PredictionLogger] = weakref.WeakSet()


def _close_all() -> None:
    for logger in list(_LIVE):
        try:
            logger.close()
        except Exception:  # pragma: no cover - exit path: report and go on with the others
            log.exception("prediction log %s: close at exit failed", logger.folder)


def _forget_all_in_child() -> None:
    for logger in list(_LIVE):
        logger._forget_parent()


atexit.register(_close_all)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_all_in_child)


def _put(record: dict[str, Any], column: str, value: Any, what: str) -> None:
    if column in record:
        raise ValueError(f"column {column!r} is given twice (again as {what})")
    kind = type(value)
    # the common cases inline (x - x == 0 is false for NaN and the infinities)
    if kind is str or value is None or kind is int or (kind is float and value - value == 0):
        record[column] = value
    else:
        record[column] = _scalar(value)


def _scalar(value: Any) -> Any:
    """A JSON value that ingestion casts back to the same value (see the module notes)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else _NON_FINITE[repr(value)]
    if isinstance(value, datetime):
        return _timestamp(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item):
        try:
            plain = item()
        except (TypeError, ValueError):
            plain = None
        if plain is not None and not hasattr(plain, "item"):
            return _scalar(plain)
    return str(value)


def _timestamp(value: Any) -> str:
    if value is None:
        return datetime.now(UTC).isoformat(timespec="microseconds")
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(
                f"timestamp {value!r} has no time zone; pass an aware datetime such as "
                "datetime.now(UTC)"
            )
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC).isoformat(timespec="microseconds")
    if isinstance(value, str):
        return value
    raise TypeError(f"timestamp must be a datetime, epoch seconds or a string, not {value!r}")


def _landing_folder(pattern: str, sample_name: str) -> Path | None:
    """The fixed folder of a glob if files named like ``sample_name`` there would match."""
    if "://" in pattern:
        return None
    parts = PurePath(pattern).parts
    fixed = 0
    while fixed < len(parts) and not any(c in parts[fixed] for c in "*?["):
        fixed += 1
    if fixed == len(parts) or fixed == 0:
        return None
    rest = parts[fixed:]
    if any(part != "**" for part in rest[:-1]) or not fnmatch.fnmatchcase(sample_name, rest[-1]):
        return None
    return Path(*parts[:fixed])


def _same_file(path: Path, fd: int) -> bool:
    try:
        return os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False


def _read_all(fd: int) -> bytes:
    os.lseek(fd, 0, os.SEEK_SET)
    chunks = []
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)


def _is_json_object(line: bytes) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems cannot sync a directory; the rename is still atomic
        pass
    finally:
        os.close(fd)
