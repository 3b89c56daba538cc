"""driftguard.serving_log: atomic files, rotation, encoding, failures, recovery, threads."""

from __future__ import annotations

import doctest
import json
import math
import os
import subprocess
import sys
import threading
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from driftguard import serving_log
from driftguard.config import FileSource, Settings, parse_config
from driftguard.serving_log import LoggerClosed, PredictionLogger
from driftguard.sources import discover
from tests.helpers import model_dict

ROOT = Path(__file__).resolve().parents[2]


class FakeClock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def published(folder: Path) -> list[Path]:
    """Files ingestion would read: visible ``*.jsonl`` names."""
    return sorted(p for p in folder.iterdir() if p.suffix == ".jsonl" and p.name[0] != ".")


def hidden(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.name.startswith("."))


def records(folder: Path) -> list[dict]:
    rows = []
    for path in published(folder):
        text = path.read_text(encoding="ascii")
        assert text.endswith("\n")
        rows += [json.loads(line) for line in text.splitlines()]
    return rows


def make(folder: Path, clock: FakeClock | None = None, **options) -> PredictionLogger:
    options.setdefault("background", False)
    options.setdefault("fsync", False)
    return PredictionLogger(folder, clock=clock or FakeClock(), **options)


def log_n(logger: PredictionLogger, start: int, n: int) -> None:
    for i in range(start, start + n):
        logger.log(f"p{i}", {"income": 1000.0 + i, "region": "north"}, 0.5)


# --------------------------------------------------------------------------- visibility


def test_files_appear_only_when_closed_under_names_ingestion_reads(tmp_path):
    folder = tmp_path / "landing"
    logger = make(folder, flush_records=2)
    log_n(logger, 0, 3)  # two written to the part-file, one buffered
    assert published(folder) == []
    [part] = hidden(folder)
    assert part.name.startswith(".predictions-") and part.name.endswith(".jsonl.part")
    # the foundation's discovery skips it, and finds the file once it is renamed
    source = FileSource(path=str(folder / "**" / "*.jsonl"))
    settings = Settings(home=tmp_path, config_path=tmp_path / "x.yaml")
    assert discover(source, settings) == []
    logger.close()
    assert hidden(folder) == []
    assert [f.path for f in discover(source, settings)] == published(folder)
    assert [r["prediction_id"] for r in records(folder)] == ["p0", "p1", "p2"]
    stats = logger.stats()
    assert stats["logged"] == stats["written"] == stats["published_records"] == 3
    assert stats["published_files"] == 1 and stats["buffered"] == 0


def test_rotation_by_size_keeps_every_file_within_max_bytes(tmp_path):
    logger = make(tmp_path, flush_records=7, max_bytes=1000)
    log_n(logger, 0, 100)
    logger.close()
    files = published(tmp_path)
    line = len(files[0].read_text().splitlines()[0]) + 1  # every line here has the same length
    per_file = 1000 // line  # whole lines that fit into max_bytes
    assert [len(f.read_text().splitlines()) for f in files[:-1]] == [per_file] * (len(files) - 1)
    assert all(f.stat().st_size <= 1000 for f in files)
    assert [r["prediction_id"] for r in records(tmp_path)] == [f"p{i}" for i in range(100)]


def test_a_single_record_larger_than_max_bytes_gets_a_file_of_its_own(tmp_path):
    logger = make(tmp_path, flush_records=1, max_bytes=100)
    logger.log("small", {"x": 1}, 0.5)
    logger.log("big", {"x": "y" * 500}, 0.5)
    logger.log("small2", {"x": 2}, 0.5)
    logger.close()
    assert [[r["prediction_id"] for r in json_lines(f)] for f in published(tmp_path)] == [
        ["small"],
        ["big"],
        ["small2"],
    ]


def json_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_rotation_by_time_and_flush_by_age(tmp_path):
    clock = FakeClock()
    logger = make(tmp_path, clock, flush_records=100, flush_interval=2.0, rotate_seconds=60.0)
    log_n(logger, 0, 3)
    clock.advance(1.9)
    logger.poll()
    assert hidden(tmp_path) == []  # still only in memory
    clock.advance(0.1)
    logger.poll()
    assert len(hidden(tmp_path)) == 1 and published(tmp_path) == []  # in the part-file
    log_n(logger, 3, 2)
    clock.advance(59.9)  # the part-file was opened by the flush: open 59.9 s now
    logger.poll()
    assert published(tmp_path) == []
    clock.advance(0.1)
    logger.poll()  # 60 s: published, including the two records still buffered
    assert [r["prediction_id"] for r in records(tmp_path)] == ["p0", "p1", "p2", "p3", "p4"]
    assert hidden(tmp_path) == []
    clock.advance(600)
    logger.poll()  # nothing open, nothing buffered: no empty file is ever published
    assert len(published(tmp_path)) == 1
    logger.close()


