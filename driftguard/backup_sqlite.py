"""Consistent copies of a SQLite catalog, run as a child process (``python -m``).

Why a child process: Python's ``sqlite3`` is a second copy of SQLite. Inside a process where
DuckDB holds the same catalog file open, closing ``sqlite3``'s descriptor would drop the POSIX
locks DuckDB's copy holds (see ``_prepare_sqlite_catalog`` in :mod:`driftguard.store`). Here the
only SQLite in the process is this one. SQLite's online backup API copies the database page by
page under a read transaction, so the copy is one consistent state even while other processes
commit (WAL mode lets them go on writing).

Usage (prints JSON on stdout)::

    python -m driftguard.backup_sqlite copy SRC DST [DATA_PATH]
                                                  # -> {"files": [...], "snapshot_id": n}
    python -m driftguard.backup_sqlite files CATALOG    # data files the catalog references

``files`` are the paths of every data and delete file any kept snapshot references, relative
to the lake's data path (absolute ones are listed as they are). This module imports only the
standard library.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import sys
from pathlib import Path

_FILES = """
SELECT CASE WHEN f.path_is_relative THEN
            (CASE WHEN t.path_is_relative THEN
                (CASE WHEN s.path_is_relative THEN s.path ELSE '' END) || t.path
             ELSE t.path END) || f.path
       ELSE f.path END AS path, f.path_is_relative AND t.path_is_relative AND s.path_is_relative
FROM {table} f
JOIN (SELECT DISTINCT table_id, schema_id, path, path_is_relative FROM ducklake_table) t
  USING (table_id)
JOIN (SELECT DISTINCT schema_id, path, path_is_relative FROM ducklake_schema) s
  USING (schema_id)
"""


def referenced_files(db: sqlite3.Connection) -> list[dict[str, object]]:
    """Every data and delete file of the catalog, with whether it is relative to data_path."""
    found: dict[str, bool] = {}
    for table in ("ducklake_data_file", "ducklake_delete_file"):
        for path, relative in db.execute(_FILES.format(table=table)):
            found[str(path)] = bool(relative)
    return [{"path": p, "relative": r} for p, r in sorted(found.items())]


def snapshot_id(db: sqlite3.Connection) -> int | None:
    row = db.execute("SELECT max(snapshot_id) FROM ducklake_snapshot").fetchone()
    return int(row[0]) if row and row[0] is not None else None


def copy(source: Path, target: Path, data_path: str | None = None) -> dict[str, object]:
    """Back ``source`` up into ``target`` (which must not exist) with the online backup API.

    With ``data_path`` the copy records that folder as the lake's data path (a restore into
    another home: DuckLake refuses to attach a catalog whose recorded data path differs; the
    data files' own paths are relative to it, so they follow).
    """
    if target.exists():
        raise FileExistsError(f"{target} exists")
    target.parent.mkdir(parents=True, exist_ok=True)
    with (
        contextlib.closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as src,
        contextlib.closing(sqlite3.connect(target)) as dst,
    ):
        src.backup(dst)
        if data_path is not None:
            with dst:
                dst.execute(
                    "UPDATE ducklake_metadata SET value = ? WHERE key = 'data_path'", [data_path]
                )
        # the copy keeps WAL mode, so concurrent flow runs keep working on a restored catalog
        dst.execute("PRAGMA journal_mode=WAL")
        return {"files": referenced_files(dst), "snapshot_id": snapshot_id(dst)}


def main(argv: list[str]) -> int:
    if len(argv) in (3, 4) and argv[0] == "copy":
        data_path = argv[3] if len(argv) == 4 else None
        print(json.dumps(copy(Path(argv[1]), Path(argv[2]), data_path)))
        return 0
    if len(argv) == 2 and argv[0] == "files":
        with contextlib.closing(sqlite3.connect(f"file:{argv[1]}?mode=ro", uri=True)) as db:
            print(json.dumps({"files": referenced_files(db), "snapshot_id": snapshot_id(db)}))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
