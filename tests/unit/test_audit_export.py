"""Exports: the JSON Lines format, damaged files, CSV, and the standard-library-only verifier."""

from __future__ import annotations

import csv
import io
import json
import random
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest

from driftguard.audit.export import (
    CSV_COLUMNS,
    EXPORT_FORMAT,
    ExportFile,
    UnreadableExport,
    verify_export,
    write_csv,
    write_jsonl,
)
from driftguard.audit.signing import Ed25519Signer, KeyRing
from tests.audit_tamper import make_base

ROOT = Path(__file__).resolve().parents[2]
SIGNER = Ed25519Signer.from_text("22" * 32)


def _write(path: Path, base, rows=None, checkpoints=None) -> Path:
    buffer = io.StringIO()
    header = {
        "log_id": base.log_id,
        "epoch": 1,
        "head": {"size": len(base.rows), "hash": base.state.head.hex()},
    }
    write_jsonl(
        buffer,
        header,
        base.rows if rows is None else rows,
        [(base.checkpoint, "stored")] if checkpoints is None else checkpoints,
    )
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


@pytest.fixture
def base():
    return make_base(random.Random(4), n=20, signer=SIGNER)


def test_the_export_layout(tmp_path, base):
    lines = _write(tmp_path / "a.jsonl", base).read_text(encoding="utf-8").splitlines()
    header, checkpoint, first = (json.loads(line) for line in lines[:3])
    assert header["format"] == EXPORT_FORMAT and header["log_id"] == base.log_id
    assert checkpoint["type"] == "checkpoint" and checkpoint["size"] == 20
    assert first["type"] == "entry" and first["seq"] == 1
    assert first["entry"]["seq"] == 1 and first["entry"]["payload"]["note"] is not None
    raw = lines[2].encode("utf-8")
    assert raw[raw.index(b'"entry":') + 8 : -1] == base.rows[0].canonical  # verbatim bytes
    assert len(lines) == 2 + 20


def test_an_export_verifies_and_its_signed_checkpoint_anchors_it(tmp_path, base):
    path = _write(tmp_path / "a.jsonl", base)
    result = verify_export(path, keyring=KeyRing.for_signer(SIGNER))
    assert result.ok and result.sealed_through == 20
    assert verify_export(path).status == "unanchored"  # no key: the signature proves nothing


def test_bytes_that_are_not_utf8_survive_the_export(tmp_path, base):
    rows = list(base.rows)
    rows[6] = replace(rows[6], canonical=rows[6].canonical.replace(b'"seq":7', b'"seq":7\xff'))
    path = _write(tmp_path / "a.jsonl", base, rows)
    assert "canonical_b64" in path.read_text(encoding="utf-8").splitlines()[8]
    result = verify_export(path)
    assert (result.first_bad_seq, result.kind) == (7, "modified")


def test_damaged_and_foreign_lines(tmp_path, base):
    path = _write(tmp_path / "a.jsonl", base)
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[5] = lines[5][: len(lines[5]) // 2]  # a line cut in half (entry 4)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = verify_export(path)
    assert result.status == "tampered" and result.first_bad_seq == 4
    (tmp_path / "b.jsonl").write_text("hello\n", encoding="utf-8")
    with pytest.raises(UnreadableExport, match="the first line is not JSON"):
        ExportFile.open(tmp_path / "b.jsonl")
    (tmp_path / "c.jsonl").write_text('{"format": "other"}\n', encoding="utf-8")
    with pytest.raises(UnreadableExport, match="not a driftguard-audit-export/1 file"):
        ExportFile.open(tmp_path / "c.jsonl")


def test_a_truncated_export_is_caught_by_its_header_or_checkpoint(tmp_path, base):
    path = _write(tmp_path / "a.jsonl", base)
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join(lines[:-3]) + "\n", encoding="utf-8")
    result = verify_export(path)
    assert (result.first_bad_seq, result.kind) == (18, "deleted")


def test_csv_export_decodes_the_hashed_bytes(base):
    buffer = io.StringIO()
    assert write_csv(buffer, base.log_id, base.rows) == 20
    rows = list(csv.DictReader(io.StringIO(buffer.getvalue())))
    assert tuple(rows[0]) == CSV_COLUMNS and rows[0]["seq"] == "1"
    assert rows[0]["ts"] == "2026-03-01T08:00:00+00:00"  # START in tests/audit_tamper.py
    assert json.loads(rows[0]["payload"])["count"] >= 0
    assert rows[-1]["chain_hash"] == base.rows[-1].chain_hash and rows[-1]["sealed"] == "yes"


# Runs the verifier without site-packages (-S) and with every import outside the standard
# library refused (cryptography included): `python -m driftguard.audit verify-export` needs
# nothing else.
_STDLIB_ONLY = textwrap.dedent(
    """
    import importlib.abc, runpy, sys
    sys.path.insert(0, sys.argv.pop(1))  # the source tree; -S left site-packages out
    ALLOWED = set(sys.stdlib_module_names) | {"driftguard"}
    class Refuse(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] not in ALLOWED:
                raise ImportError(f"blocked non-stdlib import: {name}")
    sys.meta_path.insert(0, Refuse())
    sys.argv = ["driftguard.audit", *sys.argv[1:]]
    try:
        runpy.run_module("driftguard.audit", run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as done:
        code = done.code
    loaded = sorted({m.split(".")[0] for m in sys.modules} - ALLOWED - {"__main__"})
    print("LOADED", loaded, "EXIT", code)
    """
)


def _run_verifier(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-I", "-S", "-c", _STDLIB_ONLY, str(ROOT), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )


def test_the_export_verifier_runs_on_the_standard_library_alone(tmp_path, base):
    path = _write(tmp_path / "a.jsonl", base)
    done = _run_verifier("verify-export", str(path), "--public-key", SIGNER.public_key.hex())
    assert "LOADED [] EXIT 0" in done.stdout, done.stdout + done.stderr
    assert done.stdout.startswith("OK: 20 entries verified")

    rows = list(base.rows)
    del rows[9]
    bad = _write(tmp_path / "b.jsonl", base, rows)
    done = _run_verifier("verify-export", str(bad), "--json")
    report = json.loads(done.stdout[: done.stdout.rindex("LOADED")])
    assert (report["status"], report["first_bad_seq"], report["kind"]) == (
        "tampered",
        10,
        "deleted",
    )
    assert "EXIT 1" in done.stdout


def test_the_export_verifier_exit_codes(tmp_path, base):
    path = _write(tmp_path / "a.jsonl", base, checkpoints=[])
    assert "EXIT 1" in _run_verifier("verify-export", str(path)).stdout  # unanchored
    assert "EXIT 0" in _run_verifier("verify-export", str(path), "--allow-unanchored").stdout
    checkpoint = tmp_path / "report.html"
    checkpoint.write_text(f"<pre>{base.checkpoint.to_text()}</pre>", encoding="utf-8")
    assert (
        "EXIT 0"
        in _run_verifier("verify-export", str(path), "--checkpoint", str(checkpoint)).stdout
    )
    done = _run_verifier("verify-export", str(tmp_path / "missing.jsonl"))
    assert "EXIT 2" in done.stdout and "error:" in done.stderr
