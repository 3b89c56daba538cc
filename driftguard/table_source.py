"""Prediction logs and labels read from a PostgreSQL table, incrementally by a cursor column.

Serving systems often write their prediction log to a PostgreSQL table rather than to files.
Such a source is read through DuckDB's postgres extension (the PyPI package
``duckdb-extension-postgres-scanner``, as for the catalog): the table is attached read-only,
and each batch is the rows whose cursor lies in ``(position, upper]``, where ``position`` is
the stored cursor of the source and ``upper`` the cursor value of about the ``batch_rows``-th
next row (every row of that last value is included, so a batch never splits one value). The
filter on the cursor is pushed down to PostgreSQL, so a run reads only the new rows.

A batch goes through the same validation, quarantine and ledger as a file
(:func:`driftguard.ingest.ingest_staged`), and the source's new cursor is written in the same
lake transaction: a batch and its cursor commit together or not at all. Re-running is
idempotent: a batch whose range is in the ledger is skipped, a writer that finds the cursor
moved by a concurrent ingester skips its batch and reads on from the new position, and a
prediction id seen before is quarantined as ``already_ingested``.

Notes
-----
The cursor must grow in the order rows become visible. An identity/serial id does, up to
transactions that commit out of order; a timestamp set by the application may be older than
its commit. ``settle`` keeps the newest rows of a timestamp cursor for a later run, so rows
committed up to that long after their timestamp are not skipped.

Secrets: the DSN in the configuration holds no password; it comes from the environment
variable ``password_env`` (or the whole DSN from ``dsn_env``) and is never logged: error
messages have it removed.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Literal

import duckdb

from driftguard.config import ModelConfig, PostgresSource, Settings
from driftguard.errors import ConfigError, DataError
from driftguard.ingest import STAGE, BatchOutcome, Kind, batch_id_for, ingest_staged
from driftguard.sources import ROW_NUMBER
from driftguard.sql import quote_ident, quote_literal
from driftguard.store import Lake, load_extension

log = logging.getLogger(__name__)

CursorType = Literal["timestamp", "integer"]
_INTEGER_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UINTEGER", "UBIGINT")


class MissingSourceSecret(ConfigError):
    """The environment variable a table source names for its DSN or password is not set."""


class SourceUnavailable(DataError):
    """The source table cannot be reached or read (server down, table or column missing)."""


def connection_string(source: PostgresSource, environ: dict[str, str] | None = None) -> str:
    """The libpq DSN of ``source`` with its password, from the environment only."""
    env = os.environ if environ is None else environ
    if source.dsn_env is not None:
        dsn = env.get(source.dsn_env)
        if not dsn:
            raise MissingSourceSecret(
                f"The table source {source.key} reads its DSN from ${source.dsn_env}, which is "
                "not set. Export it on every machine that runs ingestion."
            )
    else:
        dsn = source.dsn or ""
    if source.password_env is not None:
        password = env.get(source.password_env)
        if password is None:
            raise MissingSourceSecret(
                f"The table source {source.key} reads its password from "
                f"${source.password_env}, which is not set. Export it on every machine that "
                "runs ingestion."
            )
        dsn = f"{dsn} password={_libpq_value(password)}"
    return dsn


def _libpq_value(value: str) -> str:
    """A libpq connection-string value: quoted, with backslashes and quotes escaped."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _scrub(text: str, secret: str) -> str:
    """``text`` without the DSN's password (libpq errors can echo connection strings)."""
    text = re.sub(r"password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)", "password=***", text, flags=re.I)
    for part in re.findall(r"password=('(?:[^'\\]|\\.)*'|\S+)", secret, flags=re.I):
        text = text.replace(part, "***").replace(part.strip("'"), "***")
    return text


@contextmanager
def attached(lake: Lake, source: PostgresSource) -> Iterator[str]:
    """Attach the source database read-only to the lake's connection; yield the table's SQL
    name (``alias.schema.table``)."""
    dsn = connection_string(source)
    alias = "__dg_src_" + hashlib.sha256(source.key.encode()).hexdigest()[:12]
    load_extension(lake.con, "postgres_scanner")
    try:
        lake.execute(f"ATTACH {quote_literal(dsn)} AS {alias} (TYPE postgres, READ_ONLY)")
    except duckdb.Error as error:
        raise SourceUnavailable(
            f"Cannot connect to the table source {source.key}: {_scrub(str(error), dsn)}"
        ) from None
    try:
        yield f"{alias}.{quote_ident(source.schema_name)}.{quote_ident(source.table)}"
    finally:
        lake.execute(f"DETACH {alias}")


