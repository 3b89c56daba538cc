"""Backup and restore of an embedded lake: the SQLite catalog and the Parquet data files.

``backup(DIR)``:

1. opens the lake once to sign a fresh audit checkpoint (so the backup carries proof of the
   log it holds) and closes it;
2. copies the catalog with SQLite's online backup API in a child process
   (:mod:`driftguard.backup_sqlite`): one consistent state even while flows keep committing;
3. copies the data folder, then checks that every file the copied catalog references is in
   the backup (files written after step 2 are extra and harmless; a referenced file that is
   missing fails the backup);
4. writes ``manifest.json``: format, time, snapshot id, schema version, the checkpoint line,
   and the size and SHA-256 of every file, so a restore can prove the copy is intact.

``restore(DIR)`` checks every checksum, refuses to overwrite an existing lake unless asked
(the old one is then moved aside, never deleted), copies the catalog back through the child
process and the data files into the data path. The restored catalog records the configured
data path, so a backup can be restored into another home or onto another machine.
Afterwards ``driftguard audit verify --checkpoint <the manifest's checkpoint>`` proves the
restored audit log is the one backed up.

Backups and retention's file clean-up must not overlap (clean-up deletes files an older catalog
copy may reference), so both take the lake's maintenance lock (a file lock in the home).

A PostgreSQL catalog or object-storage data path is refused: use ``pg_dump``/``pg_restore``
and the object store's own versioning or replication for those.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from driftguard.config import LakeConfig, Settings
from driftguard.errors import ConfigError, DataError, DriftGuardError
from driftguard.store import Lake, LakeLocation

FORMAT = "driftguard-backup/1"
MANIFEST = "manifest.json"
CATALOG = "catalog.sqlite"
DATA = "lake"
LOCK = ".maintenance.lock"


class BackupUnsupported(ConfigError):
    """The lake's catalog or storage cannot be backed up by this command."""


class BackupFailed(DriftGuardError):
    """The backup could not be made completely (nothing usable was left behind)."""


class BackupCorrupt(DataError):
    """A backup's files do not match its manifest."""


class RestoreRefused(ConfigError):
    """Restoring would overwrite an existing lake without --force."""


