"""Verdicts of the verifier: ok only when anchored, what each mode checks, checkpoint trust."""

from __future__ import annotations

import random
from dataclasses import replace

from driftguard.audit.signing import Checkpoint, HmacSigner, KeyRing
from driftguard.audit.verification import ListSource, verify_log
from tests.audit_tamper import checkpoint_at, head_of, make_base

KEY = HmacSigner(b"verification-test-key-0123456789")


def _base(n=12, signer=None, seed=1):
    return make_base(random.Random(seed), n=n, signer=signer)


def _verify(base, rows=None, checkpoints=(), keyring=None, full=True):
    return verify_log(
        ListSource(base.rows if rows is None else rows),
        log_id=base.log_id,
        checkpoints=list(checkpoints),
        keyring=keyring or KeyRing(),
        full=full,
    )


def test_an_intact_log_without_checkpoint_is_unanchored_never_plain_ok():
    result = _verify(_base())
    assert result.status == "unanchored" and not result.ok
    assert result.verdict().startswith("UNANCHORED")
    assert "OK" not in result.verdict().split(":")[0]


def test_a_supplied_checkpoint_anchors_the_log():
    base = _base()
    result = _verify(base, checkpoints=[(base.checkpoint, "supplied")])
    assert result.status == "ok" and result.anchored_size == 12
    assert result.verdict().startswith("OK: 12 entries verified")


def test_a_stored_checkpoint_anchors_only_when_its_signature_verifies():
    unsigned = _base()
    assert _verify(unsigned, checkpoints=[(unsigned.checkpoint, "stored")]).status == "unanchored"
    signed = _base(signer=KEY)
    ring = KeyRing.for_signer(KEY)
    assert _verify(signed, checkpoints=[(signed.checkpoint, "stored")], keyring=ring).ok
    # without the key the signature cannot be checked: not an anchor, not a problem either
    result = _verify(signed, checkpoints=[(signed.checkpoint, "stored")])
    assert result.status == "unanchored"
    assert result.checkpoints[0].signature == "unknown key"
    assert any("seals not checked" in note for note in result.notes)


def test_the_head_row_is_compared_but_never_trusted():
    base = _base()
    result = _verify(base, checkpoints=[(head_of(base.log_id, base.rows), "head")])
    assert result.status == "unanchored" and result.checkpoints[0].result == "match"


def test_a_forged_checkpoint_signature_is_a_problem():
    base = _base(signer=KEY)
    forged = replace(base.checkpoint, size=5)  # signature was over size 12
    result = _verify(base, checkpoints=[(forged, "stored")], keyring=KeyRing.for_signer(KEY))
    assert result.status == "tampered" and result.kind == "forged"
    assert result.first_bad_seq is None and "invalid hmac-sha256 signature" in result.verdict()


def test_checkpoints_of_other_logs_are_ignored():
    base, other = _base(seed=1), _base(seed=2)
    result = _verify(base, checkpoints=[(other.checkpoint, "supplied")])
    assert result.checkpoints == [] and result.status == "unanchored"


def test_entries_beyond_the_recorded_head_were_not_appended_properly():
    base = _base()
    head = head_of(base.log_id, base.rows[:10])
    result = _verify(base, checkpoints=[(head, "head")])
    assert (result.status, result.first_bad_seq, result.kind) == ("tampered", 11, "inserted")


def test_hash_only_mode_skips_the_query_columns():
    base = _base()
    rows = list(base.rows)
    rows[3] = replace(rows[3], columns={**rows[3].columns, "actor": "mallory"})
    assert _verify(base, rows).first_bad_seq == 4  # full: the column is checked
    hash_only = _verify(base, [replace(r, columns=None) for r in rows], full=False)
    assert hash_only.problems == [] and hash_only.mode == "hash-only"


def test_hash_only_mode_still_catches_changed_bytes_and_checkpoints():
    base = _base()
    rows = list(base.rows)
    rows[5] = replace(rows[5], canonical=rows[5].canonical.replace(b'"seq":6', b'"seq":7'))
    result = _verify(base, rows, full=False)
    assert (result.first_bad_seq, result.kind) == (6, "modified")
    truncated = _verify(base, base.rows[:7], [(base.checkpoint, "supplied")], full=False)
    assert (truncated.first_bad_seq, truncated.kind) == (8, "deleted")


def test_the_prefix_before_a_problem_is_still_anchored_by_earlier_checkpoints():
    base = _base()
    rows = list(base.rows)
    del rows[8]  # entry 9
    result = _verify(
        base, rows, [(checkpoint_at(base, 5), "supplied"), (base.checkpoint, "supplied")]
    )
    assert (result.first_bad_seq, result.kind) == (9, "deleted")
    assert [c.result for c in result.checkpoints] == ["match", "not evaluated"]
    assert result.size == 8


def test_an_empty_log():
    base = _base()
    result = verify_log(ListSource([]), log_id=base.log_id)
    assert result.size == 0 and result.status == "unanchored" and result.problems == []
    zero = checkpoint_at(base, 0)
    assert verify_log(ListSource([]), log_id=base.log_id, checkpoints=[(zero, "supplied")]).ok


def test_unsealed_entries_after_sealed_ones_are_noted():
    base = _base(signer=KEY)
    rows = [*base.rows[:9], *(replace(r, seal=None) for r in base.rows[9:])]
    result = _verify(base, rows, keyring=KeyRing.for_signer(KEY))
    assert result.problems == [] and result.sealed_through == 9
    assert "the 3 entries after seq 9 carry no seal" in result.notes


def test_a_checkpoint_with_a_wrong_root_is_a_mismatch():
    base = _base()
    wrong = Checkpoint(**{**base.checkpoint.as_dict(), "root": "00" * 32})
    result = _verify(base, checkpoints=[(wrong, "supplied")])
    assert result.status == "tampered" and result.checkpoints[0].result == "mismatch"


def test_results_serialise():
    base = _base()
    data = _verify(base, base.rows[:4], [(base.checkpoint, "supplied")]).as_dict()
    assert data["status"] == "tampered" and data["first_bad_seq"] == 5
    assert data["kind"] == "deleted" and data["checkpoints"][0]["result"] == "beyond the log"