def source_columns(lake: Lake, table: str, source: PostgresSource) -> dict[str, str]:
    """Column name -> DuckDB type of the attached table (raises when it is not there)."""
    try:
        cursor = lake.execute(f"SELECT * FROM {table} LIMIT 0")
    except duckdb.Error as error:
        raise SourceUnavailable(
            f"Cannot read {source.schema_name}.{source.table} of the table source "
            f"{source.key}: {error}"
        ) from None
    names = [d[0] for d in cursor.description]
    types = lake.execute(f"DESCRIBE SELECT * FROM {table}").fetchall()
    return {name: str(row[1]) for name, row in zip(names, types, strict=True)}


def cursor_type(source: PostgresSource, columns: dict[str, str]) -> CursorType:
    """The comparison of the cursor column: declared, or taken from its type."""
    if source.cursor not in columns:
        raise SourceUnavailable(
            f"The cursor column {source.cursor!r} is not in {source.schema_name}.{source.table} "
            f"(columns: {', '.join(columns)})."
        )
    dtype = columns[source.cursor]
    found: CursorType | None = None
    if dtype.startswith("TIMESTAMP") or dtype == "DATE":
        found = "timestamp"
    elif dtype in _INTEGER_TYPES:
        found = "integer"
    if source.cursor_type != "auto":
        if found is not None and found != source.cursor_type:
            raise SourceUnavailable(
                f"cursor_type is {source.cursor_type} but column {source.cursor!r} is {dtype}."
            )
        return source.cursor_type
    if found is None:
        raise SourceUnavailable(
            f"The cursor column {source.cursor!r} is {dtype}; a cursor must be a timestamp or "
            "an integer that grows as rows are added."
        )
    return found


def stored_position(lake: Lake, model_id: str, kind: str, source: PostgresSource) -> str | None:
    """The last cursor value read from ``source`` (text), None before the first batch."""
    row = lake.fetchone(
        "SELECT position FROM source_cursors WHERE model_id = ? AND kind = ? AND source = ?",
        [model_id, kind, source.key],
    )
    return row[0] if row else None


def _cursor_sql(source: PostgresSource, kind: CursorType, dtype: str) -> tuple[str, str]:
    """(the cursor column as a comparable SQL value, the SQL cast of a stored position)."""
    column = quote_ident(source.cursor)
    if kind == "integer":
        return f"CAST({column} AS HUGEINT)", "CAST($position AS HUGEINT)"
    if dtype == "TIMESTAMP WITH TIME ZONE":
        return column, "CAST($position AS TIMESTAMPTZ)"
    # a timestamp without time zone is UTC (as for files)
    return f"CAST({column} AS TIMESTAMPTZ)", "CAST($position AS TIMESTAMPTZ)"


def _position_text(value: Any) -> str:
    if isinstance(value, datetime):
        value = value if value.tzinfo else value.replace(tzinfo=UTC)
        return value.astimezone(UTC).isoformat()
    return str(int(value))


def ingest_table(
    lake: Lake,
    model: ModelConfig,
    source: PostgresSource,
    kind: Kind,
    settings: Settings,
    *,
    actor: str | None = None,
    now: datetime | None = None,
) -> list[BatchOutcome]:
    """Ingest every new row of ``source`` in batches of about ``batch_rows`` rows.

    Returns one outcome per batch; a source that cannot be reached gives one ``failed``
    outcome naming the reason (the other sources of the model are still ingested).
    """
    outcomes: list[BatchOutcome] = []
    try:
        with attached(lake, source) as table:
            columns = source_columns(lake, table, source)
            kind_of_cursor = cursor_type(source, columns)
            cursor, stored = _cursor_sql(source, kind_of_cursor, columns[source.cursor])
            order = cursor
            pid = model.columns.prediction_id if kind == "predictions" else None
            pid = pid or model.label_columns.prediction_id
            if pid in columns:
                order += f", CAST({quote_ident(pid)} AS VARCHAR)"
            while True:
                outcome = _next_batch(
                    lake,
                    model,
                    source,
                    kind,
                    settings,
                    table=table,
                    columns=columns,
                    cursor=cursor,
                    stored=stored,
                    order=order,
                    cursor_kind=kind_of_cursor,
                    actor=actor,
                    now=now,
                )
                if outcome is None:
                    break
                outcomes.append(outcome)
                if outcome.status == "failed":
                    break
    except (SourceUnavailable, MissingSourceSecret) as error:
        if isinstance(error, MissingSourceSecret):
            raise
        log.warning("table source %s failed: %s", source.key, error)
        outcomes.append(
            BatchOutcome(model.id, kind, source.key, "failed", None, message=str(error))
        )
    return outcomes


