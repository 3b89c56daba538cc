"""Ingestion task: one model's new files into the lake."""

from __future__ import annotations

from typing import Any

from prefect import task

from driftguard.errors import DataError
from driftguard.ingest import ingest_model
from driftguard.workspace import Workspace
from tasks.audit import load_audit_keys
from tasks.retry import BACKOFF, transient_only
from tasks.runtime import lake_write_slot, step


class IngestIncomplete(DataError):
    """Some files of a model could not be read; the others were ingested."""


@task(
    name="ingest-model",
    task_run_name="ingest {model_id}",
    retries=len(BACKOFF),
    retry_delay_seconds=BACKOFF,
    retry_condition_fn=transient_only,
    timeout_seconds=3600,
)
def ingest_model_task(
    model_id: str, config_path: str | None = None, strict: bool = False
) -> dict[str, Any]:
    """Ingest every new file of one model; returns the ingestion report as a dict.

    With ``strict`` a file that could not be read fails the task (after the good files were
    committed), so the model is not monitored on incomplete data: a missing file would look
    like a volume drop and could trip a kill switch. Not retried: the file must be fixed.
    """
    load_audit_keys()  # each batch's audit entry is sealed with them
    with step("ingest", model_id=model_id):
        ws = Workspace.load(config_path)
        with lake_write_slot(), ws.open_lake() as lake:
            report = ingest_model(lake, ws.config.model(model_id), ws.settings, base=ws.base)
    data = report.as_dict()
    if strict and report.failed:
        failures = "; ".join(f"{f.source_path}: {f.message}" for f in report.failed)
        raise IngestIncomplete(
            f"{model_id}: {len(report.failed)} file(s) could not be ingested ({failures}). "
            "The other files were ingested; fix or remove the bad file(s) and re-run."
        )
    return data
