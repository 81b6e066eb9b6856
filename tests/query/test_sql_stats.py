# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Statistics computed in SQL by the stores with columns, and the query plans of the read path."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from opentelemetry_instrumentation_toolaudit.ledger import AuditLog, NoteSigner, open_sink
from opentelemetry_instrumentation_toolaudit.ledger._selection import sql_filter
from opentelemetry_instrumentation_toolaudit.ledger._sql_stats import stats_sql
from opentelemetry_instrumentation_toolaudit.ledger._stats import GROUPS, compute_stats
from opentelemetry_instrumentation_toolaudit.ledger.schema import STATS_INDEXES
from opentelemetry_instrumentation_toolaudit.ledger.stores._columns import index_name
from opentelemetry_instrumentation_toolaudit.ledger.stores.sqlite import _SELECT_RECORDS
from opentelemetry_instrumentation_toolaudit.query import AuditQuery, Filter, Selection

from ..audit._tamper import _pg
from .conftest import N, medical_body

V1_TRAIL = Path(__file__).parent.parent / "ledger" / "fixtures" / "v1.db"


def odd_bodies() -> list[dict[str, Any]]:
    """Records whose durations, tools, users and outcomes are missing or not numbers."""
    odd: list[dict[str, Any]] = []
    for i, change in enumerate(
        [
            {"duration_ms": True},
            {"duration_ms": "12"},
            {"duration_ms": 7},
            {"duration_ms": -1.5},
            {"duration_ms": 1e-7},
            {"duration_ms": None},
            {"tool_name": None, "duration_ms": 3.25},
            {"user_id": None, "success": None},
            {"model": None, "tool_name": ""},
            {"event_type": "llm.call", "duration_ms": 999.0, "success": False},
        ]
    ):
        body = medical_body(N + i)
        body.update(change)
        odd.append({k: v for k, v in body.items() if v is not None})
    return odd


@pytest.fixture
def sink(sink_url: str) -> Any:
    """A store of each kind holding the medical trail and some odd records."""
    log = AuditLog(open_sink(sink_url), signer=NoteSigner.generate("test.example/audit"))
    log.append([medical_body(i) for i in range(N)])
    log.append(odd_bodies())
    log.close()
    with open_sink(sink_url, create=False) as store:
        yield store


FILTERS = [
    Filter(),
    Filter(since="2026-03-01T00:00:00.000000Z", until="2026-07-01T00:00:00.000000Z"),
    Filter(tool="access_patient_record"),
    Filter(success=False, since="2026-02-01"),
    Filter(user="nobody"),
    Filter(event_type="tool.call"),
    Filter(event_type="llm.call"),
]


@pytest.mark.parametrize("where", FILTERS, ids=range(len(FILTERS)))
def test_stats_are_the_python_computation_on_every_store(sink: Any, where: Filter) -> None:
    """Every store's statistics, overall and by tool, user and model, equal the Python computation
    over the records the filter matches."""
    records = [r.record for r in sink.read() if where.matches(r.record)]
    query = AuditQuery(sink)
    for by in (None, *GROUPS):
        expected = compute_stats(records, None if by is None else GROUPS[by])
        assert query.stats(where, by=by) == expected, (by, where)


@pytest.mark.parametrize("where", FILTERS, ids=range(len(FILTERS)))
def test_sql_stores_compute_stats_in_sql(sink: Any, where: Filter) -> None:
    """SQLite and PostgreSQL compute statistics in one SQL query that equals the Python
    computation, grouped by any of their columns."""
    if not sink.url.startswith(("sqlite:", "postgres")):
        pytest.skip("only the stores with columns aggregate in SQL")
    records = [r.record for r in sink.read() if where.matches(r.record)]
    for by in (None, "tool_name", "user_id", "conversation_id", "event_type"):
        assert sink.stats(where.selection(), by) == compute_stats(records, by), (by, where)


def test_sql_stats_refuse_a_field_without_a_column() -> None:
    """Grouping SQL statistics by a field that is not a column is refused, never interpolated."""
    with pytest.raises(ValueError, match="cannot group by"):
        stats_sql(Selection(), "model; DROP TABLE audit_records", "sqlite")
    with pytest.raises(ValueError, match="cannot group by"):
        stats_sql(Selection(), "success", "postgres")


def _plan(db_path: Path, sql: str, params: list[Any]) -> str:
    with sqlite3.connect(db_path) as db:
        return " | ".join(str(row[-1]) for row in db.execute(f"EXPLAIN QUERY PLAN {sql}", params))


@pytest.fixture
def analyzed(tmp_path: Path) -> Path:
    """An SQLite trail of 20,000 records over a year, with the planner's statistics gathered."""
    path = tmp_path / "audit.db"
    sink = open_sink(f"sqlite:///{path}")
    for start in range(0, 20_000, 5_000):
        sink.append([_spread(i) for i in range(start, start + 5_000)])
    sink.close()
    with sqlite3.connect(path) as db:
        db.execute("ANALYZE")
    return path


def _spread(i: int) -> dict[str, Any]:
    body = medical_body(i)
    day = i * 365 // 20_000
    month, mday = divmod(day, 28)
    body.update(
        event_id=f"{i + 1:032x}",
        recorded_at=f"2026-{1 + month % 12:02d}-{1 + mday:02d}T{i % 24:02d}:00:00.000000Z",
        tool_name=f"tool_{i % 40:02d}",
        conversation_id=f"conv_{i % 2000}",
        trace_id=f"{i + 1:032x}",
        span_id=f"{i + 1:016x}",
    )
    return body


