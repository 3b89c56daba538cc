"""Seeded tamper trials: at least 1,000 per class, every one detected at the right seq.

The attacks (tests/audit_tamper.py) act on exported rows in memory, in both storage
semantics (export file order, lake table order), against 40 clean logs of 8 to 40 entries,
half of them sealed with an HMAC key. The last three classes are invisible from inside the
log and are checked against a checkpoint taken before the attack. Clean logs and export ->
verify round trips must give no false positive.
"""

from __future__ import annotations

import io
import random
from collections import Counter

import pytest

from driftguard.audit.export import verify_export, write_jsonl
from driftguard.audit.signing import Ed25519Signer, HmacSigner, KeyRing
from driftguard.audit.verification import ListSource, verify_log
from tests.audit_tamper import (
    ATTACKS,
    CLASSES,
    checkpoint_at,
    head_of,
    make_base,
    run_trial,
    suffix_rewrite,
)

TRIALS = 1000  # per class, the bar
HMAC = HmacSigner(b"trial-hmac-key-0123456789abcdef")
ED25519 = Ed25519Signer.from_text("11" * 32)


@pytest.fixture(scope="module")
def bases():
    out = []
    for i in range(40):
        rng = random.Random(1000 + i)
        signer = None if i % 2 == 0 else (ED25519 if i % 8 == 1 else HMAC)
        out.append(make_base(rng, n=rng.randrange(8, 41), signer=signer))
    return out


@pytest.fixture(scope="module")
def keyring():
    ring = KeyRing.for_signer(HMAC)
    ring.ed25519.update(KeyRing.for_signer(ED25519).ed25519)
    return ring


@pytest.mark.parametrize("cls", CLASSES)
def test_every_tampering_is_detected_at_the_right_seq(cls, bases, keyring):
    attack = ATTACKS[cls]
    wrong = []
    modes = Counter()
    for i in range(TRIALS):
        base = bases[i % len(bases)]
        if cls == "suffix_rewrite" and base.signer is None:
            # without a key only a range can be given (test below); with one, the exact seq
            base = bases[(i % len(bases)) | 1]
        mode = "file" if i % 2 else "table"
        trial = attack(base, random.Random(f"{cls}-{i}"), mode)
        result = run_trial(trial, base, keyring)
        modes[mode] += 1
        if (result.status, result.first_bad_seq, result.kind) != (
            "tampered",
            trial.expected_seq,
            trial.expected_kind,
        ):
            wrong.append((i, mode, trial.expected_seq, trial.expected_kind, result.verdict()))
    assert sum(modes.values()) >= 1000 and min(modes.values()) >= 500
    assert wrong == [], f"{len(wrong)} of {TRIALS} {cls} trials wrong, e.g. {wrong[:3]}"


def test_clean_logs_verify_without_false_positives(bases, keyring):
    for i in range(TRIALS):
        base = bases[i % len(bases)]
        checkpoints = [(head_of(base.log_id, base.rows), "head")]
        if i % 3:
            checkpoints.append((base.checkpoint, "supplied" if i % 3 == 1 else "stored"))
        result = verify_log(
            ListSource(base.rows), log_id=base.log_id, checkpoints=checkpoints, keyring=keyring
        )
        assert result.problems == [], (i, result.verdict())
        anchored = i % 3 == 1 or (i % 3 == 2 and base.signer is not None)
        assert result.status == ("ok" if anchored else "unanchored"), (i, result.verdict())
        assert result.size == len(base.rows)
        if base.signer is not None:
            assert result.sealed_through == len(base.rows)


def test_export_then_verify_round_trips_without_false_positives(bases, keyring, tmp_path):
    path = tmp_path / "audit.jsonl"
    for i in range(TRIALS):
        base = bases[i % len(bases)]
        header = {
            "log_id": base.log_id,
            "epoch": 1,
            "head": {"size": base.state.size, "hash": base.state.head.hex()},
        }
        buffer = io.StringIO()
        write_jsonl(buffer, header, base.rows, [(base.checkpoint, "stored")])
        path.write_text(buffer.getvalue(), encoding="utf-8")
        result = verify_export(path, keyring=keyring, supplied=[base.checkpoint] if i % 2 else [])
        assert result.problems == [], (i, result.verdict())
        assert result.size == len(base.rows)
        assert result.status == ("ok" if i % 2 or base.signer else "unanchored")


def test_without_a_key_a_rewrite_is_detected_and_located_between_checkpoints(bases):
    """Unsealed log: a checkpoint catches the rewrite; earlier checkpoints narrow it down."""
    unsigned = [b for b in bases if b.signer is None]
    for i in range(200):
        base = unsigned[i % len(unsigned)]
        trial = suffix_rewrite(base, random.Random(f"range-{i}"), "table")
        j = trial.expected_seq
        result = run_trial(trial, base, KeyRing())
        problem = result.first_problem
        assert result.status == "tampered" and problem is not None
        assert problem.seq is not None and problem.seq <= j <= (problem.until or problem.seq)
        # checkpoints on both sides of the rewritten entry (one per monitoring run) pin it
        trial.checkpoints += [(checkpoint_at(base, j - 1), "supplied")]
        trial.checkpoints += [(checkpoint_at(base, j), "supplied")]
        narrowed = run_trial(trial, base, KeyRing())
        assert narrowed.first_bad_seq == j and narrowed.first_problem.exact
