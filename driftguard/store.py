"""The lake: DuckDB over a DuckLake catalog (SQLite embedded, or PostgreSQL) and Parquet files.

Why DuckLake: every commit is a numbered snapshot, so a report can cite the exact state it was
built from and be re-rendered later with time travel; a SQL catalog lets several processes
(concurrent flow runs, workers on other machines) write at once.

Every write path goes through :meth:`Lake.transaction`, which runs a function inside one
transaction and retries it from the start when the catalog is busy or a concurrent commit
conflicts. A failure leaves no trace in the lake.
"""

from __future__ import annotations

import contextlib
import glob
import importlib
import itertools
import logging
import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import duckdb

from driftguard.config import LakeConfig, Settings
from driftguard.errors import StoreError
from driftguard.sql import quote_literal

log = logging.getLogger(__name__)
T = TypeVar("T")

ALIAS = "lake"
#: DuckDB extension name -> the PyPI package that ships its binary.
EXTENSION_PACKAGES = {
    "ducklake": "duckdb_extension_ducklake",
    "sqlite_scanner": "duckdb_extension_sqlite_scanner",
    "postgres_scanner": "duckdb_extension_postgres_scanner",
    "httpfs": "duckdb_extension_httpfs",
}
#: Error texts that mean "try the whole transaction again", not "the data is wrong".
TRANSIENT_MARKERS = (
    "database is locked",
    "conflict",
    "could not serialize",
    "deadlock",
    "Failed to commit DuckLake transaction",
)


class CatalogBusy(StoreError):
    """The catalog stayed busy (or conflicting) for longer than the retry budget."""


class SchemaTooNew(StoreError):
    """The lake was migrated by a newer DriftGuard than this one."""


def extension_path(name: str) -> Path:
    """Path of the extension binary inside its PyPI package (never downloaded at run time)."""
    module = EXTENSION_PACKAGES[name]
    try:
        package = importlib.import_module(module)
    except ImportError as error:
        pip_name = module.replace("_", "-")
        raise StoreError(
            f"DuckDB extension {name!r} is not installed: `pip install {pip_name}` "
            "(same version as duckdb)"
        ) from error
    folder = os.path.dirname(package.__file__ or "")
    matches = glob.glob(os.path.join(folder, "extensions", "*", "*.duckdb_extension"))
    if len(matches) != 1:
        raise StoreError(f"expected one extension binary in {folder}, found {len(matches)}")
    return Path(matches[0])


def load_extension(con: duckdb.DuckDBPyConnection, name: str) -> None:
    con.execute(f"LOAD {quote_literal(str(extension_path(name)))}")


@dataclass(frozen=True)
class LakeLocation:
    """Resolved catalog URI and data path of a lake."""

    catalog: str  # e.g. "sqlite:/abs/catalog.sqlite" or "postgres:dbname=lake host=..."
    data_path: str
    inlining_row_limit: int = 100
    metadata_schema: str | None = None

    @property
    def backend(self) -> str:
        return self.catalog.split(":", 1)[0]

    @property
    def is_embedded(self) -> bool:
        return self.backend == "sqlite"

    def describe(self) -> str:
        """The location for humans: PostgreSQL DSNs lose their password."""
        catalog = self.catalog
        if self.backend == "postgres":
            catalog = " ".join(p for p in catalog.split() if not p.lower().startswith("password="))
        return f"catalog {catalog}, data {self.data_path}"

    @classmethod
    def resolve(cls, settings: Settings, config: LakeConfig | None = None) -> LakeLocation:
        """Environment first, then the config file, then the embedded default under home."""
        config = config or LakeConfig()
        catalog = settings.catalog or config.catalog
        home = settings.home.resolve()
        if catalog == "sqlite":
            catalog = f"sqlite:{home / 'catalog.sqlite'}"
        elif catalog.startswith("sqlite:"):
            catalog = f"sqlite:{Path(catalog.removeprefix('sqlite:')).resolve()}"
        data_path = settings.data_path or config.data_path or str(home / "lake")
        if "://" not in data_path:
            data_path = str(Path(data_path).resolve())
        if not data_path.endswith("/"):
            data_path += "/"
        return cls(
            catalog=catalog,
            data_path=data_path,
            inlining_row_limit=config.inlining_row_limit,
            metadata_schema=os.environ.get("DRIFTGUARD_METADATA_SCHEMA") or None,
        )


