# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The query API: search, page, look up, follow and summarize an audit trail."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from typing import Any

from opentelemetry_instrumentation_toolaudit.ledger import StoredRecord
from opentelemetry_instrumentation_toolaudit.ledger import schema as f
from opentelemetry_instrumentation_toolaudit.ledger._stats import GROUPS, Stats, compute_stats
from opentelemetry_instrumentation_toolaudit.query._backend import (
    QueryBackend,
    ScanBackend,
    backend_for,
    prefilter,
)
from opentelemetry_instrumentation_toolaudit.query._filter import Filter, Selection


@dataclasses.dataclass(frozen=True)
class QueryResult:
    """One record a query found, with where it sits in the trail."""

    seq: int
    entry_hash: str
    """Hex entry hash: the record's chain hash and Merkle leaf (``toolaudit show --entry-hash``)."""
    trace_id: str | None
    span_id: str | None
    record: dict[str, Any]
    """The record as stored (already redacted when it was written)."""

    @classmethod
    def of(cls, stored: StoredRecord) -> QueryResult:
        """The result for a stored record."""
        record = stored.record
        trace_id, span_id = record.get(f.TRACE_ID), record.get(f.SPAN_ID)
        return cls(
            seq=stored.seq,
            entry_hash=stored.entry_hash,
            trace_id=trace_id if isinstance(trace_id, str) else None,
            span_id=span_id if isinstance(span_id, str) else None,
            record=record,
        )


@dataclasses.dataclass(frozen=True)
class Page:
    """One page of results and the cursor of the next (None on the last page)."""

    results: list[QueryResult]
    next_cursor: int | None


class AuditQuery:
    """Queries over one audit sink (any sink: SQLite, JSONL, PostgreSQL, memory).

    Usage::

        from opentelemetry_instrumentation_toolaudit.ledger import open_sink
        from opentelemetry_instrumentation_toolaudit.query import AuditQuery, Filter

        with open_sink("sqlite:///toolaudit.db", create=False) as sink:
            query = AuditQuery(sink)
            for result in query.search(Filter(tool="issue_refund", success=False)):
                print(result.seq, result.trace_id, result.record["recorded_at"])
            print(query.stats(Filter(event_type="tool.call"), by="tool").to_json())
    """

    def __init__(self, sink: Any, backend: QueryBackend | None = None) -> None:
        self.sink = sink
        self.backend = backend if backend is not None else backend_for(sink)

    def search(
        self,
        where: Filter | None = None,
        *,
        after_seq: int | None = None,
        before_seq: int | None = None,
        limit: int | None = None,
        descending: bool = False,
    ) -> Iterator[QueryResult]:
        """The records matching ``where``, streamed in sequence order (``descending``: newest
        first), after ``after_seq`` and before ``before_seq`` (a cursor), at most ``limit``."""
        where = where or Filter()
        selection = where.selection(
            after_seq=after_seq, before_seq=before_seq, limit=limit, descending=descending
        )
        found = 0
        # Conditions the store could not run: most records fail them on their bytes, undecoded.
        rest = {k: v for k, v in where.where().items() if k not in selection.where}
        maybe = prefilter(rest)
        for stored in self.backend.select(selection):
            if not maybe(stored.canonical):
                continue
            result = QueryResult.of(stored)
            if not where.rest_matches(result.record):
                continue
            yield result
            found += 1
            if limit is not None and found >= limit:
                return

    def page(
        self,
        where: Filter | None = None,
        *,
        limit: int = 100,
        cursor: int | None = None,
        descending: bool = False,
    ) -> Page:
        """One page of :meth:`search`: pass the returned ``next_cursor`` to get the next."""
        kwargs = {"before_seq": cursor} if descending else {"after_seq": cursor}
        results = list(self.search(where, limit=limit + 1, descending=descending, **kwargs))
        more = len(results) > limit
        results = results[:limit]
        return Page(results, results[-1].seq if more and results else None)

    def stats(self, where: Filter | None = None, by: str | None = None) -> Stats:
        """:class:`Stats` of the records matching ``where``; ``by`` is ``tool``, ``user``,
        ``model`` or None."""
        if by is not None and by not in GROUPS:
            raise ValueError(f"stats by {by!r}: choose one of {', '.join(GROUPS)}")
        where = where or Filter()
        field = GROUPS[by] if by is not None else None
        selection = where.selection()
        if where.role is None and selection.where == where.where():
            return self.backend.stats(selection, field)
        return compute_stats((r.record for r in self.search(where)), field)

    def get(self, seq: int) -> QueryResult | None:
        """The record at ``seq``, or None."""
        for stored in self.sink.read(seq, seq + 1):
            return QueryResult.of(stored)
        return None

    def by_event_id(self, event_id: str) -> QueryResult | None:
        """The record with this ``event_id``, or None."""
        return self._first(Selection(where={f.EVENT_ID: event_id.lower()}, limit=1))

    def by_trace_id(self, trace_id: str) -> list[QueryResult]:
        """Every record of this trace, in sequence order."""
        return list(self.search(Filter(trace_id=trace_id)))

    def by_entry_hash(self, entry_hash: str) -> QueryResult | None:
        """The record with this entry hash (hex), or None. Entry hashes are not indexed: this
        reads the trail (newest first)."""
        wanted = entry_hash.lower()
        for stored in ScanBackend(self.sink).select(Selection(descending=True)):
            if stored.entry_hash == wanted:
                return QueryResult.of(stored)
        return None

    def timeline(self, conversation: str) -> list[QueryResult]:
        """A conversation's tool calls in the order they were recorded."""
        return list(self.search(Filter(conversation=conversation, event_type=f.EVENT_TOOL_CALL)))

    def follow(
        self,
        where: Filter | None = None,
        *,
        after_seq: int | None = None,
        interval: float = 1.0,
        stop: Callable[[], bool] = lambda: False,
    ) -> Iterator[QueryResult]:
        """New records matching ``where`` as they are written, from after ``after_seq`` (default:
        the current end of the trail), polling every ``interval`` seconds until ``stop()``."""
        cursor = self.sink.size() - 1 if after_seq is None else after_seq
        while not stop():
            size = self.sink.size()
            if size - 1 > cursor:
                for result in self.search(where, after_seq=cursor, before_seq=size):
                    yield result
                    if stop():
                        return
                cursor = size - 1
            else:
                time.sleep(interval)

    def _first(self, selection: Selection) -> QueryResult | None:
        for stored in self.backend.select(selection):
            return QueryResult.of(stored)
        return None
