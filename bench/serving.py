"""Serving-side costs: the prediction logger and the guard, per call, with floors and baselines.

Logger: records/second and peak memory for ``PredictionLogger.log`` (12 numeric + 4
categorical features, 2 protected attributes, one context column), from one thread and from
four, against the floor (``json.dumps`` of the same records into a list, no I/O) and a naive
baseline (``json.dumps`` + ``write`` + ``flush`` per record to one file: no atomic
publication, no rotation). Then the ingestion of the files the logger wrote.
Guard: calls/second of ``is_blocked`` with 50 active switches and of ``protect``, against the
floor (a dictionary lookup). Each step runs in a fresh process.
Usage: python bench/serving.py [--records 200000 1000000]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import measure, print_table

FEATURES_NUMERIC = 12
FEATURES_CATEGORICAL = 4
GUARD_CALLS = 1_000_000


def _records(n: int, offset: int = 0):
    import random

    rng = random.Random(offset)
    for i in range(offset, offset + n):
        features = {f"n{j}": rng.random() * 100 + j for j in range(FEATURES_NUMERIC)}
        features.update({f"c{j}": f"cat{rng.randrange(8)}" for j in range(FEATURES_CATEGORICAL)})
        protected = {"sex": rng.choice(("female", "male")), "age_band": "25+"}
        yield f"id-{i}", features, rng.random(), protected


def config_text(landing: str) -> str:
    numeric = "\n".join(f"      n{i}: numeric" for i in range(FEATURES_NUMERIC))
    categorical = "\n".join(f"      c{i}: categorical" for i in range(FEATURES_CATEGORICAL))
    return f"""models:
  - id: bench
    owner: bench
    purpose: serving-log benchmark
    columns: {{prediction_id: prediction_id, timestamp: ts, score: score, segment: segment}}
    features:
{numeric}
{categorical}
    protected_attributes: [sex, age_band]
    sources:
      predictions: [{{path: "{landing}/**/*.jsonl"}}]
