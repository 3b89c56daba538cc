"""What Prefect adds: the demo's full fleet pipeline (3 models, about 100k rows each) with and
without Prefect.

Every variant starts from a copy of the same prepared home (simulated landing files, models
registered, policies active, nothing ingested), so each measures the same work: ingest,
monitor (all stages, audit entry and checkpoint per run), one fleet checkpoint, reports, run
history and the metrics textfile. Each runs in a fresh process.

- ``local``: ``driftguard.local.run_fleet_locally`` (plain Python, models in threads);
- ``prefect-ephemeral``: the ``monitor-fleet`` flow with no PREFECT_API_URL, as ``make demo``
  runs it: Prefect starts a temporary server in the process (its database already migrated);
- ``prefect-server``: the same flow against a Prefect server that is already running (started
  before the measurement, not counted), the way scheduled runs execute;
- ``prefect-server-limit-1``: the same with DRIFTGUARD_LAKE_WRITE_SLOTS=1, so ingest and monitor
  tasks hold the one slot of the global concurrency limit ``driftguard-lake-writes`` (does
  serialising lake writers help, or does the lake's own commit retry suffice?).

Usage: python bench/orchestration.py [--rows-per-model 100000] [--repeat 1]
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

DAYS = 14  # the example config simulates 14 days per model
VARIANTS = ("local", "prefect-ephemeral", "prefect-server", "prefect-server-limit-1")


def prepare(work: Path, rows_per_model: int) -> Path:
    """A home with the example config, simulated logs, registered models and policies.

    Variants run in this same folder (a lake cannot be moved: its catalog records the data
    path), restored from a copy before each.
    """
    home = work / "home"
    os.environ["DRIFTGUARD_HOME"] = str(home)
    os.environ["DRIFTGUARD_PII_KEY"] = "bench-pii-key-0123456789abcdef"
    from driftguard.cli.demo import set_up_governance
    from driftguard.cli.lake import example_config_text
    from driftguard.simulate import simulate_model
    from driftguard.workspace import Workspace, mark_home

    mark_home(home)
    config = home / "driftguard.yaml"
    config.write_text(example_config_text(), encoding="utf-8")
    ws = Workspace.load(config)
    with ws.open_lake() as lake:
        for model in ws.config.models:
            assert model.simulation is not None
            spec = model.simulation.model_copy(update={"rows_per_day": rows_per_model // DAYS})
            simulate_model(model, ws.settings, lake=lake, spec=spec, base=ws.base)
        set_up_governance(lake, ws)
    return home


def run(variant: str, home: str) -> dict:
    """One measured pipeline run, inside a fresh process (called by bench._common.measure)."""
    os.environ["DRIFTGUARD_HOME"] = home
    os.environ["DRIFTGUARD_CONFIG"] = str(Path(home) / "driftguard.yaml")
    started = time.perf_counter()
    if variant == "local":
        from driftguard.local import run_fleet_locally
        from driftguard.workspace import Workspace

        summary = run_fleet_locally(Workspace.load())
    else:
        from flows.monitor import monitor_fleet

        summary = monitor_fleet(config_path=os.environ["DRIFTGUARD_CONFIG"])
    seconds = time.perf_counter() - started
    rows = sum(r["n_current"] + r["n_reference"] for r in summary["runs"])
    return {
        "seconds": seconds,
        "runs": len(summary["runs"]),
        "failed": len(summary["failed"]),
        "window_rows": rows,
        "prefect_loaded": "prefect" in sys.modules,
    }


def _count_rows(home: Path) -> int:
    import pyarrow.parquet as pq

    return sum(
        pq.ParquetFile(p).metadata.num_rows
        for p in (home / "landing").rglob("predictions-*.parquet")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows-per-model", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dg-bench-orch-"))
    prefect_home = work / "prefect-home"
    os.environ.update(
        PREFECT_HOME=str(prefect_home),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_LOGGING_LEVEL="WARNING",
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="90",
    )
    os.environ.pop("PREFECT_API_URL", None)
    from driftguard.serve import LocalStack
    from tests.smtp_sink import free_port

    stack = None
    try:
        home = prepare(work, args.rows_per_model)
        total_rows = _count_rows(home)
        template = work / "template"
        shutil.copytree(home, template)
        # migrate the Prefect database once, so the ephemeral variant does not pay for it
        measure("bench.orchestration_warmup")
        results: dict[str, list[dict]] = {}
        stack = LocalStack(
            home=work / "server",
            port=free_port(),
            env={"PREFECT_HOME": str(work / "server-prefect-home")},
        )
        stack.start_server(timeout=240)
        for _ in range(args.repeat):
            for variant in VARIANTS:
                shutil.rmtree(home)
                shutil.copytree(template, home)
                os.environ.pop("DRIFTGUARD_LAKE_WRITE_SLOTS", None)
                if variant.startswith("prefect-server"):
                    os.environ["PREFECT_API_URL"] = stack.url
                else:
                    os.environ.pop("PREFECT_API_URL", None)
                if variant == "prefect-server-limit-1":
                    os.environ["DRIFTGUARD_LAKE_WRITE_SLOTS"] = "1"
                    stack.ensure_write_limit()
                results.setdefault(variant, []).append(
                    measure("bench.orchestration", variant, str(home))
                )
        os.environ.pop("PREFECT_API_URL", None)
    finally:
        if stack is not None:
            stack.stop()
        shutil.rmtree(work, ignore_errors=True)

    def best(variant: str) -> dict:
        return min(results[variant], key=lambda r: r["seconds"])

    base = best("local")["seconds"]
    rows = []
    for variant in VARIANTS:
        r = best(variant)
        rows.append(
            [
                variant,
                f"{total_rows:,}",
                r["runs"],
                r["failed"],
                f"{r['seconds']:.1f}",
                f"{r['process_seconds']:.1f}",
                f"{r['peak_mb']:.0f}",
                f"{r['seconds'] / base:.2f}",
                r["prefect_loaded"],
            ]
        )
    print(
        f"fleet pipeline, 3 models, {total_rows:,} simulated predictions "
        f"({args.rows_per_model:,} per model), best of {args.repeat}"
    )
    print_table(
        [
            "variant",
            "rows",
            "runs",
            "failed",
            "pipeline s",
            "process s",
            "peak MB",
            "x local",
            "prefect imported",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
