"""Hashes of the audit chain and the RFC 6962 Merkle tree: reference vectors and properties."""

from __future__ import annotations

import hashlib
import random

import pytest

from driftguard.audit.hashing import (
    EMPTY_ROOT,
    MerkleFrontier,
    chain_hash,
    genesis_hash,
    inclusion_proof,
    leaf_hash,
    merkle_root,
    node_hash,
    verify_inclusion,
)

# Certificate Transparency reference data (google/certificate-transparency,
# cpp/merkletree/merkle_tree_test.cc: kInputs and kSHA256Roots): the RFC 6962 tree hash of
# the first n of these eight inputs.
CT_INPUTS = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
# Inclusion proofs over the same tree (the same test suite's kInclusionProofs, also RFC 9162
# test data): (tree size, 0-based leaf index, audit path).
CT_PROOFS = [
    (1, 0, []),
    (2, 0, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"]),
    (2, 1, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"]),
    (3, 2, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        5,
        1,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        8,
        0,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
]


def test_empty_tree_root_is_sha256_of_nothing():
    # SHA-256("") (FIPS 180-2 example, also CT's kSHA256EmptyTreeHash)
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert merkle_root([]) == EMPTY_ROOT


@pytest.mark.parametrize("n", range(1, 9))
def test_certificate_transparency_roots(n):
    leaves = [leaf_hash(data) for data in CT_INPUTS[:n]]
    assert merkle_root(leaves).hex() == CT_ROOTS[n - 1]


@pytest.mark.parametrize(("size", "index", "path"), CT_PROOFS)
def test_certificate_transparency_inclusion_proofs(size, index, path):
    leaves = [leaf_hash(data) for data in CT_INPUTS[:size]]
    proof = inclusion_proof(leaves, index)
    assert [p.hex() for p in proof] == path
    assert verify_inclusion(leaves[index], index, size, proof, merkle_root(leaves))


def _reference_root(leaves: list[bytes]) -> bytes:
    """RFC 6962 section 2.1, written recursively as in the text (the oracle for the frontier)."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(
        b"\x01" + _reference_root(leaves[:k]) + _reference_root(leaves[k:])
    ).digest()


def test_frontier_roots_match_the_recursive_definition_at_every_size():
    rng = random.Random(5)
    leaves = [leaf_hash(rng.randbytes(rng.randrange(40))) for _ in range(70)]
    frontier = MerkleFrontier()
    for n, leaf in enumerate(leaves, start=1):
        frontier.push(leaf)
        assert frontier.size == n
        assert len(frontier.nodes) == bin(n).count("1")  # one node per set bit
        assert frontier.root() == _reference_root(leaves[:n])
        restored = MerkleFrontier.from_json(n, frontier.to_json())
        assert restored.root() == frontier.root()


def test_frontier_refuses_a_node_count_that_does_not_fit_its_size():
    with pytest.raises(ValueError, match="a frontier of size 3 has 2 nodes"):
        MerkleFrontier(3, [EMPTY_ROOT])


def test_every_inclusion_proof_verifies_and_wrong_ones_do_not():
    rng = random.Random(9)
    for size in range(1, 41):
        leaves = [leaf_hash(rng.randbytes(8)) for _ in range(size)]
        root = merkle_root(leaves)
        for index in range(size):
            proof = inclusion_proof(leaves, index)
            assert verify_inclusion(leaves[index], index, size, proof, root)
            assert not verify_inclusion(leaf_hash(b"other"), index, size, proof, root)
            if size > 1:
                assert not verify_inclusion(leaves[index], (index + 1) % size, size, proof, root)
                assert not verify_inclusion(leaves[index], index, size, proof[:-1], root)
            assert not verify_inclusion(leaves[index], index, size, [*proof, root], root)
    with pytest.raises(IndexError):
        inclusion_proof([EMPTY_ROOT], 1)


def test_domain_tags_keep_hash_kinds_apart():
    a, b = leaf_hash(b"a"), leaf_hash(b"b")
    # a node over two leaves is not the leaf hash of their concatenation (0x01 vs 0x00)
    assert node_hash(a, b) != leaf_hash(a + b)
    assert node_hash(a, b) == hashlib.sha256(b"\x01" + a + b).digest()
    # the chain binds the sequence number and the log id
    genesis = genesis_hash("log-1")
    assert chain_hash(1, genesis, a) != chain_hash(2, genesis, a)
    assert chain_hash(1, genesis, a) != chain_hash(1, genesis_hash("log-2"), a)
    assert (
        chain_hash(1, genesis, a)
        == hashlib.sha256(b"\x02" + (1).to_bytes(8, "big") + genesis + a).digest()
    )
