# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Sealing: column values, the mapping sinks get them in, and batches sealed in one pass."""

from __future__ import annotations

import json

import pytest

from opentelemetry_instrumentation_toolaudit.ledger._chain import (
    GENESIS_HASH,
    ColumnValues,
    column_values,
    leaf_hash,
    seal,
    seal_records,
)
from opentelemetry_instrumentation_toolaudit.ledger._merkle import Frontier, root_from_leaf_hashes
from opentelemetry_instrumentation_toolaudit.ledger.schema import INDEXED_COLUMNS

from .conftest import body


def _reference_column_values(record):
    """The column rule written out plainly (the implementation decides the usual case in C)."""
    out = {}
    for name in INDEXED_COLUMNS:
        value = record.get(name)
        if name == "success":
            out[name] = value if isinstance(value, bool) else None
        elif name == "duration_ms":
            number = isinstance(value, (int, float)) and not isinstance(value, bool)
            out[name] = float(value) if number else None
        elif value is None or type(value) is str or name == "seq":
            out[name] = value
        else:
            out[name] = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return out


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"success": None},
        {"success": "yes"},
        {"success": 1},
        {"user_id": 42},
        {"trace_id": {"b": 1, "a": [1.5, None]}},
        {"tool_name": ["x", "é"]},
        {"conversation_id": True},
        {"seq": 7},
        {"user_id": None, "tool_name": None},
        {"duration_ms": 12},
        {"duration_ms": "12"},
        {"duration_ms": True},
        {"user_roles": ["b", "a"], "subject": "hmac-sha256:k:1", "purpose": "care"},
        {"user_roles": ["é", 'q"\\', "\n\x1f\x7f\u2028", "\ud800"]},
        {"user_roles": ["a", 1, None]},
        {"user_roles": "admin", "model": {"name": "m"}, "retain_until": 20270101},
    ],
)
def test_column_values_follow_the_rule(extra):
    """Columns are the record's strings, JSON text of other values, success only as a bool,
    duration_ms only as a float; None stands for an absent field."""
    record = {**body(3), **extra}
    record = {k: v for k, v in record.items() if v is not None or k == "success"}
    assert _reference_column_values(record) == column_values(record)


def test_column_values_mapping_reads_like_a_dict():
    """ColumnValues answers get/[]/iteration/equality exactly like the dict of the same values."""
    record = {**body(5), "seq": 5}
    values = ColumnValues(tuple(column_values(record).values()))
    expected = column_values(record)
    assert expected == dict(values)
    assert expected == values
    assert [expected.get(c) for c in INDEXED_COLUMNS] == [values.get(c) for c in INDEXED_COLUMNS]
    assert values.get("not_a_column") is None
    with pytest.raises(KeyError):
        values["not_a_column"]


def test_seal_records_matches_seal_one_by_one():
    """A batch sealed in one pass equals records sealed one at a time, and its leaf hashes advance
    a frontier to the root over those records (format 1: format 2 salts every payload afresh)."""
    bodies = [body(i) for i in range(40)]
    batch, digests = seal_records(bodies, 0, GENESIS_HASH, True, 1)
    prev = GENESIS_HASH
    for i, b in enumerate(bodies):
        one = seal(b, i, prev, 1)
        assert one == batch[i]
        prev = one.entry_hash
    frontier = Frontier()
    nodes: list[tuple[int, int, bytes]] = []
    frontier.extend(digests, nodes)
    expected_size = len(bodies)
    assert expected_size == frontier.size
    assert root_from_leaf_hashes([leaf_hash(r.canonical) for r in batch]) == frontier.root()
    # A tree of n leaves has n - popcount(n) perfect subtrees of two leaves or more.
    expected_nodes = expected_size - expected_size.bit_count()
    assert expected_nodes == len(nodes)


def test_seal_records_without_columns():
    """A sink without columns gets None, and the same canonical bytes and hashes."""
    bodies = [body(i) for i in range(3)]
    with_columns, _ = seal_records(bodies, 0, GENESIS_HASH, True, 1)
    without, _ = seal_records(bodies, 0, GENESIS_HASH, False, 1)
    expected: list[None] = [None, None, None]
    assert expected == [r.columns for r in without]
    assert [r[:4] for r in with_columns] == [r[:4] for r in without]