def test_the_background_thread_publishes_without_further_calls(tmp_path):
    logger = PredictionLogger(tmp_path, flush_interval=0.05, rotate_seconds=0.1, fsync=False)
    log_n(logger, 0, 4)
    done = threading.Event()
    for _ in range(400):  # up to 20 s on a loaded machine; returns as soon as it is there
        if published(tmp_path):
            done.set()
            break
        done.wait(0.05)
    assert done.is_set()
    logger.close()
    assert [r["prediction_id"] for r in records(tmp_path)] == ["p0", "p1", "p2", "p3"]


def test_context_manager_and_closed_logger(tmp_path):
    with make(tmp_path) as logger:
        log_n(logger, 0, 2)
    assert len(records(tmp_path)) == 2
    with pytest.raises(LoggerClosed):
        logger.log("late", {}, 0.5)
    logger.close()  # idempotent


def test_normal_exit_publishes_through_atexit(tmp_path):
    code = (
        "import sys; from driftguard.serving_log import PredictionLogger;"
        "lg = PredictionLogger(sys.argv[1], flush_records=1000);"
        "[lg.log(f'p{i}', {'x': i}, 0.5) for i in range(5)]"
    )
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True, cwd=ROOT)
    assert [r["prediction_id"] for r in records(tmp_path)] == [f"p{i}" for i in range(5)]
    assert hidden(tmp_path) == []


def test_a_forked_child_does_not_write_the_parents_records(tmp_path):
    code = """
import os, sys
from driftguard.serving_log import PredictionLogger
lg = PredictionLogger(sys.argv[1], flush_records=2, background=False, fsync=False)
for i in range(3):
    lg.log(f"parent-{i}", {"x": i}, 0.5)   # two in the part-file, one buffered
pid = os.fork()
if pid == 0:
    lg.log("child-0", {"x": 0}, 0.5)
    lg.close()
    os._exit(0)
os.waitpid(pid, 0)
lg.log("parent-3", {"x": 3}, 0.5)
lg.close()
"""
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True, cwd=ROOT)
    ids = sorted(r["prediction_id"] for r in records(tmp_path))
    assert ids == ["child-0", "parent-0", "parent-1", "parent-2", "parent-3"]
    assert hidden(tmp_path) == []


# --------------------------------------------------------------------------- encoding


def test_values_are_encoded_so_that_ingestion_casts_them_back(tmp_path):
    logger = make(tmp_path, columns={"timestamp": "ts", "predicted_class": "klass"})
    moment = datetime(2026, 3, 1, 13, 30, 15, 123456, tzinfo=timezone(timedelta(hours=1)))
    logger.log(
        42,
        {
            "f": 0.1,
            "tiny": 5e-324,
            "big": 2**63 + 1,
            "nan": math.nan,
            "inf": -math.inf,
            "flag": True,
            "np_f32": np.float32(0.5),
            "np_i64": np.int64(7),
            "np_bool": np.bool_(False),
            "dec": Decimal("1.10"),
            "day": date(2026, 3, 1),
            'name, "quoted" <b>html</b>\n': 'a,b\n"c" é',
            "none": None,
        },
        math.nan,
        timestamp=moment,
        predicted_class=1,
        protected={"sex": "female"},
        context={"segment": "smb", "consumer": "crm"},
    )
    logger.close()
    [row] = records(tmp_path)
    assert row == {
        "prediction_id": "42",
        "ts": "2026-03-01T12:30:15.123456+00:00",  # 13:30:15+01:00 in UTC
        "score": "NaN",
        "klass": 1,
        "f": 0.1,
        "tiny": 5e-324,
        "big": 2**63 + 1,
        "nan": "NaN",
        "inf": "-Infinity",
        "flag": 1,
        "np_f32": 0.5,
        "np_i64": 7,
        "np_bool": 0,
        "dec": "1.10",
        "day": "2026-03-01",
        'name, "quoted" <b>html</b>\n': 'a,b\n"c" é',
        "none": None,
        "sex": "female",
        "segment": "smb",
        "consumer": "crm",
    }
    line = published(tmp_path)[0].read_bytes()
    assert line.count(b"\n") == 1 and line.isascii()  # one line per record, whatever the text


def test_configured_columns_are_always_present(tmp_path):
    logger = make(
        tmp_path,
        columns={"predicted_class": "klass", "segment": "seg"},
        declared=["age", "sex"],
    )
    logger.log("p1", {"age": 40}, 0.2)
    logger.close()
    assert records(tmp_path) == [
        {
            "prediction_id": "p1",
            "timestamp": records(tmp_path)[0]["timestamp"],
            "score": 0.2,
            "klass": None,
            "age": 40,
            "sex": None,
            "seg": None,
        }
    ]


