"""Drift at scale: 12 numeric + 4 categorical features (and the score) at 1M and 10M rows.

Half the rows are the reference window, half the current window (three features shifted).
Each step runs in a fresh process (wall time of the work, peak RSS of the process):

- floor: DuckDB reading the same columns of the lake table once (both windows), and the
  current window alone;
- driftguard, default settings (PSI for large references): a monitoring run with the drift
  stage (row counts, drift, one transaction storing the results), first when the reference
  profile must be built, then a later run that reuses it; and the drift computation alone;
- driftguard with exact KS for every numeric feature (agrees with scipy), the same two runs;
- baseline: pandas/pyarrow loads both windows from the same Parquet data, numpy PSI on
  reference deciles, scipy.stats.ks_2samp per numeric feature, chi-square per categorical.

Usage: python bench/drift.py [--rows 1000000 10000000] [--repeat 1]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import measure, print_table

NUMERIC = [f"n{i}" for i in range(12)]
CATEGORICAL = [f"c{i}" for i in range(4)]
ROWS_PER_FILE = 1_000_000
START = datetime(2026, 1, 1, tzinfo=UTC)


def windows(rows: int) -> tuple[tuple[datetime, datetime], tuple[datetime, datetime]]:
    """(reference, current): the first and the second half of the rows (one per second)."""
    mid = START + timedelta(seconds=rows // 2)
    return (START, mid), (mid, START + timedelta(seconds=rows))


def config_text(rows: int, method: str | None) -> str:
    (ref_start, ref_end), _ = windows(rows)
    numeric = "\n".join(f"      {n}: numeric" for n in NUMERIC)
    categorical = "\n".join(f"      {c}: categorical" for c in CATEGORICAL)
    drift = f"\n    drift: {{numeric_method: {method}}}" if method else ""
    return f"""models:
  - id: bench
    owner: bench
    purpose: drift benchmark
    columns: {{prediction_id: prediction_id, timestamp: ts, score: score}}
    features:
{numeric}
{categorical}
    reference: {{start: "{ref_start.isoformat()}", end: "{ref_end.isoformat()}"}}{drift}
