"""Tampering with a real lake through SQL, and restoring an old copy of its files.

Fewer trials than tests/unit/test_audit_tamper_trials.py (each costs lake round trips), but
against the real tables and the real reader: every attack is applied inside a transaction,
verified there, and rolled back, so one lake serves every trial.
"""

from __future__ import annotations

import random
import shutil

import pytest

from driftguard import audit
from driftguard.audit import log as audit_log
from driftguard.audit.canonical import decode_entry, draft_fields, encode_entry, with_position
from driftguard.audit.hashing import MerkleFrontier, chain_hash, leaf_hash
from driftguard.audit.signing import HMAC_KEY_ENV, KeyRing, signer_from_env
from driftguard.audit.verification import ListSource, Row
from driftguard.store import Lake
from tests.audit_tamper import random_entry

N = 30
TRIALS = 5  # per class; the 1,000-per-class trials run in memory
SECRET = "lake-tamper-hmac-secret-0123456789"


class _Undo(Exception):
    """Raised to roll back a trial's tampering."""


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from driftguard.config import Settings

    home = tmp_path_factory.mktemp("tamper") / "home"
    monkey = pytest.MonkeyPatch()
    monkey.setenv(HMAC_KEY_ENV, SECRET)
    lake = Lake.open(Settings.from_env({"DRIFTGUARD_HOME": str(home)}))
    rng = random.Random(77)
    audit.append_many(lake, [random_entry(rng) for _ in range(N)])
    checkpoint = audit.write_checkpoint(lake)
    yield lake, checkpoint, KeyRing.from_env()
    lake.close()
    monkey.undo()


def _row(lake: Lake, seq: int) -> dict:
    return lake.records("SELECT * FROM audit_entries WHERE seq = ?", [seq])[0]


def _set_head(lake: Lake, through: int) -> None:
    """What a careful attacker does after editing the entries: make the head row agree."""
    frontier = MerkleFrontier()
    last = None
    for canonical, chain in lake.fetchall(
        "SELECT canonical, chain_hash FROM audit_entries WHERE seq <= ? ORDER BY seq", [through]
    ):
        frontier.push(leaf_hash(bytes(canonical)))
        last = chain
    lake.execute(
        "UPDATE audit_head SET size = ?, head = ?, frontier = ?",
        [through, last, frontier.to_json()],
    )


def byte_flip(lake, rng):
    k = rng.randrange(1, N + 1)
    canonical = bytearray(_row(lake, k)["canonical"])
    start = canonical.index(b'"payload":') + 10
    canonical[rng.randrange(start, canonical.index(b',"reason":'))] ^= rng.randrange(1, 256)
    lake.execute("UPDATE audit_entries SET canonical = ? WHERE seq = ?", [bytes(canonical), k])
    return k, "modified"


def column_edit(lake, rng):
    k = rng.randrange(1, N + 1)
    column = rng.choice(["actor", "action", "event_type", "resource_id", "payload_json", "ts"])
    if column == "ts":
        lake.execute("UPDATE audit_entries SET ts = ts + INTERVAL 1 SECOND WHERE seq = ?", [k])
    elif column == "payload_json":
        lake.execute("UPDATE audit_entries SET payload_json = '{}' WHERE seq = ?", [k])
    else:
        lake.execute(f"UPDATE audit_entries SET {column} = {column} || 'x' WHERE seq = ?", [k])
    return k, "modified"


def delete_middle(lake, rng):
    k = rng.randrange(2, N)
    lake.execute("DELETE FROM audit_entries WHERE seq = ?", [k])
    if rng.random() < 0.5:
        lake.execute("UPDATE audit_entries SET seq = seq - 1 WHERE seq > ?", [k])
    return k, "deleted"


def insert_forged(lake, rng):
    k = rng.randrange(2, N + 1)
    before = _row(lake, k - 1)
    fields = with_position(
        draft_fields(**random_entry(rng)),
        seq=k,
        ts_us=decode_entry(bytes(before["canonical"]))["ts_us"],
    )
    canonical = encode_entry(fields)
    leaf = leaf_hash(canonical)
    chain = chain_hash(k, bytes.fromhex(before["chain_hash"]), leaf)
    if rng.random() < 0.5:
        lake.execute("UPDATE audit_entries SET seq = seq + 1 WHERE seq >= ?", [k])
    lake.execute(
        "INSERT INTO audit_entries SELECT log_id, ?, ts, 'x', 'info', 'mallory', 'r', 'r', 'x', "
        "NULL, NULL, '{}', '[]', ?, ?, ?, NULL FROM audit_entries WHERE seq = ?",
        [k, canonical, leaf.hex(), chain.hex(), k - 1],
    )
    return k, "inserted"


def swap(lake, rng):
    k = rng.randrange(1, N)
    m = k + 1 if rng.random() < 0.6 else rng.randrange(k + 1, N + 1)
    lake.execute(
        "UPDATE audit_entries SET seq = CASE WHEN seq = ? THEN ? ELSE ? END WHERE seq IN (?, ?)",
        [k, m, k, k, m],
    )
    return k, "reordered"


