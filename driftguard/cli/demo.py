"""``driftguard demo``: the whole pipeline on simulated logs, through Prefect."""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path
from typing import Any

import typer

from driftguard.cli._common import app, console, load_workspace, print_table
from driftguard.cli._prefect import prepare_prefect_env
from driftguard.cli.lake import example_config_text, status, wipe_home
from driftguard.config import Settings
from driftguard.simulate import SimulationRefused, simulate_model
from driftguard.workspace import Workspace, mark_home, resolve_config_path


@app.command()
def demo(
    fresh: bool = typer.Option(
        False, "--fresh", help="First delete the lake, landing files and reports in the home."
    ),
    use_prefect: bool = typer.Option(
        True, "--prefect/--no-prefect", help="Run the flow through Prefect (ephemeral API)."
    ),
) -> None:
    """Run DriftGuard end to end on simulated logs for three models.

    Writes an example config if there is none, simulates 14 days of logs per model, runs the
    Prefect flow monitor-fleet (ingest, then monitor) and prints what the lake holds.
    Example: driftguard demo --fresh
    """
    settings = Settings.from_env()
    if fresh:
        wipe_home(settings.home)
    mark_home(settings.home)
    config_path = resolve_config_path(settings)
    if not config_path.exists():
        config_path.parent.mkdir(parents=True, exist_ok=True)
        config_path.write_text(example_config_text(), encoding="utf-8")
        console.print(f"wrote example configuration {config_path}")
    os.environ["DRIFTGUARD_CONFIG"] = str(config_path)
    if not settings.pii_key:
        # a throw-away key for this demo process only; production sets DRIFTGUARD_PII_KEY
        os.environ["DRIFTGUARD_PII_KEY"] = secrets.token_hex(32)
        console.print("DRIFTGUARD_PII_KEY not set: using a random key for this demo run")
    ws = load_workspace()

    console.rule("1. simulate prediction logs")
    with ws.open_lake() as lake:
        for model in ws.config.models:
            try:
                result = simulate_model(model, ws.settings, lake=lake, base=ws.base)
            except SimulationRefused as refused:
                console.print(f"{model.id}: kept existing logs ({refused})")
                continue
            console.print(
                f"{model.id}: {result.rows:,} predictions, {result.labels:,} labels, "
                f"{len(result.files)} files"
            )

    console.rule("2. ingest and monitor" + (" (Prefect flow monitor-fleet)" if use_prefect else ""))
    started = time.perf_counter()
    runs = _run_pipeline(ws, config_path, use_prefect)
    print_table(
        f"Monitoring runs ({time.perf_counter() - started:.1f} s)",
        ["model", "run", "rows", "reference rows", "risk", "drifted features", "findings"],
        [
            (
                r["model_id"],
                r["run_id"],
                r["n_current"],
                r["n_reference"],
                _risk_text(r["summary"].get("risk") or {}),
                _drift_text(r["summary"].get("drift") or {}),
                len(r["findings"]),
            )
            for r in runs
        ],
    )

    console.rule("3. lake status")
    status(as_json=False)
    console.print(f"home: {ws.settings.home.resolve()}  config: {config_path}")


def _run_pipeline(ws: Workspace, config_path: Path, use_prefect: bool) -> list[dict[str, Any]]:
    """Ingest and monitor every model: through the Prefect flow, or directly."""
    if use_prefect:
        prepare_prefect_env(ws.settings.home)
        from flows.monitor import monitor_fleet

        return monitor_fleet(config_path=str(config_path))
    from driftguard.ingest import ingest_model
    from driftguard.monitor import run_monitoring

    with ws.open_lake() as lake:
        for model in ws.config.models:
            ingest_model(lake, model, ws.settings, base=ws.base)
        return [
            run_monitoring(lake, ws.config, m.id, ws.settings).as_dict() for m in ws.config.models
        ]


def _risk_text(risk: dict[str, Any]) -> str:
    score = risk.get("score")
    status = risk.get("status", "UNKNOWN")
    return f"{score:.0f} {status}" if score is not None else status


def _drift_text(drift: dict[str, Any]) -> str:
    top = [
        t["feature"] for t in drift.get("top", []) if t.get("verdict") in ("warning", "critical")
    ]
    if not drift:
        return "-"
    return f"{drift.get('n_drifted', 0)}/{drift.get('n_features', 0)}" + (
        f" ({', '.join(top[:3])})" if top else ""
    )