"""


def make_data(work: Path, rows: int) -> None:
    """Seeded Parquet files (the baseline reads them) loaded into a fresh lake (untimed)."""
    import duckdb

    folder = work / "data"
    folder.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute("SELECT setseed(0.42)")
    half = rows // 2
    # the current half: n0 shifted by 0.3 sd, n1 by 1 sd, c0 gains a category
    numeric = ", ".join(
        f"(random() + random() + random()) * 30 + {i}"
        + (f" + CASE WHEN r >= {half} THEN {shift} ELSE 0 END" if shift else "")
        + f" AS n{i}"
        for i, shift in enumerate([5.0, 15.0] + [0.0] * 10)
    )
    moved = f" + CASE WHEN r >= {half} THEN 1 ELSE 0 END"
    categorical = ", ".join(
        f"'cat' || CAST(floor(random() * 8{moved if i == 0 else ''}) AS INTEGER) AS c{i}"
        for i in range(len(CATEGORICAL))
    )
    for start in range(0, rows, ROWS_PER_FILE):
        n = min(ROWS_PER_FILE, rows - start)
        path = folder / f"part-{start // ROWS_PER_FILE:04d}.parquet"
        con.execute(
            f"""COPY (SELECT 'id-' || r AS prediction_id,
                TIMESTAMPTZ '2026-01-01 00:00:00+00' + INTERVAL 1 SECOND * r AS ts,
                random() AS score, {numeric}, {categorical}
            FROM (SELECT range + {start} AS r FROM range({n}))) TO '{path}' (FORMAT parquet)"""
        )
    con.close()
    os.environ["DRIFTGUARD_HOME"] = str(work / "home")
    from driftguard.schema import ensure_model_tables
    from driftguard.workspace import Workspace

    (work / "driftguard.yaml").write_text(config_text(rows, None))
    ws = Workspace.load(work / "driftguard.yaml")
    with ws.open_lake() as lake:
        model = ws.config.model("bench")
        ensure_model_tables(lake, model)
        cols = ", ".join(["prediction_id", "ts", "score", *NUMERIC, *CATEGORICAL])
        lake.transaction(
            lambda lk: lk.execute(
                f"INSERT INTO predictions__bench ({cols}) SELECT {cols} "
                f"FROM read_parquet('{folder}/*.parquet')"
            )
        )


def run(mode: str, workdir: str, rows: str) -> dict:
    """One measured step in a fresh process (called through bench._common.measure)."""
    work, n = Path(workdir), int(rows)
    reference, current = windows(n)
    os.environ["DRIFTGUARD_HOME"] = str(work / "home")
    if mode == "baseline":
        return _baseline(work / "data", reference, current)
    from driftguard.config import Window
    from driftguard.workspace import Workspace

    method = {"exact-first": "ks", "exact-reused": "ks"}.get(mode)
    config = work / f"driftguard-{method or 'default'}.yaml"
    config.write_text(config_text(n, method))
    ws = Workspace.load(config)
    with ws.open_lake() as lake:
        if mode.startswith("floor"):
            where = "" if mode == "floor" else "WHERE ts >= ? AND ts < ?"
            params = [] if mode == "floor" else list(current)
            cols = ", ".join(
                ["count(*)", "sum(score)"]
                + [f"sum({c})" for c in NUMERIC]
                + [f"count({c})" for c in CATEGORICAL]
            )
            started = time.perf_counter()
            lake.fetchone(f"SELECT {cols} FROM predictions__bench {where}", params)
            return {"seconds": time.perf_counter() - started}
        from driftguard.drift import DriftStage, compute_drift
        from driftguard.monitor import run_monitoring

        if mode == "compute-reused":  # the drift computation alone, without the run around it
            model = ws.config.model("bench")
            ref_window = Window(start=reference[0], end=reference[1])
            (n_reference,) = lake.fetchone(
                "SELECT count(*) FROM predictions__bench WHERE ts >= ? AND ts < ?", list(reference)
            )
            started = time.perf_counter()
            outcome = compute_drift(
                lake,
                model,
                Window(start=current[0], end=current[1]),
                ref_window,
                current[1],
                n_reference=n_reference,
            )
            seconds = time.perf_counter() - started
            assert outcome.report is not None and outcome.report.profile_reused
            return {"seconds": seconds, "drifted": sorted(f.column for f in outcome.report.drifted)}
        if mode.endswith("first"):
            lake.transaction(lambda lk: [lk.execute(f"DELETE FROM {t}") for t in _PROFILE_TABLES])
        started = time.perf_counter()
        result = run_monitoring(
            lake,
            ws.config,
            "bench",
            ws.settings,
            current=Window(start=current[0], end=current[1]),
            force=True,
            stages=[DriftStage()],
        )
        seconds = time.perf_counter() - started
        report = result.results["drift"].report
        assert report.profile_reused == mode.endswith("reused"), mode
        return {
            "seconds": seconds,
            "drifted": sorted(f.column for f in report.drifted),
            "methods": sorted({f.method for f in report.features}),
        }


_PROFILE_TABLES = (
    "drift_profiles",
    "drift_profile_columns",
    "drift_profile_values",
    "drift_profile_value_sets",
    "drift_profile_chunk_values",
)


def _baseline(folder: Path, reference: tuple, current: tuple) -> dict:
    """The plain way: load both windows with pandas/pyarrow, then numpy and scipy."""
    import numpy as np
    import pandas as pd
    from scipy import stats

    started = time.perf_counter()
    columns = ["score", *NUMERIC, *CATEGORICAL]

    def load(window: tuple) -> pd.DataFrame:
        return pd.read_parquet(
            folder,
            columns=columns,
            filters=[("ts", ">=", window[0]), ("ts", "<", window[1])],
        )

    ref, cur = load(reference), load(current)
    drifted = []
    for name in ["score", *NUMERIC]:
        r = ref[name].to_numpy()
        c = cur[name].to_numpy()
        edges = np.unique(np.quantile(r, np.arange(1, 10) / 10))
        rc = np.bincount(np.searchsorted(edges, r), minlength=edges.size + 1) / r.size
        cc = np.bincount(np.searchsorted(edges, c), minlength=edges.size + 1) / c.size
        rc, cc = np.where(rc == 0, 1e-4, rc), np.where(cc == 0, 1e-4, cc)
        psi = float(np.sum((cc - rc) * np.log(cc / rc)))
        ks = stats.ks_2samp(r, c)
        if psi >= 0.1 or ks.pvalue < 0.05:
            drifted.append(name)
    for name in CATEGORICAL:
        rv = ref[name].value_counts()
        cv = cur[name].value_counts().reindex(rv.index.union(cur[name].unique()), fill_value=0)
        rv = rv.reindex(cv.index, fill_value=0)
        r = np.where(rv.to_numpy() == 0, 1e-4, rv.to_numpy() / rv.sum())
        c = np.where(cv.to_numpy() == 0, 1e-4, cv.to_numpy() / cv.sum())
        psi = float(np.sum((c - r) * np.log(c / r)))
        chi = stats.chisquare(cv.to_numpy(), r / r.sum() * cv.sum())
        if psi >= 0.1 or chi.pvalue < 0.05:
            drifted.append(name)
    return {"seconds": time.perf_counter() - started, "drifted": sorted(drifted)}


STEPS = [
    ("floor", "DuckDB reads the columns once, both windows (floor)"),
    ("floor-current", "DuckDB reads the columns once, current window"),
    ("default-first", "driftguard default (PSI): first run, builds the profile"),
    ("default-reused", "driftguard default (PSI): later run, profile reused"),
    ("compute-reused", "  of which the drift computation (profile reused)"),
    ("exact-first", "driftguard exact KS: first run, builds the profile"),
    ("exact-reused", "driftguard exact KS: later run, profile reused"),
    ("baseline", "pandas/pyarrow + numpy PSI + scipy KS + chi-square"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--repeat", type=int, default=1, help="Median of this many runs.")
    args = parser.parse_args()
    table = []
    for rows in args.rows:
        work = Path(tempfile.mkdtemp(prefix="dg-bench-drift-"))
        try:
            make_data(work, rows)
            results: dict[str, list[dict]] = {mode: [] for mode, _ in STEPS}
            for _ in range(args.repeat):  # interleaved, so load changes hit every step alike
                for mode, _ in STEPS:
                    results[mode].append(measure("bench.drift", mode, str(work), str(rows)))
            summary = {
                mode: {
                    "seconds": statistics.median(r["seconds"] for r in runs),
                    "peak_mb": statistics.median(r["peak_mb"] for r in runs),
                    "drifted": runs[0].get("drifted"),
                }
                for mode, runs in results.items()
            }
            floor = summary["floor"]["seconds"]
            baseline = summary["baseline"]["seconds"]
            for mode, label in STEPS:
                s = summary[mode]
                table.append(
                    [
                        f"{rows:,}",
                        label,
                        f"{s['seconds']:.2f}",
                        f"{s['peak_mb']:.0f}",
                        f"{s['seconds'] / floor:.1f}x",
                        f"{baseline / s['seconds']:.1f}x",
                    ]
                )
            print(f"{rows:,} rows: drifted per method:", file=sys.stderr)
            for mode, _ in STEPS:
                if summary[mode]["drifted"] is not None:
                    print(f"  {mode}: {summary[mode]['drifted']}", file=sys.stderr)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    print(
        f"Drift: {len(NUMERIC)} numeric + {len(CATEGORICAL)} categorical features + score, "
        "half reference / half current window, each step in a fresh process"
    )
    print_table(["rows", "method", "seconds", "peak MB", "vs floor", "baseline / this"], table)


if __name__ == "__main__":
    main()
