# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The query API: filters, cursors, order, backends and statistics."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from opentelemetry_instrumentation_toolaudit.ledger import (
    AuditLog,
    NoteSigner,
    StoredRecord,
    open_sink,
)
from opentelemetry_instrumentation_toolaudit.query import (
    AuditQuery,
    Filter,
    ScanBackend,
    Selection,
    Stats,
    StoreBackend,
    backend_for,
    parse_time,
)

from .conftest import N, medical_body, write_trail


@pytest.fixture
def query(tmp_path: Path) -> Iterator[AuditQuery]:
    url = f"sqlite:///{tmp_path}/audit.db"
    write_trail(url, NoteSigner.generate("test.example/audit"))
    with open_sink(url, create=False) as sink:
        yield AuditQuery(sink)


def seqs(results: Any) -> list[int]:
    return [r.seq for r in results]


def test_results_carry_their_place_in_the_trail(query: AuditQuery) -> None:
    """Each result has its seq, entry hash, trace and span id, and the stored record."""
    (result,) = query.search(Filter(conversation="conv_1"), limit=1)
    stored = next(query.sink.read(1, 2))
    assert (result.seq, result.entry_hash, result.trace_id, result.span_id, result.record) == (
        1,
        stored.entry_hash,
        medical_body(1)["trace_id"],
        medical_body(1)["span_id"],
        stored.record,
    )


def test_pages_follow_the_cursor_both_ways(query: AuditQuery) -> None:
    """page() hands out a cursor that continues where the page ended, oldest or newest first."""
    where = Filter(role="nurse")
    nurse = [i for i in range(N) if medical_body(i)["user_roles"] == ["nurse"]]
    for descending, order in ((False, nurse), (True, nurse[::-1])):
        collected: list[int] = []
        cursor = None
        while True:
            page = query.page(where, limit=4, cursor=cursor, descending=descending)
            collected += seqs(page.results)
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert collected == order


def test_filter_values_that_need_escaping_still_match(tmp_path: Path) -> None:
    """A value with a quote, a backslash or non-ASCII text matches exactly (the byte pre-check
    never rejects a record that matches)."""
    url = "memory://"
    sink = open_sink(url)
    log = AuditLog(sink, signer=NoteSigner.generate("test.example/audit"))
    names = ['o"brien', "back\\slash", "zoë", "tab\tname"]
    log.append([{**medical_body(i), "user_id": name} for i, name in enumerate(names)])
    query = AuditQuery(sink)
    assert [seqs(query.search(Filter(user=name))) for name in names] == [[0], [1], [2], [3]]
    assert seqs(query.search(Filter(user="zo"))) == []


def test_success_filter_is_a_boolean_match(query: AuditQuery) -> None:
    """--failed matches records whose success is false, never a missing success."""
    assert seqs(query.search(Filter(success=False))) == [i for i in range(N) if i % 5 == 4]


def test_time_bounds_are_since_inclusive_until_exclusive(query: AuditQuery) -> None:
    """since includes its instant and until excludes its own."""
    at = medical_body(3)["recorded_at"]
    assert 3 in seqs(query.search(Filter(since=at, until=at[:-2] + "1Z")))
    assert 3 not in seqs(query.search(Filter(until=at)))


def test_parse_time_forms() -> None:
    """ISO dates and times (UTC unless an offset is given) and spans back from now."""
    now = datetime.datetime(2026, 7, 1, 12, tzinfo=datetime.timezone.utc)
    assert [
        parse_time("2026-06-30", now=now),
        parse_time("2026-06-30T12:00:00+02:00", now=now),
        parse_time("24h", now=now),
        parse_time("7d", now=now),
        parse_time("15m", now=now),
    ] == [
        "2026-06-30T00:00:00.000000Z",
        "2026-06-30T10:00:00.000000Z",
        "2026-06-30T12:00:00.000000Z",
        "2026-06-24T12:00:00.000000Z",
        "2026-07-01T11:45:00.000000Z",
    ]
    with pytest.raises(ValueError, match="not a time"):
        parse_time("yesterday")


