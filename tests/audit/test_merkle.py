# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""RFC 9162 Merkle hashing and proofs, against the transparency-dev/merkle test vectors."""

from __future__ import annotations

import random
import re

import pytest

from opentelemetry_instrumentation_toolaudit._exceptions import VerificationError
from opentelemetry_instrumentation_toolaudit.ledger._merkle import (
    EMPTY_ROOT,
    Frontier,
    consistency_proof,
    hash_leaf,
    inclusion_proof,
    root_from_leaf_hashes,
    subtree_from_leaves,
    verify_consistency,
    verify_inclusion,
)

h = bytes.fromhex

# transparency-dev/merkle testonly/constants.go: the standard 8 leaf inputs and the roots for sizes 0..8.
LEAF_INPUTS = [
    h(x)
    for x in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
ROOTS = [
    h("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
    h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
    h("aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77"),
    h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
    h("4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4"),
    h("76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef"),
    h("ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c"),
    h("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"),
]
# proof/verify_test.go: (1-based leaf, size, path) and (size1, size2, proof).
INCLUSION = [
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (3, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        2,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (1, 1, []),
]
CONSISTENCY = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]
LEAVES = [hash_leaf(d) for d in LEAF_INPUTS]


def test_empty_root():
    """The empty tree's root is SHA-256 of the empty string."""
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


@pytest.mark.parametrize("size", range(9))
def test_roots_for_sizes_0_to_8(size):
    """Batch and incremental roots equal the published roots for every size 0..8."""
    frontier = Frontier()
    for leaf in LEAVES[:size]:
        frontier.append(leaf)
    assert (ROOTS[size], ROOTS[size]) == (root_from_leaf_hashes(LEAVES[:size]), frontier.root())
    restored = Frontier.from_bytes(size, frontier.to_bytes())
    assert ROOTS[size] == restored.root()


@pytest.mark.parametrize(("leaf", "size", "path"), INCLUSION)
def test_inclusion_vectors(leaf, size, path):
    """Generated inclusion proofs equal the published ones and verify; a flipped bit fails."""
    proof = inclusion_proof(leaf - 1, size, subtree_from_leaves(LEAVES))
    assert [h(p) for p in path] == proof
    verify_inclusion(leaf - 1, size, LEAVES[leaf - 1], proof, ROOTS[size])
    for i in range(len(proof)):
        bad = list(proof)
        bad[i] = bytes([bad[i][0] ^ 8]) + bad[i][1:]
        with pytest.raises(VerificationError):
            verify_inclusion(leaf - 1, size, LEAVES[leaf - 1], bad, ROOTS[size])
    for index, tsize, p in (
        (leaf, size, proof),
        (leaf - 1, size * 2, proof),
        (leaf - 1, size, [*proof, ROOTS[size]]),
    ):
        with pytest.raises(VerificationError):
            verify_inclusion(index, tsize, LEAVES[leaf - 1], p, ROOTS[size])


@pytest.mark.parametrize(("size1", "size2", "path"), CONSISTENCY)
def test_consistency_vectors(size1, size2, path):
    """Generated consistency proofs equal the published ones and verify; corruptions fail."""
    proof = consistency_proof(size1, size2, subtree_from_leaves(LEAVES))
    assert [h(p) for p in path] == proof
    verify_consistency(size1, size2, proof, ROOTS[size1], ROOTS[size2])
    if proof:
        probes = [
            (size1 + 1, size2, proof, ROOTS[size1], ROOTS[size2]),
            (size1, size2, proof, ROOTS[size2], ROOTS[size1]),
            (size1, size2, proof[:-1], ROOTS[size1], ROOTS[size2]),
            (size1, size2, [*proof, ROOTS[size1]], ROOTS[size1], ROOTS[size2]),
            (size1, size2, [], ROOTS[size1], ROOTS[size2]),
        ]
        for probe in probes:
            with pytest.raises(VerificationError):
                verify_consistency(*probe)


def test_random_trees_all_proofs_verify():
    """Every inclusion and consistency proof of random trees up to 70 leaves verifies."""
    rng = random.Random(7)
    leaves = [hash_leaf(rng.randbytes(8)) for _ in range(70)]
    subtree = subtree_from_leaves(leaves)
    for size in range(1, 71):
        root = root_from_leaf_hashes(leaves[:size])
        for index in range(size):
            verify_inclusion(
                index, size, leaves[index], inclusion_proof(index, size, subtree), root
            )
        for old in range(0, size + 1):
            verify_consistency(
                old,
                size,
                consistency_proof(old, size, subtree),
                root_from_leaf_hashes(leaves[:old]),
                root,
            )


def test_frontier_reports_completed_nodes():
    """append() reports each completed perfect subtree with its level and index."""
    seen = {}
    frontier = Frontier()
    for leaf in LEAVES:
        frontier.append(leaf, lambda level, index, node: seen.__setitem__((level, index), node))
    assert {(1, 0), (1, 1), (1, 2), (1, 3), (2, 0), (2, 1), (3, 0)} == set(seen)
    assert ROOTS[8] == seen[(3, 0)]
    assert root_from_leaf_hashes(LEAVES[4:8]) == seen[(2, 1)]


@pytest.mark.parametrize("start", [0, 1, 5, 8, 255, 256, 1023])
def test_frontier_extend_equals_append(start):
    """extend() gives the same frontier and the same completed nodes (at min_level and up) as append()."""
    rng = random.Random(start)
    leaves = [rng.randbytes(32) for _ in range(start + 600)]
    one, many = Frontier(), Frontier()
    for leaf in leaves[:start]:
        one.append(leaf)
        many.append(leaf)
    seen: list[tuple[int, int, bytes]] = []
    for leaf in leaves[start:]:
        one.append(leaf, lambda level, index, node: seen.append((level, index, node)))
    nodes: list[tuple[int, int, bytes]] = []
    many.extend(leaves[start:], nodes, min_level=3)
    assert (one.size, one.hashes) == (many.size, many.hashes)
    assert [n for n in seen if n[0] >= 3] == nodes
    assert root_from_leaf_hashes(leaves) == many.root()


def exactly(message: str) -> str:
    """A ``pytest.raises(match=...)`` pattern for exactly ``message``."""
    return f"^{re.escape(message)}$"


@pytest.mark.parametrize(("index", "size"), [(8, 8), (-1, 8), (0, 0), (9, 8)])
def test_inclusion_proof_of_a_leaf_outside_the_tree_raises(index, size):
    """A proof for a leaf at or past the tree size (or negative) is refused with a message naming both."""
    with pytest.raises(ValueError, match=exactly(f"leaf {index} is not in a tree of size {size}")):
        inclusion_proof(index, size, subtree_from_leaves(LEAVES))


@pytest.mark.parametrize(("old", "new"), [(5, 4), (-1, 4)])
def test_consistency_proof_between_impossible_sizes_raises(old, new):
    """A consistency proof to a smaller tree (or from a negative size) is refused."""
    with pytest.raises(ValueError, match=exactly(f"no consistency proof from size {old} to {new}")):
        consistency_proof(old, new, subtree_from_leaves(LEAVES))


def test_inclusion_with_a_leaf_hash_of_the_wrong_length_fails():
    """A leaf hash that is not 32 bytes fails, even with an otherwise valid proof."""
    proof = inclusion_proof(2, 8, subtree_from_leaves(LEAVES))
    with pytest.raises(VerificationError, match=exactly("inclusion proof hashes must be 32 bytes")):
        verify_inclusion(2, 8, LEAVES[2][:31], proof, ROOTS[8])
    with pytest.raises(VerificationError, match=exactly("inclusion proof hashes must be 32 bytes")):
        verify_inclusion(2, 8, LEAVES[2], [*proof[:2], proof[2] + b"\x00"], ROOTS[8])


@pytest.mark.parametrize(
    ("index", "size", "proof_of", "message"),
    [
        (8, 8, (7, 8), "leaf index 8 is beyond tree size 8"),
        (-1, 8, (0, 8), "leaf index -1 is beyond tree size 8"),
        (0, 4, (0, 8), "inclusion proof is too long"),
        (0, 8, (0, 4), "inclusion proof is too short"),
        (1, 8, (0, 8), "inclusion proof for leaf 1 does not lead to the tree head"),
    ],
)
def test_inclusion_failures_say_why(index, size, proof_of, message):
    """Each way an inclusion proof can fail has its own message."""
    proof = inclusion_proof(*proof_of, subtree_from_leaves(LEAVES))
    with pytest.raises(VerificationError, match=exactly(message)):
        verify_inclusion(index, size, LEAVES[0], proof, ROOTS[min(size, 8)])


def _consistency(old: int, new: int) -> list[bytes]:
    return consistency_proof(old, new, subtree_from_leaves(LEAVES))


@pytest.mark.parametrize(
    ("old", "new", "proof", "old_root", "new_root", "message"),
    [
        (5, 4, [], ROOTS[5], ROOTS[4], "tree size 4 is smaller than earlier size 5"),
        (-1, 4, [], ROOTS[0], ROOTS[4], "tree size 4 is smaller than earlier size -1"),
        (3, 6, [b"\x00" * 31], ROOTS[3], ROOTS[6], "consistency proof hashes must be 32 bytes"),
        (
            4,
            4,
            [ROOTS[4]],
            ROOTS[4],
            ROOTS[4],
            "consistency proof between equal sizes must be empty",
        ),
        (4, 4, [], ROOTS[4], ROOTS[3], "two different tree heads for size 4"),
        (
            0,
            4,
            [ROOTS[4]],
            ROOTS[0],
            ROOTS[4],
            "consistency proof from the empty tree must be empty",
        ),
        (3, 6, [], ROOTS[3], ROOTS[6], "consistency proof is empty"),
        (
            3,
            6,
            [*_consistency(3, 6), ROOTS[1]],
            ROOTS[3],
            ROOTS[6],
            "consistency proof is too long",
        ),
        (3, 6, _consistency(3, 6)[:-1], ROOTS[3], ROOTS[6], "consistency proof is too short"),
        (
            3,
            6,
            _consistency(3, 6),
            ROOTS[2],
            ROOTS[6],
            "tree head at size 3 is not a prefix of the tree at size 6",
        ),
        (
            3,
            6,
            _consistency(3, 6),
            ROOTS[3],
            ROOTS[7],
            "consistency proof does not lead to the tree head at size 6",
        ),
    ],
)
def test_consistency_failures_say_why(old, new, proof, old_root, new_root, message):
    """Each way a consistency proof can fail has its own message."""
    with pytest.raises(VerificationError, match=exactly(message)):
        verify_consistency(old, new, proof, old_root, new_root)


def test_consistency_from_the_empty_tree_and_between_equal_trees():
    """An empty proof shows the empty tree is a prefix of any tree, and a tree a prefix of itself."""
    verify_consistency(0, 5, [], ROOTS[0], ROOTS[5])
    verify_consistency(5, 5, [], ROOTS[5], ROOTS[5])


def test_frontier_with_the_wrong_number_of_hashes_is_refused():
    """A frontier needs one hash per set bit of its size; stored bytes must be whole hashes."""
    with pytest.raises(
        VerificationError, match=exactly("a Merkle frontier of size 3 has 2 hashes, not 1")
    ):
        Frontier(3, [LEAVES[0]])
    with pytest.raises(
        VerificationError, match=exactly("a stored Merkle frontier is not a whole number of hashes")
    ):
        Frontier.from_bytes(1, LEAVES[0][:31])


def test_frontier_copy_is_equal_and_independent():
    """A copy has the same size and hashes, and appending to it leaves the original as it was."""
    frontier = Frontier()
    for leaf in LEAVES[:5]:
        frontier.append(leaf)
    copy = frontier.copy()
    assert (5, frontier.hashes, ROOTS[5]) == (copy.size, copy.hashes, copy.root())
    copy.append(LEAVES[5])
    assert (5, ROOTS[5], 6, ROOTS[6]) == (frontier.size, frontier.root(), copy.size, copy.root())


def test_frontier_extend_reports_every_level_by_default():
    """Without min_level, extend() reports the completed subtrees of every level, from level 1."""
    nodes: list[tuple[int, int, bytes]] = []
    frontier = Frontier()
    frontier.extend(LEAVES, nodes)
    assert [n[:2] for n in nodes] == [(1, 0), (1, 1), (2, 0), (1, 2), (1, 3), (2, 1), (3, 0)]
    assert (ROOTS[8], ROOTS[8]) == (nodes[-1][2], frontier.root())
