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
from driftguard.cli.lake import example_config_text, wipe_home
from driftguard.config import Settings
from driftguard.simulate import SimulationRefused, simulate_model
from driftguard.workspace import Workspace, mark_home, resolve_config_path

#: The demo's governance: who does what (names from the example config's roles).
DEMO_ENGINEER = "demo"
DEMO_APPROVER = "carol"
DEMO_POLICIES = (
    ("acme-baseline", "global", "internal-lenient"),
    ("acme-credit", "model_type:credit-scoring", "credit-strict"),
)


@app.command()
def demo(
    fresh: bool = typer.Option(
        False, "--fresh", help="First delete the lake, landing files and reports in the home."
    ),
    use_prefect: bool = typer.Option(
        True, "--prefect/--no-prefect", help="Run the flow through Prefect (ephemeral API)."
    ),
    rows_per_day: int = typer.Option(
        None, "--rows-per-day", help="Override every model's simulated predictions per day."
    ),
) -> None:
    """Run DriftGuard end to end on simulated logs for three models.

    Writes an example config if there is none, simulates 14 days of logs per model, registers
    the models and activates two policies, runs the Prefect flow monitor-fleet (ingest,
    monitor, govern, audit checkpoint, report, notify) and prints where the results are.
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
            spec = model.simulation
            if rows_per_day and spec is not None:
                spec = spec.model_copy(update={"rows_per_day": rows_per_day})
            try:
                result = simulate_model(model, ws.settings, lake=lake, spec=spec, base=ws.base)
            except SimulationRefused as refused:
                console.print(f"{model.id}: kept existing logs ({refused})")
                continue
            console.print(
                f"{model.id}: {result.rows:,} predictions, {result.labels:,} labels, "
                f"{len(result.files)} files"
            )

    console.rule("2. governance: register the models, activate policies")
    with ws.open_lake() as lake:
        for line in set_up_governance(lake, ws):
            console.print(line)

    console.rule(
        "3. ingest, monitor, govern, checkpoint, report"
        + (" (Prefect flow monitor-fleet)" if use_prefect else " (without Prefect)")
    )
    started = time.perf_counter()
    summary = run_pipeline(ws, config_path, use_prefect)
    elapsed = time.perf_counter() - started
    runs = summary["runs"]
    print_table(
        f"Monitoring runs ({elapsed:.1f} s)",
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
    for model_id, why in summary["failed"].items():
        console.print(f"[red]{model_id} failed:[/] {why}")
    for problem in summary.get("problems", []):
        console.print(f"[red]{problem}[/]")
    for run in runs:
        for alert in (run["summary"].get("killswitch") or {}).get("alerts", []):
            console.print(f"[bold red]kill switch:[/] {alert['reason']}", highlight=False)

    console.rule("4. results")
    for label, path in result_paths(ws, summary):
        console.print(f"{label:<22} {path}", markup=False)
    console.print(
        "next: `driftguard runs`, `driftguard audit verify`, `driftguard killswitch list`, "
        "`driftguard doctor`; `driftguard serve` runs the schedules with the Prefect UI."
    )
    if summary["failed"] or summary.get("problems"):
        raise typer.Exit(1)


def set_up_governance(lake: Any, ws: Workspace) -> list[str]:
    """Register every model version (draft) and activate the demo policies; idempotent."""
    from driftguard.governance import policy as policies
    from driftguard.governance import registry

    lines = []
    for model in ws.config.models:
        try:
            registry.get_model_version(lake, model.id, model.version)
            lines.append(f"{model.id} {model.version}: already registered")
        except registry.ModelNotRegistered:
            registry.register_model(lake, ws.config, model.id, actor=DEMO_ENGINEER)
            lines.append(f"{model.id} {model.version}: registered by {DEMO_ENGINEER}")
    active = policies.active_policies(lake)
    for name, scope, template in DEMO_POLICIES:
        kind, _, value = scope.partition(":")
        if (kind, value) in active:
            lines.append(f"policy for {scope}: {active[(kind, value)][0]} already active")
            continue
        try:
            policies.get_policy(lake, name)
        except policies.PolicyNotFound:
            policies.create_policy(
                lake, ws.config, name, scope=scope, template=template, actor=DEMO_APPROVER
            )
        policies.activate_policy(lake, ws.config, name, actor=DEMO_APPROVER, reason="demo set-up")
        lines.append(f"policy {name} (template {template}) active for {scope}")
    return lines


def run_pipeline(ws: Workspace, config_path: Path, use_prefect: bool) -> dict[str, Any]:
    """The fleet pipeline through the Prefect flow, or the same steps without Prefect."""
    if use_prefect:
        prepare_prefect_env(ws.settings.home)
        from flows.monitor import monitor_fleet

        state = monitor_fleet(config_path=str(config_path), return_state=True)
        if state.is_completed():
            return state.result()
        return _summary_after_failure(ws, str(state.state_details.flow_run_id), state.message)
    from driftguard.local import run_fleet_locally

    return run_fleet_locally(ws)


def _summary_after_failure(ws: Workspace, pipeline_run_id: str, message: str | None) -> dict:
    """What a failed flow run left in the lake (its result is the exception)."""
    from driftguard.history import get_pipeline_run
    from driftguard.monitor import load_run

    with ws.open_lake() as lake:
        record = get_pipeline_run(lake, pipeline_run_id)
        runs = [load_run(lake, run_id).as_dict() for run_id in record.run_ids]
    return {
        "runs": runs,
        "failed": record.failed,
        "problems": [] if record.failed else [message or "the flow run failed"],
        "report": None,
        "metrics_path": None,
    }


def result_paths(ws: Workspace, summary: dict[str, Any]) -> list[tuple[str, str]]:
    """Where to look: reports (when rendered), outbox, metrics, kill-switch export, lake."""
    from driftguard.governance.killswitch import export_path
    from driftguard.prometheus import metrics_path
    from driftguard.store import LakeLocation

    home = ws.settings.home.resolve()
    paths: list[tuple[str, str]] = []
    reports = home / "reports"
    for run in summary.get("runs") or []:
        for found in sorted(reports.glob(f"*/{run['run_id']}/*.html")) if reports.exists() else []:
            paths.append((f"report {run['model_id']}", str(found)))
    fleet = (summary.get("report") or {}).get("fleet")
    if isinstance(fleet, dict):
        fleet = fleet.get("path")
    if fleet:
        paths.append(("fleet report", str(fleet)))
    if not paths:
        paths.append(("reports", "(not rendered: the report tasks are not installed)"))
    elif (reports / "index.html").exists():
        paths.append(("report index", str(reports / "index.html")))
    outbox = home / "outbox"
    paths.append(("outbox", str(outbox) + ("" if outbox.exists() else " (no e-mail yet)")))
    metrics = metrics_path(ws.config, ws.settings)
    if metrics is not None:
        paths.append(("metrics textfile", str(metrics)))
    ks = export_path(ws.config, ws.settings)
    if ks.exists():
        paths.append(("kill-switch export", str(ks)))
    location = LakeLocation.resolve(ws.settings, ws.config.lake)
    paths.append(("lake", location.describe()))
    paths.append(("config", str(ws.config_path)))
    return paths


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
