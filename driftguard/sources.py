"""Prediction-log and label sources: files or globs (a landing folder) in Parquet, CSV, JSON lines.

A source file is read into a DuckDB temporary table exactly as it is: CSV as text and JSON
lines field by field as text, so that a bad value becomes a quarantined row with a reason
instead of a failed read. Files still being written are skipped: names starting with ``.``
or ending in ``.tmp``/``.part`` (the prediction logger writes under such names and renames).
"""

from __future__ import annotations

import glob
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import duckdb

from driftguard.config import FileSource, Settings
from driftguard.errors import ConfigError, DataError
from driftguard.sql import quote_ident

FileFormat = Literal["parquet", "csv", "jsonl"]
_EXTENSIONS: dict[str, FileFormat] = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}
_IN_PROGRESS_SUFFIXES = (".tmp", ".part", ".partial")
ROW_NUMBER = "__dg_row"


class UnreadableSource(DataError):
    """A source file could not be read at all (corrupt, wrong format, vanished)."""


@dataclass(frozen=True)
class SourceFile:
    path: Path
    format: FileFormat
    size: int

    def sha256(self) -> str:
        """Checksum of the file's bytes: re-ingesting the same bytes is a no-op."""
        digest = hashlib.sha256()
        with self.path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        return digest.hexdigest()


def detect_format(path: Path, declared: str = "auto") -> FileFormat:
    if declared != "auto":
        return declared  # type: ignore[return-value]
    suffixes = [s.lower() for s in path.suffixes]
    for suffix in reversed(suffixes):
        if suffix in _EXTENSIONS:
            return _EXTENSIONS[suffix]
    raise ConfigError(
        f"Cannot tell the format of {path} from its extension; set `format:` on the source "
        "(parquet, csv or jsonl)."
    )


def discover(source: FileSource, settings: Settings, base: Path | None = None) -> list[SourceFile]:
    """Complete files matching a source, sorted by path so batches apply in a stable order."""
    pattern = settings.expand(source.path, base=base)
    paths = sorted(set(glob.glob(pattern, recursive=True)))
    files = []
    for raw in paths:
        path = Path(raw)
        if not path.is_file():
            continue
        if path.name.startswith(".") or path.name.endswith(_IN_PROGRESS_SUFFIXES):
            continue
        if any(part.startswith(".") for part in path.relative_to(path.anchor).parts[:-1][-3:]):
            continue  # inside a hidden staging folder such as .tmp-simulation
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            continue
        files.append(SourceFile(path=path, format=detect_format(path, source.format), size=size))
    return files


def stage(con: duckdb.DuckDBPyConnection, file: SourceFile, table: str) -> dict[str, str]:
    """Load ``file`` into TEMP table ``table`` with a 1-based ``__dg_row``; return its columns.

    Returns source column name -> DuckDB type (without the row number).
    """
    target = quote_ident(table)
    path = str(file.path)
    try:
        if file.format == "parquet":
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE {target} AS SELECT *, "
                f"file_row_number + 1 AS {ROW_NUMBER} FROM read_parquet(?, file_row_number=true)",
                [path],
            )
        elif file.format == "csv":
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE {target} AS SELECT *, "
                f"row_number() OVER () AS {ROW_NUMBER} "
                "FROM read_csv(?, all_varchar=true, header=true, auto_detect=true)",
                [path],
            )
        else:
            _stage_jsonl(con, path, target)
    except duckdb.Error as error:
        raise UnreadableSource(f"Cannot read {path} as {file.format}: {error}") from error
    rows = con.execute(
        "SELECT column_name, data_type FROM duckdb_columns() "
        "WHERE database_name = 'temp' AND table_name = ? ORDER BY column_index",
        [table],
    ).fetchall()
    columns = {name: dtype for name, dtype in rows if name != ROW_NUMBER}
    if file.format == "parquet":
        columns.pop("file_row_number", None)
    return columns


def _stage_jsonl(con: duckdb.DuckDBPyConnection, path: str, target: str) -> None:
    """Each JSON object's fields as text; a line that is not an object becomes an error."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE __dg_json AS SELECT json, "
        f"row_number() OVER () AS {ROW_NUMBER} "
        "FROM read_ndjson_objects(?)",
        [path],
    )
    bad = con.execute(
        f"SELECT min({ROW_NUMBER}) FROM __dg_json WHERE json_type(json) <> 'OBJECT'"
    ).fetchone()
    if bad and bad[0] is not None:
        raise UnreadableSource(f"line {bad[0]} of {path} is not a JSON object")
    keys = [
        row[0]
        for row in con.execute(
            "SELECT DISTINCT unnest(json_keys(json)) AS k FROM __dg_json ORDER BY k"
        ).fetchall()
    ]
    selects = ", ".join(f"json_extract_string(json, ?) AS {quote_ident(key)}" for key in keys)
    params = ["$." + '"' + key.replace('"', '\\"') + '"' for key in keys]
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {target} AS SELECT "
        f"{selects + ', ' if selects else ''}{ROW_NUMBER} FROM __dg_json",
        params,
    )
    con.execute("DROP TABLE __dg_json")


def file_identity(file: SourceFile) -> str:
    """The path recorded in the ledger (absolute, so two configs naming one file agree)."""
    return os.path.abspath(file.path)
