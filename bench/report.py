"""Compliance reports: render time, memory and size for models of 3 and 50 features.

Each step runs in a fresh process (seconds of the step itself after imports and opening the
lake; peak RSS of the process). The lake holds a simulated, monitored workspace per size.

- floor: attach the lake at the run's snapshot and read the run's stored result rows (drift,
  fairness groups and metrics, quality, performance, risk, policy, audit entries) once;
- gather: every section of the report from the snapshot, with narratives and the hash-only
  audit verification;
- render: ``render_run_report`` (gather, HTML with inline SVG, write, update the index);
- fleet: ``render_fleet_report`` over the model's run and a second model's run.

There is no naive baseline to beat here: a report reads stored results and never recomputes
a metric, so the floor is the reference.

Usage: python bench/report.py [--features 3 50] [--rows-per-day 2000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import measure, print_table

NOW = datetime(2026, 6, 1, 12, 30, tzinfo=UTC)
TABLES = (
    "drift_results",
    "fairness_groups",
    "fairness_metrics",
    "quality_metrics",
    "performance_metrics",
    "risk_history",
    "policy_evaluations",
    "audit_entries",
)


def _model(model_id: str, n_features: int, rows_per_day: int) -> dict:
    numeric = n_features - n_features // 5
    features = {f"num_{i:03d}": {"kind": "numeric"} for i in range(numeric)}
    features |= {f"cat_{i:03d}": {"kind": "categorical"} for i in range(n_features - numeric)}
    drifted = {name: 1.0 for name in list(features)[: max(1, n_features // 5)]}
    return {
        "id": model_id,
        "owner": "olivia",
        "purpose": "Benchmark model.",
        "features": features,
        "protected_attributes": [{"name": "sex", "groups": ["female", "male"]}],
        "sources": {
            "predictions": [{"path": f"{{home}}/landing/{model_id}/predictions/**/*.parquet"}],
            "labels": [{"path": f"{{home}}/landing/{model_id}/labels/**/*.csv"}],
        },
        "simulation": {
            "days": 14,
            "shift_days": 2,
            "rows_per_day": rows_per_day,
            "seed": 11,
            "drift": drifted,
            "disparity": {"sex": 0.8},
        },
    }


def setup(folder: Path, n_features: int, rows_per_day: int) -> dict:
    import yaml

    from driftguard.config import Settings, load_config
    from driftguard.ingest import ingest_model
    from driftguard.monitor import run_monitoring
    from driftguard.simulate import simulate_model
    from driftguard.workspace import Workspace

    folder.mkdir(parents=True, exist_ok=True)
    config_path = folder / "driftguard.yaml"
    models = [_model("bench", n_features, rows_per_day), _model("other", 3, rows_per_day)]
    config_path.write_text(yaml.safe_dump({"version": 1, "models": models}), encoding="utf-8")
    settings = Settings.from_env({}, home=folder / "home", pii_key="bench-key-0123456789")
    ws = Workspace(settings=settings, config=load_config(config_path), config_path=config_path)
    runs = []
    with ws.open_lake() as lake:
        for model in ws.config.models:
            simulate_model(model, settings, lake=lake, now=NOW)
            ingest_model(lake, model, settings)
            runs.append(run_monitoring(lake, ws.config, model.id, settings, as_of=NOW).run_id)
    info = {"config": str(config_path), "home": str(settings.home), "runs": runs}
    (folder / "runs.json").write_text(json.dumps(info), encoding="utf-8")
    return info


def run(mode: str, folder: str) -> dict:
    """One measured step, inside a fresh process (called by bench._common.measure)."""
    from driftguard.config import Settings, load_config
    from driftguard.report.render import build_model, render_fleet_report, render_run_report
    from driftguard.workspace import Workspace

    info = json.loads((Path(folder) / "runs.json").read_text(encoding="utf-8"))
    settings = Settings.from_env({}, home=Path(info["home"]), pii_key="bench-key-0123456789")
    ws = Workspace(settings, load_config(info["config"]), Path(info["config"]))
    run_id = info["runs"][0]
    with ws.open_lake() as lake:
        lake.execute("SET enable_progress_bar = false")
        started = time.perf_counter()
        size = 0
        if mode == "floor":
            snapshot = lake.snapshot_with_message(f"monitoring run {run_id}")
            with lake.at_snapshot(snapshot) as snap:
                rows = sum(
                    len(snap.fetchall(f"SELECT * FROM {table} WHERE run_id = ?", [run_id]))
                    for table in TABLES
                )
            size = rows
        elif mode == "gather":
            build_model(lake, ws.config, run_id)
        elif mode == "render":
            size = render_run_report(lake, ws.config, ws.settings, run_id).size_bytes
        elif mode == "fleet":
            for other in info["runs"]:
                render_run_report(lake, ws.config, ws.settings, other)
            started = time.perf_counter()
            size = render_fleet_report(lake, ws.config, ws.settings, info["runs"]).size_bytes
        else:
            raise ValueError(mode)
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "size": size}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--features", type=int, nargs="+", default=[3, 50])
    parser.add_argument("--rows-per-day", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3, help="median of this many runs")
    parser.add_argument("--keep", help="keep the work folder here")
    args = parser.parse_args()
    work = Path(args.keep or tempfile.mkdtemp(prefix="dg-bench-report-"))
    steps = [
        ("floor: snapshot + the run's result rows", "floor"),
        ("gather all sections + narratives + verify", "gather"),
        ("render_run_report (gather, HTML, write, index)", "render"),
        ("render_fleet_report (2 models)", "fleet"),
    ]
    table = []
    try:
        for n in args.features:
            folder = work / f"features-{n}"
            began = time.perf_counter()
            setup(folder, n, args.rows_per_day)
            print(f"  set up {n} features: {time.perf_counter() - began:.1f} s", file=sys.stderr)
            floor = None
            for label, mode in steps:
                results = [measure("bench.report", mode, str(folder)) for _ in range(args.repeat)]
                results.sort(key=lambda r: r["seconds"])
                mid = results[len(results) // 2]
                floor = mid["seconds"] if mode == "floor" else floor
                table.append(
                    [
                        n,
                        label,
                        f"{mid['seconds']:.2f}",
                        f"{max(r['peak_mb'] for r in results):.0f}",
                        f"{mid['seconds'] / floor:.1f}x" if floor else "-",
                        f"{mid['size']:,}" if mode != "floor" else f"{mid['size']:,} rows",
                    ]
                )
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(f"Compliance reports, one monitored run, median of {args.repeat} fresh processes")
    print_table(["features", "step", "seconds", "peak MB", "vs floor", "bytes"], table)


if __name__ == "__main__":
    main()
