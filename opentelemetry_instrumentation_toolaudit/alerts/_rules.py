# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The alert rules: functions of the records in trail order, with no I/O and no clock.

:class:`AlertEvaluator` keeps what the rules need to remember (sliding windows, each user's hours of
activity), so that records can be fed batch by batch as they are committed; :func:`evaluate` runs it
once over a whole trail. Both see records as ``StoredRecord.record`` gives them.

What counts: an *access* is a ``tool.call`` record; a *failure* is one with ``success`` false; a
*break-the-glass use* is a ``tool.call`` with ``details.break_glass`` or purpose ``ETREAT``, or a
``break_glass`` event. Alert records themselves, intent records and other events are not accesses.
Times are the record's ``start_time`` (else ``recorded_at``), in UTC.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from opentelemetry_instrumentation_toolaudit.alerts._config import (
    BREAK_GLASS,
    FAILURE_SPIKE,
    MANY_SUBJECTS,
    REPEATED_SUBJECT_ACCESS,
    UNUSUAL_HOURS,
    AlertThresholds,
    WindowRule,
)

ACCESS_EVENT = "tool.call"
BREAK_GLASS_EVENT = "break_glass"
BREAK_GLASS_PURPOSE = "ETREAT"
MAX_SEQS = 200
"""An alert names at most this many sequence numbers (the latest); ``count`` says how many."""


@dataclasses.dataclass(frozen=True)
class Alert:
    """One alert: which rule fired, on whose records, and which records triggered it.

    ``user`` and ``subject`` are pseudonyms (``subject`` as the record holds it; ``user`` made by
    the evaluator's ``pseudonym`` function), never a value in clear.
    """

    rule: str
    at: str
    """The time of the record that completed the trigger (RFC 3339, as recorded)."""
    seqs: tuple[int, ...]
    count: int
    user: str | None = None
    subject: str | None = None
    tool: str | None = None
    detail: str = ""
    """What was seen, in words and numbers only, e.g. ``12 accesses in 60 min``."""

    def to_json(self) -> dict[str, Any]:
        """The alert as a JSON object (what ``toolaudit alerts --format json`` prints)."""
        return {
            k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(self).items()
        }


def _seconds(record: Mapping[str, Any]) -> float | None:
    return timestamp_seconds(record.get("start_time") or record.get("recorded_at"))


def timestamp_seconds(text: Any) -> float | None:
    """A record's RFC 3339 time as POSIX seconds (UTC when it names no zone), or None."""
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.timestamp()


def is_break_glass(record: Mapping[str, Any]) -> bool:
    """Whether a record is a break-the-glass use."""
    event_type = record.get("event_type")
    if event_type == BREAK_GLASS_EVENT:
        return True
    if event_type != ACCESS_EVENT:
        return False
    details = record.get("details")
    return (
        (isinstance(details, Mapping) and "break_glass" in details)
        or "break_glass" in record
        or record.get("purpose") == BREAK_GLASS_PURPOSE
    )


class _Window:
    """Events of one key within a sliding window, and whether the current burst has alerted."""

    __slots__ = ("events", "fired", "values")

    def __init__(self) -> None:
        self.events: collections.deque[tuple[float, int, Any]] = collections.deque()
        self.values: collections.Counter[Any] = collections.Counter()
        """How many events in the window carry each value (distinct subjects)."""
        self.fired = False

    def add(self, when: float, seq: int, value: Any, minutes: float) -> None:
        self.events.append((when, seq, value))
        self.values[value] += 1
        horizon = when - minutes * 60
        while self.events and self.events[0][0] <= horizon:
            _, _, old = self.events.popleft()
            self.values[old] -= 1
            if not self.values[old]:
                del self.values[old]

    def seqs(self) -> tuple[int, ...]:
        return tuple(seq for _, seq, _ in self.events)[-MAX_SEQS:]


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


