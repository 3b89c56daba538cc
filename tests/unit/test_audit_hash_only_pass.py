"""The hash-only pass compares stored seqs and chain hashes list-wise per chunk; it must accept
exactly the rows a row-by-row loop accepts, whatever the chunking, on clean and tampered logs."""

from __future__ import annotations

import hashlib
import random

import pytest

from driftguard.audit.hashing import genesis_hash
from driftguard.audit.verification import ListSource, Row, _scan, verify_log
from tests.audit_tamper import ATTACKS, CLASSES, make_base, stored_order


def row_by_row(
    rows: list[Row], log_id: str, sizes: set[int]
) -> tuple[int, bytes, bytes | None, dict[int, bytes]]:
    """The reference: accept rows while seq is the next one and the chain hash recomputes."""
    previous, before, k, heads = genesis_hash(log_id), None, 1, {}
    if 0 in sizes:
        heads[0] = previous
    for row in rows:
        leaf = hashlib.sha256(b"\x00" + row.canonical).digest()
        value = hashlib.sha256(b"\x02" + k.to_bytes(8, "big") + previous + leaf).digest()
        if row.seq != k or value.hex() != row.chain_hash:
            break
        before, previous = previous, value
        if k in sizes:
            heads[k] = value
        k += 1
    return k - 1, previous, before, heads


@pytest.fixture(scope="module")
def bases():
    return [make_base(random.Random(500 + i), n=12 + 3 * i, signer=None) for i in range(6)]


@pytest.mark.parametrize("cls", ["clean", *CLASSES])
def test_the_hash_only_pass_accepts_what_a_row_by_row_loop_accepts(cls, bases):
    for i in range(60):
        base = bases[i % len(bases)]
        rng = random.Random(f"{cls}-{i}")
        mode = "file" if i % 2 else "table"
        rows = base.rows if cls == "clean" else ATTACKS[cls](base, rng, mode).rows
        rows = stored_order(rows, mode)
        sizes = {0, *rng.sample(range(1, len(base.rows) + 3), 4)}
        expected = row_by_row(rows, base.log_id, sizes)
        verdicts = set()
        for chunk_size in (1, 2, 3, 5, 4096):
            scan = _scan(ListSource(rows, chunk_size), base.log_id, sizes, full=False)
            found = (scan.size, scan.head, scan.before_head, scan.heads)
            assert found == expected, (cls, i, chunk_size)
            result = verify_log(ListSource(rows, chunk_size), log_id=base.log_id, full=False)
            verdicts.add((result.status, result.first_bad_seq, result.kind))
        assert len(verdicts) == 1, (cls, i, verdicts)  # chunking never changes the verdict
