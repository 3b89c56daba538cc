"""Audit log: append rate (single and batched) and verification time for 1M entries.

Each step runs in a fresh process (wall time and peak RSS of that process). Entries are
synthetic policy/drift events of about 330 canonical bytes. Beside the verifier:

- floor: only the two SHA-256 per entry (leaf and chain) over bytes already in memory;
- naive: ``SELECT * ... ORDER BY seq`` fetched whole, then every row decoded and hashed.

Usage: python bench/audit.py [--entries 1000000] [--single 200] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import measure, print_table

BATCH = 100_000


def _drafts(start: int, count: int) -> list[dict]:
    return [
        {
            "event_type": "drift.alert" if i % 7 else "policy.changed",
            "action": "alert" if i % 7 else "update",
            "actor": f"user{i % 13}",
            "resource_type": "model",
            "resource_id": f"model-{i % 50}",
            "severity": ("info", "warning", "high", "critical")[i % 4],
            "run_id": f"r20260301T120000-model-{i % 50}-{i % 9999:04x}",
            "reason": "scheduled run" if i % 3 else None,
            "payload": {"psi": (i % 1000) / 997, "n": i, "feature": f"f{i % 16}", "ok": i % 2 == 0},
            "references": [f"run:r{i}"],
        }
        for i in range(start, start + count)
    ]


def _lake(home: str):
    from driftguard.config import Settings
    from driftguard.store import Lake

    lake = Lake.open(Settings.from_env({"DRIFTGUARD_HOME": home}))
    lake.execute("SET enable_progress_bar = false")  # it would share stdout with the result
    return lake


def run(mode: str, workdir: str, entries: str = "0") -> dict:
    """One measured step, inside a fresh process (called by bench._common.measure)."""
    from driftguard import audit

    n = int(entries)
    home = str(Path(workdir) / "home")
    if mode == "append-single":
        with _lake(str(Path(workdir) / "single")) as lake:
            started = time.perf_counter()
            for draft in _drafts(0, n):
                audit.append(lake, **draft)
            return {"entries": n, "seconds": time.perf_counter() - started}
    if mode == "append-batched":
        with _lake(home) as lake:
            started = time.perf_counter()
            for start in range(0, n, BATCH):
                audit.append_many(lake, _drafts(start, min(BATCH, n - start)))
            seconds = time.perf_counter() - started
            checkpoint = audit.write_checkpoint(lake, check=False)
        (Path(workdir) / "checkpoint.txt").write_text(checkpoint.to_text())
        return {"entries": n, "seconds": seconds}
    if mode in ("verify-hash-only", "verify-full"):
        checkpoints = audit.find_checkpoints((Path(workdir) / "checkpoint.txt").read_text())
        with _lake(home) as lake:
            started = time.perf_counter()
            result = audit.verify(lake, checkpoints=checkpoints, full=mode == "verify-full")
            seconds = time.perf_counter() - started
        assert result.ok, result.verdict()
        return {"entries": result.size, "seconds": seconds}
    if mode == "export":
        with _lake(home) as lake, open(Path(workdir) / "audit.jsonl", "w") as out:
            started = time.perf_counter()
            count = audit.export_jsonl(lake, out)
        return {"entries": count, "seconds": time.perf_counter() - started}
    if mode in ("verify-export-hash-only", "verify-export-full"):
        from driftguard.audit.export import verify_export

        checkpoints = audit.find_checkpoints((Path(workdir) / "checkpoint.txt").read_text())
        started = time.perf_counter()
        result = verify_export(
            Path(workdir) / "audit.jsonl", supplied=checkpoints, full=mode.endswith("full")
        )
        assert result.ok, result.verdict()
        return {"entries": result.size, "seconds": time.perf_counter() - started}
    if mode == "floor":
        import hashlib

        with _lake(home) as lake:
            rows = lake.fetchall("SELECT canonical FROM audit_entries ORDER BY seq")
        data = [bytes(r[0]) for r in rows]
        del rows
        sha = hashlib.sha256
        started = time.perf_counter()
        previous = b"\x00" * 32
        for seq, canonical in enumerate(data, start=1):
            leaf = sha(b"\x00" + canonical).digest()
            previous = sha(b"\x02" + seq.to_bytes(8, "big") + previous + leaf).digest()
        return {"entries": len(data), "seconds": time.perf_counter() - started}
    if mode == "naive":
        from driftguard.audit.canonical import decode_entry
        from driftguard.audit.hashing import chain_hash, genesis_hash, leaf_hash

        with _lake(home) as lake:
            started = time.perf_counter()
            log_id = audit.head(lake).log_id
            rows = lake.fetchall(
                "SELECT seq, canonical, chain_hash FROM audit_entries ORDER BY seq"
            )
            previous = genesis_hash(log_id)
            for seq, canonical, stored in rows:
                decode_entry(bytes(canonical))
                previous = chain_hash(seq, previous, leaf_hash(bytes(canonical)))
                assert previous.hex() == stored
        return {"entries": len(rows), "seconds": time.perf_counter() - started}
    raise ValueError(mode)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--single", type=int, default=200)
    parser.add_argument("--keep", help="keep the work folder here")
    args = parser.parse_args()
    work = Path(args.keep or tempfile.mkdtemp(prefix="dg-bench-audit-"))
    work.mkdir(parents=True, exist_ok=True)
    os.environ.pop("DRIFTGUARD_AUDIT_SIGNING_KEY", None)
    os.environ.pop("DRIFTGUARD_AUDIT_HMAC_KEY", None)
    steps = [
        ("append, one transaction per entry", "append-single", args.single),
        (f"append_many, {BATCH:,} per transaction", "append-batched", args.entries),
        ("floor: 2 x SHA-256 per entry in memory", "floor", args.entries),
        ("verify from the lake, hash-only", "verify-hash-only", args.entries),
        ("verify from the lake, full", "verify-full", args.entries),
        ("naive: fetch all, decode, hash", "naive", args.entries),
        ("export JSON Lines", "export", args.entries),
        ("verify-export (stdlib), hash-only", "verify-export-hash-only", args.entries),
        ("verify-export (stdlib), full", "verify-export-full", args.entries),
    ]
    table = []
    try:
        for label, mode, n in steps:
            started = time.perf_counter()
            result = measure("bench.audit", mode, str(work), str(n))
            table.append(
                [
                    label,
                    f"{result['entries']:,}",
                    f"{result['seconds']:.2f}",
                    f"{result['entries'] / result['seconds']:,.0f}",
                    f"{result['peak_mb']:.0f}",
                ]
            )
            print(f"  {label}: {time.perf_counter() - started:.1f} s", file=sys.stderr)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(f"Audit log, {args.entries:,} entries of ~330 canonical bytes, unsigned")
    print_table(["step", "entries", "seconds", "entries/s", "peak MB"], table)


if __name__ == "__main__":
    main()