def test_timestamps(tmp_path):
    logger = make(tmp_path)
    logger.log("epoch", {}, 0.1, timestamp=0)
    logger.log("text", {}, 0.1, timestamp="2026-01-01 10:00:00Z")
    before = datetime.now(UTC)
    logger.log("now", {}, 0.1)
    logger.close()
    by_id = {r["prediction_id"]: r["timestamp"] for r in records(tmp_path)}
    assert by_id["epoch"] == "1970-01-01T00:00:00.000000+00:00"
    assert by_id["text"] == "2026-01-01 10:00:00Z"  # strings are passed through
    assert before <= datetime.fromisoformat(by_id["now"]) <= datetime.now(UTC)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"prediction_id": ""}, ValueError, "prediction_id must be a non-empty value"),
        ({"prediction_id": None}, ValueError, "prediction_id must be a non-empty value"),
        ({"timestamp": datetime(2026, 1, 1)}, ValueError, "has no time zone"),
        ({"timestamp": [1]}, TypeError, "timestamp must be a datetime"),
        ({"features": [1, 2]}, TypeError, "features must be a mapping"),
        ({"features": {"score": 1}}, ValueError, "column 'score' is given twice"),
        ({"protected": {"income": "x"}}, ValueError, "again as protected attribute"),
        ({"predicted_class": 1}, ValueError, "no predicted_class column is configured"),
    ],
)
def test_wrong_arguments_fail_at_once(tmp_path, kwargs, error, message):
    logger = make(tmp_path)
    call = {"prediction_id": "p1", "features": {"income": 1.0}, "score": 0.5, **kwargs}
    with pytest.raises(error, match=message):
        logger.log(call.pop("prediction_id"), call.pop("features"), call.pop("score"), **call)
    assert logger.stats()["logged"] == 0
    logger.close()


def test_bad_options_are_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown column field"):
        PredictionLogger(tmp_path, columns={"scroe": "s"})
    with pytest.raises(ValueError, match="cannot be switched off"):
        PredictionLogger(tmp_path, columns={"timestamp": None})
    with pytest.raises(ValueError, match="prefix"):
        PredictionLogger(tmp_path, prefix="../x")


# --------------------------------------------------------------------------- failures


class FlakyDisk:
    """``os.write`` that writes ``allow`` bytes in total and then fails until healed."""

    def __init__(self, allow: int) -> None:
        self.allow = allow
        self.healed = False

    def __call__(self, fd: int, data) -> int:
        if self.healed:
            return os.write(fd, data)
        if self.allow <= 0:
            raise OSError(28, "No space left on device")
        n = os.write(fd, bytes(data[: self.allow]))
        self.allow -= n
        return n


def test_a_failed_write_is_cut_back_to_whole_lines_and_retried_once(tmp_path, monkeypatch):
    disk = FlakyDisk(allow=250)  # about two and a half records
    monkeypatch.setattr(serving_log, "_write", disk)
    logger = make(tmp_path, flush_records=10)
    log_n(logger, 0, 10)  # the flush fails part-way
    stats = logger.stats()
    assert stats["errors"] == 1 and "No space left" in stats["last_error"]
    [part] = hidden(tmp_path)
    written = part.read_bytes()
    assert written.endswith(b"\n") and len(written) <= 250  # only whole lines stay
    assert stats["written"] == written.count(b"\n") == stats["logged"] - stats["buffered"]
    disk.healed = True
    logger.close()
    assert [r["prediction_id"] for r in records(tmp_path)] == [f"p{i}" for i in range(10)]


def test_a_file_that_cannot_be_repaired_is_recovered_not_duplicated(tmp_path, monkeypatch):
    disk = FlakyDisk(allow=250)
    monkeypatch.setattr(serving_log, "_write", disk)
    monkeypatch.setattr(serving_log.os, "ftruncate", _failing_ftruncate)
    logger = make(tmp_path, flush_records=10)
    log_n(logger, 0, 10)
    assert logger.stats()["open_file"] is None  # abandoned, hidden, partial last line
    monkeypatch.undo()
    disk.healed = True
    monkeypatch.setattr(serving_log, "_write", disk)
    logger.close()  # recovers the abandoned file, then writes the rest
    assert logger.stats()["recovered_files"] == 1
    ids = [r["prediction_id"] for r in records(tmp_path)]
    assert sorted(ids, key=lambda s: int(s[1:])) == [f"p{i}" for i in range(10)]
    assert hidden(tmp_path) == []


def _failing_ftruncate(fd, length):
    raise OSError(5, "Input/output error")


