# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

""":class:`~opentelemetry_instrumentation_toolaudit.query.Stats` computed by the stores with columns
(SQLite, PostgreSQL) in SQL; no record is decoded in Python.

A store created in record format 2 keeps each record's ``duration_ms`` in a column; one created
before has no such column, and its durations are read out of each record's canonical JSON. On
SQLite, statistics of the whole trail (or of one event type), overall or by tool, read the
covering indexes of ``schema.STATS_INDEXES``: the counts in one pass over the tool index and each
percentile one index read at its rank (see :func:`ordered_stats`); any other selection returns its
records' ``(group, outcome, user, duration)`` to be tallied in Python (see :func:`stats_sql`).

The numbers are those :func:`~._stats.compute_stats` gives: a duration counts when the record holds
a JSON number; the percentiles are nearest-rank (the value at rank ``ceil(p * n / 100)`` among a
group's durations in ascending order); a record without the grouped field falls under ``""``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Any

from opentelemetry_instrumentation_toolaudit.ledger._selection import Selection, sql_where
from opentelemetry_instrumentation_toolaudit.ledger._stats import Stats, compute_stats, percentile
from opentelemetry_instrumentation_toolaudit.ledger.schema import (
    EVENT_TYPE,
    INDEXED_COLUMNS,
    SEQ,
    SUCCESS,
    TOOL_NAME,
)

GROUPABLE = frozenset(INDEXED_COLUMNS) - {SEQ, SUCCESS}
"""The fields SQL statistics can group by: the stores' text columns."""

# The duration as the JSON text of the record's value, and as a number when that text is one
# (a store created before record format 2, without a duration_ms column).
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


def _picked(
    selection: Selection, by: str | None, dialect: str, duration_column: bool
) -> tuple[str, list[Any]]:
    """The selected records as ``(g, ok, u, d)``: group, outcome, user and numeric duration."""
    if by is not None and by not in GROUPABLE:
        raise ValueError(f"cannot group by {by!r} in SQL (one of {', '.join(sorted(GROUPABLE))})")
    where, params = sql_where(selection, _PLACEHOLDER[dialect])
    group = f"coalesce({by}, '')" if by is not None else "''"
    if duration_column:
        sql = (
            f"SELECT {group} AS g, success AS ok, user_id AS u, duration_ms AS d "
            f"FROM audit_records{where}"
        )
        return sql, params
    sql = (
        f"SELECT g, ok, u, {_DURATION_NUMBER[dialect]} AS d FROM ("
        f"SELECT {group} AS g, success AS ok, user_id AS u, {_DURATION_JSON[dialect]} AS j "
        f"FROM audit_records{where} {_FENCE[dialect]}) AS picked"
    )
    return sql, params


def stats_sql(
    selection: Selection, by: str | None, dialect: str, *, duration_column: bool = True
) -> tuple[str, list[Any]]:
    """The statistics query for ``selection`` (its order and limit ignored), grouped by the column
    ``by`` when given, and its parameters; ``dialect`` is ``sqlite`` or ``postgres``;
    ``duration_column`` says whether the store has a ``duration_ms`` column.

    PostgreSQL aggregates in SQL (``percentile_disc`` is the nearest-rank percentile), one row
    ``(level, group, calls, succeeded, failed, duration sum, durations, max, users, p50, p95)`` for
    all the records (level 0) and one per group (level 1). SQLite, which has no ordered-set
    aggregate and ranks rows by window functions many times slower, returns each selected record's
    ``(group, outcome, user, duration)``, read from the canonical JSON by SQL and tallied by
    :func:`stats_from_picked`."""
    picked, params = _picked(selection, by, dialect, duration_column)
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
    select: Callable[[Selection], Iterable[Any]],
    columns: Collection[str],
    selection: Selection,
    by: str | None,
    dialect: str,
    *,
    duration_column: bool = True,
    ordered: bool = False,
) -> Stats:
    """:class:`Stats` of ``selection`` grouped by the column ``by``, run with a store's ``query``
    on its indexed ``columns``; ``duration_column`` when the store has a ``duration_ms`` column,
    ``ordered`` when it also has the indexes of ``schema.STATS_INDEXES``. Grouped by a field the
    store has no column for (a store from before record format 2), the records ``select``
    returns are tallied instead."""
    if by is not None and by not in columns:
        return compute_stats((stored.record for stored in select(selection)), by)
    if ordered and duration_column:
        event_type = _ordered_event_type(selection, by)
        if event_type is None or isinstance(event_type, str):
            return ordered_stats(query, event_type, by, dialect)
    sql, params = stats_sql(selection, by, dialect, duration_column=duration_column)
    if dialect == "sqlite":
        return stats_from_picked(query(sql, params), by is not None)
    return stats_from_rows(query(sql, params))


