"""``driftguard monitor`` (``driftguard runs`` lives in ops_cmd with the run history)."""

from __future__ import annotations

from datetime import UTC, datetime

import typer

from driftguard.cli._common import app, console, load_workspace, print_json
from driftguard.cli.drift_cmd import print_drift_rows
from driftguard.config import Window
from driftguard.monitor import run_monitoring


def parse_window(text: str | None) -> Window | None:
    """``START/END`` in ISO 8601 (UTC when no offset is given)."""
    if not text:
        return None
    start, sep, end = text.partition("/")
    if not sep:
        raise typer.BadParameter(f"{text!r}: write START/END, e.g. 2026-03-01/2026-03-02")
    try:
        return Window(start=_utc(start), end=_utc(end))
    except ValueError as error:
        raise typer.BadParameter(f"{text!r}: {error}") from error


def _utc(text: str) -> datetime:
    moment = datetime.fromisoformat(text.strip())
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


@app.command()
def monitor(
    model: list[str] = typer.Option(None, "--model", "-m", help="Model id (repeatable)."),
    window: str = typer.Option(None, help="Explicit current window START/END (ISO 8601)."),
    as_of: str = typer.Option(None, "--as-of", help="Run as if at this time (ISO 8601)."),
    force: bool = typer.Option(
        False,
        "--force",
        help="Record a new run even if this window "
        "was already monitored with the same configuration.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Monitor the configured models over their current windows and store the results.

    Exit code 1 when any model has findings. Example: driftguard monitor -m credit-risk
    """
    ws = load_workspace()
    explicit = parse_window(window)
    moment = _utc(as_of) if as_of else None
    # imported here: importing driftguard.drift registers its stage, and only
    # driftguard.stages decides when stage modules load
    from driftguard.drift import drift_results

    runs = []
    drift_rows: dict[str, list[dict]] = {}
    with ws.open_lake() as lake:
        for cfg in ws.config.select(model):
            run = run_monitoring(
                lake,
                ws.config,
                cfg.id,
                ws.settings,
                as_of=moment,
                current=explicit,
                force=force,
            )
            runs.append(run)
            if not as_json:
                drift_rows[run.run_id] = [
                    r for r in drift_results(lake, run.run_id) if r["segment"] is None
                ]
    if as_json:
        print_json([r.as_dict() for r in runs])
    else:
        for run in runs:
            state = "reused stored run" if run.reused else f"snapshot {run.snapshot_id}"
            console.print(
                f"[bold]{run.model_id}[/] {run.model_version} window {run.current} "
                f"({run.n_current:,} rows; reference {run.n_reference:,}) run {run.run_id}, "
                f"{state}"
            )
            if drift_rows.get(run.run_id):
                print_drift_rows(
                    f"Drift of {run.model_id}, most drifted feature first",
                    drift_rows[run.run_id],
                )
            for finding in run.findings:
                console.print(f"  - {finding}", markup=False)
    if any(r.findings for r in runs):
        raise typer.Exit(1)