def test_a_full_buffer_drops_and_counts_when_the_disk_keeps_failing(tmp_path, monkeypatch):
    monkeypatch.setattr(serving_log, "_write", FlakyDisk(allow=0))
    logger = make(tmp_path, flush_records=2, max_buffer_records=4)
    log_n(logger, 0, 6)  # 4 wait in memory, 2 are dropped
    stats = logger.stats()
    assert (stats["logged"], stats["buffered"], stats["dropped"]) == (4, 4, 2)
    monkeypatch.undo()
    logger.close()
    assert [r["prediction_id"] for r in records(tmp_path)] == ["p0", "p1", "p2", "p3"]


# --------------------------------------------------------------------------- recovery


def orphan_name(seq: int) -> str:
    """The hidden name a logger of this host with a dead process id would have left."""
    return (
        f".predictions-20260101T000000000000Z-{serving_log._host_token()}-999999-"
        f"{seq:06d}-abcdef.jsonl.part"
    )


def test_recovery_publishes_whole_valid_lines_of_a_dead_writer(tmp_path):
    good = [json.dumps({"prediction_id": f"p{i}", "score": 0.5}) + "\n" for i in range(3)]
    (tmp_path / orphan_name(1)).write_text("".join(good) + '{"prediction_id": "p3", "sc')
    (tmp_path / orphan_name(2)).write_text(good[0] + "\0\0\0garbage\n" + good[1])
    (tmp_path / orphan_name(3)).write_text('{"half')  # nothing whole: removed
    other_host = ".predictions-20260101T000000000000Z-elsewhere-1-000001-abcdef.jsonl.part"
    (tmp_path / other_host).write_text(good[0])
    logger = make(tmp_path)  # recover=True by default
    files = published(tmp_path)
    assert [f.name for f in files] == [orphan_name(s)[1:-5] for s in (1, 2)]
    assert json_lines(files[0]) == [json.loads(line) for line in good]
    assert json_lines(files[1]) == [json.loads(good[0]), json.loads(good[1])]
    assert [p.name for p in hidden(tmp_path)] == [other_host]  # another host's is not ours
    assert logger.stats()["recovered_files"] == 2
    logger.close()


def test_recovery_leaves_a_live_writers_file_alone(tmp_path):
    first = make(tmp_path, flush_records=1)
    log_n(first, 0, 2)  # open part-file, locked by `first`
    second = make(tmp_path)  # same folder, same host: tries to recover at start
    assert second.recover() == [] and published(tmp_path) == []
    log_n(second, 100, 1)
    second.close()
    first.close()
    assert sorted(r["prediction_id"] for r in records(tmp_path)) == ["p0", "p1", "p100"]


# --------------------------------------------------------------------------- threads


def test_many_threads_log_every_record_exactly_once(tmp_path):
    logger = PredictionLogger(
        tmp_path, flush_records=13, max_bytes=4096, flush_interval=0.01, fsync=False
    )
    errors: list[BaseException] = []

    def worker(k: int) -> None:
        try:
            for i in range(400):
                logger.log(f"t{k}-{i}", {"income": float(i), "region": f"r{k}"}, i / 400)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    logger.close()
    assert not errors, errors[0]
    ids = [r["prediction_id"] for r in records(tmp_path)]
    assert len(ids) == len(set(ids)) == 8 * 400
    assert len(published(tmp_path)) > 10  # many rotations happened under contention
    # each thread's records keep their order across files
    for k in range(8):
        mine = [int(i.split("-")[1]) for i in ids if i.startswith(f"t{k}-")]
        assert mine == list(range(400))


# --------------------------------------------------------------------------- configuration


def test_for_model_derives_folder_and_columns(tmp_path):
    model = model_dict(
        "credit",
        columns={"prediction_id": "id", "timestamp": "ts", "score": "score", "segment": "seg"},
    )
    model["sources"]["predictions"] = [
        {"path": "{home}/landing/credit/predictions/**/*.parquet"},
        {"path": "{home}/landing/credit/served/**/*.jsonl"},
    ]
    config = parse_config({"models": [model]})
    settings = Settings(home=tmp_path / "home", config_path=tmp_path / "x.yaml")
    logger = PredictionLogger.for_model(config.model("credit"), settings, fsync=False)
    assert logger.folder == tmp_path / "home" / "landing" / "credit" / "served"
    assert logger.columns["prediction_id"] == "id" and logger.columns["segment"] == "seg"
    assert logger.declared == ("income", "age", "region", "sex", "seg")
    logger.close()


def test_for_model_refuses_a_model_without_a_jsonl_source(tmp_path):
    config = parse_config({"models": [model_dict("credit")]})  # parquet and csv sources only
    with pytest.raises(ValueError, match="no prediction source that reads .jsonl"):
        PredictionLogger.for_model(
            config.model("credit"), Settings(home=tmp_path, config_path=tmp_path)
        )


def test_docstring_examples():
    assert doctest.testmod(serving_log).failed == 0
