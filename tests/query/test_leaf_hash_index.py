# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The SQL stores' covering index of entry hashes in sequence order (``schema.LEAF_HASH_INDEX``):
made for new stores and on a writer's open of older ones, read by the proofs check, and not
needed by a reader of a store without it."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest

from opentelemetry_instrumentation_toolaudit.ledger import AuditLog, NoteSigner, open_sink
from opentelemetry_instrumentation_toolaudit.ledger._merkle import sibling_ranges
from opentelemetry_instrumentation_toolaudit.ledger.schema import LEAF_HASH_INDEX
from opentelemetry_instrumentation_toolaudit.ledger.stores._columns import index_name
from opentelemetry_instrumentation_toolaudit.query._integrity import check_integrity

from ..audit._tamper import drop_sqlite_triggers, read_rows, write_rows
from .conftest import medical_body

SIZE = 700
"""Records of the trail: two full 256-leaf blocks and a partial one."""
REPORTED = [3, 300, 650]
INDEX = index_name(LEAF_HASH_INDEX)


@pytest.fixture
def trail(sink_url: str) -> tuple[str, NoteSigner]:
    """A trail of SIZE records in an SQL store, signed checkpoints every 256 records."""
    if sink_url.startswith("jsonl:"):
        pytest.skip("SQL stores only")
    signer = NoteSigner.generate("test.example/audit")
    log = AuditLog(open_sink(sink_url), signer=signer, checkpoint_every=256)
    log.append([medical_body(i) for i in range(SIZE)])
    log.close()
    return sink_url, signer


