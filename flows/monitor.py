"""Monitoring flows: the fleet on a schedule, one model over a window, and backfills.

Per model: ingest -> monitor (drift, fairness, quality, performance, risk, then the policy and
kill-switch stages, the audit entry and a checkpoint, in one lake transaction) -> events; then
for the whole run an audit checkpoint (re-verifying every entry since the last one), the HTML
reports, artifacts, e-mails, the run history and the metrics textfile (flows/pipeline.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from prefect import flow
from pydantic import BaseModel, ConfigDict, Field, model_validator

from driftguard.config import Window
from driftguard.workspace import Workspace
from flows.pipeline import ModelJob, PipelineFailed, run_pipeline
from tasks.runtime import short_time, window_text

#: Earlier name of the failure: one or more models failed, the others completed.
FleetRunFailed = PipelineFailed
Cadence = Literal["hourly", "daily", "weekly", "cron", "all"]


def _fleet_name() -> str:
    from prefect.runtime import flow_run

    params = flow_run.parameters
    cadence = params.get("cadence", "all")
    if cadence == "cron" and params.get("cron"):
        cadence = f"cron '{params['cron']}'"
    as_of = params.get("as_of") or datetime.now(UTC)
    return f"monitor fleet ({cadence}) at {short_time(as_of)}"


def select_models(
    workspace: Workspace, cadence: str, cron: str | None, models: list[str] | None
) -> list[str]:
    """Models whose schedule matches: a cadence, ``cron`` (optionally one expression), or
    ``all``; ``models`` narrows the choice further."""
    chosen = []
    for model in workspace.config.select(models):
        schedule = model.schedule
        if (
            cadence == "all"
            or schedule.cadence == cadence
            and (cadence != "cron" or cron is None or schedule.cron == cron)
        ):
            chosen.append(model.id)
    return chosen


@flow(name="monitor-fleet", flow_run_name=_fleet_name, timeout_seconds=4 * 3600)
def monitor_fleet(
    cadence: Cadence = "all",
    cron: str | None = None,
    models: list[str] | None = None,
    as_of: datetime | None = None,
    config_path: str | None = None,
) -> dict[str, Any]:
    """Ingest, monitor, checkpoint, report and notify every model scheduled at ``cadence``.

    ``cron`` picks the models with that cron schedule (cadence ``cron``); ``models`` narrows
    the selection; ``as_of`` runs the windows as if at that time (default: now). Models run in
    parallel; the flow fails at the end naming the models that failed.
    """
    ws = Workspace.load(config_path)
    moment = as_of or datetime.now(UTC)
    jobs = [
        ModelJob(model_id, [ws.config.model(model_id).current_window(moment)])
        for model_id in select_models(ws, cadence, cron, models)
    ]
    scope = cadence if cadence != "cron" else f"cron {cron or 'all'}"
    return run_pipeline(
        flow="monitor-fleet",
        title=f"monitor fleet ({scope})",
        scope=scope,
        jobs=jobs,
        config_path=config_path,
        parameters={"cadence": cadence, "cron": cron, "models": models, "as_of": as_of},
    )


def _model_name() -> str:
    from prefect.runtime import flow_run

    params = flow_run.parameters
    return f"monitor {params['model_id']} {window_text(params.get('window'))}"


@flow(name="monitor-model", flow_run_name=_model_name, timeout_seconds=3 * 3600)
def monitor_model(
    model_id: str,
    window: Window | None = None,
    as_of: datetime | None = None,
    force: bool = False,
    ingest: bool = True,
    config_path: str | None = None,
) -> dict[str, Any]:
    """One model over an explicit window (default: its current window at ``as_of``/now).

    ``force`` records a new run even if the window was monitored with the same
    configuration (e.g. after late labels); ``ingest`` first ingests new files.
    """
    ws = Workspace.load(config_path)
    model = ws.config.model(model_id)
    chosen = window or model.current_window(as_of or datetime.now(UTC))
    return run_pipeline(
        flow="monitor-model",
        title=f"monitor {model_id} {window_text(chosen)}",
        scope=model_id,
        jobs=[ModelJob(model_id, [chosen], force=force, ingest=ingest)],
        config_path=config_path,
        parameters={"model_id": model_id, "window": chosen.model_dump(mode="json"), "force": force},
    )


class BackfillRange(BaseModel):
    """Consecutive windows of the model's window length from ``start`` to ``end``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    start: datetime = Field(description="Start of the first window (UTC).")
    end: datetime = Field(description="End of the last window (UTC).")

    @model_validator(mode="after")
    def _ordered(self) -> BackfillRange:
        if self.start >= self.end:
            raise ValueError("start must be before end")
        return self


MAX_BACKFILL_WINDOWS = 1000


def backfill_windows(length: timedelta, span: BackfillRange) -> list[Window]:
    """Consecutive windows of ``length`` covering [start, end) (the last one may end later).

    >>> from datetime import datetime, timedelta, UTC
    >>> span = BackfillRange(start=datetime(2026, 3, 1, tzinfo=UTC),
    ...                      end=datetime(2026, 3, 3, tzinfo=UTC))
    >>> [w.start.day for w in backfill_windows(timedelta(days=1), span)]
    [1, 2]
    """
    windows, start = [], span.start
    while start < span.end:
        windows.append(Window(start=start, end=start + length))
        start += length
        if len(windows) > MAX_BACKFILL_WINDOWS:
            raise ValueError(f"more than {MAX_BACKFILL_WINDOWS} windows: shorten the range")
    return windows


def _backfill_name() -> str:
    from prefect.runtime import flow_run

    params = flow_run.parameters
    if params.get("windows"):
        what = f"{len(params['windows'])} windows"
    else:
        span = params.get("span") or {}
        what = (
            f"{short_time(span.get('start'))}..{short_time(span.get('end'))}"
            if isinstance(span, dict)
            else f"{short_time(span.start)}..{short_time(span.end)}"
        )
    return f"backfill {params['model_id']} ({what})"


@flow(name="backfill", flow_run_name=_backfill_name, timeout_seconds=12 * 3600)
def backfill(
    model_id: str,
    windows: list[Window] | None = None,
    span: BackfillRange | None = None,
    force: bool = False,
    config_path: str | None = None,
) -> dict[str, Any]:
    """Monitor one model over past windows, oldest first: an explicit list of ``windows``,
    or every window of the model's length in ``span``."""
    ws = Workspace.load(config_path)
    model = ws.config.model(model_id)
    if bool(windows) == bool(span):
        raise ValueError("give either windows or span (one of the two)")
    chosen = sorted(
        windows or backfill_windows(model.current_length(), span), key=lambda w: w.start
    )
    return run_pipeline(
        flow="backfill",
        title=f"backfill {model_id} ({len(chosen)} windows)",
        scope=model_id,
        jobs=[ModelJob(model_id, list(chosen), force=force)],
        config_path=config_path,
        parameters={
            "model_id": model_id,
            "windows": [w.model_dump(mode="json") for w in chosen],
            "force": force,
        },
    )