class _ReadOnly:
    """A store offering only reads: queries scan it."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.url = inner.url

    def read(self, start: int = 0, stop: int | None = None) -> Iterator[StoredRecord]:
        return self.inner.read(start, stop)

    def size(self) -> int:
        return int(self.inner.size())


def test_a_scan_finds_what_the_store_selects(query: AuditQuery) -> None:
    """The scanning backend (stores without select) finds the same records as the store's own
    indexed select, for every filter the CLI offers."""
    scan = AuditQuery(_ReadOnly(query.sink))
    for where in (
        Filter(tool="update_treatment", success=False),
        Filter(user="dr_chen", since="2026-03-01", until="2026-07-01"),
        Filter(conversation="conv_2", event_type="tool.call"),
        Filter(subject=medical_body(0)["subject"], purpose="payment"),
        Filter(trace_id=medical_body(5)["trace_id"]),
        Filter(role="nurse"),
    ):
        assert seqs(scan.search(where)) == seqs(query.search(where)), where
        assert seqs(scan.search(where, descending=True, limit=3)) == seqs(
            query.search(where, descending=True, limit=3)
        ), where


class _SelectingSink:
    """A store with its own select and stats, as an indexed store offers them."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.url = inner.url
        self.selections: list[Selection] = []

    def select(self, selection: Selection) -> Iterator[StoredRecord]:
        self.selections.append(selection)
        return ScanBackend(self.inner).select(selection)

    def stats(self, selection: Selection, by: str | None) -> Stats:
        return Stats(calls=-1)

    def read(self, start: int = 0, stop: int | None = None) -> Iterator[StoredRecord]:
        return self.inner.read(start, stop)

    def size(self) -> int:
        return int(self.inner.size())


def test_a_store_with_select_runs_the_selection_itself(query: AuditQuery) -> None:
    """backend_for uses a store's own select and stats, passing the whole selection down."""
    store = _SelectingSink(query.sink)
    assert isinstance(backend_for(store), StoreBackend)
    assert isinstance(backend_for(query.sink), StoreBackend)
    assert isinstance(backend_for(_ReadOnly(query.sink)), ScanBackend)
    fast = AuditQuery(store)
    found = seqs(
        fast.search(Filter(tool="update_treatment", since="2026-02"), limit=2, descending=True)
    )
    assert found == seqs(
        query.search(Filter(tool="update_treatment", since="2026-02"), limit=2, descending=True)
    )
    assert store.selections == [
        Selection(
            where={"tool_name": "update_treatment"}, since="2026-02", limit=2, descending=True
        )
    ]
    assert fast.stats(Filter(), by="tool").calls == -1


def test_stats_percentiles_and_groups(query: AuditQuery) -> None:
    """Stats give nearest-rank percentiles, the success rate and users, overall and by group."""
    stats = query.stats(Filter(), by="model")
    durations = sorted(float(10 + i) for i in range(N))
    assert (stats.calls, stats.p50_ms, stats.p95_ms, stats.max_ms, stats.unique_users) == (
        N,
        durations[N // 2 - 1],
        durations[35 - 1],  # rank ceil(0.95 * 36) = 35
        durations[-1],
        3,
    )
    assert stats.success_rate == round(sum(1 for i in range(N) if i % 5 != 4) / N, 4)
    assert sorted(stats.groups) == ["claude-sonnet-4", "gpt-4.1"]
    with pytest.raises(ValueError, match="choose one of"):
        query.stats(Filter(), by="colour")


def test_query_all_is_sorted_and_complete() -> None:
    """Every public name of the query package is in __all__, and __all__ is sorted."""
    from opentelemetry_instrumentation_toolaudit import query as pkg

    public = {n for n in vars(pkg) if not n.startswith("_") and n != "annotations"}
    assert sorted(pkg.__all__) == pkg.__all__
    assert set(pkg.__all__) == public