class AlertEvaluator:
    """Runs every enabled rule over records fed in trail order, remembering what it has seen.

    ``pseudonym`` turns a user id into the pseudonym an alert carries (e.g.
    ``RedactionPolicy.from_env().pseudonym``); without it alerts carry no user.
    """

    def __init__(
        self,
        thresholds: AlertThresholds | None = None,
        *,
        pseudonym: Callable[[str], str] | None = None,
    ) -> None:
        self.thresholds = thresholds or AlertThresholds()
        self._pseudonym = pseudonym
        self._pairs: dict[tuple[str, str], _Window] = collections.defaultdict(_Window)
        self._users: dict[str, _Window] = collections.defaultdict(_Window)
        self._tools: dict[str, _Window] = collections.defaultdict(_Window)
        self._hours: dict[str, list[int]] = {}
        self._fed = 0

    SWEEP_EVERY = 4096
    """Records between two sweeps of the windows that have emptied (the memory a long-running
    writer keeps is bounded by the keys active within a window, plus each user's 24 hour counts)."""

    def _sweep(self, now: float) -> None:
        t = self.thresholds
        groups: list[tuple[dict[Any, _Window], float]] = [
            (self._pairs, t.repeated_subject_access.window_minutes),
            (self._users, t.many_subjects.window_minutes),
            (self._tools, t.failure_spike.window_minutes),
        ]
        for windows, minutes in groups:
            horizon = now - minutes * 60
            stale = [
                key for key, w in windows.items() if not w.events or w.events[-1][0] <= horizon
            ]
            for key in stale:
                del windows[key]

    def feed(self, records: Iterable[Mapping[str, Any]]) -> list[Alert]:
        """The alerts these records raise, in order."""
        alerts: list[Alert] = []
        for record in records:
            alerts.extend(self._one(record))
            self._fed += 1
            if self._fed % self.SWEEP_EVERY == 0:
                when = _seconds(record)
                if when is not None:
                    self._sweep(when)
        return alerts

    def _user(self, user_id: str | None) -> str | None:
        if user_id is None or self._pseudonym is None:
            return None
        return self._pseudonym(user_id)

    def _one(self, record: Mapping[str, Any]) -> list[Alert]:
        event_type = record.get("event_type")
        if event_type not in (ACCESS_EVENT, BREAK_GLASS_EVENT):
            return []
        seq = record.get("seq")
        when = _seconds(record)
        if not isinstance(seq, int) or when is None:
            return []
        at = str(record.get("start_time") or record.get("recorded_at"))
        user_id, subject = _text(record.get("user_id")), _text(record.get("subject"))
        tool = _text(record.get("tool_name"))
        t = self.thresholds
        out: list[Alert] = []
        if t.break_glass and is_break_glass(record):
            out.append(
                Alert(
                    BREAK_GLASS,
                    at,
                    (seq,),
                    1,
                    self._user(user_id),
                    subject,
                    tool,
                    "emergency access",
                )
            )
        if event_type != ACCESS_EVENT:
            return out
        if user_id is not None and subject is not None:
            rule = t.repeated_subject_access
            if rule.enabled:
                window = self._pairs[(user_id, subject)]
                window.add(when, seq, None, rule.window_minutes)
                if self._burst(window, len(window.events), rule):
                    out.append(
                        Alert(
                            REPEATED_SUBJECT_ACCESS, at, window.seqs(), len(window.events),
                            self._user(user_id), subject, None,
                            f"{len(window.events)} accesses to one subject in {rule.window_minutes:g} min",
                        )
                    )  # fmt: skip
            rule = t.many_subjects
            if rule.enabled:
                window = self._users[user_id]
                window.add(when, seq, subject, rule.window_minutes)
                distinct = len(window.values)
                if self._burst(window, distinct, rule):
                    out.append(
                        Alert(
                            MANY_SUBJECTS, at, window.seqs(), distinct, self._user(user_id), None,
                            None, f"{distinct} distinct subjects in {rule.window_minutes:g} min",
                        )
                    )  # fmt: skip
        if user_id is not None and t.unusual_hours.enabled:
            alert = self._hours_alert(user_id, when, seq, at, subject, tool)
            if alert is not None:
                out.append(alert)
        if tool is not None and record.get("success") is False and t.failure_spike.enabled:
            rule = t.failure_spike
            window = self._tools[tool]
            window.add(when, seq, None, rule.window_minutes)
            if self._burst(window, len(window.events), rule):
                out.append(
                    Alert(
                        FAILURE_SPIKE, at, window.seqs(), len(window.events), None, None, tool,
                        f"{len(window.events)} failures in {rule.window_minutes:g} min",
                    )
                )  # fmt: skip
        return out

    @staticmethod
    def _burst(window: _Window, count: int, rule: WindowRule) -> bool:
        """Whether ``count`` just reached the threshold: one alert per burst, until it falls back."""
        if count < rule.threshold:
            window.fired = False
            return False
        if window.fired:
            return False
        window.fired = True
        return True

    def _hours_alert(
        self, user_id: str, when: float, seq: int, at: str, subject: str | None, tool: str | None
    ) -> Alert | None:
        """An access at an hour of the day (UTC) the user has rarely been active at, judged against
        the user's own earlier accesses once there are enough of them."""
        rule = self.thresholds.unusual_hours
        hours = self._hours.setdefault(user_id, [0] * 24)
        hour = int(when // 3600 % 24)
        history = sum(hours)
        nearby = hours[(hour - 1) % 24] + hours[hour] + hours[(hour + 1) % 24]
        hours[hour] += 1
        if history < rule.min_history or nearby >= rule.min_share * history:
            return None
        return Alert(
            UNUSUAL_HOURS, at, (seq,), 1, self._user(user_id), subject, tool,
            f"access at {hour:02d}:00-{hour:02d}:59 UTC; {nearby} of the user's {history} earlier "
            "accesses fall within an hour of it",
        )  # fmt: skip


def evaluate(
    records: Iterable[Mapping[str, Any]],
    thresholds: AlertThresholds | None = None,
    *,
    pseudonym: Callable[[str], str] | None = None,
) -> list[Alert]:
    """Every alert the rules raise over ``records`` (a whole trail, in order)."""
    return AlertEvaluator(thresholds, pseudonym=pseudonym).feed(records)