@contextmanager
def maintenance_lock(home: Path) -> Iterator[None]:
    """Exclusive lock for backup, restore and file clean-up (one process at a time)."""
    home.mkdir(parents=True, exist_ok=True)
    with open(home / LOCK, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@dataclass(frozen=True)
class BackupInfo:
    """What a backup holds (the manifest without its file list)."""

    path: Path
    created_at: str
    snapshot_id: int | None
    schema_version: int
    files: int
    bytes: int
    checkpoint: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _embedded(location: LakeLocation) -> tuple[Path, Path]:
    if not location.is_embedded:
        raise BackupUnsupported(
            f"{location.describe()}: only an embedded SQLite catalog can be backed up here. "
            "Back up a PostgreSQL catalog with pg_dump (and restore with pg_restore)."
        )
    if "://" in location.data_path:
        raise BackupUnsupported(
            f"data files live in {location.data_path}: use the object store's versioning or "
            "replication; this command copies local folders only."
        )
    return Path(location.catalog.removeprefix("sqlite:")), Path(location.data_path)


def _child(*args: str) -> dict[str, Any]:
    run = subprocess.run(
        [sys.executable, "-m", "driftguard.backup_sqlite", *args],
        capture_output=True,
        text=True,
        timeout=3600,
    )
    if run.returncode != 0:
        raise BackupFailed(f"catalog copy failed: {run.stderr.strip() or run.stdout.strip()}")
    return json.loads(run.stdout)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _listing(root: Path) -> list[dict[str, Any]]:
    return [
        {"path": str(p.relative_to(root)), "size": p.stat().st_size, "sha256": _sha256(p)}
        for p in sorted(root.rglob("*"))
        if p.is_file()
    ]


def backup(
    settings: Settings,
    lake_config: LakeConfig | None,
    target: Path,
    *,
    checkpoint: bool = True,
) -> BackupInfo:
    """Back the lake up into ``target`` (a new or empty folder)."""
    location = LakeLocation.resolve(settings, lake_config)
    catalog, data = _embedded(location)
    target = target.resolve()
    if target.exists() and any(target.iterdir()):
        raise ConfigError(f"{target} is not empty; back up into a new folder")
    checkpoint_text = None
    with Lake.open(settings, lake_config) as lake:
        from driftguard import audit
        from driftguard.schema import current_version

        if checkpoint:
            checkpoint_text = audit.write_checkpoint(lake, note="backup").to_text()
        schema_version = current_version(lake)
    staging = target.with_name(f".{target.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        with maintenance_lock(settings.home.resolve()):
            copied = _child("copy", str(catalog), str(staging / CATALOG))
            if data.exists():
                shutil.copytree(data, staging / DATA)
            else:
                (staging / DATA).mkdir()
        missing = [
            f["path"]
            for f in copied["files"]
            if f["relative"] and not (staging / DATA / f["path"]).exists()
        ]
        if missing:
            raise BackupFailed(
                f"{len(missing)} data file(s) the catalog references are missing from "
                f"{data} (first: {missing[0]}); the lake is damaged or a clean-up ran. "
                "Nothing was backed up."
            )
        files = [
            {
                "path": CATALOG,
                "size": (staging / CATALOG).stat().st_size,
                "sha256": _sha256(staging / CATALOG),
            }
        ]
        files += [{**f, "path": f"{DATA}/{f['path']}"} for f in _listing(staging / DATA)]
        manifest = {
            "format": FORMAT,
            "created_at": datetime.now(UTC).isoformat(),
            "snapshot_id": copied["snapshot_id"],
            "schema_version": schema_version,
            "checkpoint": checkpoint_text,
            "source": {"catalog": str(catalog), "data_path": str(data)},
            "files": files,
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        if target.exists():
            target.rmdir()
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return _info(target, manifest)


def _info(path: Path, manifest: dict[str, Any]) -> BackupInfo:
    return BackupInfo(
        path=path,
        created_at=manifest["created_at"],
        snapshot_id=manifest["snapshot_id"],
        schema_version=manifest["schema_version"],
        files=len(manifest["files"]),
        bytes=sum(f["size"] for f in manifest["files"]),
        checkpoint=manifest.get("checkpoint"),
    )


def read_manifest(source: Path) -> dict[str, Any]:
    path = source / MANIFEST
    if not path.exists():
        raise BackupCorrupt(f"{source} holds no {MANIFEST}: not a DriftGuard backup")
    manifest = json.loads(path.read_text(encoding="utf-8"))
    if manifest.get("format") != FORMAT:
        raise BackupCorrupt(f"{path}: format {manifest.get('format')!r}, expected {FORMAT}")
    return manifest


def check_backup(source: Path) -> BackupInfo:
    """Verify every file of a backup against its manifest (size and SHA-256)."""
    source = source.resolve()
    manifest = read_manifest(source)
    for entry in manifest["files"]:
        path = source / entry["path"]
        if not path.is_file():
            raise BackupCorrupt(f"{entry['path']} is listed in the manifest but missing")
        if path.stat().st_size != entry["size"] or _sha256(path) != entry["sha256"]:
            raise BackupCorrupt(f"{entry['path']} does not match its checksum in the manifest")
    return _info(source, manifest)


def restore(
    settings: Settings,
    lake_config: LakeConfig | None,
    source: Path,
    *,
    force: bool = False,
) -> tuple[BackupInfo, Path | None]:
    """Restore a backup into the configured lake location.

    Returns the backup's info and, with ``force``, where the replaced lake was moved.
    """
    info = check_backup(source)
    source = source.resolve()
    location = LakeLocation.resolve(settings, lake_config)
    catalog, data = _embedded(location)
    existing = catalog.exists() or (data.exists() and any(data.iterdir()))
    moved_to = None
    with maintenance_lock(settings.home.resolve()):
        if existing:
            if not force:
                raise RestoreRefused(
                    f"a lake exists at {catalog} / {data}; pass --force to move it aside "
                    "(it is kept, not deleted) and restore the backup in its place"
                )
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
            moved_to = settings.home.resolve() / f"pre-restore-{stamp}"
            moved_to.mkdir(parents=True)
            for suffix in ("", "-wal", "-shm"):
                part = Path(f"{catalog}{suffix}")
                if part.exists():
                    os.replace(part, moved_to / part.name)
            if data.exists():
                shutil.move(str(data), str(moved_to / DATA))
        _child("copy", str(source / CATALOG), str(catalog), location.data_path)
        shutil.copytree(source / DATA, data, dirs_exist_ok=True)
    return info, moved_to
