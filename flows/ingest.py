"""Flow: ingest new prediction logs and labels for every configured model, in parallel."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger

from driftguard.workspace import Workspace
from tasks.ingest import ingest_model_task


def _names() -> str:
    from prefect.runtime import flow_run

    models = flow_run.parameters.get("models")
    return ", ".join(models) if models else "all models"


class IngestFailed(RuntimeError):
    """At least one model's ingestion failed; the others were still ingested."""


@flow(name="ingest-logs", flow_run_name=lambda: "ingest " + _names(), log_prints=False)
def ingest_logs(
    models: list[str] | None = None, config_path: str | None = None
) -> list[dict[str, Any]]:
    """Ingest every model (or the ones named). One model's failure does not stop the others;
    the flow fails at the end naming the models that failed."""
    logger = get_run_logger()
    config = Workspace.load(config_path).config
    futures = {m.id: ingest_model_task.submit(m.id, config_path) for m in config.select(models)}
    reports, failed = [], []
    for model_id, future in futures.items():
        state = future.wait() or future.state
        if state.is_completed():
            report = future.result()
            reports.append(report)
            logger.info(
                "%s: %d files new, %d rows accepted, %d quarantined",
                model_id,
                report["files_ingested"],
                report["rows_accepted"],
                report["rows_quarantined"],
            )
        else:
            failed.append(model_id)
            logger.error("%s: ingestion failed: %s", model_id, state.message)
    bad_files = [r["model_id"] for r in reports if r["files_failed"]]
    if failed or bad_files:
        raise IngestFailed(
            f"ingestion failed for {', '.join(failed + bad_files)}; the other models were ingested"
        )
    return reports
