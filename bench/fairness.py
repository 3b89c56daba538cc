"""Fairness at scale: two protected attributes and their intersection, 1M and 10M rows.

Compares, each in a fresh process (wall time and peak RSS):
- floor: DuckDB counting the intersection's groups once (one GROUP BY reading the same
  columns: decision, label, both attributes);
- driftguard: ``fairness_of_file`` (one GROUPING SETS scan for sex, age_band and sex × age_band,
  then rates, Wilson intervals and group metrics);
- pandas: read the file, then a groupby per attribute set computing the same counts;
- fairlearn: ``MetricFrame`` per attribute set (only up to ``--fairlearn-max-rows``).
Usage: python bench/fairness.py [--rows 1000000 10000000] [--fairlearn-max-rows 1000000]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import measure, print_table

ROWS_PER_FILE = 1_000_000
SETS = (("sex",), ("age_band",), ("sex", "age_band"))


def make_file(folder: Path, rows: int) -> Path:
    """Seeded synthetic decisions with a disparity, written by DuckDB as Parquet files."""
    import duckdb

    folder.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute("SELECT setseed(0.42)")
    for start in range(0, rows, ROWS_PER_FILE):
        n = min(ROWS_PER_FILE, rows - start)
        path = folder / f"part-{start // ROWS_PER_FILE:04d}.parquet"
        con.execute(
            f"""COPY (
                SELECT sex, age_band,
                    CAST(random() < CASE WHEN sex = 'female' THEN 0.45 ELSE 0.55 END AS INTEGER)
                        AS pred,
                    CAST(random() < 0.5 AS INTEGER) AS label
                FROM (SELECT CASE WHEN random() < 0.5 THEN 'female' ELSE 'male' END AS sex,
                             CASE WHEN random() < 0.2 THEN '18-24'
                                  WHEN random() < 0.8 THEN '25-54' ELSE '55+' END AS age_band
                      FROM range({n}))
            ) TO '{path}' (FORMAT parquet)"""
        )
    return folder


def run(mode: str, folder: str) -> dict:
    """One measured step, inside a fresh process (called by bench._common.measure)."""
    # libraries are imported before the clock starts: the step measures the computation
    import duckdb
    import pandas as pd

    from driftguard.metrics.fairness import fairness_of_file

    pattern = f"{folder}/*.parquet"
    started = time.perf_counter()
    if mode == "floor":
        con = duckdb.connect()
        rows = con.execute(
            f"SELECT sex, age_band, count(*), sum(pred), sum(label), sum(pred * label) "
            f"FROM read_parquet('{pattern}') GROUP BY sex, age_band"
        ).fetchall()
        n = sum(r[2] for r in rows)
    elif mode == "driftguard":
        result = fairness_of_file(
            Path(pattern), prediction="pred", label="label", protected=["sex", "age_band"]
        )
        n = result.rows
        assert set(result.attributes) == {"sex", "age_band", "sex × age_band"}
    elif mode == "pandas":
        frame = pd.read_parquet(folder)
        frame["tp"] = frame["pred"] & frame["label"]
        frame["fp"] = frame["pred"] & (1 - frame["label"])
        frame["fn"] = (1 - frame["pred"]) & frame["label"]
        for combo in SETS:
            counts = frame.groupby(list(combo))[["pred", "label", "tp", "fp", "fn"]].agg(
                ["sum", "count"]
            )
            selection = counts[("pred", "sum")] / counts[("pred", "count")]
            tpr = counts[("tp", "sum")] / (counts[("tp", "sum")] + counts[("fn", "sum")])
            _ = selection.max() - selection.min(), tpr.min() / tpr.max()
        n = len(frame)
    elif mode == "fairlearn":
        from fairlearn.metrics import (
            MetricFrame,
            false_positive_rate,
            selection_rate,
            true_positive_rate,
        )

        started = time.perf_counter()
        frame = pd.read_parquet(folder)
        for combo in SETS:
            mf = MetricFrame(
                metrics={
                    "selection_rate": selection_rate,
                    "tpr": true_positive_rate,
                    "fpr": false_positive_rate,
                },
                y_true=frame["label"],
                y_pred=frame["pred"],
                sensitive_features=frame[list(combo)],
            )
            _ = mf.difference(), mf.ratio()
        n = len(frame)
    else:
        raise ValueError(mode)
    return {"rows": n, "seconds": time.perf_counter() - started}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--fairlearn-max-rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="Runs per step; the median counts.")
    args = parser.parse_args()
    table = []
    for rows in args.rows:
        work = Path(tempfile.mkdtemp(prefix="dg-bench-fairness-"))
        try:
            folder = make_file(work / "data", rows)
            modes = ["floor", "driftguard", "pandas"]
            if rows <= args.fairlearn_max_rows:
                modes.append("fairlearn")
            results: dict[str, list[dict]] = {m: [] for m in modes}
            for attempt in range(args.repeat):  # interleaved: load changes hit every step alike
                for mode in modes:
                    if mode == "fairlearn" and attempt:
                        continue  # minutes per run: measured once
                    results[mode].append(measure("bench.fairness", mode, str(folder)))
            median = {
                m: sorted(r, key=lambda x: x["seconds"])[len(r) // 2] for m, r in results.items()
            }
            floor = median["floor"]["seconds"]
            names = {
                "floor": "DuckDB counting the groups once (floor)",
                "driftguard": "driftguard fairness_of_file (GROUPING SETS)",
                "pandas": "pandas read + groupby per attribute set",
                "fairlearn": "fairlearn MetricFrame per attribute set",
            }
            for mode in modes:
                r = median[mode]
                assert r["rows"] == rows, (mode, r["rows"])
                table.append(
                    [
                        f"{rows:,}",
                        names[mode],
                        f"{r['seconds']:.3f}",
                        f"{max(x['peak_mb'] for x in results[mode]):.0f}",
                        f"{r['seconds'] / floor:.2f}x",
                    ]
                )
        finally:
            shutil.rmtree(work, ignore_errors=True)
    print(
        "Fairness over Parquet: decision + label + 2 protected attributes (sex: 2 groups, "
        "age_band: 3) and their intersection (6 groups); median of "
        f"{args.repeat} interleaved runs (fairlearn: one), each in a fresh process; seconds of "
        "computation after imports, peak RSS of the process"
    )
    print_table(["rows", "method", "seconds", "peak MB", "vs floor"], table)


if __name__ == "__main__":
    main()