def _next_batch(
    lake: Lake,
    model: ModelConfig,
    source: PostgresSource,
    kind: Kind,
    settings: Settings,
    *,
    table: str,
    columns: dict[str, str],
    cursor: str,
    stored: str,
    order: str,
    cursor_kind: CursorType,
    actor: str | None,
    now: datetime | None,
) -> BatchOutcome | None:
    """Stage and commit the next batch; None when there is nothing new."""
    position = stored_position(lake, model.id, kind, source)
    where, params = [f"{cursor} IS NOT NULL"], {}
    if position is not None:
        where.append(f"{cursor} > {stored}")
        params["position"] = position
    if source.settle is not None:
        where.append(f"{cursor} <= CAST($settled AS TIMESTAMPTZ)")
        params["settled"] = (now or datetime.now(UTC)) - source.settle
    condition = " AND ".join(where)
    try:
        (upper,) = lake.fetchone(
            f"SELECT max(c) FROM (SELECT {cursor} AS c FROM {table} WHERE {condition} "
            "ORDER BY c LIMIT $limit)",
            {**params, "limit": source.batch_rows},
        )
    except duckdb.Error as error:
        raise SourceUnavailable(f"Cannot read the table source {source.key}: {error}") from None
    if upper is None:
        return None
    upper_text = _position_text(upper)
    upper_sql = stored.replace("$position", "$upper")
    try:
        lake.execute(
            f"CREATE OR REPLACE TEMP TABLE {STAGE} AS SELECT *, "
            f"row_number() OVER (ORDER BY {order}) AS {ROW_NUMBER} FROM {table} "
            f"WHERE {condition} AND {cursor} <= {upper_sql}",
            {**params, "upper": upper_text},
        )
    except duckdb.Error as error:
        raise SourceUnavailable(f"Cannot read the table source {source.key}: {error}") from None
    staged = dict(columns)
    identity = f"{source.key} ({position or '-inf'}, {upper_text}]"
    checksum = hashlib.sha256(identity.encode()).hexdigest()
    (n_rows,) = lake.fetchone(f"SELECT count(*) FROM temp.{STAGE}")

    def unchanged(lk: Lake) -> str | None:
        now_at = stored_position(lk, model.id, kind, source)
        if now_at != position:
            return f"another ingester moved the cursor to {now_at}"
        return None

    def move_cursor(lk: Lake, outcome: BatchOutcome) -> None:
        lk.execute(
            "CREATE OR REPLACE TEMP TABLE __dg_cursor AS SELECT coalesce(max(rows_read), 0) AS n "
            "FROM source_cursors WHERE model_id = ? AND kind = ? AND source = ?",
            [model.id, kind, source.key],
        )
        lk.execute(
            "DELETE FROM source_cursors WHERE model_id = ? AND kind = ? AND source = ?",
            [model.id, kind, source.key],
        )
        lk.execute(
            "INSERT INTO source_cursors SELECT ?, ?, ?, ?, ?, ?, ?, n + ?, now() FROM __dg_cursor",
            [
                model.id,
                kind,
                source.key,
                source.cursor,
                cursor_kind,
                upper_text,
                outcome.batch_id,
                outcome.rows_read,
            ],
        )
        lk.execute("DROP TABLE temp.__dg_cursor")

    outcome = ingest_staged(
        lake,
        model,
        kind,
        settings,
        source_columns=staged,
        path=identity,
        size=None,
        checksum=checksum,
        source_key=source.key,
        actor=actor,
        now=now,
        guard=unchanged,
        on_commit=move_cursor,
    )
    log.info("table source %s: batch of %d rows up to %s", source.key, n_rows, upper_text)
    if outcome.status == "skipped" and outcome.message.startswith("another ingester"):
        return outcome  # the loop reads on from the new position
    if outcome.status == "skipped" and stored_position(lake, model.id, kind, source) == position:
        # in the ledger but the cursor did not move (a restored lake): move past it
        lake.transaction(lambda lk: move_cursor(lk, outcome), message=f"cursor {model.id} {kind}")
    return outcome


__all__ = [
    "MissingSourceSecret",
    "SourceUnavailable",
    "batch_id_for",
    "connection_string",
    "cursor_type",
    "ingest_table",
    "stored_position",
]
