"""``driftguard report``, ``explain``, ``export`` and ``notify``: reports, their plain-language
explanations, metric history for analysts, and report e-mails."""

from __future__ import annotations

from pathlib import Path

import typer

from driftguard.cli._common import (
    app,
    console,
    err_console,
    fail,
    load_workspace,
    parse_moment,
    print_json,
    print_table,
    subapp,
)
from driftguard.monitor import recent_runs

notify_app = subapp("notify", "E-mail reports to their recipients, or re-send kept messages.")


def _latest_runs(lake, config, models: list[str]) -> list[str]:
    """The newest run of each model named (all configured models when none is named)."""
    found = []
    for model in config.select(models):
        runs = recent_runs(lake, model.id, limit=1)
        if runs:
            found.append(runs[0].run_id)
        elif models:
            fail(
                f"model {model.id!r} has no monitoring run yet: `driftguard monitor -m {model.id}`"
            )
    if not found:
        fail("no monitoring run yet: run `driftguard monitor` first")
    return found


def _resolve_runs(lake, config, run_ids: list[str] | None, model: list[str] | None) -> list[str]:
    if run_ids:
        return list(run_ids)
    return _latest_runs(lake, config, model or [])


@app.command()
def report(
    run_ids: list[str] = typer.Argument(None, help="Run id(s); default: each model's latest."),
    model: list[str] = typer.Option(
        None, "--model", "-m", help="The latest run of this model (repeatable)."
    ),
    fleet: bool = typer.Option(
        False, "--fleet", help="Also render the fleet report (executive dashboard) over the runs."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Render compliance reports (HTML) from the lake as it was at each run's snapshot.

    Writes <home>/reports/<date>/<run_id>/report.html and updates <home>/reports/index.html;
    with --fleet also the fleet dashboard. Re-rendering a run gives byte-identical HTML.
    Example: driftguard report --fleet
    """
    from driftguard.report.render import render_reports

    ws = load_workspace()
    with ws.open_lake() as lake:
        runs = _resolve_runs(lake, ws.config, run_ids, model)
        rendered = render_reports(lake, ws.config, ws.settings, runs, fleet=fleet)
    if as_json:
        print_json(rendered)
        return
    for meta in rendered["models"]:
        console.print(
            f"{meta['model_id']} {meta['model_version']} {meta['status']} (risk "
            f"{'-' if meta['score'] is None else round(meta['score'])}, grade {meta['grade']}): "
            f"{meta['path']} ({meta['size_bytes']:,} bytes)",
            markup=False,
        )
    if rendered["fleet"]:
        console.print(
            f"fleet report: {rendered['fleet']['path']} "
            f"({rendered['fleet']['size_bytes']:,} bytes)",
            markup=False,
        )
    console.print(f"index: {rendered['index']}", markup=False)


@app.command()
def explain(
    run_id: str = typer.Argument(None, help="Run id; default: the latest run of --model."),
    model: str = typer.Option(None, "--model", "-m", help="Model whose latest run to explain."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Explain every decision of a run in plain words (no external service).

    For each drift verdict, fairness breach, policy warning or block, kill-switch activation
    and status change: what was measured, against which threshold, what it means, what was
    done and what to check next. Example: driftguard explain --model credit-risk
    """
    from driftguard.monitor import load_run
    from driftguard.report.render import explain_run

    ws = load_workspace()
    with ws.open_lake() as lake:
        if run_id is None:
            if not model:
                fail("give a RUN_ID or --model MODEL")
            run_id = _latest_runs(lake, ws.config, [model])[0]
        run = load_run(lake, run_id)
        if model and run.model_id != model:
            fail(f"run {run_id} monitored {run.model_id}, not {model}")
        narratives = explain_run(lake, ws.config, run_id)
    if as_json:
        print_json({"run_id": run_id, "model_id": run.model_id, "narratives": narratives})
        return
    console.print(f"{run.model_id} {run.model_version}, run {run_id}:", markup=False)
    if not narratives:
        console.print(
            "Nothing to explain: no verdict past its threshold, no policy warning or block, "
            "no kill switch and no status change.",
            markup=False,
        )
    for n in narratives:
        console.print(f"\n[{n.severity}] {n.headline}", markup=False, style="bold")
        for name, text in (
            ("Measured", n.measured),
            ("Threshold", n.threshold),
            ("Meaning", n.meaning),
            ("Done", n.action),
            ("Next", n.next_step),
        ):
            console.print(f"  {name + ':':<11}{text}", markup=False)


@app.command()
def export(
    model: str = typer.Option(..., "--model", "-m", help="Model whose history to export."),
    since: str = typer.Option(None, help="First run time (as-of) included, ISO 8601."),
    until: str = typer.Option(None, help="Run time (as-of) excluded from here on, ISO 8601."),
    fmt: str = typer.Option("csv", "--format", "-f", help="csv, parquet or json."),
    out: str = typer.Option(
        None,
        "--out",
        "-o",
        help="File to write ('-' for standard output; default <model>-metrics.<format>).",
    ),
) -> None:
    """Export a model's metric history (drift, fairness, risk, policy outcomes, quality,
    performance), one row per run and measure, for analysts and other tools.

    Example: driftguard export --model credit-risk --since 2026-03-01 --format parquet
    """
    from driftguard.report.export import FORMATS, export_history

    if fmt not in FORMATS:
        raise typer.BadParameter(f"{fmt!r}: use one of {', '.join(FORMATS)}", param_hint="--format")
    ws = load_workspace()
    ws.config.model(model)
    target = out or f"{model}-metrics.{fmt}"
    with ws.open_lake() as lake:
        result = export_history(
            lake,
            model,
            fmt=fmt,  # type: ignore[arg-type]
            out=target,
            since=parse_moment(since, "--since"),
            until=parse_moment(until, "--until"),
        )
    if target != "-":
        err_console.print(
            f"wrote {result.rows:,} rows from {result.runs} run(s) to {Path(target)}",
            markup=False,
        )


@notify_app.command("send")
def notify_send(
    run_ids: list[str] = typer.Argument(None, help="Run id(s); default: each model's latest."),
    model: list[str] = typer.Option(None, "--model", "-m", help="Latest run of this model."),
    fleet: bool = typer.Option(True, "--fleet/--no-fleet", help="Also the fleet report."),
    again: bool = typer.Option(
        False, "--again", help="Send even messages that were delivered before."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Render the reports of runs and e-mail them as reports.send / fleet_send say.

    SMTP settings come from DRIFTGUARD_SMTP_HOST, _PORT, _SECURITY (none, starttls, ssl),
    _USER, _PASSWORD, _FROM; without them messages are written to <home>/outbox/ as .eml
    files. Exit code 1 when a message could not be sent (it is kept in outbox/undelivered).
    Example: driftguard notify send --model credit-risk
    """
    from driftguard.notify import SmtpSettings
    from driftguard.report.mail import DeliveryIncomplete, deliver_reports
    from driftguard.report.render import render_reports

    ws = load_workspace()
    smtp = SmtpSettings.from_env()
    with ws.open_lake() as lake:
        runs = _resolve_runs(lake, ws.config, run_ids, model)
        rendered = render_reports(lake, ws.config, ws.settings, runs, fleet=fleet)
        try:
            result = deliver_reports(lake, ws.config, ws.settings, rendered, smtp=smtp, again=again)
            failed = False
        except DeliveryIncomplete as incomplete:
            result = {"deliveries": incomplete.results}
            failed = True
            err_console.print(f"error: {incomplete}", markup=False)
    if as_json:
        print_json(result)
    else:
        print_table(
            "Report e-mails",
            ["kind", "model", "status", "recipients", "where / why"],
            [
                (
                    d["kind"],
                    d["model_id"] or "fleet",
                    d["status"],
                    ", ".join(d["recipients"]) or "-",
                    d["path"] or d["reason"] or d["error"] or "",
                )
                for d in result["deliveries"]
            ],
        )
    if failed:
        raise typer.Exit(1)


@notify_app.command("resend")
def notify_resend() -> None:
    """Send again every message kept in <home>/outbox/undelivered (needs SMTP settings).

    Sent messages move to <home>/outbox/sent. Exit code 1 when any still fails.
    Example: driftguard notify resend
    """
    from driftguard.notify import SmtpSettings, resend_undelivered

    ws = load_workspace()
    smtp = SmtpSettings.from_env()
    if smtp is None:
        fail("no SMTP server configured: set DRIFTGUARD_SMTP_HOST (and _PORT, _SECURITY, ...)")
        return
    results = resend_undelivered(smtp, ws.settings.home / "outbox")
    for path, status in results:
        console.print(f"{path}: {status}", markup=False)
    if not results:
        console.print("nothing to re-send", markup=False)
    if any(status != "sent" for _, status in results):
        raise typer.Exit(1)
