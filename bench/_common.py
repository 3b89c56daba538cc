"""Benchmark plumbing: run a measurement in a fresh process and report wall time and peak RSS."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def measure(module: str, *args: str) -> dict:
    """Run ``python -m <module> args`` and return its JSON plus its peak resident memory.

    A fresh process per step keeps one step's memory from hiding another's peak.
    """
    code = (
        "import json, resource, runpy, sys, time;"
        f"sys.argv = [{module!r}, *{list(args)!r}];"
        "t = time.perf_counter();"
        f"result = runpy.run_module({module!r}, run_name='__bench__')['run'](*sys.argv[1:]);"
        "result['seconds'] = result.get('seconds', time.perf_counter() - t);"
        "result['peak_mb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024;"
        "print('@@' + json.dumps(result))"
    )
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    line = next(line for line in out.splitlines() if line.startswith("@@"))
    result = json.loads(line[2:])
    result["process_seconds"] = time.perf_counter() - started
    return result


def print_table(headers: list[str], rows: list[list]) -> None:
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(headers)]
    line = " | ".join(str(h).ljust(w) for h, w in zip(headers, widths, strict=True))
    print(line)
    print("-|-".join("-" * w for w in widths))
    for row in rows:
        print(" | ".join(str(v).rjust(w) for v, w in zip(row, widths, strict=True)))
