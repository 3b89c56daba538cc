"""Partition tasks: one time slice of a monitoring run's mergeable scans each, on whatever
the flow's task runner is (a Dask cluster through prefect-dask's DaskTaskRunner).

:func:`monitor_partitioned` runs in the flow's own process (it is the driver: quantile edges,
exact KS, the run's single transaction) and hands every drift histogram and fairness
group-count scan to :func:`prefect_map`, which submits one ``aggregate-partition`` task per
slice. A slice only reads the lake, at the run's snapshot, so retrying it is always safe.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from driftguard.monitor import run_monitoring
from driftguard.partitions import Fanout, PartitionQuery, Rows, run_partition
from driftguard.workspace import Workspace
from tasks.audit import load_audit_keys
from tasks.retry import BACKOFF, transient_only


@task(
    name="aggregate-partition",
    task_run_name="{query.label}",
    retries=len(BACKOFF),
    retry_delay_seconds=BACKOFF,
    retry_condition_fn=transient_only,
    timeout_seconds=3600,
    cache_policy=NO_CACHE,
)
def aggregate_partition_task(query: PartitionQuery) -> Rows:
    """The aggregate rows of one time slice (read-only, at the run's snapshot)."""
    return run_partition(query)


def prefect_map(
    fn: Callable[[PartitionQuery], Rows], queries: Sequence[PartitionQuery]
) -> list[Rows]:
    """A :data:`driftguard.partitions.Mapper` that runs each slice as a task of the current
    flow (``fn`` is always :func:`run_partition`, which the task wraps)."""
    futures = aggregate_partition_task.map(list(queries))
    return [future.result() for future in futures]


def monitor_partitioned(
    model_id: str,
    config_path: str | None = None,
    *,
    partitions: int = 8,
    min_rows: int = 0,
    as_of: datetime | None = None,
) -> dict[str, Any]:
    """One monitoring run whose histogram and group-count scans fan out as partition tasks.

    Call it from a flow body (the driver); its result equals :func:`tasks.monitor.
    monitor_model_task`'s for the same window.
    """
    load_audit_keys()
    ws = Workspace.load(config_path)
    with ws.open_lake() as lake:
        fanout = Fanout(
            lake.location,
            lake.snapshot_id(),
            mapper=prefect_map,
            partitions=partitions,
            min_rows=min_rows,
        )
        run = run_monitoring(lake, ws.config, model_id, ws.settings, as_of=as_of, fanout=fanout)
    return run.as_dict()
