"""Per-partition aggregation: the mergeable scans of a monitoring run, split by time.

A monitoring run's heavy scans are aggregations whose results add up: drift histograms
(counts per bin and category, per segment and chunk) and fairness group counts (rows per
group, decision and label). So a window can be cut into ``k`` time slices, each slice
aggregated on its own (in another process, on another machine) and the partial results
summed: the merged counts equal those of one scan, bit for bit, because they are integers;
every metric is then computed from the merged counts by the same code.

Each partition is a :class:`PartitionQuery`: the aggregate SQL of one scan with the window
bounds ``$w_start``/``$w_end`` replaced by its slice, the lake's location and the snapshot the
run started from. :func:`run_partition` opens the lake read-only AT that snapshot (DuckLake
time travel), so every partition sees the same data, whatever is committed meanwhile; it only
needs the lake's settings (catalog, data path, S3 credentials from the environment), which is
what a Dask worker or a Prefect worker on another machine has.

How partitions run is the caller's choice, a *mapper* with the signature of the builtin
``map`` collected into a list: in this process (:func:`serial_map`), a process pool, or Prefect
tasks on a Dask cluster (``tasks/partition.py``). This module never imports Prefect or Dask.

Notes
-----
The reference quantile edges (exact order statistics) are not mergeable and are computed
once in the driving process, as are the exact KS/Wasserstein value joins and label drift;
the partitions do the histogram and group-count scans, the part of a run that grows with
the number of rows.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import duckdb

from driftguard.sql import quote_literal
from driftguard.store import ALIAS, LakeLocation, _create_s3_secret, load_extension

#: Parameters that bound a window in the SQL of drift and fairness scans.
START, END = "w_start", "w_end"

Rows = list[tuple[Any, ...]]
#: ``mapper(run_partition, queries) -> [rows of each query, in order]``.
Mapper = Callable[[Callable[["PartitionQuery"], Rows], Sequence["PartitionQuery"]], list[Rows]]


@dataclass(frozen=True)
class PartitionQuery:
    """One slice of one aggregate scan, self-contained so it can run in any process."""

    location: LakeLocation
    snapshot: int
    sql: str
    params: Mapping[str, Any]
    #: For logs and task names, e.g. "drift current credit 3/8".
    label: str = ""


def serial_map(
    fn: Callable[[PartitionQuery], Rows], queries: Sequence[PartitionQuery]
) -> list[Rows]:
    """Run the partitions one after the other in this process."""
    return [fn(query) for query in queries]


@dataclass
class Fanout:
    """How a run's mergeable scans are split: ``partitions`` time slices per window, run by
    ``mapper``, reading the lake at ``snapshot``. Windows with fewer than ``min_rows`` rows
    per slice get fewer slices (at least one)."""

    location: LakeLocation
    snapshot: int
    mapper: Mapper = serial_map
    partitions: int = 4
    min_rows: int = 0
    #: (label, number of slices) of every fanned-out scan, for tests and logs.
    log: list[tuple[str, int]] = field(default_factory=list)

    def slices(self, start: datetime, end: datetime, n_rows: int | None = None) -> int:
        k = max(1, int(self.partitions))
        if n_rows is not None and self.min_rows > 0:
            k = max(1, min(k, n_rows // self.min_rows))
        return k

    def rows(
        self,
        sql: str,
        params: Mapping[str, Any],
        *,
        label: str,
        n_rows: int | None = None,
    ) -> list[Rows]:
        """The rows of ``sql`` for every time slice of the window bound by ``$w_start`` and
        ``$w_end`` (which ``params`` must hold)."""
        start, end = params[START], params[END]
        bounds = split_window(start, end, self.slices(start, end, n_rows))
        queries = [
            PartitionQuery(
                self.location,
                self.snapshot,
                sql,
                {**params, START: lo, END: hi},
                f"{label} {i}/{len(bounds)}",
            )
            for i, (lo, hi) in enumerate(bounds, start=1)
        ]
        self.log.append((label, len(queries)))
        return list(self.mapper(run_partition, queries))


def split_window(start: datetime, end: datetime, k: int) -> list[tuple[datetime, datetime]]:
    """``k`` adjacent half-open slices covering [start, end) exactly (the last ends at end).

    Slice edges are whole microseconds, so no row can fall between two slices or in both.
    """
    total = end - start
    step = total / k
    edges = [
        start + timedelta(microseconds=round((step * i) / timedelta(microseconds=1)))
        for i in range(k)
    ]
    edges.append(end)
    return [(edges[i], edges[i + 1]) for i in range(k) if edges[i] < edges[i + 1]] or [(start, end)]


_readers = threading.local()


def run_partition(query: PartitionQuery) -> Rows:
    """Run one partition's aggregate on the lake as of the query's snapshot (read-only)."""
    con = _reader(query.location, query.snapshot)
    return con.execute(query.sql, dict(query.params)).fetchall()


def _reader(location: LakeLocation, snapshot: int) -> duckdb.DuckDBPyConnection:
    """A read-only connection to ``location`` at ``snapshot``, kept per thread and reused by
    the next partition of the same snapshot (a worker runs many)."""
    cache: dict[tuple[LakeLocation, int], duckdb.DuckDBPyConnection] = getattr(
        _readers, "cache", {}
    )
    _readers.cache = cache
    key = (location, snapshot)
    if key not in cache:
        for old in cache.values():
            old.close()
        cache.clear()
        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        load_extension(con, "ducklake")
        load_extension(con, "sqlite_scanner" if location.is_embedded else "postgres_scanner")
        if location.data_path.startswith("s3://"):
            load_extension(con, "httpfs")
            _create_s3_secret(con)
        options = [
            f"DATA_PATH {quote_literal(location.data_path)}",
            f"SNAPSHOT_VERSION {int(snapshot)}",
            "READ_ONLY",
        ]
        if location.metadata_schema:
            options.append(f"METADATA_SCHEMA {quote_literal(location.metadata_schema)}")
        uri = quote_literal(f"ducklake:{location.catalog}")
        con.execute(f"ATTACH {uri} AS {ALIAS} ({', '.join(options)})")
        con.execute(f"USE {ALIAS}")
        cache[key] = con
    return cache[key]
