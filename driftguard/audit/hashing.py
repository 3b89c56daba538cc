"""Hashes of the audit chain and its Merkle tree, each with its own one-byte domain tag.

    leaf_i  = SHA-256(0x00 ‖ canonical_i)
    node    = SHA-256(0x01 ‖ left ‖ right)                       RFC 6962 Merkle tree node
    chain_i = SHA-256(0x02 ‖ seq_i as 8-byte big-endian ‖ chain_{i-1} ‖ leaf_i)
    chain_0 = SHA-256(0x03 ‖ UTF-8 log id)                        genesis, binds the log id

The tags keep one kind of hash from ever passing for another (a leaf cannot be presented as
an interior node, a chain value cannot be presented as a leaf). The chain makes every entry
depend on all earlier ones, so one changed byte changes every later chain value; the Merkle
root over the leaves lets anyone prove that one entry is in a checkpointed log with
log2(n) hashes (:func:`inclusion_proof`) without the rest of the log.

Notes
-----
RFC 6962 splits a tree of n leaves at the largest power of two k < n; an odd last node is
never duplicated (duplication would let two different logs share a root). The empty tree's
root is SHA-256 of nothing.

References
----------
RFC 6962 section 2.1, https://www.rfc-editor.org/rfc/rfc6962#section-2.1 ; RFC 9162 section
2.1.3 (inclusion proof verification), https://www.rfc-editor.org/rfc/rfc9162#section-2.1.3

Examples
--------
>>> merkle_root([leaf_hash(b"")]).hex()[:16]   # CT reference vector for one empty leaf
'6e340b9cffb37a98'

Standard library only.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

_sha256 = hashlib.sha256
LEAF_TAG = b"\x00"
NODE_TAG = b"\x01"
CHAIN_TAG = b"\x02"
GENESIS_TAG = b"\x03"
EMPTY_ROOT = _sha256(b"").digest()


def leaf_hash(canonical: bytes) -> bytes:
    """SHA-256(0x00 ‖ canonical): the hash of one entry's bytes."""
    return _sha256(LEAF_TAG + canonical).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 ‖ left ‖ right): an interior node of the Merkle tree."""
    return _sha256(NODE_TAG + left + right).digest()


def chain_hash(seq: int, previous: bytes, leaf: bytes) -> bytes:
    """SHA-256(0x02 ‖ seq (8 bytes, big-endian) ‖ previous chain value ‖ leaf)."""
    return _sha256(CHAIN_TAG + seq.to_bytes(8, "big") + previous + leaf).digest()


def genesis_hash(log_id: str) -> bytes:
    """SHA-256(0x03 ‖ log id): the chain value before the first entry of a log."""
    return _sha256(GENESIS_TAG + log_id.encode("utf-8")).digest()


# --------------------------------------------------------------------------- Merkle tree


def merkle_root(leaves: Sequence[bytes]) -> bytes:
    """RFC 6962 Merkle tree hash over leaf hashes (not raw data), iteratively."""
    frontier = MerkleFrontier()
    for leaf in leaves:
        frontier.push(leaf)
    return frontier.root()


class MerkleFrontier:
    """The roots of the perfect subtrees of a growing tree (at most log2(n) hashes).

    Appending costs amortised one node hash; the root of the current tree is the fold of the
    frontier from the right, which is what RFC 6962's split at the largest power of two
    produces. Kept with the log head so a checkpoint needs no pass over the leaves.
    """

    __slots__ = ("size", "nodes")

    def __init__(self, size: int = 0, nodes: list[bytes] | None = None):
        self.size = size
        self.nodes = list(nodes or [])
        if len(self.nodes) != bin(size).count("1"):
            raise ValueError(f"a frontier of size {size} has {bin(size).count('1')} nodes")

    def push(self, leaf: bytes) -> None:
        nodes = self.nodes
        nodes.append(leaf)
        size = self.size
        while size & 1:
            right = nodes.pop()
            nodes[-1] = _sha256(NODE_TAG + nodes[-1] + right).digest()
            size >>= 1
        self.size += 1

    def root(self) -> bytes:
        if not self.nodes:
            return EMPTY_ROOT
        root = self.nodes[-1]
        for node in reversed(self.nodes[:-1]):
            root = _sha256(NODE_TAG + node + root).digest()
        return root

    def copy(self) -> MerkleFrontier:
        return MerkleFrontier(self.size, self.nodes)

    def to_json(self) -> str:
        return json.dumps([n.hex() for n in self.nodes], separators=(",", ":"))

    @classmethod
    def from_json(cls, size: int, text: str) -> MerkleFrontier:
        return cls(size, [bytes.fromhex(h) for h in json.loads(text or "[]")])


def _split(n: int) -> int:
    """The largest power of two strictly below n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def _subtree_root(leaves: Sequence[bytes], lo: int, hi: int) -> bytes:
    if hi - lo == 1:
        return leaves[lo]
    k = _split(hi - lo)
    return node_hash(_subtree_root(leaves, lo, lo + k), _subtree_root(leaves, lo + k, hi))


def inclusion_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """RFC 6962 audit path of the leaf at 0-based ``index`` in the tree over ``leaves``."""
    if not 0 <= index < len(leaves):
        raise IndexError(f"leaf {index} is not in a tree of {len(leaves)} leaves")
    path: list[bytes] = []
    lo, hi = 0, len(leaves)
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            path.append(_subtree_root(leaves, lo + k, hi))
            hi = lo + k
        else:
            path.append(_subtree_root(leaves, lo, lo + k))
            lo = lo + k
    return path[::-1]


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """True when ``proof`` shows the leaf hash at 0-based ``index`` is in the tree ``root``.

    The algorithm of RFC 9162 section 2.1.3.2.
    """
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root