class Lake:
    """An open lake. Not shared between threads: open one per thread or process."""

    def __init__(self, con: duckdb.DuckDBPyConnection, location: LakeLocation):
        self.con = con
        self.location = location
        self._depth = 0
        self._owner = threading.get_ident()

    # ------------------------------------------------------------------ opening

    @classmethod
    def open(
        cls,
        settings: Settings,
        config: LakeConfig | None = None,
        *,
        migrate: bool = True,
    ) -> Lake:
        """Attach the lake (creating it on first use) and bring its schema up to date."""
        location = LakeLocation.resolve(settings, config)
        if location.is_embedded:
            _prepare_sqlite_catalog(Path(location.catalog.removeprefix("sqlite:")))
        if "://" not in location.data_path:
            Path(location.data_path).mkdir(parents=True, exist_ok=True)
        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        try:
            lake = cls._attach(con, location)
        except Exception:
            con.close()
            raise
        if migrate:
            from driftguard.schema import migrate as run_migrations

            run_migrations(lake)
        return lake

    @classmethod
    def _attach(cls, con: duckdb.DuckDBPyConnection, location: LakeLocation) -> Lake:
        load_extension(con, "ducklake")
        load_extension(con, "sqlite_scanner" if location.is_embedded else "postgres_scanner")
        if location.data_path.startswith("s3://"):
            load_extension(con, "httpfs")
            _create_s3_secret(con)
        _attach_as(con, location, ALIAS)
        con.execute(f"USE {ALIAS}")
        return cls(con, location)

    def at_snapshot(self, snapshot_id: int) -> Lake:
        """This lake as it was at ``snapshot_id``, read-only (DuckLake time travel).

        Every query through the returned lake, including other modules' helpers, sees that
        snapshot's tables, so a past run's report is rebuilt from exactly the state it was
        made from. It shares this lake's DuckDB instance (a cursor with the catalog attached
        again at the snapshot under its own name); close it when done (a context manager).
        """
        alias = f"{ALIAS}_at_{int(snapshot_id)}_{next(_SNAPSHOT_VIEWS)}"
        cursor = self.con.cursor()
        try:
            _attach_as(cursor, self.location, alias, snapshot=snapshot_id)
            cursor.execute(f"USE {alias}")
        except Exception:
            cursor.close()
            raise
        return _SnapshotLake(cursor, self.location, alias)

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Lake:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ queries

    def execute(self, query: str, params: Sequence[Any] | dict[str, Any] | None = None) -> Any:
        return self.con.execute(query, params) if params is not None else self.con.execute(query)

    def fetchall(self, query: str, params: Sequence[Any] | dict[str, Any] | None = None) -> list:
        return self.execute(query, params).fetchall()

    def fetchone(self, query: str, params: Sequence[Any] | dict[str, Any] | None = None) -> Any:
        return self.execute(query, params).fetchone()

    def records(
        self, query: str, params: Sequence[Any] | dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Rows as dicts keyed by column name."""
        cursor = self.execute(query, params)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def table_exists(self, name: str) -> bool:
        row = self.fetchone(
            "SELECT count(*) FROM duckdb_tables() WHERE database_name = ? AND table_name = ?",
            [ALIAS, name],
        )
        return bool(row and row[0])

    def table_columns(self, name: str) -> dict[str, str]:
        """Column name -> DuckDB type of a lake table, in order."""
        rows = self.fetchall(
            "SELECT column_name, data_type FROM duckdb_columns() "
            "WHERE database_name = ? AND table_name = ? ORDER BY column_index",
            [ALIAS, name],
        )
        return {name: dtype for name, dtype in rows}

    # ------------------------------------------------------------------ snapshots

    def snapshot_id(self) -> int:
        """Id of the lake's newest committed snapshot; reports cite it for time travel."""
        row = self.fetchone(f"SELECT id FROM ducklake_current_snapshot({quote_literal(ALIAS)})")
        return int(row[0])

    def last_committed_snapshot(self) -> int | None:
        """Snapshot id of this connection's latest commit (exact even with concurrent writers)."""
        row = self.fetchone(
            f"SELECT * FROM ducklake_last_committed_snapshot({quote_literal(ALIAS)})"
        )
        return int(row[0]) if row and row[0] is not None else None

    def snapshot_with_message(self, message: str) -> int | None:
        """Snapshot id of the commit made with ``message`` (see :meth:`atomic`)."""
        row = self.fetchone(
            f"SELECT max(snapshot_id) FROM ducklake_snapshots({quote_literal(ALIAS)}) "
            "WHERE commit_message = ?",
            [message],
        )
        return int(row[0]) if row and row[0] is not None else None

    def snapshots(self, limit: int = 20) -> list[dict[str, Any]]:
        return self.records(
            f"SELECT snapshot_id, snapshot_time, changes, author, commit_message "
            f"FROM ducklake_snapshots({quote_literal(ALIAS)}) ORDER BY snapshot_id DESC LIMIT ?",
            [limit],
        )

    # ------------------------------------------------------------------ writing

    @property
    def in_transaction(self) -> bool:
        return self._depth > 0

    @contextmanager
    def atomic(self, message: str | None = None, author: str | None = None) -> Iterator[Lake]:
        """One transaction (reentrant: inner blocks join the outer one). No retry here."""
        if threading.get_ident() != self._owner:
            raise StoreError("a Lake is used from a thread other than the one that opened it")
        if self._depth:
            self._depth += 1
            try:
                yield self
            finally:
                self._depth -= 1
            return
        self.con.execute("BEGIN TRANSACTION")
        self._depth = 1
        try:
            if message or author:
                self.con.execute(
                    "CALL ducklake_set_commit_message(?, ?, ?)",
                    [ALIAS, author or "driftguard", message or ""],
                )
            yield self
            self.con.execute("COMMIT")
        except BaseException:
            try:
                self.con.execute("ROLLBACK")
            except duckdb.Error:
                pass  # the failed COMMIT already ended the transaction
            raise
        finally:
            self._depth = 0

    def transaction(
        self,
        work: Callable[[Lake], T],
        *,
        message: str | None = None,
        author: str | None = None,
        attempts: int = 30,
    ) -> T:
        """Run ``work(lake)`` in one transaction, re-running it from the start on contention.

        ``work`` must therefore be repeatable: it should compute what to write from the lake
        inside the transaction, not from state captured before. Nested calls join the outer
        transaction (and the outer one does the retrying).
        """
        if self._depth:
            with self.atomic():
                return work(self)

        def attempt() -> T:
            with self.atomic(message=message, author=author):
                return work(self)

        return with_retry(attempt, what=message or "a lake transaction", attempts=attempts)


class _SnapshotLake(Lake):
    """A read-only view of a lake at one snapshot; closing it detaches the snapshot."""

    def __init__(self, con: duckdb.DuckDBPyConnection, location: LakeLocation, alias: str):
        super().__init__(con, location)
        self.alias = alias

    def close(self) -> None:
        try:
            self.con.execute(f"USE {ALIAS}")
            self.con.execute(f"DETACH {self.alias}")
        finally:
            self.con.close()


_SNAPSHOT_VIEWS = itertools.count(1)


def _attach_as(
    con: duckdb.DuckDBPyConnection,
    location: LakeLocation,
    alias: str,
    *,
    snapshot: int | None = None,
) -> None:
    """ATTACH the lake's catalog under ``alias`` (read-only at ``snapshot`` when given)."""
    options = [
        f"DATA_PATH {quote_literal(location.data_path)}",
        f"DATA_INLINING_ROW_LIMIT {int(location.inlining_row_limit)}",
    ]
    if location.metadata_schema:
        options.append(f"METADATA_SCHEMA {quote_literal(location.metadata_schema)}")
    if snapshot is not None:
        options += [f"SNAPSHOT_VERSION {int(snapshot)}", "READ_ONLY"]
    uri = quote_literal(f"ducklake:{location.catalog}")
    try:
        with_retry(
            lambda: con.execute(f"ATTACH {uri} AS {alias} ({', '.join(options)})"),
            what="attaching the lake",
            transient=_attach_transient,
        )
    except duckdb.Error as error:
        raise StoreError(
            f"Cannot open the lake ({location.describe()}): {error}. Check DRIFTGUARD_HOME, "
            "DRIFTGUARD_CATALOG and that the catalog server is reachable."
        ) from error


def is_transient(error: BaseException) -> bool:
    """True for contention (catalog locked, concurrent commit), false for bad SQL or data."""
    if not isinstance(error, duckdb.Error):
        return False
    text = str(error).lower()
    if "database is locked" in text:
        return True  # the SQLite catalog reports contention from any statement
    if isinstance(error, duckdb.TransactionException | duckdb.IOException):
        return any(marker.lower() in text for marker in TRANSIENT_MARKERS)
    return False


def _prepare_sqlite_catalog(path: Path) -> None:
    """Create a new SQLite catalog in WAL mode (the mode persists in the file).

    In its default rollback-journal mode SQLite locks readers out while a writer commits, so
    concurrent flow runs fail with "database is locked" even on reads; with WAL only
    simultaneous commits contend, and those are retried. Measured with three processes
    committing 40 batches each: 6-14 s with lock errors on reads vs 1.7-3.6 s without.

    An existing catalog is never opened here: Python's ``sqlite3`` is a second copy of SQLite
    in this process, and closing its file descriptor would drop the POSIX locks that DuckDB's
    copy holds on the same file in other threads (seen as "disk I/O error"). A new catalog is
    made under a temporary name and linked into place, so racing creators cannot clash.
    """
    if path.exists():
        if not _is_wal(path):
            log.warning("catalog %s is not in WAL mode; concurrent runs will contend", path)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with contextlib.closing(sqlite3.connect(temporary)) as db:
            db.execute("PRAGMA journal_mode=WAL")
        try:
            os.link(temporary, path)  # atomic: fails if another creator won
        except FileExistsError:
            pass
    finally:
        for leftover in (temporary, Path(f"{temporary}-wal"), Path(f"{temporary}-shm")):
            leftover.unlink(missing_ok=True)


def _is_wal(path: Path) -> bool:
    """Bytes 18-19 of a SQLite header are 2 in WAL mode (sqlite.org/fileformat.html)."""
    with path.open("rb") as handle:
        header = handle.read(20)
    return len(header) == 20 and header[18] == 2 and header[19] == 2


def _attach_transient(error: BaseException) -> bool:
    """Contention, or losing the race to create a new PostgreSQL catalog: processes that
    attach an empty database at once all create DuckLake's tables; the losers' CREATE fails
    on PostgreSQL's unique indexes, and attaching again finds the finished catalog."""
    if is_transient(error):
        return True
    text = str(error)
    return "Failed to initialize DuckLake" in text and (
        "duplicate key value" in text or "already exists" in text
    )


def with_retry(
    fn: Callable[[], T],
    *,
    what: str,
    attempts: int = 30,
    transient: Callable[[BaseException], bool] | None = None,
) -> T:
    """Call ``fn`` until it succeeds, retrying only transient catalog errors with backoff."""
    transient = transient or is_transient
    delay = 0.02
    for attempt in range(1, attempts + 1):
        try:
            return fn()
        except duckdb.Error as error:
            if not transient(error):
                raise
            if attempt == attempts:
                raise CatalogBusy(
                    f"Gave up {what} after {attempts} attempts: the catalog stayed busy "
                    f"({error}). Retry later, or check for a stuck writer."
                ) from error
            log.debug("retrying %s after transient error (attempt %d): %s", what, attempt, error)
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 1.6, 1.0)
    raise AssertionError("unreachable")


