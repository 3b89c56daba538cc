"""driftguard.guard: loading the kill-switch export, blocking, safeguards, fallback, threads."""

from __future__ import annotations

import copy
import doctest
import json
import math
import os
import subprocess
import sys
import threading
from pathlib import Path

import jsonschema
import pytest

from driftguard import guard as guard_module
from driftguard.guard import (
    EXPORT_JSON_SCHEMA,
    FORMAT,
    FallbackCache,
    Guard,
    InvalidExport,
    RejectedPrediction,
    Safeguard,
    UnknownTarget,
    apply_safeguard,
    export_digest,
    parse_export,
    seal,
)

ROOT = Path(__file__).resolve().parents[2]


class FakeClock:
    """Monotonic seconds that only move when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def switch(switch_id: str, scope: str, **target: str) -> dict:
    return {
        "id": switch_id,
        "scope": scope,
        "target": target,
        "reason": f"reason of {switch_id}",
        "activated_at": "2026-03-01T12:00:00+00:00",
        "activated_by": "alice",
    }


SAFE_CREDIT = {
    "clip_probability": True,
    "min": None,
    "max": None,
    "reject_nan": True,
    "fallback_ttl_seconds": 60,
}


def export(version: int, switches: list[dict] = (), safeguards: dict | None = None) -> dict:
    """A sealed export; a deep copy, so a test may damage it without touching the others."""
    return copy.deepcopy(
        seal(
            {
                "format": FORMAT,
                "version": version,
                "generated_at": "2026-03-01T12:00:00+00:00",
                "switches": list(switches),
                "safeguards": {"credit": SAFE_CREDIT} if safeguards is None else safeguards,
            }
        )
    )


def write_atomic(path: Path, document: dict) -> None:
    """What the exporter does: a temporary file beside the target, then rename."""
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_text(json.dumps(document), encoding="utf-8")
    os.replace(temp, path)


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def path(tmp_path):
    return tmp_path / "killswitches.json"


# --------------------------------------------------------------------------- the format


def test_digest_is_sha256_of_canonical_json_without_the_digest():
    doc = export(3)
    body = {k: v for k, v in doc.items() if k != "digest"}
    # independent oracle: hashlib over json.dumps with the documented canonical options
    import hashlib

    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    assert doc["digest"] == hashlib.sha256(canonical.encode()).hexdigest()
    assert export_digest(doc) == doc["digest"]  # the digest field itself is excluded
    assert parse_export(json.dumps(doc, indent=2).encode()).version == 3  # layout is free


def test_good_exports_match_the_published_json_schema():
    doc = export(
        7,
        [switch("ks-1", "model_type", model_type="credit-scoring")],
        {"credit": SAFE_CREDIT, "churn": {**SAFE_CREDIT, "min": 0, "max": 1.5}},
    )
    jsonschema.Draft202012Validator(dict(EXPORT_JSON_SCHEMA)).validate(doc)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(format="driftguard-killswitch/2"), "this guard reads"),
        (lambda d: d.update(version=True), "`version` must be a non-negative integer"),
        (lambda d: d.update(version=-1), "`version` must be a non-negative integer"),
        (lambda d: d.update(generated_at="yesterday"), "is not an ISO-8601 date-time"),
        (lambda d: d.update(generated_at="2026-03-01T12:00:00"), "with a UTC offset"),
        (lambda d: d["switches"][0].update(activated_at="2026-03-01"), "with a UTC offset"),
        (lambda d: d["switches"][0].update(scope="planet"), "unknown scope 'planet'"),
        (
            lambda d: d["switches"][0].update(scope="model_version"),
            "needs target key(s) model_id, version",
        ),
        (lambda d: d["switches"][0]["target"].update(colour="red"), "unknown key(s) colour"),
        (lambda d: d["switches"][0]["target"].update(model_type=3), "non-empty strings"),
        (lambda d: d["switches"][0].pop("reason"), "lacks reason"),
        (lambda d: d["safeguards"]["credit"].update(min=2, max=1), "min 2.0 is greater than max"),
        (lambda d: d["safeguards"]["credit"].update(reject_nan="yes"), "must be true or false"),
        (
            lambda d: d["safeguards"]["credit"].update(fallback_ttl_seconds=1.5),
            "fallback_ttl_seconds must be a non-negative integer",
        ),
        (lambda d: d["safeguards"]["credit"].pop("max"), "lacks max"),
    ],
)
def test_malformed_exports_are_refused_by_the_guard_and_the_schema(change, message):
    doc = export(1, [switch("ks-1", "model_type", model_type="credit-scoring")])
    body = {k: v for k, v in doc.items() if k != "digest"}
    change(body)
    sealed = seal(body)  # a correct digest: the structure alone must be caught
    with pytest.raises(InvalidExport, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_export(json.dumps(sealed).encode())
    if "min 2.0" not in message:  # min <= max is beyond what a JSON schema can say
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.Draft202012Validator(dict(EXPORT_JSON_SCHEMA)).validate(sealed)


def test_nan_in_the_file_is_not_json():
    raw = json.dumps(export(1)).replace('"min": null', '"min": NaN').encode()
    with pytest.raises(InvalidExport, match="not valid JSON"):
        parse_export(raw)


# --------------------------------------------------------------------------- scopes


@pytest.mark.parametrize(
    ("scope", "target", "hit", "miss"),
    [
        (
            "model_version",
            {"model_id": "credit", "version": "2"},
            {"model_id": "credit", "version": "2"},
            {"model_id": "credit", "version": "3"},
        ),
        (
            "model_type",
            {"model_type": "credit-scoring"},
            {"model_type": "credit-scoring", "model_id": "credit"},
            {"model_type": "churn", "model_id": "churn"},
        ),
        ("endpoint", {"endpoint": "/v1/score"}, {"endpoint": "/v1/score"}, {"endpoint": "/v2"}),
        ("segment", {"segment": "smb"}, {"segment": "smb"}, {"segment": "retail"}),
        ("region", {"region": "eu-west"}, {"region": "eu-west"}, {"region": "us-east"}),
        ("consumer", {"consumer": "billing"}, {"consumer": "billing"}, {"consumer": "crm"}),
    ],
)
def test_each_scope_blocks_its_target_only(path, clock, scope, target, hit, miss):
    write_atomic(path, export(1, [switch("ks-9", scope, **target)]))
    guard = Guard(path, clock=clock)
    decision = guard.why_blocked(**hit)
    assert decision.blocked and [s.id for s in decision.switches] == ["ks-9"]
    assert "kill switch ks-9 on " + scope in decision.explanation
    assert "activated by alice" in decision.explanation and "reason of ks-9" in decision.explanation
    assert not guard.is_blocked(**miss)
    assert not guard.is_blocked()  # a request that names nothing matches no switch


def test_a_model_type_switch_blocks_every_version_a_version_switch_only_its_own(path, clock):
    write_atomic(
        path,
        export(
            1,
            [
                switch("ks-type", "model_type", model_type="credit-scoring"),
                switch("ks-v", "model_version", model_id="churn", version="4"),
            ],
        ),
    )
    guard = Guard(path, clock=clock)
    for version in ("1", "2", "17"):
        assert guard.is_blocked(model_type="credit-scoring", model_id="credit", version=version)
    assert guard.is_blocked(model_type="retention", model_id="churn", version=4)  # 4 == "4"
    assert not guard.is_blocked(model_type="retention", model_id="churn", version="5")


def test_extra_target_keys_narrow_a_switch(path, clock):
    # a segment switch for one model only: the same segment of another model keeps serving
    write_atomic(path, export(1, [switch("ks-s", "segment", segment="smb", model_id="credit")]))
    guard = Guard(path, clock=clock)
    assert guard.is_blocked(segment="smb", model_id="credit")
    assert not guard.is_blocked(segment="smb", model_id="churn")
    assert not guard.is_blocked(segment="smb")  # the request does not say which model


def test_every_matching_switch_is_explained_broadest_first(path, clock):
    write_atomic(
        path,
        export(
            2,
            [
                switch("ks-v", "model_version", model_id="credit", version="2"),
                switch("ks-r", "region", region="eu"),
                switch("ks-t", "model_type", model_type="credit-scoring"),
            ],
        ),
    )
    guard = Guard(
        path, clock=clock, defaults={"model_id": "credit", "model_type": "credit-scoring"}
    )
    decision = guard.why_blocked(version="2", region="eu")
    # one-key targets first (model_type before region in SCOPES), then the two-key one
    assert [s.id for s in decision.switches] == ["ks-t", "ks-r", "ks-v"]
    assert decision.state_version == 2 and bool(decision) is True
    assert decision.explanation.index("ks-t") < decision.explanation.index("ks-v")


def test_an_unknown_target_key_is_an_error_not_a_pass(path, clock):
    write_atomic(path, export(1))
    guard = Guard(path, clock=clock)
    with pytest.raises(UnknownTarget, match="unknown target key.s. modle_type"):
        guard.is_blocked(modle_type="credit-scoring")
    with pytest.raises(UnknownTarget):
        Guard(path, clock=clock, defaults={"model": "credit"})


# --------------------------------------------------------------------------- re-reading


def test_a_changed_file_is_picked_up_after_the_check_interval(path, clock):
    write_atomic(path, export(1))
    guard = Guard(path, clock=clock, check_interval=2.0)
    assert not guard.is_blocked(model_type="credit-scoring")
    write_atomic(path, export(2, [switch("ks-1", "model_type", model_type="credit-scoring")]))
    clock.advance(1.9)  # within the interval: the loaded state answers, no stat
    assert not guard.is_blocked(model_type="credit-scoring")
    clock.advance(0.1)
    assert guard.is_blocked(model_type="credit-scoring")
    assert guard.status()["version"] == 2
    write_atomic(path, export(3))  # deactivated
    clock.advance(2.0)
    assert not guard.is_blocked(model_type="credit-scoring")


def test_an_equal_size_rewrite_in_place_is_caught_by_reverification(path, clock):
    write_atomic(path, export(1, [switch("ks-a", "region", region="eu")]))
    guard = Guard(path, clock=clock, check_interval=0, reverify_interval=30)
    before = os.stat(path)
    newer = json.dumps(export(2, [switch("ks-b", "region", region="eu")]))
    assert len(newer) == before.st_size  # same size: ids differ by one letter
    with open(path, "r+", encoding="utf-8") as handle:  # same inode
        handle.write(newer)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # same timestamp
    clock.advance(29)
    assert guard.why_blocked(region="eu").switches[0].id == "ks-a"  # stat saw no change
    clock.advance(1)
    assert guard.why_blocked(region="eu").switches[0].id == "ks-b"


def test_a_half_written_file_never_replaces_the_last_good_state(path, clock, caplog):
    write_atomic(path, export(1, [switch("ks-1", "endpoint", endpoint="/score")]))
    guard = Guard(path, clock=clock, check_interval=0)
    text = json.dumps(export(2))
    path.write_text(text[: len(text) // 2], encoding="utf-8")  # a writer that did not rename
    with caplog.at_level("WARNING", logger="driftguard.guard"):
        assert guard.is_blocked(endpoint="/score")  # version 1 still in force
    status = guard.status()
    assert status["version"] == 1 and status["loaded"] and status["serving"] == "normal"
    assert "not valid JSON" in status["error"] and "keeping export version 1" in caplog.text
    write_atomic(path, export(3))
    assert not guard.is_blocked(endpoint="/score")
    assert guard.status()["version"] == 3 and guard.error is None


def test_a_digest_mismatch_is_refused(path, clock):
    write_atomic(path, export(1, [switch("ks-1", "consumer", consumer="crm")]))
    guard = Guard(path, clock=clock, check_interval=0)
    tampered = export(2, [switch("ks-1", "consumer", consumer="crm")])
    tampered["switches"] = []  # someone removed the switch by hand, keeping the digest
    write_atomic(path, tampered)
    assert guard.is_blocked(consumer="crm")
    assert "digest mismatch" in guard.error and guard.state.version == 1


def test_an_older_export_cannot_undo_a_newer_one(path, clock):
    write_atomic(path, export(5, [switch("ks-1", "region", region="eu")]))
    guard = Guard(path, clock=clock, check_interval=0)
    write_atomic(path, export(4))  # e.g. a stale copy restored over the current file
    assert guard.is_blocked(region="eu")
    assert "version 4 is not newer than the loaded version 5" in guard.error
    write_atomic(path, export(5, [switch("ks-1", "region", region="eu")]))  # same content
    assert guard.is_blocked(region="eu") and guard.error is None


def test_a_deleted_file_keeps_the_last_good_state(path, clock):
    write_atomic(path, export(1, [switch("ks-1", "region", region="eu")]))
    guard = Guard(path, clock=clock, check_interval=0)
    path.unlink()
    assert guard.is_blocked(region="eu")
    assert "cannot read the kill-switch export" in guard.error


def test_missing_at_start_fails_closed_by_default_then_loads_when_written(path, clock):
    guard = Guard(path, clock=clock, check_interval=1)
    decision = guard.why_blocked(model_id="credit")
    assert decision.blocked and decision.fail_safe and decision.switches == ()
    assert "failing closed" in decision.explanation and "No such file" in decision.explanation
    assert guard.status()["serving"] == "fail_closed"
    write_atomic(path, export(1))
    clock.advance(1)
    decision = guard.why_blocked(model_id="credit")
    assert not decision.blocked and not decision.fail_safe and decision.state_version == 1


def test_missing_at_start_can_fail_open(path, clock):
    guard = Guard(path, clock=clock, on_unavailable="open")
    decision = guard.why_blocked(model_id="credit")
    assert not decision.blocked and decision.fail_safe and "failing open" in decision.explanation
    path.write_text("{", encoding="utf-8")
    guard.refresh(force=True)
    assert not guard.is_blocked(model_id="credit") and "not valid JSON" in guard.error
    with pytest.raises(ValueError, match="on_unavailable"):
        Guard(path, on_unavailable="ajar")


# --------------------------------------------------------------------------- safeguards


@pytest.mark.parametrize(
    ("safeguard", "value", "expected"),
    [
        (Safeguard(clip_probability=True), 1.3, (1.0, "clipped")),
        (Safeguard(clip_probability=True), -0.2, (0.0, "clipped")),
        (Safeguard(clip_probability=True), 0.42, (0.42, "passed")),
        (Safeguard(min=10.0, max=20.0), 25, (20.0, "clipped")),
        (Safeguard(min=10.0, max=20.0), 3.5, (10.0, "clipped")),
        (Safeguard(min=10.0), 1e9, (1e9, "passed")),
        # both: the tighter of [0, 1] and [min, max]
        (Safeguard(clip_probability=True, min=0.05, max=2.0), 0.01, (0.05, "clipped")),
        (Safeguard(clip_probability=True, min=0.05, max=2.0), 1.5, (1.0, "clipped")),
        (Safeguard(), 7.25, (7.25, "passed")),
    ],
)
def test_clipping(safeguard, value, expected):
    assert apply_safeguard(value, safeguard) == expected


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, "high", None])
def test_non_finite_and_non_numbers_are_refused(value):
    with pytest.raises(RejectedPrediction, match="not a (finite )?number"):
        apply_safeguard(value, Safeguard(clip_probability=True))


def test_nan_passes_when_reject_nan_is_off():
    served, action = apply_safeguard(math.nan, Safeguard(clip_probability=True, reject_nan=False))
    assert math.isnan(served) and action == "passed"
    # infinity is clipped like any other value then
    assert apply_safeguard(math.inf, Safeguard(clip_probability=True, reject_nan=False)) == (
        1.0,
        "clipped",
    )


def test_protect_uses_the_models_safeguards_from_the_file(path, clock):
    write_atomic(
        path,
        export(
            1,
            safeguards={
                "credit": SAFE_CREDIT,
                "price": {**SAFE_CREDIT, "min": 1.0, "clip_probability": False},
            },
        ),
    )
    guard = Guard(path, clock=clock)
    result = guard.protect("credit", 1.02)
    assert (result.value, result.action, result.original) == (1.0, "clipped", 1.02)
    assert result.note == "1.02 clipped to 1.0"
    assert guard.protect("price", 0.5).value == 1.0
    assert guard.protect("price", 250.0).action == "passed"
    # a model without an entry: the default safeguard (refuse NaN, no clipping)
    assert guard.protect("unknown", 3.0).value == 3.0
    with pytest.raises(RejectedPrediction, match="no entity given"):
        guard.protect("unknown", math.nan)


def test_fallback_serves_the_last_good_value_until_the_ttl_expires(path, clock):
    write_atomic(path, export(1))  # credit: fallback_ttl_seconds=60
    guard = Guard(path, clock=clock)
    assert guard.protect("credit", 0.31, entity="cust-1").action == "passed"
    assert guard.protect("credit", 1.7, entity="cust-2").value == 1.0  # clipped is served
    clock.advance(59.999)
    result = guard.protect("credit", math.nan, entity="cust-1")
    assert (result.value, result.action) == (0.31, "fallback")
    assert "served the value from 60.0 s ago" in result.note
    assert guard.protect("credit", math.nan, entity="cust-2").value == 1.0
    assert guard.fallback("credit", "cust-1") == 0.31
    clock.advance(0.001)  # age 60 s = the TTL: expired (an entry is valid while age < ttl)
    with pytest.raises(RejectedPrediction, match="no last good value of entity 'cust-1'"):
        guard.protect("credit", math.nan, entity="cust-1")
    assert guard.fallback("credit", "cust-1") is None


def test_fallback_is_per_model_and_per_entity(path, clock):
    write_atomic(path, export(1, safeguards={"credit": SAFE_CREDIT, "churn": SAFE_CREDIT}))
    guard = Guard(path, clock=clock)
    guard.protect("credit", 0.2, entity="e1")
    with pytest.raises(RejectedPrediction):
        guard.protect("credit", math.nan, entity="e2")
    with pytest.raises(RejectedPrediction):
        guard.protect("churn", math.nan, entity="e1")


def test_a_newer_export_changes_the_ttl_at_once(path, clock):
    write_atomic(path, export(1))
    guard = Guard(path, clock=clock, check_interval=0)
    guard.protect("credit", 0.4, entity="e")
    clock.advance(10)
    write_atomic(path, export(2, safeguards={"credit": {**SAFE_CREDIT, "fallback_ttl_seconds": 5}}))
    with pytest.raises(RejectedPrediction, match="younger than 5 s"):
        guard.protect("credit", math.nan, entity="e")


def test_the_fallback_cache_is_bounded(clock):
    cache = FallbackCache(max_entries=2, clock=clock)
    cache.put("a", 1.0)
    cache.put("b", 2.0)
    cache.put("a", 1.5)  # refreshes a
    cache.put("c", 3.0)  # evicts b, the least recently stored
    assert cache.get("b", 60) is None
    assert cache.get("a", 60) == (1.5, 0.0) and cache.get("c", 60) == (3.0, 0.0)
    assert len(cache) == 2


# --------------------------------------------------------------------------- threads


def test_concurrent_readers_see_whole_states_while_the_file_changes(path):
    """Readers never see half of an export: switches a and b are always on or off together."""
    both = [switch("ks-a", "region", region="eu"), switch("ks-b", "segment", segment="smb")]
    write_atomic(path, export(0))
    guard = Guard(path, check_interval=0, reverify_interval=0)
    stop = threading.Event()
    seen: list[set[int]] = [set() for _ in range(8)]
    errors: list[BaseException] = []

    def reader(k: int) -> None:
        try:
            while not stop.is_set():
                decision = guard.why_blocked(region="eu", segment="smb")
                assert len(decision.switches) in (0, 2), decision
                assert decision.blocked == (decision.state_version % 2 == 1)
                seen[k].add(len(decision.switches))
                served = guard.protect("credit", 0.5 + k / 100, entity=k)
                assert served.value == 0.5 + k / 100
        except BaseException as error:  # reported to the main thread
            errors.append(error)
            stop.set()

    threads = [threading.Thread(target=reader, args=(k,)) for k in range(8)]
    for thread in threads:
        thread.start()
    for version in range(1, 201):  # odd versions switch both on, even ones off
        write_atomic(path, export(version, both if version % 2 else []))
        if errors:
            break
    # give the readers a last look at the final file before stopping them
    while not errors and guard.state.version != 200:
        guard.refresh(force=True)
    stop.set()
    for thread in threads:
        thread.join()
    assert not errors, errors[0]
    assert guard.state.version == 200 and guard.error is None


def test_concurrent_fallback_lookups(path):
    write_atomic(
        path, export(1, safeguards={"credit": {**SAFE_CREDIT, "fallback_ttl_seconds": 3600}})
    )
    guard = Guard(path)
    errors: list[BaseException] = []

    def worker(k: int) -> None:
        try:
            for i in range(300):
                good = (k * 1000 + i) / 10_000
                assert guard.protect("credit", good, entity=(k, i % 7)).value == good
                fallback = guard.protect("credit", math.nan, entity=(k, i % 7))
                assert (fallback.value, fallback.action) == (good, "fallback")
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors[0]


# --------------------------------------------------------------------------- packaging


@pytest.mark.parametrize("module", ["driftguard.guard", "driftguard.serving_log"])
def test_imports_only_the_standard_library(module):
    """Isolated interpreter (-I), no site-packages at all (-S): only the source tree."""
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); before = set(sys.modules);"
        f"import {module};"
        "new = sorted(set(sys.modules) - before);"
        "std = sys.stdlib_module_names;"
        "bad = [m for m in new if m.split('.')[0] not in std"
        f" and m not in ('driftguard', {module!r})];"
        "print('\\n'.join(bad))"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code, str(ROOT)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == ""


def test_docstring_examples():
    for module in (guard_module,):
        assert doctest.testmod(module).failed == 0
