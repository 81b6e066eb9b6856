# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

""":class:`~opentelemetry_instrumentation_toolaudit.query.Stats` computed in SQL by the stores with
columns (SQLite, PostgreSQL): one query that searches the selection's index, reads each selected
record's ``duration_ms`` once, and returns one row per group and one for all the records.

The numbers are those :func:`~._stats.compute_stats` gives: a duration counts when the record holds
a JSON number; the percentiles are nearest-rank (the value at rank ``ceil(p * n / 100)`` among a
group's durations in ascending order); a record without the grouped field falls under ``""``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry_instrumentation_toolaudit.ledger._selection import Selection, sql_where
from opentelemetry_instrumentation_toolaudit.ledger.schema import INDEXED_COLUMNS, SEQ, SUCCESS
from opentelemetry_instrumentation_toolaudit.query._stats import Stats

GROUPABLE = frozenset(INDEXED_COLUMNS) - {SEQ, SUCCESS}
"""The fields SQL statistics can group by: the stores' text columns."""

# The duration as the JSON text of the record's value, and as a number when that text is one.
_DURATION_JSON = {
    "sqlite": "CAST(canonical AS TEXT) -> '$.duration_ms'",
    "postgres": "convert_from(canonical, 'UTF8')::json -> 'duration_ms'",
}
_DURATION_NUMBER = {
    "sqlite": "CASE WHEN j GLOB '[0-9-]*' THEN CAST(j AS REAL) END",
    "postgres": "CASE WHEN json_typeof(j) = 'number' THEN (j::text)::float8 END",
}
# Keep the selected rows (and the one JSON read each) from being recomputed per use.
_MATERIALIZED = {"sqlite": "MATERIALIZED", "postgres": "MATERIALIZED"}
_PLACEHOLDER = {"sqlite": "?", "postgres": "%s"}


def stats_sql(selection: Selection, by: str | None, dialect: str) -> tuple[str, list[Any]]:
    """The statistics query for ``selection`` (its order and limit ignored), grouped by the column
    ``by`` when given, and its parameters; ``dialect`` is ``sqlite`` or ``postgres``. Its rows are
    ``(level, group, calls, succeeded, failed, duration sum, durations, max, users, p50, p95)``,
    level 0 for all the records and 1 for each group."""
    if by is not None and by not in GROUPABLE:
        raise ValueError(f"cannot group by {by!r} in SQL (one of {', '.join(sorted(GROUPABLE))})")
    where, params = sql_where(selection, _PLACEHOLDER[dialect])
    group = f"coalesce({by}, '')" if by is not None else "''"
    levels = "SELECT 0 AS lvl, '' AS g, ok, u, d FROM s"
    if by is not None:
        levels += " UNION ALL SELECT 1, g, ok, u, d FROM s"
    sql = f"""
WITH picked AS {_MATERIALIZED[dialect]} (
    SELECT {group} AS g, success AS ok, user_id AS u, {_DURATION_JSON[dialect]} AS j
    FROM audit_records{where}
),
s AS (SELECT g, ok, u, {_DURATION_NUMBER[dialect]} AS d FROM picked),
ranked AS (
    SELECT lvl, g, ok, u, d,
        row_number() OVER (
            PARTITION BY lvl, g ORDER BY CASE WHEN d IS NULL THEN 1 ELSE 0 END, d
        ) AS rn,
        count(d) OVER (PARTITION BY lvl, g) AS nd
    FROM ({levels}) AS leveled
)
SELECT lvl, g, count(*),
    sum(CASE WHEN ok THEN 1 ELSE 0 END), sum(CASE WHEN NOT ok THEN 1 ELSE 0 END),
    sum(d), count(d), max(d), count(DISTINCT u),
    max(CASE WHEN rn = (50 * nd + 99) / 100 THEN d END),
    max(CASE WHEN rn = (95 * nd + 99) / 100 THEN d END)
FROM ranked GROUP BY lvl, g"""
    return sql, params


def stats_from_rows(rows: Sequence[Sequence[Any]]) -> Stats:
    """:class:`Stats` from the rows of :func:`stats_sql`."""
    total = Stats()
    groups: list[tuple[str, Stats]] = []
    for lvl, name, *numbers in rows:
        stats = _stats(*numbers)
        if lvl == 0:
            total = stats
        else:
            groups.append((str(name), stats))
    groups.sort(key=lambda item: (-item[1].calls, item[0]))
    return dataclasses.replace(total, groups=dict(groups))


def _stats(
    calls: int,
    succeeded: int | None,
    failed: int | None,
    duration_sum: float | None,
    durations: int,
    max_ms: float | None,
    users: int,
    p50: float | None,
    p95: float | None,
) -> Stats:
    succeeded = int(succeeded or 0)
    failed = int(failed or 0)
    outcomes = succeeded + failed
    return Stats(
        calls=int(calls),
        succeeded=succeeded,
        failed=failed,
        success_rate=round(succeeded / outcomes, 4) if outcomes else None,
        avg_ms=round(float(duration_sum or 0) / durations, 3) if durations else None,
        p50_ms=_float(p50),
        p95_ms=_float(p95),
        max_ms=_float(max_ms),
        unique_users=int(users),
    )


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def store_stats(
    query: Callable[[str, Sequence[Any]], list[Any]],
    selection: Selection,
    by: str | None,
    dialect: str,
) -> Stats:
    """:class:`Stats` of ``selection`` grouped by the column ``by``, run with a store's ``query``."""
    sql, params = stats_sql(selection, by, dialect)
    return stats_from_rows(query(sql, params))