def _indexes(url: str) -> set[str]:
    if url.startswith("sqlite:"):
        with sqlite3.connect(url.split(":///", 1)[1]) as db:
            return {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    import psycopg

    with psycopg.connect(url, autocommit=True) as db:
        rows = db.execute(
            "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"
        ).fetchall()
        return {r[0] for r in rows}


def _drop_index(url: str) -> None:
    if url.startswith("sqlite:"):
        with sqlite3.connect(url.split(":///", 1)[1]) as db:
            db.execute(f"DROP INDEX {INDEX}")
        return
    import psycopg

    with psycopg.connect(url, autocommit=True) as db:
        db.execute(f"DROP INDEX {INDEX}")


def test_new_store_has_the_entry_hash_index(trail: tuple[str, Any]) -> None:
    """A new SQL store is made with the covering index of entry hashes in sequence order."""
    url, _ = trail
    assert INDEX in _indexes(url)


def test_writer_open_indexes_a_store_made_without_it(trail: tuple[str, Any]) -> None:
    """A writer opening a store that lacks the entry-hash index makes it; a reader does not."""
    url, _ = trail
    _drop_index(url)
    open_sink(url, create=False).close()
    assert INDEX not in _indexes(url)
    open_sink(url).close()
    assert INDEX in _indexes(url)


def test_sqlite_proofs_read_leaf_hashes_from_the_covering_index(trail: tuple[str, Any]) -> None:
    """The proofs check's read of neighbour entry hashes is planned on SQLite as a search of the
    covering index, not of the records table."""
    url, signer = trail
    if not url.startswith("sqlite:"):
        pytest.skip("SQLite's plans")
    statements: list[str] = []
    with open_sink(url, create=False) as sink:
        sink._conn.set_trace_callback(statements.append)
        verdict = check_integrity(sink, REPORTED, [signer.verifier], method="proofs")
        sink._conn.set_trace_callback(None)
        (leaf_read,) = [s for s in statements if s.startswith("WITH r(lo, hi)")]
        plan = [str(row[-1]) for row in sink._conn.execute(f"EXPLAIN QUERY PLAN {leaf_read}")]
    assert (verdict.verified, verdict.reason) == (True, None)
    assert f"SEARCH a USING COVERING INDEX {INDEX} (seq>? AND seq<?)" in plan, plan


def test_leaf_hash_ranges_read_the_stored_entry_hashes_in_order(trail: tuple[str, Any]) -> None:
    """The batched read of leaf hashes gives each range's stored entry hashes in sequence order,
    with and without the index, for ranges narrower and wider than a 256-leaf block."""
    url, _ = trail
    rows = read_rows(url)
    expected = {
        (lo, hi): [r["entry_hash"] for r in rows[lo:hi]]
        for lo, hi in [(0, 256), (256, 300), (512, 700), (650, 651), (0, SIZE)]
    }
    with open_sink(url, create=False) as sink:
        assert sink.leaf_hash_ranges(list(expected)) == expected
    _drop_index(url)
    with open_sink(url, create=False) as sink:
        assert sink.leaf_hash_ranges(list(expected)) == expected


def test_store_without_the_index_checks_proofs_as_strictly(trail: tuple[str, Any]) -> None:
    """A reader of a store without the entry-hash index computes the same subtree hashes, verifies
    the reported records, and fails the check once a neighbour's entry hash is altered."""
    url, signer = trail
    ranges = sibling_ranges(SIZE, REPORTED)
    with open_sink(url, create=False) as sink:
        indexed = sink.subtree_hashes(ranges)
    _drop_index(url)
    with open_sink(url, create=False) as sink:
        assert sink.subtree_hashes(ranges) == indexed
        verdict = check_integrity(sink, REPORTED, [signer.verifier], method="proofs")
    assert (verdict.verified, verdict.reason) == (True, None)
    rows = read_rows(url)
    rows[301]["entry_hash"], rows[302]["entry_hash"] = (
        rows[302]["entry_hash"],
        rows[301]["entry_hash"],
    )
    write_rows(url, rows)
    with open_sink(url, create=False) as sink:
        verdict = check_integrity(sink, REPORTED, [signer.verifier], method="proofs")
    assert verdict.verified is False
    assert (verdict.reason or "").startswith("record #3: the proof built from the stored record")


def test_proofs_read_a_neighbouring_block_as_its_stored_node(trail: tuple[str, Any]) -> None:
    """A record's proof reads the leaf hashes of its own 256-leaf block only: the neighbouring
    block is the stored Merkle node that stands for it."""
    url, _ = trail
    asked: list[tuple[int, int]] = []
    with open_sink(url, create=False) as sink:
        read = sink.leaf_hash_ranges

        def recording(ranges: Any) -> Any:
            asked.extend(ranges)
            return read(ranges)

        sink.leaf_hash_ranges = recording  # type: ignore[method-assign]
        hashes = sink.subtree_hashes(sibling_ranges(512, [3]))
        assert hashes == {r: sink.subtree_hash(*r) for r in hashes}
    assert asked and all(0 <= lo < hi <= 256 for lo, hi in asked), asked
    assert sum(hi - lo for lo, hi in asked) == 255


def test_sqlite_block_without_its_stored_node_is_read_from_its_leaves(
    trail: tuple[str, Any],
) -> None:
    """A 256-leaf block whose stored node is missing is hashed from its records' entry hashes,
    and the proofs check still verifies."""
    url, signer = trail
    if not url.startswith("sqlite:"):
        pytest.skip("rows deleted with SQLite")
    ranges = sibling_ranges(SIZE, REPORTED)
    with open_sink(url, create=False) as sink:
        expected = sink.subtree_hashes(ranges)
    with sqlite3.connect(url.split(":///", 1)[1]) as db:
        drop_sqlite_triggers(db, "audit_nodes")
        assert db.execute("DELETE FROM audit_nodes WHERE level = 8 AND idx = 1").rowcount == 1
    with open_sink(url, create=False) as sink:
        assert sink.subtree_hashes(ranges) == expected
        verdict = check_integrity(sink, REPORTED, [signer.verifier], method="proofs")
    assert (verdict.verified, verdict.reason) == (True, None)