def tail_truncation(lake, rng):
    keep = rng.randrange(1, N)
    lake.execute("DELETE FROM audit_entries WHERE seq > ?", [keep])
    _set_head(lake, keep)
    return keep + 1, "deleted"


def suffix_rewrite(lake, rng):
    """Edit entry j and recompute the chain after it, without the key (seals kept or dropped)."""
    j = rng.randrange(1, N + 1)
    previous = bytes.fromhex(_row(lake, j - 1)["chain_hash"]) if j > 1 else None
    if previous is None:
        from driftguard.audit.hashing import genesis_hash

        previous = genesis_hash(audit.head(lake).log_id)
    drop_seals = rng.random() < 0.5
    for seq in range(j, N + 1):
        row = _row(lake, seq)
        canonical = bytes(row["canonical"])
        if seq == j:
            fields = decode_entry(canonical)
            fields["reason"] = "rewritten"
            canonical = encode_entry(fields)
        leaf = leaf_hash(canonical)
        value = chain_hash(seq, previous, leaf)
        lake.execute(
            "UPDATE audit_entries SET canonical = ?, leaf_hash = ?, chain_hash = ?, "
            "reason = CASE WHEN seq = ? THEN 'rewritten' ELSE reason END, "
            "seal = CASE WHEN ? THEN NULL ELSE seal END WHERE seq = ?",
            [canonical, leaf.hex(), value.hex(), j, drop_seals, seq],
        )
        previous = value
    _set_head(lake, N)
    return j, "forged"


ATTACKS = [byte_flip, column_edit, delete_middle, insert_forged, swap, tail_truncation]
ATTACKS.append(suffix_rewrite)


def _read_whole_log(lake: Lake, log_id: str, **_: bool) -> ListSource:
    """The reference reader: every column of every row in one plain query, in stored order."""
    rows = lake.fetchall(
        "SELECT seq, canonical, leaf_hash, chain_hash, seal FROM audit_entries "
        "WHERE log_id = ? ORDER BY seq NULLS LAST, chain_hash",
        [log_id],
    )
    return ListSource([Row(seq, bytes(c), leaf, chain, seal) for seq, c, leaf, chain, seal in rows])


def _outcome(result) -> tuple:
    return result.status, result.first_bad_seq, result.kind


@pytest.mark.parametrize("attack", ATTACKS, ids=lambda a: a.__name__)
def test_sql_tampering_is_detected_at_the_right_seq(setup, attack, monkeypatch):
    lake, checkpoint, keyring = setup
    for trial in range(TRIALS):
        rng = random.Random(f"{attack.__name__}-{trial}")
        try:
            with lake.atomic():
                expected = attack(lake, rng)
                result = audit.verify(lake, checkpoints=[checkpoint], keyring=keyring)
                hash_only = audit.verify(
                    lake, checkpoints=[checkpoint], keyring=keyring, full=False
                )
                with monkeypatch.context() as patch:
                    patch.setattr(audit_log, "LakeSource", _read_whole_log)
                    reference = audit.verify(
                        lake, checkpoints=[checkpoint], keyring=keyring, full=False
                    )
                raise _Undo
        except _Undo:
            pass
        assert _outcome(result) == ("tampered", *expected), (trial, result.verdict())
        # the hash-only pass reads stored leaf hashes only for the rows it diagnoses
        assert _outcome(hash_only) == _outcome(reference), (trial, hash_only.verdict())
        if attack is not column_edit:  # query columns are compared in full mode only
            assert _outcome(hash_only) == ("tampered", *expected), (trial, hash_only.verdict())
    clean = audit.verify(lake, checkpoints=[checkpoint], keyring=keyring)
    assert clean.ok and clean.size == N  # every trial was rolled back


def test_restoring_an_old_copy_of_the_lake_files_is_detected(tmp_path, monkeypatch):
    from driftguard.config import Settings

    monkeypatch.setenv(HMAC_KEY_ENV, SECRET)
    home, backup = tmp_path / "home", tmp_path / "backup"
    settings = Settings.from_env({"DRIFTGUARD_HOME": str(home)})
    rng = random.Random(5)
    with Lake.open(settings) as lake:
        audit.append_many(lake, [random_entry(rng) for _ in range(12)])
    shutil.copytree(home, backup)  # the backup holds 12 entries
    with Lake.open(settings) as lake:
        for _ in range(8):
            audit.append(lake, **random_entry(rng))
        report_copy = audit.write_checkpoint(lake).to_text()  # printed in a report: 20 entries
    for grow in (0, 3):
        shutil.rmtree(home)
        shutil.copytree(backup, home)
        with Lake.open(settings) as lake:
            for _ in range(grow):  # the restored log keeps being used
                audit.append(lake, **random_entry(rng))
            alone = audit.verify(lake)
            assert alone.status != "tampered"  # from the inside, a restored copy looks fine
            result = audit.verify(lake, checkpoints=audit.find_checkpoints(report_copy))
        assert (result.status, result.first_bad_seq, result.kind) == ("tampered", 13, "deleted")
    assert signer_from_env() is not None
