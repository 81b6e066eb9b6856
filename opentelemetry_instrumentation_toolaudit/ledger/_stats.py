# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Statistics over a set of records: calls, success rate, durations, users; optionally by group."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from typing import Any

from opentelemetry_instrumentation_toolaudit.ledger import schema as f

GROUPS = {"tool": f.TOOL_NAME, "user": f.USER_ID, "model": f.MODEL}
"""The groupings ``stats`` offers, by name, and the record field each groups on."""


@dataclasses.dataclass(frozen=True)
class Stats:
    """Calls, outcomes and durations (milliseconds) of a set of records; ``groups`` holds the same
    for each value of the field the statistics were grouped by (absent values under ``""``)."""

    calls: int = 0
    succeeded: int = 0
    failed: int = 0
    success_rate: float | None = None
    """``succeeded / (succeeded + failed)``; None when no record has an outcome."""
    avg_ms: float | None = None
    p50_ms: float | None = None
    p95_ms: float | None = None
    max_ms: float | None = None
    unique_users: int = 0
    groups: Mapping[str, Stats] = dataclasses.field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """A JSON object of these statistics (``groups`` as an object keyed by group)."""
        out = {k: v for k, v in dataclasses.asdict(self).items() if k != "groups"}
        if self.groups:
            out["groups"] = {name: group.to_json() for name, group in self.groups.items()}
        return out


class _Tally:
    __slots__ = ("calls", "durations", "failed", "succeeded", "users")

    def __init__(self) -> None:
        self.calls = 0
        self.succeeded = 0
        self.failed = 0
        self.durations: list[float] = []
        self.users: set[str] = set()

    def add(self, record: Mapping[str, Any]) -> None:
        self.calls += 1
        success = record.get(f.SUCCESS)
        if success is True:
            self.succeeded += 1
        elif success is False:
            self.failed += 1
        duration = record.get(f.DURATION_MS)
        if isinstance(duration, (int, float)) and not isinstance(duration, bool):
            self.durations.append(float(duration))
        user = record.get(f.USER_ID)
        if isinstance(user, str):
            self.users.add(user)

    def result(self, groups: Mapping[str, Stats] | None = None) -> Stats:
        durations = sorted(self.durations)
        outcomes = self.succeeded + self.failed
        return Stats(
            calls=self.calls,
            succeeded=self.succeeded,
            failed=self.failed,
            success_rate=round(self.succeeded / outcomes, 4) if outcomes else None,
            avg_ms=round(sum(durations) / len(durations), 3) if durations else None,
            p50_ms=percentile(durations, 50),
            p95_ms=percentile(durations, 95),
            max_ms=durations[-1] if durations else None,
            unique_users=len(self.users),
            groups=groups or {},
        )


def percentile(ordered: list[float], p: float) -> float | None:
    """The nearest-rank ``p``-th percentile of ``ordered`` (sorted ascending); None when empty."""
    if not ordered:
        return None
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def compute_stats(records: Iterable[Mapping[str, Any]], by: str | None = None) -> Stats:
    """:class:`Stats` of ``records``, grouped by the record field ``by`` when given."""
    total = _Tally()
    groups: dict[str, _Tally] = {}
    for record in records:
        total.add(record)
        if by is not None:
            key = record.get(by)
            name = key if isinstance(key, str) else "" if key is None else str(key)
            tally = groups.get(name)
            if tally is None:
                tally = groups[name] = _Tally()
            tally.add(record)
    ranked = sorted(groups.items(), key=lambda item: (-item[1].calls, item[0]))
    return total.result({name: tally.result() for name, tally in ranked})
