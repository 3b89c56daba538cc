"""Canonical encoding of audit entries: golden vectors, refusals, round trips."""

from __future__ import annotations

import hashlib
import json
import math
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftguard.audit.canonical import (
    FIELDS,
    CanonicalEncodingError,
    InvalidAuditEntry,
    NotAnEntry,
    canonical_bytes,
    canonical_value,
    decode_entry,
    draft_fields,
    encode_entry,
    entry_fields,
    timestamp_from_us,
    timestamp_us,
)
from driftguard.audit.hashing import chain_hash, genesis_hash, leaf_hash

# Golden vectors: value -> exact canonical bytes, written out by hand from the rules (keys by
# code point, compact separators, UTF-8, NFC, floats as shortest round-trip decimal text).
GOLDEN = [
    ({"b": 1, "a": 2, "B": 3, "é": 4, "z": 5}, '{"B":3,"a":2,"b":1,"z":5,"é":4}'),
    ({"k": "e\u0301"}, '{"k":"é"}'),  # NFD e + combining acute -> NFC U+00E9
    ({"k": "\u212b"}, '{"k":"Å"}'),  # ANGSTROM SIGN -> NFC U+00C5
    ([0.1, 2.0, 1e-07, -0.0, 1e300], '["0.1","2.0","1e-07","-0.0","1e+300"]'),
    ([Decimal("1.50"), Decimal("-3")], '["1.50","-3"]'),
    ([2**64, -1, 0, True, False, None], "[18446744073709551616,-1,0,true,false,null]"),
    ('line\nbreak\ttab "quote" \\ back', '"line\\nbreak\\ttab \\"quote\\" \\\\ back"'),
    ("\u2028 🤖 <b>", '"\u2028 🤖 <b>"'),  # no escaping beyond JSON's: raw UTF-8
    ({"t": (1, [2, {"y": 1, "x": 2}])}, '{"t":[1,[2,{"x":2,"y":1}]]}'),
    ({3: "int key"}, '{"3":"int key"}'),
    ({"s": {"b", "a", "c"}}, '{"s":["a","b","c"]}'),
    (datetime(2026, 3, 1, 8, 0, tzinfo=UTC), '"2026-03-01T08:00:00Z"'),
    (
        datetime(2026, 3, 1, 9, 0, 0, 1, tzinfo=timezone(timedelta(hours=1))),
        '"2026-03-01T08:00:00.000001Z"',
    ),
    (datetime(2026, 3, 1, 8, 0), '"2026-03-01T08:00:00Z"'),  # naive is read as UTC
    (date(2026, 3, 1), '"2026-03-01"'),
]


@pytest.mark.parametrize(("value", "expected"), GOLDEN)
def test_golden_vectors(value, expected):
    assert canonical_bytes(value) == expected.encode("utf-8")


def test_golden_entry_bytes_and_hashes():
    fields = entry_fields(
        seq=1,
        ts_us=1772352000000000,  # 2026-03-01T08:00:00Z (`date -u -d @1772352000`)
        event_type="model.approved",
        action="approve",
        actor="carol",
        resource_type="model",
        resource_id="credit-risk",
        severity="high",
        reason="Zoe\u0308 approved",  # NFD in, NFC "Zoë" out
        payload={"auc": 0.91, "n": 1200},
        references=["run:r1"],
    )
    canonical = encode_entry(fields)
    assert (
        canonical
        == (
            '{"action":"approve","actor":"carol","event_type":"model.approved",'
            '"payload":{"auc":"0.91","n":1200},"reason":"Zoë approved","references":["run:r1"],'
            '"resource_id":"credit-risk","resource_type":"model","run_id":null,"seq":1,'
            '"severity":"high","ts_us":1772352000000000}'
        ).encode()
    )
    leaf = leaf_hash(canonical)
    # independent oracle: coreutils, `(printf '\x00'; cat entry.bin) | sha256sum`
    assert leaf.hex() == "d9a6df251ac2c8c0e8599093b59509c5aa570d4b099e785539769ffac690bb0c"
    # `printf '\x03log-golden' | sha256sum`
    assert genesis_hash("log-golden").hex() == (
        "096a0adb8725a5f26fdbcedea53bb0ec2f44bc57dacf7c8b5d09ebb07caa4a2d"
    )
    # `(printf '\x02\x00\x00\x00\x00\x00\x00\x00\x01'; echo -n "$GENESIS$LEAF" | xxd -r -p)
    #  | sha256sum`
    assert chain_hash(1, genesis_hash("log-golden"), leaf).hex() == (
        "05187a8e2140558f6911373b5ca725b5978832ea2393b15156d7caaa3be46d01"
    )
    assert decode_entry(canonical) == fields
    assert tuple(sorted(fields)) == FIELDS


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (float("nan"), "NaN cannot be recorded"),
        ({"x": [1, float("inf")]}, "value.x[1]: inf cannot be recorded"),
        (-math.inf, "-inf cannot be recorded"),
        (Decimal("NaN"), "is not a finite number"),
        ("bad \udc80 surrogate", "lone surrogate"),
        ({(1, 2): "tuple key"}, "keys must be strings"),
        ({"é": 1, "e\u0301": 2}, "two keys become 'é' after normalisation"),
        (object(), "a object cannot be recorded"),
        (b"raw bytes", "a bytes cannot be recorded"),
    ],
)
def test_values_without_a_canonical_form_are_refused(value, message):
    with pytest.raises(
        CanonicalEncodingError, match=message.replace("[", r"\[").replace("]", r"\]")
    ):
        canonical_value(value)


