# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""RFC 9162 Merkle tree hashes, inclusion and consistency proofs, and the incremental frontier.

Hashing follows RFC 9162 §2.1 (SHA-256, ``0x00`` prefix for leaves, ``0x01`` for interior nodes),
so a proof made here checks with any transparency-log tooling (transparency-dev/merkle, Trillian,
Tessera). Proof generation takes a ``subtree`` callback that returns ``MTH(D[start:stop])`` for an
aligned range, so a sink holding stored node hashes answers in O(log n) reads and a sink without
them falls back to hashing leaves.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence

from opentelemetry_instrumentation_toolaudit._exceptions import VerificationError

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
"""``MTH({})``: e3b0c442…b855."""

_LEAF = b"\x00"
_NODE = b"\x01"
_sha256 = hashlib.sha256

SubtreeHash = Callable[[int, int], bytes]
"""``subtree(start, stop)`` → ``MTH(D[start:stop])``."""


def hash_leaf(data: bytes) -> bytes:
    """``MTH({d}) = SHA-256(0x00 || d)``."""
    return _sha256(_LEAF + data).digest()


def hash_children(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``."""
    return _sha256(_NODE + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (``n >= 2``): RFC 9162's ``k``."""
    return 1 << ((n - 1).bit_length() - 1)


def root_from_leaf_hashes(leaves: Sequence[bytes]) -> bytes:
    """``MTH`` of a list of leaf hashes (computed bottom-up, iteratively): one level at a time,
    each pair hashed and an unpaired last node carried up as it is, which builds RFC 9162's tree
    (its left subtree is always the largest perfect one)."""
    if not leaves:
        return EMPTY_ROOT
    level = list(leaves)
    while len(level) > 1:
        paired = [
            _sha256(_NODE + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)
        ]
        if len(level) & 1:
            paired.append(level[-1])
        level = paired
    return level[0]


class Frontier:
    """The compact range ``[0, size)``: the roots of the perfect subtrees that make up the tree, largest
    first (one per set bit of ``size``). ``append`` is amortised O(1) hashes and ``root`` O(log n), so a
    writer knows the tree head without rereading the log."""

    __slots__ = ("hashes", "size")

    def __init__(self, size: int = 0, hashes: Iterable[bytes] = ()) -> None:
        self.size = size
        self.hashes = list(hashes)
        if len(self.hashes) != size.bit_count():
            raise VerificationError(
                f"a Merkle frontier of size {size} has {size.bit_count()} hashes, not {len(self.hashes)}"
            )

    def append(
        self, leaf_hash: bytes, on_node: Callable[[int, int, bytes], None] | None = None
    ) -> None:
        """Add a leaf. ``on_node(level, index, hash)`` is told of every perfect subtree completed
        (level 1 upward), so a sink can store node hashes for O(log n) proofs."""
        hashes = self.hashes
        node = leaf_hash
        size = self.size
        level = 0
        while size & 1:
            node = _sha256(_NODE + hashes.pop() + node).digest()
            size >>= 1
            level += 1
            if on_node is not None:
                on_node(level, (self.size + 1 >> level) - 1, node)
        hashes.append(node)
        self.size += 1

    def extend(
        self,
        leaf_hashes: Iterable[bytes],
        nodes: list[tuple[int, int, bytes]] | None = None,
        min_level: int = 1,
    ) -> None:
        """Add leaves in order (:meth:`append` without a call per leaf). Perfect subtrees completed at
        ``min_level`` or above are added to ``nodes`` as ``(level, index, hash)``."""
        hashes = self.hashes
        pop = hashes.pop
        push = hashes.append
        size = self.size
        for node in leaf_hashes:
            size += 1
            s = size - 1
            if s & 1:
                level = 0
                while s & 1:
                    node = _sha256(_NODE + pop() + node).digest()
                    s >>= 1
                    level += 1
                    if nodes is not None and level >= min_level:
                        nodes.append((level, (size >> level) - 1, node))
            push(node)
        self.size = size

    def root(self) -> bytes:
        """The tree head ``MTH(D[0:size])``."""
        if not self.hashes:
            return EMPTY_ROOT
        node = self.hashes[-1]
        for left in reversed(self.hashes[:-1]):
            node = _sha256(_NODE + left + node).digest()
        return node

    def to_bytes(self) -> bytes:
        """The frontier's hashes concatenated (stored with the log's head)."""
        return b"".join(self.hashes)

    @classmethod
    def from_bytes(cls, size: int, data: bytes) -> Frontier:
        if len(data) % HASH_SIZE:
            raise VerificationError("a stored Merkle frontier is not a whole number of hashes")
        return cls(size, [data[i : i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)])

    def copy(self) -> Frontier:
        return Frontier(self.size, self.hashes)


# --- proofs (RFC 9162 §2.1.3 and §2.1.4) ---------------------------------------------------------


def inclusion_proof(index: int, size: int, subtree: SubtreeHash) -> list[bytes]:
    """``PATH(index, D[0:size])``, leaf-adjacent hash first."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of size {size}")
    path: list[bytes] = []
    start, stop = 0, size
    while stop - start > 1:
        k = _split(stop - start)
        if index - start < k:
            path.append(subtree(start + k, stop))
            stop = start + k
        else:
            path.append(subtree(start, start + k))
            start += k
    path.reverse()
    return path


def consistency_proof(old_size: int, new_size: int, subtree: SubtreeHash) -> list[bytes]:
    """``PROOF(old_size, D[0:new_size])``."""
    if not 0 <= old_size <= new_size:
        raise ValueError(f"no consistency proof from size {old_size} to {new_size}")
    if old_size in (0, new_size):
        return []
    proof: list[bytes] = []
    start, stop, complete = 0, new_size, True
    m = old_size
    while True:
        n = stop - start
        if m == n:
            if not complete:
                proof.append(subtree(start, stop))
            break
        k = _split(n)
        if m <= k:
            proof.append(subtree(start + k, stop))
            stop = start + k
        else:
            proof.append(subtree(start, start + k))
            start += k
            m -= k
            complete = False
    proof.reverse()
    return proof


def root_from_inclusion_proof(
    index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes]
) -> bytes:
    """The root that ``proof`` implies for ``leaf_hash`` at ``index`` (RFC 9162 §2.1.3.2)."""
    if not 0 <= index < size:
        raise VerificationError(f"leaf index {index} is beyond tree size {size}")
    if len(leaf_hash) != HASH_SIZE or any(len(h) != HASH_SIZE for h in proof):
        raise VerificationError("inclusion proof hashes must be 32 bytes")
    fn, sn = index, size - 1
    node = leaf_hash
    for sibling in proof:
        if sn == 0:
            raise VerificationError("inclusion proof is too long")
        if fn & 1 or fn == sn:
            node = hash_children(sibling, node)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            node = hash_children(node, sibling)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise VerificationError("inclusion proof is too short")
    return node


def sibling_ranges(size: int, indexes: Sequence[int]) -> list[tuple[int, int]]:
    """The ranges ``[start, stop)`` whose ``MTH`` :func:`root_from_leaves` needs to compute the root
    of a tree of ``size`` leaves from the leaves at ``indexes`` (sorted, distinct): the union of
    their audit paths, less the nodes the leaves themselves give."""
    out: list[tuple[int, int]] = []

    def walk(start: int, stop: int, lo: int, hi: int) -> None:
        if lo == hi:
            out.append((start, stop))
        elif stop - start > 1:
            middle = start + _split(stop - start)
            cut = bisect.bisect_left(indexes, middle, lo, hi)
            walk(start, middle, lo, cut)
            walk(middle, stop, cut, hi)

    if indexes and not 0 <= indexes[0] <= indexes[-1] < size:
        raise ValueError(f"leaves {indexes[0]}..{indexes[-1]} are not all in a tree of size {size}")
    walk(0, size, 0, len(indexes))
    return out


def root_from_leaves(
    size: int, leaves: Mapping[int, bytes], siblings: Mapping[tuple[int, int], bytes]
) -> bytes:
    """``MTH(D[0:size])`` from the leaf hashes ``leaves`` (by index) and the hashes of their
    :func:`sibling_ranges`: one computation that checks many leaves against a root at once, each
    node hashed once (a set of RFC 9162 inclusion proofs sharing their common nodes)."""
    indexes = sorted(leaves)

    def walk(start: int, stop: int, lo: int, hi: int) -> bytes:
        if lo == hi:
            return siblings[(start, stop)]
        if stop - start == 1:
            return leaves[start]
        middle = start + _split(stop - start)
        cut = bisect.bisect_left(indexes, middle, lo, hi)
        return hash_children(walk(start, middle, lo, cut), walk(middle, stop, cut, hi))

    if not indexes or not 0 <= indexes[0] <= indexes[-1] < size:
        raise ValueError(f"no leaves, or leaves outside a tree of size {size}")
    return walk(0, size, 0, len(indexes))


def verify_inclusion(
    index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """Raise VerificationError unless ``proof`` shows ``leaf_hash`` at ``index`` under ``root``."""
    if root_from_inclusion_proof(index, size, leaf_hash, proof) != root:
        raise VerificationError(f"inclusion proof for leaf {index} does not lead to the tree head")


def verify_consistency(
    old_size: int, new_size: int, proof: Sequence[bytes], old_root: bytes, new_root: bytes
) -> None:
    """Raise VerificationError unless ``proof`` shows the tree ``old_root`` is a prefix of ``new_root``
    (RFC 9162 §2.1.4.2)."""
    if not 0 <= old_size <= new_size:
        raise VerificationError(f"tree size {new_size} is smaller than earlier size {old_size}")
    if any(len(h) != HASH_SIZE for h in proof):
        raise VerificationError("consistency proof hashes must be 32 bytes")
    if old_size == new_size:
        if proof:
            raise VerificationError("consistency proof between equal sizes must be empty")
        if old_root != new_root:
            raise VerificationError(f"two different tree heads for size {old_size}")
        return
    if old_size == 0:
        if proof:
            raise VerificationError("consistency proof from the empty tree must be empty")
        return
    if not proof:
        raise VerificationError("consistency proof is empty")
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        # old_size is a power of two: the old root is itself a node of the new tree.
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise VerificationError("consistency proof is too long")
        if fn & 1 or fn == sn:
            fr = hash_children(c, fr)
            sr = hash_children(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = hash_children(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise VerificationError("consistency proof is too short")
    if fr != old_root:
        raise VerificationError(
            f"tree head at size {old_size} is not a prefix of the tree at size {new_size}"
        )
    if sr != new_root:
        raise VerificationError(
            f"consistency proof does not lead to the tree head at size {new_size}"
        )


def subtree_from_leaves(leaves: Sequence[bytes]) -> SubtreeHash:
    """A ``subtree`` callback over an in-memory list of leaf hashes (for tests and small logs)."""

    def subtree(start: int, stop: int) -> bytes:
        return root_from_leaf_hashes(leaves[start:stop])

    return subtree
