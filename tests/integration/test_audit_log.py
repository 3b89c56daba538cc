"""The audit log in a real DuckLake: append contract, checkpoints, reverts, epochs, queries."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import pytest

from driftguard import audit
from driftguard.audit.export import verify_export
from driftguard.audit.hashing import genesis_hash, verify_inclusion
from driftguard.audit.log import LakeSource
from driftguard.audit.signing import HMAC_KEY_ENV, SIGNING_KEY_ENV, KeyRing

HMAC_SECRET = "integration-hmac-secret-0123456789"
ED25519_SEED = "33" * 32


def _entry(i: int = 0, **overrides):
    fields = {
        "event_type": "policy.changed",
        "action": "update",
        "actor": "alice",
        "resource_type": "policy",
        "resource_id": f"p{i % 3}",
        "payload": {"i": i, "threshold": 0.2},
    }
    fields.update(overrides)
    return fields


@pytest.fixture
def lake(workspace):
    with workspace.open_lake() as opened:
        yield opened


def test_the_migration_creates_one_empty_log(lake):
    head = audit.head(lake)
    assert head.size == 0 and head.epoch == 1
    assert head.head == genesis_hash(head.log_id).hex()  # SQL sha256 == Python genesis
    assert [r["log_id"] for r in audit.log_ids(lake)] == [head.log_id]


def test_append_commits_with_the_change_it_records_or_not_at_all(lake):
    lake.execute("CREATE TABLE decisions (name VARCHAR)")

    def decide(lk):
        lk.execute("INSERT INTO decisions VALUES ('approve credit-risk')")
        return audit.append(lk, **_entry(1, event_type="model.approved", action="approve"))

    entry = lake.transaction(decide, message="approve")
    snapshot = lake.last_committed_snapshot()
    assert entry.seq == 1
    # both rows appear in the same snapshot, and neither before it
    for table in ("decisions", "audit_entries"):
        before = lake.fetchone(f"SELECT count(*) FROM {table} AT (VERSION => {snapshot - 1})")
        after = lake.fetchone(f"SELECT count(*) FROM {table} AT (VERSION => {snapshot})")
        assert (before[0], after[0]) == (0, 1)

    def fail(lk):
        lk.execute("INSERT INTO decisions VALUES ('never')")
        audit.append(lk, **_entry(2))
        raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError):
        lake.transaction(fail)
    assert lake.fetchone("SELECT count(*) FROM audit_entries")[0] == 1
    assert audit.head(lake).size == 1


def test_single_nested_and_batched_appends_form_one_contiguous_chain(lake):
    first = audit.append(lake, **_entry(0))  # outside a transaction: runs its own

    def nested(lk):
        return [audit.append(lk, **_entry(i)).seq for i in (1, 2)]

    assert lake.transaction(nested) == [2, 3]
    small = audit.append_many(lake, [_entry(i) for i in range(10)])  # one VALUES insert
    big = audit.append_many(lake, [_entry(i) for i in range(300)])  # through Arrow
    assert first.seq == 1 and [e.seq for e in small] == list(range(4, 14))
    assert [e.seq for e in big] == list(range(14, 314))
    seqs = [r[0] for r in lake.fetchall("SELECT seq FROM audit_entries ORDER BY seq")]
    assert seqs == list(range(1, 314))
    checkpoint = audit.write_checkpoint(lake)
    result = audit.verify(lake, checkpoints=[checkpoint])
    assert result.ok and result.size == 313, result.verdict()


def test_the_stored_bytes_and_columns_are_what_append_returned(lake):
    entry = audit.append(lake, **_entry(5, reason="Zoë", references=["run:r1"]))
    row = lake.records("SELECT * FROM audit_entries WHERE seq = ?", [entry.seq])[0]
    assert bytes(row["canonical"]) == entry.canonical
    assert (row["leaf_hash"], row["chain_hash"]) == (entry.leaf_hash, entry.chain_hash)
    assert row["ts"] == entry.ts and row["reason"] == "Zoë"
    assert json.loads(row["payload_json"]) == {"i": 5, "threshold": "0.2"}
    assert json.loads(row["references_json"]) == ["run:r1"]
    assert row["seal"] is None  # no key configured


@pytest.mark.parametrize(
    ("variable", "value", "alg"),
    [(HMAC_KEY_ENV, HMAC_SECRET, "hmac-sha256"), (SIGNING_KEY_ENV, ED25519_SEED, "ed25519")],
)
def test_signed_entries_and_checkpoints_anchor_the_log(lake, monkeypatch, variable, value, alg):
    monkeypatch.setenv(variable, value)
    entries = audit.append_many(lake, [_entry(i) for i in range(5)])
    assert all(e.seal and e.seal.startswith(f"{alg}:") for e in entries)
    checkpoint = audit.write_checkpoint(lake)
    assert checkpoint.alg == alg and checkpoint.signature
    result = audit.verify(lake)  # the stored, signed checkpoint is enough
    assert result.ok and result.sealed_through == 5, result.verdict()
    assert audit.verify(lake, keyring=KeyRing()).status == "unanchored"  # key not held


def test_an_unsigned_stored_checkpoint_does_not_anchor_but_a_supplied_one_does(lake):
    audit.append(lake, **_entry())
    checkpoint = audit.write_checkpoint(lake)
    assert checkpoint.alg == "none"
    assert audit.verify(lake).status == "unanchored"
    assert audit.verify(lake, checkpoints=[checkpoint]).status == "ok"
    assert audit.latest_checkpoint(lake) == checkpoint


def test_no_checkpoint_is_signed_over_a_tampered_log(lake):
    audit.append_many(lake, [_entry(i) for i in range(4)])
    audit.write_checkpoint(lake)
    audit.append(lake, **_entry(9))
    lake.execute(
        "UPDATE audit_entries SET canonical = CAST(replace(CAST(canonical AS VARCHAR), "
        "'alice', 'mallo') AS BLOB) WHERE seq = 5"
    )
    with pytest.raises(audit.AuditIntegrityError, match="entry 5 does not link"):
        audit.write_checkpoint(lake)
    assert lake.fetchone("SELECT count(*) FROM audit_checkpoints")[0] == 1
    lake.execute("DELETE FROM audit_entries WHERE seq >= 4")
    with pytest.raises(audit.AuditIntegrityError, match="no longer has the chain value"):
        audit.write_checkpoint(lake)


def test_revert_appends_a_compensating_entry(lake):
    target = audit.append(lake, **_entry(1, event_type="model.approved", severity="high"))
    revert = audit.revert(lake, target.seq, reason="approved in error", actor="carol")
    assert revert.seq == 2 and revert.event_type == "audit.revert"
    assert revert.references == (f"audit:1:{target.leaf_hash}",)
    assert revert.payload["target"]["seq"] == 1 and revert.severity == "high"
    assert lake.fetchone("SELECT count(*) FROM audit_entries WHERE seq = 1")[0] == 1
    with pytest.raises(audit.AlreadyReverted, match="Entry 1 was already reverted"):
        audit.revert(lake, 1, reason="again", actor="carol")
    with pytest.raises(audit.EntryNotFound, match="has no entry 99"):
        audit.revert(lake, 99, reason="x", actor="carol")
    with pytest.raises(audit.InvalidAuditEntry, match="needs a reason"):
        audit.revert(lake, 1, reason=" ", actor="carol")


def test_rollback_to_a_seq_or_a_hash(lake):
    entries = audit.append_many(lake, [_entry(i) for i in range(6)])
    by_hash = audit.rollback_to(lake, entries[2].chain_hash[:12], reason="withdrawn", actor="carol")
    assert by_hash.payload["reverted"] == {"from": 4, "to": 6}
    assert by_hash.references == (entries[2].reference,)
    by_seq = audit.rollback_to(lake, 5, reason="withdrawn", actor="carol")
    assert by_seq.payload["reverted"] == {"from": 6, "to": 7}
    with pytest.raises(audit.InvalidAuditEntry, match="is the head of the log"):
        audit.rollback_to(lake, 8, reason="x", actor="carol")
    with pytest.raises(audit.InvalidAuditEntry, match="neither a sequence number"):
        audit.rollback_to(lake, "abc", reason="x", actor="carol")


def test_recovery_starts_a_new_epoch_that_records_the_old_head(lake):
    audit.append_many(lake, [_entry(i) for i in range(5)])
    with pytest.raises(audit.LogIsIntact, match="Pass --force"):
        audit.start_epoch(lake, reason="no need", actor="alice")
    old = audit.head(lake)
    lake.execute("DELETE FROM audit_entries WHERE seq = 3")
    first = audit.start_epoch(lake, reason="entry 3 deleted", actor="alice")
    new = audit.head(lake)
    assert (new.epoch, new.size, first.seq) == (2, 1, 1) and new.log_id != old.log_id
    assert first.event_type == "audit.epoch" and first.log_id == new.log_id
    assert first.payload["previous"] == {
        "log_id": old.log_id,
        "epoch": 1,
        "size": 5,
        "head": old.head,
    }
    assert first.payload["problem"]["seq"] == 3 and first.payload["problem"]["kind"] == "deleted"
    assert first.payload["verified_prefix"]["size"] == 2
    audit.append(lake, **_entry(7))
    checkpoint = audit.write_checkpoint(lake)
    assert audit.verify(lake, checkpoints=[checkpoint]).ok
    old_verdict = audit.verify(lake, log_id=old.log_id)
    assert (old_verdict.status, old_verdict.first_bad_seq) == ("tampered", 3)  # evidence kept
    assert [r["epoch"] for r in audit.log_ids(lake)] == [1, 2]
    with pytest.raises(audit.InvalidAuditEntry, match="cannot be reverted"):
        audit.revert(lake, 1, reason="undo recovery", actor="mallory")


def test_trails_time_ranges_statistics_and_summary(lake, monkeypatch):
    clock = iter(range(10))
    start = datetime(2026, 3, 1, tzinfo=UTC)

    def tick():
        return int((start + timedelta(hours=next(clock))).timestamp() * 1_000_000)

    monkeypatch.setattr("driftguard.audit.log._now_us", tick)
    audit.append(lake, **_entry(0, actor="alice"))  # 00:00
    audit.append(lake, **_entry(1, actor="bob", severity="critical", reason="kill switch"))
    audit.append(lake, **_entry(2, actor="alice", resource_type="model", resource_id="credit"))
    audit.append(lake, **_entry(3, actor="carol", severity="high"))  # 03:00
    audit.revert(lake, 2, reason="false alarm", actor="alice")  # 04:00, critical like its target
    assert [e.seq for e in audit.trail(lake, actor="alice")] == [1, 3, 5]
    assert [e.seq for e in audit.trail(lake, resource="model:credit")] == [3]
    assert [e.seq for e in audit.trail(lake, resource="p1")] == [2, 5]
    window = audit.entries_between(lake, start + timedelta(hours=1), start + timedelta(hours=3))
    assert [e.seq for e in window] == [2, 3]  # since inclusive, until exclusive
    numbers = audit.stats(lake)
    assert numbers["entries"] == 5 and numbers["actors"] == 3
    assert numbers["by_action"] == {"update": 4, "revert": 1}
    assert numbers["by_severity"] == {"critical": 2, "info": 2, "high": 1}
    period = audit.summary(lake, since=start + timedelta(hours=1), until=start + timedelta(hours=5))
    assert period.entries == 4 and period.reverts == 1
    assert [(e.seq, e.severity) for e in period.notable] == [
        (2, "critical"),
        (4, "high"),
        (5, "critical"),
    ]
    data = period.as_dict()
    assert [e["seq"] for e in data["critical"]] == [2, 5] and [e["seq"] for e in data["high"]] == [
        4
    ]


def test_an_inclusion_proof_checks_against_a_checkpoint_root(lake):
    audit.append_many(lake, [_entry(i) for i in range(13)])
    checkpoint = audit.write_checkpoint(lake)
    proof = audit.inclusion_proof_for(lake, 6)
    assert proof["root"] == checkpoint.root and proof["size"] == 13
    assert verify_inclusion(
        bytes.fromhex(proof["leaf"]),
        5,
        13,
        [bytes.fromhex(p) for p in proof["proof"]],
        bytes.fromhex(checkpoint.root),
    )


def _no_row_by_row_leaf_reads(*args):
    raise AssertionError("a stored leaf hash was read with one query per row")


def test_export_round_trips(lake, tmp_path, monkeypatch):
    audit.append_many(lake, [_entry(i, reason="naïve <b>") for i in range(40)])
    # exports read every row's leaf hash with its chunk; one query per row would not scale
    monkeypatch.setattr(LakeSource, "stored_leaf", _no_row_by_row_leaf_reads)
    checkpoint = audit.write_checkpoint(lake)
    buffer = io.StringIO()
    assert audit.export_jsonl(lake, buffer) == 40
    path = tmp_path / "audit.jsonl"
    path.write_text(buffer.getvalue(), encoding="utf-8")
    from_file = verify_export(path, supplied=[checkpoint])
    from_lake = audit.verify(lake, checkpoints=[checkpoint])
    assert from_file.ok and from_lake.ok
    assert (from_file.size, from_file.head) == (from_lake.size, from_lake.head)
    text = io.StringIO()
    assert audit.export_csv(lake, text) == 40
    assert "naïve <b>" in text.getvalue()


def test_a_broken_head_row_stops_appends_and_fails_verification(lake):
    audit.append(lake, **_entry())
    lake.execute("INSERT INTO audit_head SELECT * FROM audit_head")
    with pytest.raises(audit.AuditHeadCorrupt, match="holds 2 rows instead of 1"):
        audit.append(lake, **_entry())
    result = audit.verify(lake, log_id=audit.log_ids(lake)[0]["log_id"])
    assert result.status == "tampered" and "holds 2 rows" in result.verdict()