def test_numpy_values_become_plain_json():
    np = pytest.importorskip("numpy")
    assert canonical_bytes({"a": np.int64(3), "b": np.float64(0.25), "c": np.array([1, 2])}) == (
        b'{"a":3,"b":"0.25","c":[1,2]}'
    )


def test_nan_inside_a_payload_names_the_field():
    with pytest.raises(CanonicalEncodingError, match=r"payload\.metrics\.psi: NaN"):
        draft_fields(
            event_type="drift.alert",
            action="alert",
            actor="bot",
            resource_type="model",
            resource_id="m",
            payload={"metrics": {"psi": float("nan")}},
        )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"severity": "fatal"}, "severity 'fatal' is not one of info, warning, high, critical"),
        ({"actor": ""}, "actor must be non-empty text"),
        ({"actor": None}, "actor must be non-empty text"),
        ({"resource_id": "a\nb"}, "contains a control character"),
        ({"event_type": "x" * 300}, "event_type is longer than 256"),
        ({"references": "run:r1"}, "not a single string"),
        ({"references": ["ok", ""]}, r"references\[1\] must be non-empty text"),
        ({"reason": 5}, "reason must be text"),
    ],
)
def test_invalid_entries_are_refused_with_the_field_named(overrides, message):
    fields = {
        "event_type": "e",
        "action": "a",
        "actor": "bob",
        "resource_type": "model",
        "resource_id": "m",
        **overrides,
    }
    with pytest.raises(InvalidAuditEntry, match=message):
        draft_fields(**fields)


def test_invalid_entry_is_a_usage_error():
    assert InvalidAuditEntry("x").exit_code == 2  # ConfigError family: fix the call


def _entry(**payload) -> bytes:
    return encode_entry(
        entry_fields(
            seq=7,
            ts_us=1,
            event_type="e",
            action="a",
            actor="bob",
            resource_type="model",
            resource_id="m",
            payload=payload,
        )
    )


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda b: b.replace(b'":', b'": ', 1), "not in canonical form"),
        (lambda b: b.replace(b'"seq":7', b'"seq":"7"'), "seq is not an integer"),
        (lambda b: b.replace(b'"severity":"info"', b'"severity":"loud"'), "unknown"),
        (lambda b: b.replace(b'"action":"a",', b""), "are not the entry fields"),
        (lambda b: b"[1, 2]", "are not the entry fields"),
        (lambda b: b"\xff" + b, "not UTF-8 JSON"),
    ],
)
def test_decode_rejects_what_append_never_writes(mutate, message):
    with pytest.raises(NotAnEntry, match=message):
        decode_entry(mutate(_entry(x=1)))


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_decoding_then_encoding_gives_the_same_bytes(payload):
    try:
        canonical = _entry(value=payload)
    except CanonicalEncodingError:
        return  # e.g. two keys equal after NFC: refused, never stored
    fields = decode_entry(canonical)
    assert encode_entry(fields) == canonical
    # and the encoding is what json.dumps with these options gives (an independent writer)
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert text.encode("utf-8") == canonical


@settings(max_examples=200, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_floats_are_stored_as_text_that_parses_back_exactly(number):
    text = canonical_value(number)
    assert isinstance(text, str) and float(text) == number


def test_timestamps_are_integer_microseconds():
    moment = datetime(2026, 3, 1, 8, 0, 0, 123456, tzinfo=UTC)
    # 1772352000 s (`date -u -d @1772352000` = 2026-03-01 08:00:00) + 123456 us
    assert timestamp_us(moment) == 1772352000123456
    assert timestamp_from_us(1772352000123456) == moment


def test_leaf_hash_is_sha256_of_tag_and_bytes():
    canonical = _entry(x=1)
    assert leaf_hash(canonical) == hashlib.sha256(b"\x00" + canonical).digest()


def test_module_examples_run():
    import doctest

    import driftguard.audit.canonical as canonical
    import driftguard.audit.hashing as hashing

    for module in (canonical, hashing):
        failed, attempted = doctest.testmod(module)
        assert attempted > 0 and failed == 0, module.__name__