"""


def run(mode: str, workdir: str, n: str) -> dict:
    """One measured step, inside a fresh process (called by bench._common.measure)."""
    import json
    import threading
    import time

    work, n = Path(workdir), int(n)
    # a pool of 1,000 records generated before the clock starts, reused with fresh ids: only
    # the logging is measured, and peak memory is the method's own
    pool = list(_records(1000))

    def stream(start: int, count: int):
        for i in range(start, start + count):
            _, features, score, protected = pool[i % 1000]
            yield f"id-{i}", features, score, protected

    if mode in ("floor", "naive", "logger"):
        started = time.perf_counter()
        if mode == "floor":
            size = 0
            for pid, features, score, protected in stream(0, n):
                size += len(
                    json.dumps({"prediction_id": pid, "score": score, **features, **protected})
                )
            assert size > 0
        elif mode == "naive":
            with open(work / "naive.jsonl", "a", encoding="utf-8") as handle:
                for pid, features, score, protected in stream(0, n):
                    handle.write(
                        json.dumps({"prediction_id": pid, "score": score, **features, **protected})
                        + "\n"
                    )
                    handle.flush()
        else:
            from driftguard.serving_log import PredictionLogger

            with PredictionLogger(work / "landing", columns={"timestamp": "ts"}) as logger:
                for pid, features, score, protected in stream(0, n):
                    logger.log(pid, features, score, protected=protected, context={"segment": "a"})
        return {"rows": n, "seconds": time.perf_counter() - started}
    if mode == "logger4":
        from driftguard.serving_log import PredictionLogger

        logger = PredictionLogger(work / "landing4", columns={"timestamp": "ts"})

        def worker(k: int) -> None:
            for pid, features, score, protected in stream(k * n, n // 4):
                logger.log(pid, features, score, protected=protected, context={"segment": "a"})

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        logger.close()
        return {"rows": 4 * (n // 4), "seconds": time.perf_counter() - started}
    if mode == "ingest":
        import os

        os.environ["DRIFTGUARD_HOME"] = str(work / "home")
        from driftguard.ingest import ingest_model
        from driftguard.workspace import Workspace

        ws = Workspace.load(work / "driftguard.yaml")
        with ws.open_lake() as lake:
            started = time.perf_counter()
            report = ingest_model(lake, ws.config.model("bench"), ws.settings, base=ws.base)
            seconds = time.perf_counter() - started
        assert report.rows_quarantined == 0 and not report.failed
        return {"rows": report.rows_accepted, "seconds": seconds}
    # guard modes
    from driftguard.guard import FORMAT, Guard, seal

    switches = [
        {
            "id": f"ks-{i}",
            "scope": "segment",
            "target": {"segment": f"s{i}", "model_id": "other"},
            "reason": "bench",
            "activated_at": "2026-01-01T00:00:00+00:00",
            "activated_by": "bench",
        }
        for i in range(50)
    ]
    safeguard = {
        "clip_probability": True,
        "min": None,
        "max": None,
        "reject_nan": True,
        "fallback_ttl_seconds": 60,
    }
    path = work / "killswitches.json"
    doc = {
        "format": FORMAT,
        "version": 1,
        "generated_at": "2026-01-01T00:00:00+00:00",
        "switches": switches,
        "safeguards": {"credit": safeguard},
    }
    path.write_text(json.dumps(seal(doc)))
    guard = Guard(path, defaults={"model_id": "credit", "model_type": "scoring", "version": "3"})
    calls = GUARD_CALLS
    started = time.perf_counter()
    if mode == "guard-floor":
        blocked = {"s7"}
        hits = sum(1 for i in range(calls) if f"s{i % 100}" in blocked)
    elif mode == "guard-blocked":
        hits = sum(guard.is_blocked(segment=f"s{i % 100}", region="eu") for i in range(calls))
    else:
        hits = sum(
            guard.protect("credit", (i % 120) / 100, entity=i % 1000).value for i in range(calls)
        )
    return {"rows": calls, "seconds": time.perf_counter() - started, "hits": hits}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, nargs="+", default=[200_000])
    args = parser.parse_args()
    table = []
    for records in args.records:
        work = Path(tempfile.mkdtemp(prefix="dg-bench-serving-"))
        try:
            (work / "driftguard.yaml").write_text(config_text(str(work / "landing")))
            steps = [
                ("json.dumps only (floor)", "floor"),
                ("naive: dumps + write + flush per record", "naive"),
                ("PredictionLogger.log, 1 thread", "logger"),
                ("PredictionLogger.log, 4 threads", "logger4"),
                ("driftguard ingest of the logged files", "ingest"),
            ]
            results = {
                mode: measure("bench.serving", mode, str(work), str(records)) for _, mode in steps
            }
            floor = results["floor"]["seconds"]
            for name, mode in steps:
                r = results[mode]
                table.append(
                    [
                        f"{r['rows']:,}",
                        name,
                        f"{r['seconds']:.2f}",
                        f"{r['rows'] / r['seconds']:,.0f}",
                        f"{r['peak_mb']:.0f}",
                        f"{r['seconds'] / floor:.1f}x",
                    ]
                )
        finally:
            shutil.rmtree(work, ignore_errors=True)
    work = Path(tempfile.mkdtemp(prefix="dg-bench-guard-"))
    try:
        steps = [
            ("dict lookup (floor)", "guard-floor"),
            ("Guard.is_blocked, 50 switches", "guard-blocked"),
            ("Guard.protect with fallback cache", "guard-protect"),
        ]
        results = {mode: measure("bench.serving", mode, str(work), "0") for _, mode in steps}
        floor = results["guard-floor"]["seconds"]
        for name, mode in steps:
            r = results[mode]
            table.append(
                [
                    f"{r['rows']:,}",
                    name,
                    f"{r['seconds']:.2f}",
                    f"{r['rows'] / r['seconds']:,.0f}",
                    f"{r['peak_mb']:.0f}",
                    f"{r['seconds'] / floor:.1f}x",
                ]
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(
        f"Serving side: {FEATURES_NUMERIC} numeric + {FEATURES_CATEGORICAL} categorical "
        "features, 2 protected attributes; rows = records logged or guard calls"
    )
    print_table(["rows", "method", "seconds", "per s", "peak MB", "vs floor"], table)


if __name__ == "__main__":
    main()
