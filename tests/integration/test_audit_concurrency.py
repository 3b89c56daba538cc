"""Concurrent appenders never fork the chain: processes (spawned) and threads on one lake."""

from __future__ import annotations

import multiprocessing
import threading
from pathlib import Path

import pytest

from driftguard import audit
from driftguard.config import Settings
from driftguard.store import Lake
from tests.helpers import lake_env

pytestmark = pytest.mark.slow  # 1,000 serialised commits: about a minute on two cores

PROCESSES = 4
APPENDS_PER_PROCESS = 250  # the bar: 4 x 250 = 1,000


def _open(home: str) -> Lake:
    return Lake.open(Settings.from_env({**lake_env(), "DRIFTGUARD_HOME": home}))


def _appender(home: str, worker: int, count: int) -> None:
    """One process: ``count`` separate transactions, each appending one entry."""
    with _open(home) as lake:
        for i in range(count):
            audit.append(
                lake,
                event_type="test.concurrent",
                action="append",
                actor=f"worker-{worker}",
                resource_type="test",
                resource_id=str(i),
                payload={"worker": worker, "i": i},
            )


def _check(lake: Lake, expected: int) -> None:
    seqs = [r[0] for r in lake.fetchall("SELECT seq FROM audit_entries ORDER BY seq")]
    assert seqs == list(range(1, expected + 1))  # contiguous, no duplicate
    assert audit.head(lake).size == expected
    checkpoint = audit.write_checkpoint(lake)  # its incremental check walks the whole chain
    result = audit.verify(lake, checkpoints=[checkpoint])
    assert result.ok and result.size == expected, result.verdict()


def test_four_processes_appending_250_each_leave_1000_contiguous_entries(tmp_path: Path):
    home = str(tmp_path / "home")
    with _open(home):
        pass  # create and migrate once, so the workers only append
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=_appender, args=(home, w, APPENDS_PER_PROCESS))
        for w in range(PROCESSES)
    ]
    for process in workers:
        process.start()
    for process in workers:
        process.join(timeout=900)
    assert [p.exitcode for p in workers] == [0] * PROCESSES
    with _open(home) as lake:
        _check(lake, PROCESSES * APPENDS_PER_PROCESS)
        per_worker = lake.fetchall(
            "SELECT actor, count(*) FROM audit_entries GROUP BY actor ORDER BY actor"
        )
        assert per_worker == [(f"worker-{w}", APPENDS_PER_PROCESS) for w in range(PROCESSES)]


def test_threads_with_their_own_lake_append_without_forking(tmp_path: Path):
    home = str(tmp_path / "home")
    with _open(home):
        pass
    errors: list[BaseException] = []

    def run(worker: int) -> None:
        try:
            _appender(home, worker, 15)
        except BaseException as error:  # reported below, with the assertion
            errors.append(error)

    threads = [threading.Thread(target=run, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with _open(home) as lake:
        _check(lake, 60)
