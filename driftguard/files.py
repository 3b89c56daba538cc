"""Writing files that other processes read while we write them (the kill-switch export, the
Prometheus textfile, reports, .eml files): readers see the old file or the new one, never half."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomically(path: Path, data: str | bytes, *, mode: int = 0o644) -> Path:
    """Write ``data`` to a temporary file in the same folder, fsync, then rename over ``path``.

    ``mode`` sets the permission bits: by default 0644, as an ordinary file, so serving code,
    node_exporter or a web server running as another user can read it. Text is UTF-8.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(payload)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path