def _ordered_event_type(selection: Selection, by: str | None) -> str | bool | None:
    """The event type :func:`ordered_stats` can compute ``selection``'s statistics for (None for
    every record), or False when it cannot: a time range, a cursor, a condition on another field,
    or a grouping other than by tool."""
    if by not in (None, TOOL_NAME) or selection.since is not None or selection.until is not None:
        return False
    if selection.after_seq is not None or selection.before_seq is not None:
        return False
    if set(selection.where) - {EVENT_TYPE}:
        return False
    wanted = selection.where.get(EVENT_TYPE)
    if wanted is None:
        return None
    return wanted if isinstance(wanted, str) else False


_COUNTS = "count(*), {ok}, {ko}, sum(duration_ms), count(duration_ms), max(duration_ms)"
_OUTCOMES = {
    "sqlite": {"ok": "sum(success = 1)", "ko": "sum(success = 0)"},
    "postgres": {
        "ok": "count(*) FILTER (WHERE success)",
        "ko": "count(*) FILTER (WHERE NOT success)",
    },
}
# PostgreSQL computes each tool's percentiles in its grouped query (percentile_disc is the
# nearest-rank percentile, over the tool index's order); SQLite reads them at their rank.
_PERCENTILES = {
    "sqlite": "",
    "postgres": ", percentile_disc(0.5) WITHIN GROUP (ORDER BY duration_ms), "
    "percentile_disc(0.95) WITHIN GROUP (ORDER BY duration_ms)",
}
# Each returns one row: the nearest-rank percentile is the duration at OFFSET rank - 1 of an
# index already in duration order, or at OFFSET count - rank of it read backwards, whichever end
# is nearer (a read of that many entries, no sort).
_AT_RANK_OF_TOOL = (
    "SELECT duration_ms FROM audit_records WHERE tool_name = {p} AND duration_ms IS NOT NULL"
    "{and_} ORDER BY duration_ms{desc} LIMIT 1 OFFSET {p}"
)
_AT_RANK_OF_NO_TOOL = (
    "SELECT duration_ms FROM audit_records WHERE (tool_name IS NULL OR tool_name = '') "
    "AND duration_ms IS NOT NULL{and_} ORDER BY duration_ms{desc} LIMIT 1 OFFSET {p}"
)
_AT_RANK = (
    "SELECT duration_ms FROM audit_records WHERE duration_ms IS NOT NULL{and_} "
    "ORDER BY duration_ms{desc} LIMIT 1 OFFSET {p}"
)
# Distinct users by a loose index scan of the (user_id, recorded_at) index: one search per user.
_USERS = (
    "WITH RECURSIVE u(x) AS (SELECT min(user_id) FROM audit_records{where} UNION ALL "
    "SELECT (SELECT min(user_id) FROM audit_records WHERE user_id > x{and_}) FROM u "
    "WHERE x IS NOT NULL) SELECT count(x) FROM u"
)
_USERS_OF_NO_TOOL = (
    "SELECT count(DISTINCT user_id) FROM audit_records "
    "WHERE (tool_name IS NULL OR tool_name = ''){and_}"
)


