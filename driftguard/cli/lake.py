"""Commands that fill and inspect the lake: init, simulate, ingest, status."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from driftguard.cli._common import (
    app,
    console,
    load_workspace,
    parse_pairs,
    print_json,
    print_table,
)
from driftguard.config import Settings, SimulationSpec
from driftguard.ingest import BatchOutcome, ingest_model
from driftguard.simulate import simulate_model
from driftguard.status import model_status
from driftguard.workspace import mark_home, resolve_config_path


def example_config_text() -> str:
    return resources.files("driftguard").joinpath("examples/driftguard.yaml").read_text()


@app.command()
def init(
    path: Path = typer.Argument(None, help="Where to write (default: the configured path)."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
) -> None:
    """Write an example driftguard.yaml with three models (credit risk, churn, fraud).

    Example: driftguard init driftguard.yaml
    """
    settings = Settings.from_env()
    target = path or resolve_config_path(settings)
    if target.exists() and not force:
        console.print(f"{target} exists; pass --force to overwrite it.")
        raise typer.Exit(2)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(example_config_text(), encoding="utf-8")
    mark_home(settings.home)
    console.print(f"wrote {target} (3 models); next: driftguard simulate && driftguard ingest")


@app.command()
def simulate(
    model: list[str] = typer.Option(None, "--model", "-m", help="Model id (repeatable)."),
    days: int = typer.Option(None, help="Days of logs (default from the model's simulation)."),
    rows_per_day: int = typer.Option(None, "--rows-per-day", help="Mean predictions per day."),
    seed: int = typer.Option(None, help="Random seed."),
    drift: list[str] = typer.Option(
        None, help="FEATURE=SIZE shift in the last days, e.g. income=0.5 (repeatable)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Write seeded synthetic prediction logs and delayed labels into the landing folders.

    Refuses models that already have logs. Example: driftguard simulate -m churn --days 14
    """
    ws = load_workspace()
    results = []
    with ws.open_lake() as lake:
        for cfg in ws.config.select(model):
            spec = cfg.simulation or SimulationSpec()
            overrides = {"days": days, "rows_per_day": rows_per_day, "seed": seed}
            if drift:
                overrides["drift"] = parse_pairs(drift, example="income=0.5", numbers=True)
            spec = SimulationSpec.model_validate(
                {**spec.model_dump(), **{k: v for k, v in overrides.items() if v is not None}}
            )
            result = simulate_model(cfg, ws.settings, lake=lake, spec=spec, base=ws.base)
            results.append(result)
            if not as_json:
                console.print(
                    f"{cfg.id}: {result.rows:,} predictions and {result.labels:,} labels in "
                    f"{len(result.files)} file(s), {result.start:%Y-%m-%d %H:%M} to "
                    f"{result.end:%Y-%m-%d %H:%M}, shifted from {result.shift_start:%Y-%m-%d}"
                )
    if as_json:
        print_json([r.__dict__ for r in results])


@app.command()
def ingest(
    model: list[str] = typer.Option(None, "--model", "-m", help="Model id (repeatable)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Ingest new prediction-log and label files of the configured sources.

    Bad rows go to quarantine with a reason; re-running adds nothing. Exit code 1 if a file
    could not be read. Example: driftguard ingest -m credit-risk
    """
    ws = load_workspace()
    reports = []
    with (
        ws.open_lake() as lake,
        Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=console,
            disable=as_json,
            transient=True,
        ) as progress,
    ):
        for cfg in ws.config.select(model):
            task = progress.add_task(f"ingest {cfg.id}", total=None)

            def advance(_: BatchOutcome, task: int = task) -> None:
                progress.advance(task)

            reports.append(ingest_model(lake, cfg, ws.settings, base=ws.base, on_batch=advance))
    if as_json:
        print_json([r.as_dict() for r in reports])
    else:
        print_table(
            "Ingestion",
            [
                "model",
                "files new",
                "files skipped",
                "files failed",
                "rows read",
                "predictions accepted",
                "labels accepted",
                "quarantined",
                "top reasons",
            ],
            [
                (
                    r.model_id,
                    r.count("ingested"),
                    r.count("skipped"),
                    r.count("failed"),
                    r.rows_read,
                    r.as_dict()["predictions_accepted"],
                    r.as_dict()["labels_accepted"],
                    r.rows_quarantined,
                    ", ".join(f"{k} {v}" for k, v in list(r.reasons().items())[:3]) or "-",
                )
                for r in reports
            ],
        )
        for report in reports:
            for failure in report.failed:
                console.print(f"[red]failed[/] {failure.source_path}: {failure.message}")
    if any(r.failed for r in reports):
        raise typer.Exit(1)


@app.command()
def status(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Rows, labels, batches, quarantine and watermark per model.

    Example: driftguard status --json
    """
    ws = load_workspace()
    with ws.open_lake() as lake:
        statuses = model_status(lake, ws.config)
        snapshot = lake.snapshot_id()
        location = lake.location.describe()  # without a catalog password
    if as_json:
        print_json(
            {"snapshot_id": snapshot, "lake": location, "models": [s.as_dict() for s in statuses]}
        )
        return
    print_table(
        f"Lake status (snapshot {snapshot}; {location})",
        [
            "model",
            "version",
            "rows",
            "labels (coverage)",
            "batches",
            "quarantined (rate)",
            "first",
            "watermark",
            "last ingest",
        ],
        [
            (
                s.model_id,
                s.version,
                s.rows,
                f"{s.labels:,} ({s.label_coverage:.0%})" if s.label_coverage is not None else "0",
                s.batches,
                f"{s.quarantined:,} ({s.quarantine_rate:.1%})"
                if s.quarantine_rate is not None
                else "0",
                s.first_ts,
                s.watermark,
                s.last_ingest,
            )
            for s in statuses
        ],
    )


def wipe_home(home: Path) -> None:
    """Delete a DriftGuard home (only one carrying the marker `mark_home` writes)."""
    from driftguard.workspace import HOME_MARKER

    if not home.exists():
        return
    if not (home / HOME_MARKER).exists():
        raise typer.BadParameter(
            f"{home} does not look like a DriftGuard home (no {HOME_MARKER}); not deleting it"
        )
    for child in home.iterdir():
        if child.name == HOME_MARKER:
            continue
        if child.name == "driftguard.yaml" and not is_example_config(child):
            continue  # a configuration someone made their own is never deleted
        shutil.rmtree(child) if child.is_dir() else child.unlink()


EXAMPLE_MARKER = "# driftguard-example:"


def is_example_config(path: Path) -> bool:
    """True while the file still starts with the example's marker line."""
    with path.open(encoding="utf-8") as handle:
        return handle.readline().startswith(EXAMPLE_MARKER)
