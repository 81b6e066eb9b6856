# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Where queries run: a small backend protocol, and the two backends behind it.

A store that can run a :class:`~opentelemetry_instrumentation_toolaudit.ledger.Selection` itself
(an indexed SQL query) is used through :class:`StoreBackend`; any other sink through
:class:`ScanBackend`, which filters the sink's records in Python. Both also compute
:class:`~opentelemetry_instrumentation_toolaudit.query.Stats`, so a store that can aggregate in SQL
does so by offering a ``stats`` method of its own.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol, runtime_checkable

from opentelemetry_instrumentation_toolaudit.ledger import StoredRecord
from opentelemetry_instrumentation_toolaudit.ledger._sql_stats import GROUPABLE
from opentelemetry_instrumentation_toolaudit.ledger._stats import Stats, compute_stats
from opentelemetry_instrumentation_toolaudit.query._filter import Selection, selection_matches

_CHUNK = 10_000
"""Records read per step of a scan of a database sink."""
_SQL_SCHEMES = re.compile(r"(?i)^(sqlite|postgres|postgresql)://")


@runtime_checkable
class QueryBackend(Protocol):
    """What a query needs from a store: the records a selection names, and statistics over them."""

    def select(self, selection: Selection) -> Iterator[StoredRecord]:
        """The stored records ``selection`` names, in its order, at most its limit."""

    def stats(self, selection: Selection, by: str | None = None) -> Stats:
        """Statistics over the records ``selection`` names (its order and limit are ignored),
        grouped by the record field ``by`` when given."""


class ScanBackend:
    """Runs selections over any sink by reading its records in order and filtering in Python."""

    def __init__(self, sink: Any) -> None:
        self._sink = sink

    def select(self, selection: Selection) -> Iterator[StoredRecord]:
        """See :meth:`QueryBackend.select`."""
        limit = selection.limit
        if limit is not None and limit <= 0:
            return
        start = 0 if selection.after_seq is None else selection.after_seq + 1
        stop = selection.before_seq
        records = (
            self._backwards(start, stop) if selection.descending else self._forwards(start, stop)
        )
        found = 0
        maybe = prefilter(selection.where, selection.since, selection.until)
        for stored in records:
            if maybe(stored.canonical) and selection_matches(selection, stored.record):
                yield stored
                found += 1
                if limit is not None and found >= limit:
                    return

    def _forwards(self, start: int, stop: int | None) -> Iterator[StoredRecord]:
        if not _SQL_SCHEMES.match(getattr(self._sink, "url", "")):
            yield from self._sink.read(start, stop)  # a file sink streams its lines
            return
        # A database sink fetches a read's whole range at once: read a million in chunks.
        high = self._sink.size() if stop is None else min(stop, self._sink.size())
        while start < high:
            chunk = list(self._sink.read(start, min(high, start + _CHUNK)))
            yield from chunk
            start = chunk[-1].seq + 1 if chunk else start + _CHUNK

    def _backwards(self, start: int, stop: int | None) -> Iterator[StoredRecord]:
        high = self._sink.size() if stop is None else min(stop, self._sink.size())
        while high > start:
            low = max(start, high - _CHUNK)
            yield from reversed(list(self._sink.read(low, high)))
            high = low

    def stats(self, selection: Selection, by: str | None = None) -> Stats:
        """See :meth:`QueryBackend.stats`."""
        return compute_stats((r.record for r in self.select(_unbounded(selection))), by)


class StoreBackend:
    """Runs selections in a store that implements ``select`` (one indexed query), and statistics
    with its ``stats`` when it has one and the grouping is one of its columns."""

    def __init__(self, store: Any) -> None:
        self._store = store

    def select(self, selection: Selection) -> Iterator[StoredRecord]:
        """See :meth:`QueryBackend.select`."""
        return iter(self._store.select(selection))

    def stats(self, selection: Selection, by: str | None = None) -> Stats:
        """See :meth:`QueryBackend.stats`."""
        aggregate = getattr(self._store, "stats", None)
        if callable(aggregate) and (by is None or by in GROUPABLE):
            result: Stats = aggregate(_unbounded(selection), by)
            return result
        return compute_stats((r.record for r in self.select(_unbounded(selection))), by)


def backend_for(sink: Any) -> QueryBackend:
    """The fastest backend ``sink`` supports: its own ``select`` when it has one, else a scan."""
    if callable(getattr(sink, "select", None)):
        return StoreBackend(sink)
    return ScanBackend(sink)


_RECORDED_AT = b'"recorded_at":"'


def prefilter(
    where: Mapping[str, object], since: str | None = None, until: str | None = None
) -> Callable[[bytes], bool]:
    """A quick test on a record's canonical bytes that only rejects records the selection cannot
    match, so that most records of a scan are never decoded: canonical JSON (RFC 8785) writes each
    plain value exactly one way, ``"tool_name":"lookup_order"``, and ``recorded_at`` is text."""
    needles = []
    for name, value in where.items():
        if isinstance(value, bool):
            needles.append(f'"{name}":{"true" if value else "false"}'.encode())
        elif isinstance(value, str) and value.isprintable() and not set(value) & {'"', "\\"}:
            needles.append(
                json.dumps({name: value}, ensure_ascii=False)[1:-1].replace('": "', '":"').encode()
            )
    low = since.encode() if since else None
    high = until.encode() if until else None

    def maybe(canonical: bytes) -> bool:
        for needle in needles:
            if needle not in canonical:
                return False
        if low is None and high is None:
            return True
        at = canonical.find(_RECORDED_AT)
        if at < 0:
            return False
        start = at + len(_RECORDED_AT)
        recorded = canonical[start : canonical.find(b'"', start)]
        return (low is None or recorded >= low) and (high is None or recorded < high)

    return maybe


def _unbounded(selection: Selection) -> Selection:
    return Selection(where=selection.where, since=selection.since, until=selection.until)
