"""Flows for running at scale: one model per flow run (so runs fan out across workers), and
within a large model, partitioned scans on a Dask cluster.

- ``monitor-one-model``: ingest and monitor one model. With ``dask`` set, the drift
  histograms and fairness group counts of the run are split into time slices that run as
  tasks on a Dask cluster (a local one of ``n_workers`` processes, or an existing scheduler
  at ``address``) through prefect-dask's ``DaskTaskRunner``; the results are the same as
  without.
- ``monitor-fleet-fanout``: one flow run of the ``monitor-one-model`` deployment per model.
  Every worker polling the work pool picks some of them up, so the models of a fleet run on
  several worker processes (and machines) at once, all writing to the shared lake.

Deployments: prefect-scale.yaml (``prefect --no-prompt deploy --all --prefect-file
prefect-scale.yaml``).
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from prefect import flow, get_run_logger
from pydantic import BaseModel, Field

from driftguard.config import load_config
from tasks.ingest import ingest_model_task
from tasks.monitor import monitor_model_task
from tasks.partition import monitor_partitioned

FINAL_STATES = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


class DaskCluster(BaseModel):
    """Where the partition tasks run: an existing Dask scheduler, or a local cluster."""

    #: ``tcp://host:8786`` of a running scheduler; empty: start a local cluster.
    address: str | None = None
    n_workers: int = Field(2, ge=1, le=256)
    threads_per_worker: int = Field(1, ge=1, le=64)
    #: Time slices per window scan (more slices than workers keeps them all busy).
    partitions: int = Field(8, ge=1, le=10_000)
    #: Fewer rows than this per slice: fewer slices (0: always ``partitions``).
    min_rows: int = Field(0, ge=0)


class FanoutFailed(RuntimeError):
    """At least one model's flow run did not complete; the others did."""


def _runner(cluster: DaskCluster) -> Any:
    from prefect_dask import DaskTaskRunner

    if cluster.address:
        return DaskTaskRunner(address=cluster.address)
    return DaskTaskRunner(
        cluster_kwargs={
            "n_workers": cluster.n_workers,
            "threads_per_worker": cluster.threads_per_worker,
            "processes": True,
            "dashboard_address": None,
        }
    )


@flow(name="monitor-model-partitions", flow_run_name="partitions of {model_id}")
def monitor_model_partitions(
    model_id: str,
    config_path: str | None = None,
    partitions: int = 8,
    min_rows: int = 0,
    as_of: datetime | None = None,
) -> dict[str, Any]:
    """The monitoring run of one model with its scans as partition tasks (runs on the task
    runner given by :func:`monitor_one_model`)."""
    return monitor_partitioned(
        model_id, config_path, partitions=partitions, min_rows=min_rows, as_of=as_of
    )


@flow(name="monitor-one-model", flow_run_name="monitor {model_id}")
def monitor_one_model(
    model_id: str,
    config_path: str | None = None,
    ingest: bool = True,
    dask: DaskCluster | None = None,
    as_of: datetime | None = None,
) -> dict[str, Any]:
    """Ingest (unless ``ingest`` is false) and monitor one model; with ``dask``, its scans run
    as partition tasks on that Dask cluster."""
    if ingest:
        ingest_model_task(model_id, config_path)
    if dask is None:
        return monitor_model_task(model_id, config_path, as_of=as_of)
    partitioned = monitor_model_partitions.with_options(task_runner=_runner(dask))
    return partitioned(
        model_id, config_path, partitions=dask.partitions, min_rows=dask.min_rows, as_of=as_of
    )


@flow(name="monitor-fleet-fanout", flow_run_name="fan out {deployment}")
def monitor_fleet_fanout(
    models: list[str] | None = None,
    config_path: str | None = None,
    deployment: str = "monitor-one-model/scale",
    dask: DaskCluster | None = None,
    timeout_seconds: int = 6 * 3600,
) -> list[dict[str, Any]]:
    """Start one ``deployment`` flow run per model (all at once) and wait for them all; fail
    at the end naming the models whose runs did not complete."""
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment

    logger = get_run_logger()
    config = load_config(config_path) if config_path else None
    ids = list(models or []) or [m.id for m in (config.models if config else [])]
    if not ids:
        raise ValueError("no models: pass models or a config_path whose config lists models")
    started = {}
    for model_id in ids:
        parameters: dict[str, Any] = {"model_id": model_id, "config_path": config_path}
        if dask is not None:
            parameters["dask"] = dask.model_dump()
        started[model_id] = run_deployment(deployment, parameters=parameters, timeout=0)
    outcomes, failed = [], []
    deadline = time.monotonic() + timeout_seconds
    with get_client(sync_client=True) as client:
        for model_id, flow_run in started.items():
            while True:
                current = client.read_flow_run(flow_run.id)
                state = current.state.type.value if current.state else "PENDING"
                if state in FINAL_STATES or time.monotonic() > deadline:
                    break
                time.sleep(2)
            outcomes.append({"model_id": model_id, "flow_run_id": str(flow_run.id), "state": state})
            if state != "COMPLETED":
                failed.append(model_id)
                logger.error("%s: flow run %s ended %s", model_id, flow_run.id, state)
    if failed:
        raise FanoutFailed(f"monitoring did not complete for {', '.join(failed)}; others did")
    return outcomes
