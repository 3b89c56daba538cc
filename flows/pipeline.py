"""The steps every monitoring flow shares: per model ingest -> monitor -> events (models in
parallel, windows of one model in order), then one audit checkpoint, the reports, the
notifications, the run history, the metrics textfile and a summary artifact.

One model's failure never stops the others: its chain ends where it failed, the other models
go on, and the flow ends Failed naming every failed model and why. Everything else that fails
(the checkpoint, a report, a notification) is named too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from prefect import get_run_logger

from driftguard.config import Window
from tasks.artifacts import publish_pipeline_summary_task
from tasks.events import emit_run_events_task
from tasks.ingest import ingest_model_task
from tasks.monitor import monitor_model_task
from tasks.ops import checkpoint_task, finish_pipeline_task, start_pipeline_task
from tasks.report import notify_task, publish_artifacts_task, render_reports_task
from tasks.runtime import window_text


class PipelineFailed(RuntimeError):
    """At least one model (or a later step) failed; everything else was still done."""


@dataclass
class ModelJob:
    """One model's work in a pipeline run: its windows, monitored in order."""

    model_id: str
    windows: list[Window | None]
    force: bool = False
    ingest: bool = True


@dataclass
class _Chain:
    job: ModelJob
    ingest: Any = None
    monitors: list[Any] = field(default_factory=list)
    events: list[Any] = field(default_factory=list)


def _failure(state: Any) -> str:
    message = state.message or state.name
    return message.removeprefix("Task run encountered an exception ")


def _submit(chain: _Chain, config_path: str | None) -> None:
    job = chain.job
    upstream = []
    if job.ingest:
        chain.ingest = ingest_model_task.submit(job.model_id, config_path, strict=True)
        upstream = [chain.ingest]
    for window in job.windows:
        monitor = monitor_model_task.submit(
            job.model_id, config_path, window=window, force=job.force, wait_for=upstream
        )
        chain.monitors.append(monitor)
        chain.events.append(emit_run_events_task.submit(monitor, job.model_id))
        upstream = [monitor]  # windows of one model in order: status changes compare in order


def _outcome(chain: _Chain) -> tuple[list[dict], dict | None, list[str], str | None]:
    """Completed runs, the ingestion report, event names, and why the chain failed."""
    runs, emitted, why = [], [], None
    report = None
    if chain.ingest is not None:
        state = chain.ingest.wait() or chain.ingest.state
        if state.is_completed():
            report = chain.ingest.result()
        else:
            why = f"ingestion failed: {_failure(state)}"
    for monitor, events in zip(chain.monitors, chain.events, strict=True):
        state = monitor.wait() or monitor.state
        if state.is_completed():
            runs.append(monitor.result())
        elif why is None:
            why = f"monitoring failed: {_failure(state)}"
        estate = events.wait() or events.state
        if estate.is_completed():
            emitted += events.result()
        elif state.is_completed() and why is None:
            why = f"events could not be emitted: {_failure(estate)}"
    return runs, report, emitted, why


def _row(run: dict[str, Any], emitted: int) -> dict[str, Any]:
    summary = run.get("summary") or {}
    risk = summary.get("risk") or {}
    drift = summary.get("drift") or {}
    score = risk.get("score")
    return {
        "model": run["model_id"],
        "status": "reused" if run.get("reused") else "ok",
        "run_id": run["run_id"],
        "window": window_text(run["window"]),
        "risk": f"{score:.0f} {risk.get('status')}" if score is not None else risk.get("status"),
        "drifted": f"{drift.get('n_drifted', 0)}/{drift.get('n_features', 0)}",
        "findings": len(run.get("findings") or []),
        "events": emitted,
    }


def run_pipeline(
    *,
    flow: str,
    title: str,
    scope: str,
    jobs: list[ModelJob],
    config_path: str | None,
    parameters: dict[str, Any],
) -> dict[str, Any]:
    """Run the shared steps for ``jobs``; returns the summary, raises PipelineFailed."""
    logger = get_run_logger()
    pipeline_id = start_pipeline_task(
        flow, title, parameters, [j.model_id for j in jobs], config_path
    )
    chains = [_Chain(job) for job in jobs]
    for chain in chains:
        _submit(chain, config_path)

    runs: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    failed: dict[str, str] = {}
    rows_ingested = rows_quarantined = alerts = 0
    for chain in chains:
        model_runs, report, emitted, why = _outcome(chain)
        runs += model_runs
        alerts += len(emitted)
        if report:
            rows_ingested += report.get("predictions_accepted", 0)
            rows_quarantined += report.get("rows_quarantined", 0)
        per_run = {r["run_id"]: len(r.get("events") or []) for r in model_runs}
        rows += [_row(r, per_run[r["run_id"]]) for r in model_runs]
        if why:
            failed[chain.job.model_id] = why
            rows.append(
                {
                    "model": chain.job.model_id,
                    "status": "failed",
                    "run_id": "-",
                    "risk": "-",
                    "drifted": "-",
                    "findings": "-",
                    "events": 0,
                }
            )
            logger.error("%s failed: %s", chain.job.model_id, why)

    problems: list[str] = []
    checkpoint = None
    if runs:
        state = checkpoint_task(config_path, note=f"{title} ({pipeline_id})", return_state=True)
        if state.is_completed():
            checkpoint = state.result()
        else:
            problems.append(f"audit checkpoint refused: {_failure(state)}")

    report = None
    run_ids = [r["run_id"] for r in runs]
    if run_ids:
        state = render_reports_task(run_ids, config_path, return_state=True)
        if state.is_completed():
            report = state.result()
            published = publish_artifacts_task(report, return_state=True)
            if not published.is_completed():
                problems.append(f"report artifacts failed: {_failure(published)}")
            notified = notify_task(report, config_path, return_state=True)
            if not notified.is_completed():
                problems.append(f"notification failed: {_failure(notified)}")
        else:
            problems.append(f"report rendering failed: {_failure(state)}")

    message = "; ".join([*(f"{m}: {w}" for m, w in failed.items()), *problems]) or None
    record = finish_pipeline_task(
        pipeline_id,
        config_path,
        models=[j.model_id for j in jobs],
        failed=failed,
        run_ids=run_ids,
        findings=sum(len(r.get("findings") or []) for r in runs),
        alerts=alerts,
        rows_ingested=rows_ingested,
        rows_quarantined=rows_quarantined,
        message=message,
        error=bool(problems),
    )
    summary = {
        "pipeline_run_id": pipeline_id,
        "flow": flow,
        "scope": scope,
        "name": title,
        "status": record["status"],
        "models": [j.model_id for j in jobs],
        "failed": failed,
        "problems": problems,
        "runs": runs,
        "run_ids": run_ids,
        "rows": rows,
        "findings": record["findings"],
        "alerts": alerts,
        "duration_s": record["duration_s"],
        "checkpoint": checkpoint,
        "report": report,
        "metrics_path": record["metrics_path"],
    }
    publish_pipeline_summary_task(summary)
    if failed or problems:
        parts = []
        if failed:
            parts.append(
                f"{len(failed)} model(s) failed: "
                + "; ".join(f"{m} ({w})" for m, w in failed.items())
            )
        parts += problems
        done = len({r["model_id"] for r in runs})
        raise PipelineFailed(". ".join(parts) + f". {done} model(s) were monitored.")
    logger.info(
        "%s: %d run(s), %d finding(s), %d event(s)", title, len(runs), summary["findings"], alerts
    )
    return summary
