"""Per-partition aggregation gives the same run as one scan: drift histograms and fairness
group counts summed over time slices, in this process or in other processes."""

from __future__ import annotations

import concurrent.futures
import multiprocessing
from datetime import UTC, datetime

import pytest

from driftguard import drift
from driftguard.config import Window
from driftguard.ingest import ingest_model
from driftguard.metrics import drift_sql as dsql
from driftguard.monitor import run_monitoring
from driftguard.partitions import Fanout, serial_map, split_window
from driftguard.simulate import simulate_model
from tests.helpers import comparable_summary

NOW = datetime(2026, 6, 1, 12, 30, tzinfo=UTC)


def test_slices_cover_the_window_exactly():
    start, end = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)
    slices = split_window(start, end, 7)
    assert slices[0][0] == start and slices[-1][1] == end and len(slices) == 7
    assert all(a[1] == b[0] for a, b in zip(slices, slices[1:], strict=False))  # adjacent
    # a window shorter than k microseconds cannot give k non-empty slices
    tiny = split_window(start, start.replace(microsecond=2), 5)
    assert tiny[0][0] == start and tiny[-1][1] == start.replace(microsecond=2)
    assert all(lo < hi for lo, hi in tiny)


@pytest.fixture
def lake(workspace):
    with workspace.open_lake() as opened:
        model = workspace.config.model("credit")
        simulate_model(model, workspace.settings, lake=opened, now=NOW)
        ingest_model(opened, model, workspace.settings)
        yield opened


def _rows(lake, table, run_id, order):
    rows = lake.records(f"SELECT * FROM {table} WHERE run_id = ? ORDER BY {order}", [run_id])
    return [{k: v for k, v in r.items() if k not in {"run_id", "created_at"}} for r in rows]


def _process_map(fn, queries):
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(2, mp_context=context) as pool:
        return list(pool.map(fn, queries))


@pytest.mark.parametrize(
    "mapper",
    [serial_map, pytest.param(_process_map, marks=pytest.mark.slow)],
    ids=["in-process", "2-processes"],
)
def test_a_partitioned_run_equals_the_single_scan_run(workspace, lake, mapper):
    single = run_monitoring(lake, workspace.config, "credit", workspace.settings, as_of=NOW)
    fanout = Fanout(lake.location, lake.snapshot_id(), mapper=mapper, partitions=5)
    parted = run_monitoring(
        lake, workspace.config, "credit", workspace.settings, as_of=NOW, force=True, fanout=fanout
    )
    # the current-window histograms and the fairness counts were sliced five ways (the
    # reference profile is reused from the first run)
    assert fanout.log == [("drift current credit", 5), ("fairness credit", 5)]
    assert comparable_summary(parted.summary) == comparable_summary(single.summary)
    for table, order in [
        ("drift_results", "segment NULLS FIRST, column_name, method"),
        ("fairness_groups", "ALL"),
        ("fairness_metrics", "ALL"),
    ]:
        assert _rows(lake, table, parted.run_id, order) == _rows(
            lake, table, single.run_id, order
        ), table


def test_a_partitioned_reference_profile_equals_the_single_scan_profile(workspace, lake):
    """The reference pass (7 bins, three slices), and slices read at their snapshot."""
    model = workspace.config.model("credit").model_copy(
        update={"drift": workspace.config.model("credit").drift.model_copy(update={"bins": 7})}
    )
    reference = Window(
        start=datetime(2026, 5, 27, tzinfo=UTC), end=datetime(2026, 5, 31, tzinfo=UTC)
    )
    specs = drift.feature_specs(model, model.drift)
    source = drift.window_source(model, reference)
    fanout = Fanout(lake.location, lake.snapshot_id(), partitions=3)
    one = dsql.build_profile(lake.con, source, specs, model.drift)
    parted = dsql.build_profile(lake.con, source, specs, model.drift, fanout=fanout)
    assert fanout.log == [("drift reference", 3)]
    assert one.n_rows == parted.n_rows > 0
    for name, col in one.columns.items():
        other = parted.columns[name]
        assert repr(other.reference) == repr(col.reference), name
        assert (other.edges is None) == (col.edges is None)

    # the slices read the lake as of the snapshot they were given, not as it is now
    (before,) = lake.fetchone("SELECT count(*) FROM predictions__credit")
    snapshot = lake.snapshot_id()
    lake.execute("DELETE FROM predictions__credit")  # committed after the snapshot
    parts = Fanout(lake.location, snapshot, partitions=2).rows(
        "SELECT count(*) FROM predictions__credit WHERE ts >= $w_start AND ts < $w_end",
        {"w_start": datetime(2020, 1, 1, tzinfo=UTC), "w_end": NOW},
        label="count",
    )
    assert lake.fetchone("SELECT count(*) FROM predictions__credit")[0] == 0
    assert [len(p) for p in parts] == [1, 1] and sum(p[0][0] for p in parts) == before > 0
