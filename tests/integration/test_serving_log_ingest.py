"""The prediction logger's files through the foundation's ingestion: nothing lost or doubled."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from driftguard.ingest import ingest_model
from driftguard.serving_log import PredictionLogger
from driftguard.sql import quote_ident
from driftguard.workspace import Workspace
from tests.helpers import landing, make_workspace, model_dict

ROOT = Path(__file__).resolve().parents[2]
ODD = 'net <b>"income"</b>, €'  # a feature name that CSV or HTML would mangle


def jsonl_model(**overrides) -> dict:
    model = model_dict("credit", **overrides)
    model["sources"]["predictions"] = [{"path": "{home}/landing/credit/predictions/**/*.jsonl"}]
    return model


@pytest.fixture
def ws(tmp_path, monkeypatch) -> Workspace:
    return make_workspace(tmp_path, monkeypatch, [jsonl_model()])


def ingest(ws: Workspace):
    with ws.open_lake() as lake:
        return ingest_model(lake, ws.config.model("credit"), ws.settings, base=ws.base)


def lake_ids(ws: Workspace) -> list[str]:
    with ws.open_lake() as lake:
        return [r[0] for r in lake.fetchall("SELECT prediction_id FROM predictions__credit")]


def published_lines(folder: Path) -> list[dict]:
    """Every line of every visible file; each must be a whole JSON object."""
    rows = []
    for path in sorted(folder.glob("*.jsonl")):
        data = path.read_bytes()
        assert data.endswith(b"\n"), path
        rows += [json.loads(line) for line in data.splitlines()]
    return rows


def logger_for(ws: Workspace, **options) -> PredictionLogger:
    options.setdefault("fsync", False)
    return PredictionLogger.for_model(
        ws.config.model("credit"), ws.settings, base=ws.base, **options
    )


def test_values_survive_logging_and_ingestion(tmp_path, monkeypatch):
    features = {"income": "numeric", "age": "numeric", "region": "categorical", ODD: "numeric"}
    ws = make_workspace(tmp_path, monkeypatch, [jsonl_model(features=features)])
    moment = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    rows = {
        "a": ({"income": 0.1, "age": 40, "region": 'north, "upper"\n<b>', ODD: 1e-300}, 0.3),
        "b": ({"income": 2**53 + 1.0, "age": True, "region": "südost", ODD: -0.0}, 0.7),
        "c": ({"income": math.nan, "age": None, "region": None, ODD: 12.5}, 0.5),
        "nan": ({"income": 1.0, "age": 30, "region": "east", ODD: 1.0}, math.nan),
        "inf": ({"income": 1.0, "age": 30, "region": "east", ODD: 1.0}, math.inf),
        "range": ({"income": 1.0, "age": 30, "region": "east", ODD: 1.0}, 1.5),
    }
    with logger_for(ws) as logger:
        for i, (pid, (feats, score)) in enumerate(rows.items()):
            logger.log(
                pid,
                feats,
                score,
                timestamp=moment + timedelta(seconds=i),
                protected={"sex": "female" if i % 2 else "male"},
            )
    report = ingest(ws)
    # the three bad scores are quarantined with ingestion's own reasons
    assert (report.rows_accepted, report.rows_quarantined) == (3, 3)
    assert report.reasons() == {"infinite_score": 1, "nan_score": 1, "score_out_of_range": 1}
    with ws.open_lake() as lake:
        stored = {
            r["prediction_id"]: r
            for r in lake.records(
                "SELECT prediction_id, ts, score, income, age, region, sex, "
                f"{quote_ident(ODD)} AS odd FROM predictions__credit"
            )
        }
    assert stored["a"]["income"] == 0.1 and stored["a"]["odd"] == 1e-300  # exact round trip
    assert stored["a"]["region"] == 'north, "upper"\n<b>'
    assert stored["a"]["ts"] == moment and stored["a"]["sex"] == "male"
    assert stored["b"]["income"] == 2**53 + 1.0 and stored["b"]["age"] == 1.0  # True -> 1
    assert stored["b"]["region"] == "südost" and stored["b"]["score"] == 0.7
    # NaN in a feature is a missing value (ingestion's rule); None stays missing
    assert stored["c"]["income"] is None and stored["c"]["age"] is None
    assert stored["c"]["region"] is None and stored["c"]["odd"] == 12.5
    assert stored["c"]["ts"] == moment + timedelta(seconds=2)


def test_ingesting_while_threads_log_reads_only_closed_files(ws):
    logger = logger_for(ws, flush_records=20, max_bytes=12000, flush_interval=0.01)
    folder = landing(ws, "credit")
    second_half = threading.Event()
    per_thread = 300

    def worker(k: int) -> None:
        for i in range(per_thread):
            if i == per_thread // 2:
                second_half.wait()
            logger.log(
                f"t{k}-{i}",
                {"income": 1000.0 + i, "age": 40, "region": "north"},
                0.5,
                protected={"sex": "female"},
            )

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 120  # a bound for a loaded machine, not a timing check
    while logger.stats()["logged"] < 4 * (per_thread // 2):
        assert time.monotonic() < deadline and all(t.is_alive() for t in threads)
        time.sleep(0.01)
    logger.flush()
    assert [p for p in folder.iterdir() if p.name.endswith(".part")]  # a file is open
    reports = [ingest(ws)]  # with an open part-file beside the closed ones
    second_half.set()
    reports.append(ingest(ws))  # while the threads write and rename
    for thread in threads:
        thread.join()
    logger.close()
    reports.append(ingest(ws))
    for report in reports:
        assert report.failed == [] and report.rows_quarantined == 0
        assert all(b.source_path.endswith(".jsonl") for b in report.batches)
    ids = lake_ids(ws)
    assert len(ids) == len(set(ids)) == 4 * per_thread
    assert sum(r.rows_accepted for r in reports) == 4 * per_thread


CHILD = """
import itertools, sys
from driftguard.serving_log import PredictionLogger
from driftguard.sql import quote_ident
logger = PredictionLogger(
    sys.argv[1], columns={"timestamp": "ts"}, declared=["income", "age", "region", "sex"],
    flush_records=5, max_bytes=2500, flush_interval=0.02,
)
for i in itertools.count():
    logger.log(f"p{i}", {"income": 1000.0 + i, "age": 40, "region": "north"}, 0.25,
               protected={"sex": "female"})
