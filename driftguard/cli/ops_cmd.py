"""Operations commands: runs (history and statistics), doctor, metrics, retention, backup,
restore."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import typer

from driftguard.cli._common import app, console, load_workspace, print_json, print_table
from driftguard.config import Settings, parse_duration
from driftguard.errors import ConfigError

_STATUS_STYLE = {"ok": "green", "warn": "yellow", "fail": "bold red", "skipped": "dim"}


@app.command()
def runs(
    monitoring: bool = typer.Option(
        False, "--monitoring", help="List monitoring runs (one per model and window) instead."
    ),
    model: str = typer.Option(None, "--model", "-m", help="Only runs that covered this model."),
    flow: str = typer.Option(None, "--flow", help="Only this flow, e.g. monitor-fleet."),
    status: str = typer.Option(None, "--status", help="running, completed or failed."),
    since: str = typer.Option(None, "--since", help="Only runs started in the last 7d, 24h ..."),
    limit: int = typer.Option(20, help="How many runs."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List past pipeline runs (flow runs) with status, duration, models and findings, then
    statistics: success rate, alerts generated, mean duration. --monitoring lists the
    monitoring runs instead.

    Example: driftguard runs --since 7d
    """
    ws = load_workspace()
    if monitoring:
        from driftguard.monitor import recent_runs

        with ws.open_lake() as lake:
            listed = recent_runs(lake, model, limit)
        if as_json:
            print_json([r.as_dict() for r in listed])
            return
        print_table(
            "Monitoring runs",
            ["run", "model", "window start", "window end", "rows", "findings"],
            [
                (r.run_id, r.model_id, r.current.start, r.current.end, r.n_current, len(r.findings))
                for r in listed
            ],
        )
        return
    from driftguard.history import list_pipeline_runs, pipeline_stats

    start = datetime.now(UTC) - parse_duration(since) if since else None
    with ws.open_lake() as lake:
        listed = list_pipeline_runs(
            lake, flow=flow, model_id=model, status=status, since=start, limit=limit
        )
    stats = pipeline_stats(listed)
    if as_json:
        print_json({"runs": [r.as_dict() for r in listed], "stats": stats.as_dict()})
        return
    print_table(
        "Pipeline runs",
        [
            "started",
            "flow run",
            "name",
            "status",
            "duration s",
            "models",
            "failed",
            "runs",
            "findings",
            "alerts",
        ],
        [
            (
                r.started_at,
                r.pipeline_run_id,
                r.name,
                r.status,
                round(r.duration_s, 1) if r.duration_s is not None else None,
                ", ".join(r.models),
                ", ".join(r.failed) or "-",
                len(r.run_ids),
                r.findings,
                r.alerts,
            )
            for r in listed
        ],
    )
    rate = f"{stats.success_rate:.0%}" if stats.success_rate is not None else "-"
    mean = f"{stats.mean_duration_s:.1f} s" if stats.mean_duration_s is not None else "-"
    console.print(
        f"{stats.runs} run(s): {stats.completed} completed, {stats.failed} failed, "
        f"{stats.running} running; success rate {rate}; alerts generated {stats.alerts}; "
        f"findings {stats.findings}; mean duration {mean}; monitoring runs "
        f"{stats.monitoring_runs}"
    )


