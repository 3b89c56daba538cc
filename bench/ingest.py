"""Ingestion throughput: rows/second and peak memory for 1M and 10M rows from Parquet.

Beside it, the floor: DuckDB merely reading the same files' columns once. Each step runs in a
fresh process. Usage: python bench/ingest.py [--rows 1000000 10000000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import measure, print_table

ROWS_PER_FILE = 1_000_000
FEATURES_NUMERIC = 12
FEATURES_CATEGORICAL = 4


def config_text(landing: str) -> str:
    numeric = "\n".join(f"      n{i}: numeric" for i in range(FEATURES_NUMERIC))
    categorical = "\n".join(f"      c{i}: categorical" for i in range(FEATURES_CATEGORICAL))
    return f"""models:
  - id: bench
    owner: bench
    purpose: throughput benchmark
    columns: {{prediction_id: prediction_id, timestamp: ts, score: score}}
    features:
{numeric}
{categorical}
    protected_attributes: [sex, age_band]
    sources:
      predictions: [{{path: "{landing}/*.parquet"}}]
"""


def make_files(folder: Path, rows: int) -> list[str]:
    """Synthetic logs written by DuckDB (fast, seeded, no pandas)."""
    import duckdb

    folder.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute("SELECT setseed(0.42)")
    numeric = ", ".join(f"random() * 100 + {i} AS n{i}" for i in range(FEATURES_NUMERIC))
    categorical = ", ".join(
        f"'cat' || CAST(floor(random() * 8) AS INTEGER) AS c{i}"
        for i in range(FEATURES_CATEGORICAL)
    )
    files = []
    for start in range(0, rows, ROWS_PER_FILE):
        n = min(ROWS_PER_FILE, rows - start)
        path = folder / f"part-{start // ROWS_PER_FILE:04d}.parquet"
        con.execute(
            f"""COPY (SELECT 'id-' || (range + {start}) AS prediction_id,
                TIMESTAMPTZ '2026-01-01 00:00:00+00' + INTERVAL 1 SECOND * (range + {start}) AS ts,
                random() AS score, {numeric}, {categorical},
                CASE WHEN random() < 0.5 THEN 'female' ELSE 'male' END AS sex,
                CASE WHEN random() < 0.3 THEN '18-24' ELSE '25+' END AS age_band
            FROM range({n})) TO '{path}' (FORMAT parquet)"""
        )
        files.append(str(path))
    return files


def run(mode: str, workdir: str) -> dict:
    """One measured step, inside a fresh process (called by bench._common.measure)."""
    import time

    work = Path(workdir)
    if mode == "floor":
        import duckdb

        started = time.perf_counter()
        con = duckdb.connect()
        cols = ", ".join(
            ["count(prediction_id)", "min(ts)", "sum(score)"]
            + [f"sum(n{i})" for i in range(FEATURES_NUMERIC)]
            + [f"count(c{i})" for i in range(FEATURES_CATEGORICAL)]
            + ["count(sex)", "count(age_band)"]
        )
        (n, *_) = con.execute(
            f"SELECT {cols} FROM read_parquet('{work}/landing/*.parquet')"
        ).fetchone()
        return {"rows": n, "seconds": time.perf_counter() - started}
    os.environ["DRIFTGUARD_HOME"] = str(work / "home")
    from driftguard.ingest import ingest_model
    from driftguard.workspace import Workspace

    ws = Workspace.load(work / "driftguard.yaml")
    with ws.open_lake() as lake:
        started = time.perf_counter()
        report = ingest_model(lake, ws.config.model("bench"), ws.settings, base=ws.base)
        seconds = time.perf_counter() - started
    return {"rows": report.rows_accepted, "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    args = parser.parse_args()
    table = []
    for rows in args.rows:
        work = Path(tempfile.mkdtemp(prefix="dg-bench-ingest-"))
        try:
            make_files(work / "landing", rows)
            (work / "driftguard.yaml").write_text(config_text(str(work / "landing")))
            floor = measure("bench.ingest", "floor", str(work))
            ingest = measure("bench.ingest", "ingest", str(work))
            for name, result in (("DuckDB read (floor)", floor), ("driftguard ingest", ingest)):
                table.append(
                    [
                        f"{rows:,}",
                        name,
                        f"{result['seconds']:.2f}",
                        f"{result['rows'] / result['seconds']:,.0f}",
                        f"{result['peak_mb']:.0f}",
                        f"{result['seconds'] / floor['seconds']:.1f}x",
                    ]
                )
        finally:
            shutil.rmtree(work, ignore_errors=True)
    print(
        f"Ingestion from Parquet: {FEATURES_NUMERIC} numeric + {FEATURES_CATEGORICAL} "
        f"categorical features, 2 protected attributes, {ROWS_PER_FILE:,} rows per file"
    )
    print_table(["rows", "method", "seconds", "rows/s", "peak MB", "vs floor"], table)


if __name__ == "__main__":
    main()