def ordered_stats(
    query: Callable[[str, Sequence[Any]], list[Any]],
    event_type: str | None,
    by: str | None,
    dialect: str,
) -> Stats:
    """:class:`Stats` of every record (of ``event_type`` when given), by tool when ``by`` is
    ``tool_name``, on a store with ``schema.STATS_INDEXES``: the counts in one pass over the tool
    index (grouped in its order), the users by one index search per user, and each percentile by
    one read of a duration-ordered index at its rank (on PostgreSQL, each tool's in its group)."""
    p = _PLACEHOLDER[dialect]
    where, and_, cond = "", "", []
    if event_type is not None:
        where, and_, cond = f" WHERE event_type = {p}", f" AND event_type = {p}", [event_type]
    counts = _COUNTS.format(**_OUTCOMES[dialect])

    def at_rank(template: str, params: list[Any], count: int, percent: float) -> float | None:
        if not count:
            return None
        rank = max(1, math.ceil(percent / 100 * count))
        backwards = count - rank < rank - 1
        sql = template.format(p=p, and_=and_, desc=" DESC" if backwards else "")
        rows = query(sql, [*params, *cond, count - rank if backwards else rank - 1])
        return _float(rows[0][0]) if rows else None

    users = query(_USERS.format(where=where, and_=and_), cond * 2)[0][0]
    if by is None:
        calls, succeeded, failed, total, durations, top = query(
            f"SELECT {counts} FROM audit_records{where}", cond
        )[0]
    else:
        rows = [
            (*row, None, None) if dialect == "sqlite" else tuple(row)
            for row in query(
                f"SELECT tool_name, {counts}, count(DISTINCT user_id){_PERCENTILES[dialect]} "
                f"FROM audit_records{where} GROUP BY tool_name",
                cond,
            )
        ]
        groups: list[tuple[str, Stats]] = []
        untold = [row for row in rows if row[0] in (None, "")]
        for name, n, ok, ko, sum_ms, n_ms, max_ms, group_users, p50, p95 in rows:
            if name in (None, "") and len(untold) > 1:
                continue  # a record without a tool and one with "" are one group
            if dialect == "sqlite":
                template, of = (
                    (_AT_RANK_OF_NO_TOOL, []) if name is None else (_AT_RANK_OF_TOOL, [name])
                )
                p50, p95 = at_rank(template, of, n_ms, 50), at_rank(template, of, n_ms, 95)
            groups.append(
                (name or "", _stats(n, ok, ko, sum_ms, n_ms, max_ms, group_users, p50, p95))
            )
        if len(untold) > 1:
            merged = [sum(int(row[i] or 0) for row in untold) for i in (1, 2, 3, 5)]
            top_untold = max((row[6] for row in untold if row[6] is not None), default=None)
            sums = [row[4] for row in untold if row[4] is not None]
            group_users = query(_USERS_OF_NO_TOOL.format(and_=and_), cond)[0][0]
            groups.append(
                (
                    "",
                    _stats(
                        merged[0],
                        merged[1],
                        merged[2],
                        sum(sums) if sums else None,
                        merged[3],
                        top_untold,
                        group_users,
                        at_rank(_AT_RANK_OF_NO_TOOL, [], merged[3], 50),
                        at_rank(_AT_RANK_OF_NO_TOOL, [], merged[3], 95),
                    ),
                )
            )
        calls = sum(int(row[1]) for row in rows)
        succeeded = sum(int(row[2] or 0) for row in rows)
        failed = sum(int(row[3] or 0) for row in rows)
        sums = [row[4] for row in rows if row[4] is not None]
        total = sum(sums) if sums else None
        durations = sum(int(row[5]) for row in rows)
        top = max((row[6] for row in rows if row[6] is not None), default=None)
    overall = _stats(
        calls or 0,
        succeeded,
        failed,
        total,
        durations,
        top,
        users,
        at_rank(_AT_RANK, [], durations, 50),
        at_rank(_AT_RANK, [], durations, 95),
    )
    if by is None:
        return overall
    groups.sort(key=lambda item: (-item[1].calls, item[0]))
    return dataclasses.replace(overall, groups=dict(groups))