"""


def test_a_killed_writer_loses_only_its_buffer_and_a_restart_continues(ws):
    folder = landing(ws, "credit")
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(folder)], cwd=ROOT)
    try:
        deadline = time.monotonic() + 120  # a bound for a loaded machine, not a timing check
        while len(list(folder.glob("*.jsonl"))) < 8:
            assert child.poll() is None, "the logging process stopped by itself"
            assert time.monotonic() < deadline, "the logging process published no files"
            time.sleep(0.05)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    assert child.returncode == -signal.SIGKILL

    closed = published_lines(folder)  # also proves every closed file is whole JSON lines
    closed_ids = [r["prediction_id"] for r in closed]
    files_before = len(list(folder.glob("*.jsonl")))
    orphans = [p for p in folder.iterdir() if p.name.endswith(".part")]
    assert len(orphans) <= 1
    # a part-file killed before its first complete line holds nothing to publish
    with_lines = [p for p in orphans if b"\n" in p.read_bytes()]
    report = ingest(ws)
    assert report.failed == [] and report.rows_quarantined == 0
    assert {b.source_path for b in report.batches} == {
        os.path.abspath(p) for p in folder.glob("*.jsonl")
    }  # the part-file was not read
    assert sorted(lake_ids(ws)) == sorted(closed_ids) and len(set(closed_ids)) == len(closed_ids)

    # restart on the same folder: the dead writer's part-file is published, logging goes on
    with logger_for(ws, flush_records=7) as logger:
        assert logger.stats()["recovered_files"] == len(with_lines)
        for i in range(30):
            logger.log(
                f"q{i}",
                {"income": 1.0, "age": 41, "region": "east"},
                0.75,
                protected={"sex": "male"},
            )
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]
    report = ingest(ws)
    assert report.failed == [] and report.rows_quarantined == 0
    files_after = len(list(folder.glob("*.jsonl")))
    assert report.count("skipped") == files_before  # already in the ledger
    assert report.count("ingested") == files_after - files_before  # recovered + new files
    ids = lake_ids(ws)
    assert len(ids) == len(set(ids)) == len(published_lines(folder))
    # the first process wrote p0, p1, ... in order and lost only an unwritten tail
    p_numbers = sorted(int(i[1:]) for i in ids if i.startswith("p"))
    assert p_numbers == list(range(len(p_numbers))) and len(p_numbers) >= len(closed_ids)
    assert sorted(i for i in ids if i.startswith("q")) == sorted(f"q{i}" for i in range(30))
