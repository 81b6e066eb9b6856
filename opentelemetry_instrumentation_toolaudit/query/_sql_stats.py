# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

""":class:`~opentelemetry_instrumentation_toolaudit.query.Stats` computed by the stores with columns
(SQLite, PostgreSQL) in one query that searches the selection's index and reads each selected
record's ``duration_ms`` once, in SQL; no record is decoded in Python (see :func:`stats_sql`).

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
from opentelemetry_instrumentation_toolaudit.query._stats import Stats, percentile

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
# A subquery the planner keeps as it is, so each record's JSON is read once.
_FENCE = {"sqlite": "LIMIT -1", "postgres": "OFFSET 0"}
_PLACEHOLDER = {"sqlite": "?", "postgres": "%s"}


def _picked(selection: Selection, by: str | None, dialect: str) -> tuple[str, list[Any]]:
    """The selected records as ``(g, ok, u, d)``: group, outcome, user and numeric duration."""
    if by is not None and by not in GROUPABLE:
        raise ValueError(f"cannot group by {by!r} in SQL (one of {', '.join(sorted(GROUPABLE))})")
    where, params = sql_where(selection, _PLACEHOLDER[dialect])
    group = f"coalesce({by}, '')" if by is not None else "''"
    sql = (
        f"SELECT g, ok, u, {_DURATION_NUMBER[dialect]} AS d FROM ("
        f"SELECT {group} AS g, success AS ok, user_id AS u, {_DURATION_JSON[dialect]} AS j "
        f"FROM audit_records{where} {_FENCE[dialect]}) AS picked"
    )
    return sql, params


def stats_sql(selection: Selection, by: str | None, dialect: str) -> tuple[str, list[Any]]:
    """The statistics query for ``selection`` (its order and limit ignored), grouped by the column
    ``by`` when given, and its parameters; ``dialect`` is ``sqlite`` or ``postgres``.

    PostgreSQL aggregates in SQL (``percentile_disc`` is the nearest-rank percentile), one row
    ``(level, group, calls, succeeded, failed, duration sum, durations, max, users, p50, p95)`` for
    all the records (level 0) and one per group (level 1). SQLite, which has no ordered-set
    aggregate and ranks rows by window functions many times slower, returns each selected record's
    ``(group, outcome, user, duration)``, read from the canonical JSON by SQL and tallied by
    :func:`stats_from_picked`."""
    picked, params = _picked(selection, by, dialect)
    if dialect == "sqlite":
        return picked, params
    level, grouping = ("1 - GROUPING(g), g", " GROUP BY GROUPING SETS ((), (g))")
    if by is None:
        level, grouping = ("0, ''", "")
    sql = (
        f"SELECT {level}, count(*), "
        "sum(CASE WHEN ok THEN 1 ELSE 0 END), sum(CASE WHEN NOT ok THEN 1 ELSE 0 END), "
        "sum(d), count(d), max(d), count(DISTINCT u), "
        "percentile_disc(0.5) WITHIN GROUP (ORDER BY d), "
        "percentile_disc(0.95) WITHIN GROUP (ORDER BY d) "
        f"FROM ({picked}) AS s{grouping}"
    )
    return sql, params


def stats_from_picked(rows: Sequence[Sequence[Any]], grouped: bool) -> Stats:
    """:class:`Stats` from SQLite's ``(group, outcome, user, duration)`` rows."""
    tallies: dict[str, list[Any]] = {}
    for g, ok, u, d in rows:
        tally = tallies.get(g)
        if tally is None:
            tally = tallies[g] = [0, 0, 0, [], set()]
        tally[0] += 1
        if ok == 1:
            tally[1] += 1
        elif ok == 0:
            tally[2] += 1
        if d is not None:
            tally[3].append(d)
        if u is not None:
            tally[4].add(u)
    groups = {name: _tallied(*tally) for name, tally in tallies.items()}
    total = _tallied(
        sum(t[0] for t in tallies.values()),
        sum(t[1] for t in tallies.values()),
        sum(t[2] for t in tallies.values()),
        [d for t in tallies.values() for d in t[3]],
        set().union(*(t[4] for t in tallies.values())),
    )
    if not grouped:
        return total
    ranked = sorted(groups.items(), key=lambda item: (-item[1].calls, item[0]))
    return dataclasses.replace(total, groups=dict(ranked))


def _tallied(
    calls: int, succeeded: int, failed: int, durations: list[float], users: set[str]
) -> Stats:
    durations.sort()
    return _stats(
        calls,
        succeeded,
        failed,
        sum(durations) if durations else None,
        len(durations),
        durations[-1] if durations else None,
        len(users),
        percentile(durations, 50),
        percentile(durations, 95),
    )


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
    if dialect == "sqlite":
        return stats_from_picked(query(sql, params), by is not None)
    return stats_from_rows(query(sql, params))
