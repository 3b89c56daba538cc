"""The fleet pipeline without Prefect: the same steps as ``flows/monitor.py:monitor_fleet``
in plain Python, for ``driftguard demo --no-prefect``, other orchestrators and the benchmark
that measures what Prefect adds.

Per model (models in parallel threads, each with its own lake connection): ingest (a file
that cannot be read fails the model), monitor, and decide the events; then one audit
checkpoint, the HTML reports, the run history
and the metrics textfile. Events are decided but not emitted (there is no Prefect to receive
them); e-mail is left to the Prefect task layer.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from driftguard import audit
from driftguard.events import previous_risk_status, run_events
from driftguard.history import finish_pipeline_run, new_pipeline_run_id, start_pipeline_run
from driftguard.ingest import ingest_model
from driftguard.logs import log_context
from driftguard.monitor import run_monitoring
from driftguard.prometheus import write_metrics
from driftguard.report.render import render_reports
from driftguard.workspace import Workspace

log = logging.getLogger(__name__)


def _model(ws: Workspace, model_id: str, as_of: datetime, pipeline_id: str) -> dict[str, Any]:
    with log_context(pipeline_run_id=pipeline_id, model_id=model_id, step="ingest"):
        with ws.open_lake() as lake:
            report = ingest_model(lake, ws.config.model(model_id), ws.settings, base=ws.base)
            if report.failed:
                failures = "; ".join(f"{f.source_path}: {f.message}" for f in report.failed)
                return {
                    "model_id": model_id,
                    "failed": f"ingestion failed: {failures}",
                    "ingest": report.as_dict(),
                }
            with log_context(step="monitor"):
                run = run_monitoring(lake, ws.config, model_id, ws.settings, as_of=as_of)
                data = run.as_dict()
                previous = previous_risk_status(lake, model_id, run.run_id)
    data["events"] = [e.as_dict() for e in run_events(data, previous)]
    return {"model_id": model_id, "run": data, "ingest": report.as_dict()}


def run_fleet_locally(
    ws: Workspace, *, models: list[str] | None = None, as_of: datetime | None = None
) -> dict[str, Any]:
    """Run the fleet pipeline in this process; returns the same summary as the flow."""
    moment = as_of or datetime.now(UTC)
    chosen = [m.id for m in ws.config.select(models)]
    pipeline_id = new_pipeline_run_id()
    with ws.open_lake() as lake:
        start_pipeline_run(
            lake,
            pipeline_run_id=pipeline_id,
            flow="monitor-fleet",
            name="monitor fleet (all)",
            orchestrator="local",
            models=chosen,
        )
    with ThreadPoolExecutor(max_workers=max(1, len(chosen))) as pool:
        outcomes = list(pool.map(lambda m: _model(ws, m, moment, pipeline_id), chosen))
    runs = [o["run"] for o in outcomes if "run" in o]
    failed = {o["model_id"]: o["failed"] for o in outcomes if "failed" in o}
    problems: list[str] = []
    checkpoint = report = None
    with ws.open_lake() as lake:
        if runs:
            try:
                checkpoint = audit.write_checkpoint(lake, note=f"fleet run {pipeline_id}").to_text()
            except audit.AuditIntegrityError as error:
                problems.append(f"audit checkpoint refused: {error}")
            report = _render(lake, ws, [r["run_id"] for r in runs], problems)
        record = finish_pipeline_run(
            lake,
            pipeline_id,
            failed=failed,
            run_ids=[r["run_id"] for r in runs],
            findings=sum(len(r["findings"]) for r in runs),
            alerts=sum(len(r["events"]) for r in runs),
            rows_ingested=sum(o["ingest"]["predictions_accepted"] for o in outcomes),
            rows_quarantined=sum(o["ingest"]["rows_quarantined"] for o in outcomes),
            message="; ".join([*failed.values(), *problems]) or None,
            error=bool(problems),
        )
        metrics = write_metrics(lake, ws.config, ws.settings)
    return {
        "pipeline_run_id": pipeline_id,
        "status": record.status,
        "runs": runs,
        "run_ids": [r["run_id"] for r in runs],
        "failed": failed,
        "problems": problems,
        "checkpoint": checkpoint,
        "report": report,
        "duration_s": record.duration_s,
        "metrics_path": str(metrics) if metrics else None,
    }


def _render(lake: Any, ws: Workspace, run_ids: list[str], problems: list[str]) -> dict | None:
    """Per-model and fleet reports, as the Prefect report task renders them."""
    try:
        return render_reports(lake, ws.config, ws.settings, run_ids)
    except Exception as error:  # a report failure is named, the runs stay committed
        log.exception("report rendering failed")
        problems.append(f"report rendering failed: {error}")
        return None
