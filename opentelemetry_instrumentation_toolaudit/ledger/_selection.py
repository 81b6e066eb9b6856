# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Selecting records by their indexed fields: the read side of the store port.

A :class:`Selection` names indexed columns and the values they must have, a time range on
``recorded_at``, a sequence-number cursor, an order and a limit. Stores with columns (SQLite,
PostgreSQL) turn it into one indexed SQL query (:func:`sql_filter`); the others filter a scan
(:func:`matches`). Both read the same column values (:func:`~._chain.column_values`), so a selection
finds the same records in every store.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections.abc import Collection, Iterable, Iterator, Mapping
from typing import Any

from opentelemetry_instrumentation_toolaudit.ledger._chain import StoredRecord, column_values
from opentelemetry_instrumentation_toolaudit.ledger.schema import (
    EVENT_ID,
    INDEXED_COLUMNS,
    INDEXES,
    RECORDED_AT,
    SEQ,
)

SELECTABLE = frozenset(INDEXED_COLUMNS) - {SEQ}
"""The columns a selection may name in ``where`` (``seq`` is selected by the cursor)."""


@dataclasses.dataclass(frozen=True)
class Selection:
    """Which records :meth:`AuditSink.select` returns, in sequence order.

    ``where`` maps an indexed column to the value it must have, or to a tuple of values one of
    which it must have. ``since`` (inclusive) and ``until`` (exclusive) bound ``recorded_at``; they
    are RFC 3339 UTC timestamps compared as text, as records store them
    (``2026-11-24T10:00:00.000000Z``; a date alone, ``2026-11-24``, is the start of that day).
    ``after_seq`` and ``before_seq`` are an exclusive cursor on sequence numbers; ``limit`` caps
    the number of records; ``descending`` returns the newest first."""

    where: Mapping[str, object] = dataclasses.field(default_factory=dict)
    since: str | None = None
    until: str | None = None
    after_seq: int | None = None
    before_seq: int | None = None
    limit: int | None = None
    descending: bool = False

    def __post_init__(self) -> None:
        unknown = sorted(set(self.where) - SELECTABLE)
        if unknown:
            raise ValueError(
                f"not an indexed column: {unknown[0]!r} (use one of {', '.join(sorted(SELECTABLE))})"
            )
        if self.limit is not None and self.limit < 0:
            raise ValueError("limit must not be negative")


def _wanted(value: object) -> tuple[object, ...]:
    return value if isinstance(value, tuple) else (value,)


def matches(selection: Selection, seq: int, columns: Mapping[str, Any]) -> bool:
    """Whether a record (its ``seq`` and column values) is selected, ``limit`` aside."""
    if selection.after_seq is not None and seq <= selection.after_seq:
        return False
    if selection.before_seq is not None and seq >= selection.before_seq:
        return False
    recorded_at = columns.get(RECORDED_AT)
    if selection.since is not None and not (
        type(recorded_at) is str and recorded_at >= selection.since
    ):
        return False
    if selection.until is not None and not (
        type(recorded_at) is str and recorded_at < selection.until
    ):
        return False
    for name, value in selection.where.items():
        # Exact: the same type as well as equal, as the SQL stores compare typed columns.
        found = columns.get(name)
        if not any(type(found) is type(v) and found == v for v in _wanted(value)):
            return False
    return True


def split(selection: Selection, columns: Collection[str]) -> tuple[Selection, Selection | None]:
    """For a store whose table has only ``columns`` (one created before record format 2): the
    part of ``selection`` its SQL runs, and the conditions on the columns it lacks (with the
    limit), which :func:`filtered` checks on each record; None when SQL runs it all."""
    rest = {name: value for name, value in selection.where.items() if name not in columns}
    if not rest:
        return selection, None
    pushed = {name: value for name, value in selection.where.items() if name in columns}
    return (
        dataclasses.replace(selection, where=pushed, limit=None),
        Selection(where=rest, limit=selection.limit),
    )


def filtered(records: Iterable[StoredRecord], rest: Selection | None) -> Iterator[StoredRecord]:
    """``records`` that pass ``rest`` (from :func:`split`), read from their canonical bytes, up to
    its limit."""
    if rest is None:
        return iter(records)
    picked = (r for r in records if matches(rest, r.seq, column_values(json.loads(r.canonical))))
    return itertools.islice(picked, rest.limit)


def sql_filter(selection: Selection, placeholder: str) -> tuple[str, list[Any]]:
    """``WHERE … ORDER BY seq … [LIMIT n]`` for a selection, and its parameters (``placeholder``
    is the driver's: ``?`` or ``%s``). Column names come from the schema, never from the caller."""
    where, params = sql_where(selection, placeholder)
    # ``+seq`` orders without offering the seq index to the planner: a selection an index can
    # search (a time range, a conversation) is then one index search and a sort of what it found,
    # where SQLite would otherwise walk every record in seq order to spare itself the sort.
    key = "+seq" if _searchable(selection) else "seq"
    order = f" ORDER BY {key} {'DESC' if selection.descending else 'ASC'}"
    limit = ""
    if selection.limit is not None:
        limit = f" LIMIT {placeholder}"
        params.append(selection.limit)
    return where + order + limit, params


_LEADING = frozenset({EVENT_ID, RECORDED_AT} | {index[0] for index in INDEXES})
"""The columns some index begins with: a condition on one of them is an index search."""


def _searchable(selection: Selection) -> bool:
    return (
        selection.since is not None
        or selection.until is not None
        or any(name in _LEADING for name in selection.where)
    )


def sql_where(selection: Selection, placeholder: str) -> tuple[str, list[Any]]:
    """`` WHERE …`` for a selection's conditions and cursor (empty when it has none), and its
    parameters; its order and limit are left out."""
    clauses: list[str] = []
    params: list[Any] = []
    for name in sorted(selection.where):
        values = _wanted(selection.where[name])
        if len(values) == 1:
            clauses.append(f"{name} = {placeholder}")
        else:
            clauses.append(f"{name} IN ({', '.join([placeholder] * len(values))})")
        params.extend(values)
    for column, op, bound in (
        (RECORDED_AT, ">=", selection.since),
        (RECORDED_AT, "<", selection.until),
        (SEQ, ">", selection.after_seq),
        (SEQ, "<", selection.before_seq),
    ):
        if bound is not None:
            clauses.append(f"{column} {op} {placeholder}")
            params.append(bound)
    return (f" WHERE {' AND '.join(clauses)}" if clauses else ""), params


__all__ = ["SELECTABLE", "Selection", "filtered", "matches", "split", "sql_filter", "sql_where"]
