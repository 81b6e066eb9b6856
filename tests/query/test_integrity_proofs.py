# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The access report's ``proofs`` integrity check: every reported record's inclusion in a signed
checkpoint's tree, checked in one multi-leaf computation as strictly as one proof per record."""

from __future__ import annotations

import random
import sqlite3
from typing import Any

import pytest

from opentelemetry_instrumentation_toolaudit.ledger import AuditLog, NoteSigner, open_sink
from opentelemetry_instrumentation_toolaudit.ledger._merkle import (
    hash_leaf,
    root_from_leaf_hashes,
    root_from_leaves,
    sibling_ranges,
    subtree_from_leaves,
)
from opentelemetry_instrumentation_toolaudit.query._integrity import check_integrity

from ..audit._tamper import read_rows, write_rows
from .conftest import medical_body

SIZE = 1600
"""Records of the trail: more than six of the stores' 256-leaf blocks, so stored nodes count."""
REPORTED = [3, 4, 5, 300, 1590]


@pytest.mark.parametrize("size", [1, 2, 3, 7, 8, 9, 64, 100, 257, 1000])
def test_root_from_leaves_is_the_tree_root_for_any_set_of_leaves(size: int) -> None:
    """Any set of leaves with the hashes of their sibling ranges makes the tree's root, and one
    altered leaf does not."""
    leaves = [hash_leaf(str(i).encode()) for i in range(size)]
    subtree = subtree_from_leaves(leaves)
    picker = random.Random(size)
    for _ in range(10):
        indexes = sorted(picker.sample(range(size), picker.randint(1, min(size, 12))))
        siblings = {r: subtree(*r) for r in sibling_ranges(size, indexes)}
        given = {i: leaves[i] for i in indexes}
        assert root_from_leaves(size, given, siblings) == root_from_leaf_hashes(leaves)
        given[indexes[-1]] = hash_leaf(b"altered")
        assert root_from_leaves(size, given, siblings) != root_from_leaf_hashes(leaves)


@pytest.fixture
def big_trail(sink_url: str) -> tuple[str, NoteSigner]:
    """A trail of SIZE records of each sink kind, signed checkpoints every 256 records."""
    signer = NoteSigner.generate("test.example/audit")
    log = AuditLog(open_sink(sink_url), signer=signer, checkpoint_every=256)
    for start in range(0, SIZE, 500):
        log.append([medical_body(i) for i in range(start, min(SIZE, start + 500))])
    log.close()
    return sink_url, signer


def test_subtree_hashes_equal_subtree_hash_on_every_store(big_trail: tuple[str, Any]) -> None:
    """A store's batched subtree hashes are the hashes it gives one range at a time."""
    url, _ = big_trail
    with open_sink(url, create=False) as sink:
        ranges = [*sibling_ranges(SIZE, REPORTED), (0, SIZE), (512, 1024), (0, 1)]
        assert sink.subtree_hashes(ranges) == {r: sink.subtree_hash(*r) for r in ranges}


def test_proofs_check_reads_the_merkle_nodes_once(big_trail: tuple[str, Any]) -> None:
    """Checking many reported records reads the stored Merkle nodes and leaf hashes their proofs
    need in one statement each, not a series of reads per record."""
    url, signer = big_trail
    if not url.startswith("sqlite:"):
        pytest.skip("statements are counted on SQLite")
    statements: list[str] = []
    with open_sink(url, create=False) as sink:
        sink._conn.set_trace_callback(statements.append)
        verdict = check_integrity(sink, REPORTED, [signer.verifier], method="proofs")
    assert (verdict.verified, verdict.reason) == (True, None)
    assert len([s for s in statements if "audit_nodes" in s]) == 1, statements
    assert len([s for s in statements if s.startswith("WITH r(lo, hi)")]) == 1, statements


def test_proofs_check_fails_on_an_altered_neighbour_hash(big_trail: tuple[str, Any]) -> None:
    """Two stored entry hashes swapped beside a reported record (records not in the report) make
    the check fail, naming the first reported record whose proof no longer leads to the root."""
    url, signer = big_trail
    rows = read_rows(url)
    rows[301]["entry_hash"], rows[302]["entry_hash"] = (
        rows[302]["entry_hash"],
        rows[301]["entry_hash"],
    )
    write_rows(url, rows)
    with open_sink(url, create=False) as sink:
        verdict = check_integrity(sink, REPORTED, [signer.verifier], method="proofs")
    assert verdict.verified is False
    # Record 3's path passes through the hash of records 256..511, as record 300's does.
    assert (verdict.reason or "").startswith("record #3: the proof built from the stored record")


def test_proofs_check_fails_on_an_edited_reported_record(big_trail: tuple[str, Any]) -> None:
    """A reported record's bytes edited (its stored hash left) make the check fail and say which."""
    url, signer = big_trail
    rows = read_rows(url)
    rows[1590]["canonical"] = rows[1590]["canonical"].replace(
        b"claude-sonnet-4", b"claude-sonnet-5"
    )
    write_rows(url, rows)
    with open_sink(url, create=False) as sink:
        verdict = check_integrity(sink, REPORTED, [signer.verifier], method="proofs")
    assert verdict.verified is False
    assert (verdict.reason or "").startswith("record #1590: ")


def test_proofs_check_says_a_neighbour_record_was_deleted(big_trail: tuple[str, Any]) -> None:
    """A record deleted beside a reported one (not itself reported) makes the check fail with the
    reason, as a verdict, rather than stopping the report with an error."""
    url, signer = big_trail
    rows = read_rows(url)
    del rows[6]
    write_rows(url, rows)
    with open_sink(url, create=False) as sink:
        verdict = check_integrity(sink, REPORTED, [signer.verifier], method="proofs")
    assert verdict.verified is False
    assert "deleted" in (verdict.reason or "")


def test_sqlite_nodes_are_read_by_their_primary_key(big_trail: tuple[str, Any]) -> None:
    """The batched reads search the Merkle nodes' and the records' primary keys."""
    url, _ = big_trail
    if not url.startswith("sqlite:"):
        pytest.skip("SQLite's plans")
    path = url.split(":///", 1)[1]
    with sqlite3.connect(path) as db:
        plans = [
            str(row[-1])
            for sql in (
                "WITH k(level, idx) AS (VALUES (9, 1), (10, 0)) SELECT n.level, n.idx, n.hash "
                "FROM k JOIN audit_nodes AS n ON n.level = k.level AND n.idx = k.idx",
                "WITH r(lo, hi) AS (VALUES (0, 256), (512, 768)) SELECT r.lo, r.hi, a.entry_hash "
                "FROM r JOIN audit_records AS a ON a.seq >= r.lo AND a.seq < r.hi "
                "",
            )
            for row in db.execute(f"EXPLAIN QUERY PLAN {sql}")
        ]
    assert not [p for p in plans if p.startswith(("SCAN audit_nodes", "SCAN a", "SCAN n"))], plans