@app.command()
def doctor(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Check the configuration, the catalog (reachable, schema current), the audit chain, the
    SMTP server, the Prefect API and disk space; say what to fix. Exit 1 on any failure.

    Example: driftguard doctor
    """
    from driftguard.doctor import run_checks

    def show(check) -> None:
        style = _STATUS_STYLE[check.status]
        console.print(
            f"[{style}]{check.status:>7}[/] {check.name:<15} {check.detail}",
            markup=True,
            highlight=False,
        )
        if check.fix and check.status != "ok":
            console.print(f"{'':>7} {'':<15} fix: {check.fix}", markup=False)

    checks = run_checks(on_check=None if as_json else show)
    if as_json:
        print_json([c.as_dict() for c in checks])
    failed = [c.name for c in checks if c.status == "fail"]
    if not as_json:
        warned = [c.name for c in checks if c.status == "warn"]
        console.print(
            f"{len(failed)} failure(s), {len(warned)} warning(s)"
            + (f": fix {', '.join(failed)}" if failed else "")
        )
    if failed:
        raise typer.Exit(1)


@app.command()
def metrics(
    out: Path = typer.Option(None, "--out", help="Write here (default: the configured path)."),
    show: bool = typer.Option(False, "--print", help="Print the metrics instead of writing."),
) -> None:
    """Write the Prometheus node-exporter textfile now (runs write it after every run).

    Example: driftguard metrics --print
    """
    from driftguard.prometheus import collect, metrics_path, render, write_textfile

    ws = load_workspace()
    with ws.open_lake() as lake:
        text = render(collect(lake, ws.config))
    if show:
        typer.echo(text, nl=False)
        return
    path = out or metrics_path(ws.config, ws.settings)
    if path is None:
        raise ConfigError(
            "the metrics textfile is disabled: pass --out or set operations.metrics_path"
        )
    write_textfile(path, text)
    console.print(f"wrote {path}")


@app.command()
def retention(
    model: list[str] = typer.Option(None, "--model", "-m", help="Model id (repeatable)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only count what would be deleted."),
    expire: bool = typer.Option(
        True, "--expire/--no-expire", help="Also expire old snapshots and delete their files."
    ),
    keep_snapshots: str = typer.Option(
        None, "--keep-snapshots", help="Override operations.retention.keep_snapshots (e.g. 7d)."
    ),
    actor: str = typer.Option(None, "--actor", help="Recorded in the audit entries."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Delete raw logs older than each model's retention.raw_days (results and audit entries
    are kept; the deletion is audited), then expire old lake snapshots and their files.

    Example: driftguard retention --dry-run
    """
    from driftguard.backup import maintenance_lock
    from driftguard.retention import apply_retention, expire_snapshots

    ws = load_workspace()
    keep = (
        parse_duration(keep_snapshots)
        if keep_snapshots
        else ws.config.operations.retention.keep_snapshots
    )
    with maintenance_lock(ws.settings.home.resolve()), ws.open_lake() as lake:
        results = apply_retention(lake, ws.config, models=model, actor=actor, dry_run=dry_run)
        expiry = expire_snapshots(lake, keep=keep, actor=actor, dry_run=dry_run) if expire else None
    if as_json:
        print_json(
            {
                "models": [r.as_dict() for r in results],
                "expiry": expiry.as_dict() if expiry else None,
            }
        )
        return
    verb = "would delete" if dry_run else "deleted"
    print_table(
        f"Retention ({verb})",
        ["model", "raw days", "cutoff", "predictions", "labels", "quarantined rows"],
        [
            (
                r.model_id,
                r.raw_days,
                r.cutoff,
                r.predictions_deleted,
                r.labels_deleted,
                r.quarantine_deleted,
            )
            for r in results
        ],
    )
    if not results:
        console.print("no model has retention.raw_days (or operations.retention.raw_days)")
    if expiry:
        console.print(
            f"snapshots older than {expiry.older_than:%Y-%m-%d %H:%M} UTC: "
            f"{expiry.snapshots_expired} {'would be ' if dry_run else ''}expired, "
            f"{expiry.files_deleted} file(s) {verb}"
        )


@app.command()
def backup(
    directory: Path = typer.Argument(..., help="A new (or empty) folder for the backup."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Back up the lake: a consistent copy of the SQLite catalog, the data files, and a
    manifest with checksums and a fresh audit checkpoint.

    Example: driftguard backup /backups/driftguard-2026-03-01
    """
    from driftguard.backup import backup as make_backup

    ws = load_workspace()
    info = make_backup(ws.settings, ws.config.lake, directory)
    if as_json:
        print_json(info.as_dict())
        return
    console.print(
        f"backed up snapshot {info.snapshot_id} (schema v{info.schema_version}): "
        f"{info.files} files, {info.bytes / 2**20:.1f} MB in {info.path}"
    )
    if info.checkpoint:
        console.print("audit checkpoint (keep a copy elsewhere; verify a restore with it):")
        console.print(info.checkpoint, markup=False)


@app.command()
def restore(
    directory: Path = typer.Argument(..., help="A folder written by `driftguard backup`."),
    force: bool = typer.Option(
        False, "--force", help="Move an existing lake aside (kept, not deleted) and restore."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Restore a backup into the configured lake location after checking every checksum.

    Example: driftguard restore /backups/driftguard-2026-03-01
    """
    from driftguard.backup import restore as do_restore

    settings = Settings.from_env()
    try:
        ws = load_workspace()
        lake_config = ws.config.lake
    except ConfigError:
        lake_config = None  # a restore onto a fresh machine may come before its config
    info, moved = do_restore(settings, lake_config, directory, force=force)
    if as_json:
        print_json({**info.as_dict(), "moved_aside": str(moved) if moved else None})
        return
    console.print(f"restored snapshot {info.snapshot_id} ({info.files} files) from {info.path}")
    if moved:
        console.print(f"the previous lake was moved to {moved}")
    if info.checkpoint:
        console.print("verify it: driftguard audit verify --checkpoint FILE with the line:")
        console.print(info.checkpoint, markup=False)