DAY = "2026-12-27T00:00:00.000000Z"
SELECTIONS = [
    (Selection(since=DAY), "audit_records_recorded_at"),
    (Selection(since=DAY, limit=50), "audit_records_recorded_at"),
    (Selection(since=DAY, limit=50, descending=True), "audit_records_recorded_at"),
    (
        Selection(where={"tool_name": "tool_07", "success": False}, since=DAY),
        "audit_records_tool_name_recorded_at",
    ),
    (Selection(where={"conversation_id": "conv_42"}), "audit_records_conversation_id"),
]


@pytest.mark.parametrize(("selection", "index"), SELECTIONS, ids=range(len(SELECTIONS)))
def test_sqlite_select_is_one_index_search(
    analyzed: Path, selection: Selection, index: str
) -> None:
    """A selection an index can answer (a time range, a tool's failures, a conversation) is one
    search of that index, never a walk of every record in sequence order."""
    tail, params = sql_filter(selection, "?")
    plan = _plan(analyzed, _SELECT_RECORDS + tail, params)
    assert f"SEARCH audit_records USING COVERING INDEX {index} (" in plan or (
        f"SEARCH audit_records USING INDEX {index} (" in plan
    ), plan
    assert "SCAN audit_records" not in plan, plan


@pytest.mark.parametrize("by", [None, "tool_name", "user_id"])
def test_sqlite_stats_over_a_day_search_the_time_index(analyzed: Path, by: str | None) -> None:
    """Statistics over a day, grouped or not, read only the day's records through the
    ``recorded_at`` index."""
    sql, params = stats_sql(Selection(since=DAY), by, "sqlite")
    plan = _plan(analyzed, sql, params)
    assert "SEARCH audit_records USING INDEX audit_records_recorded_at (recorded_at>?)" in plan, (
        plan
    )
    assert "SCAN audit_records" not in plan, plan


def test_stats_of_a_format_1_store_read_durations_from_the_records(tmp_path: Path) -> None:
    """A store created before record format 2 (no duration or model column, no statistics
    indexes) gives the Python computation's statistics, grouped by any field, its durations read
    from each record's JSON."""
    trail = tmp_path / "v1.db"
    shutil.copy(V1_TRAIL, trail)
    with open_sink(f"sqlite:///{trail}") as sink:
        records = [r.record for r in sink.read()]
        for by in (None, "tool_name", "user_id", "model"):
            for where in (Filter(), Filter(event_type="tool.call")):
                kept = [r for r in records if where.matches(r)]
                assert sink.stats(where.selection(), by) == compute_stats(kept, by), (by, where)


@pytest.mark.parametrize("by", [None, "tool_name"])
@pytest.mark.parametrize("where", [Filter(), Filter(event_type="tool.call")], ids=["all", "calls"])
def test_sqlite_whole_trail_stats_read_only_covering_indexes(
    analyzed: Path, by: str | None, where: Filter
) -> None:
    """Statistics of the whole trail, overall or by tool, scan covering indexes only (never the
    records table) and never sort the durations."""
    statements: list[str] = []
    with open_sink(f"sqlite:///{analyzed}", create=False) as sink:
        sink._conn.set_trace_callback(statements.append)
        stats = AuditQuery(sink).stats(where, by=None if by is None else "tool")
        sink._conn.set_trace_callback(None)
        records = [r.record for r in sink.read()]
    assert stats == compute_stats(records, by)
    with sqlite3.connect(analyzed) as db:
        plans = [
            str(row[-1]) for sql in statements for row in db.execute(f"EXPLAIN QUERY PLAN {sql}")
        ]
    scans = [p for p in plans if p.startswith("SCAN audit_records")]
    assert scans and all("USING COVERING INDEX" in p for p in scans), plans
    assert not [p for p in plans if "TEMP B-TREE FOR ORDER BY" in p], plans


def _stats_indexes(url: str) -> set[str]:
    names = {index_name(i) for i in STATS_INDEXES}
    if url.startswith("sqlite:"):
        with sqlite3.connect(url.split(":///", 1)[1]) as db:
            found = {
                r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")
            }
    else:
        with _pg(url) as conn:
            found = {
                r[0]
                for r in conn.execute(
                    "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"
                )
            }
    return names & found


def _drop_stats_indexes(url: str) -> None:
    for columns in STATS_INDEXES:
        statement = f"DROP INDEX {index_name(columns)}"
        if url.startswith("sqlite:"):
            with sqlite3.connect(url.split(":///", 1)[1]) as db:
                db.execute(statement)
        else:
            with _pg(url) as conn:
                conn.execute(statement)


def test_stats_indexes_are_made_for_a_store_opened_without_them(sink_url: str) -> None:
    """A new store has the statistics indexes; a store that lacks them gets them the next time a
    writer opens it, and until then still gives the Python computation's statistics."""
    if not sink_url.startswith(("sqlite:", "postgres")):
        pytest.skip("only the stores with columns keep indexes")
    log = AuditLog(open_sink(sink_url), signer=NoteSigner.generate("test.example/audit"))
    log.append([medical_body(i) for i in range(N)])
    log.append(odd_bodies())
    log.close()
    everything = {index_name(i) for i in STATS_INDEXES}
    assert _stats_indexes(sink_url) == everything
    _drop_stats_indexes(sink_url)
    with open_sink(sink_url, create=False) as reader:
        records = [r.record for r in reader.read()]
        assert reader.stats(Selection(), "tool_name") == compute_stats(records, "tool_name")
    assert _stats_indexes(sink_url) == set()
    open_sink(sink_url).close()
    assert _stats_indexes(sink_url) == everything