def _create_s3_secret(con: duckdb.DuckDBPyConnection) -> None:
    """S3 credentials from the environment (never from the config file)."""
    env = os.environ
    if not env.get("DRIFTGUARD_S3_KEY_ID"):
        return  # fall back to DuckDB's default credential chain
    params = {
        "KEY_ID": env["DRIFTGUARD_S3_KEY_ID"],
        "SECRET": env.get("DRIFTGUARD_S3_SECRET", ""),
        "REGION": env.get("DRIFTGUARD_S3_REGION", "us-east-1"),
    }
    if env.get("DRIFTGUARD_S3_ENDPOINT"):
        params["ENDPOINT"] = env["DRIFTGUARD_S3_ENDPOINT"]
        params["URL_STYLE"] = env.get("DRIFTGUARD_S3_URL_STYLE", "path")
    body = ", ".join(f"{k} {quote_literal(v)}" for k, v in params.items())
    use_ssl = env.get("DRIFTGUARD_S3_USE_SSL", "true").lower() not in {"0", "false", "no"}
    con.execute(f"CREATE OR REPLACE SECRET driftguard_s3 (TYPE s3, {body}, USE_SSL {use_ssl})")


def open_lake(settings: Settings | None = None, config: LakeConfig | None = None) -> Lake:
    """Open the lake described by the environment (and optionally the config's lake section)."""
    return Lake.open(settings or Settings.from_env(), config)
