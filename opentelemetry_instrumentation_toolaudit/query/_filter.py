# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""What a query asks for: a :class:`Filter` of record fields and a time range, turned into the
store port's :class:`~opentelemetry_instrumentation_toolaudit.ledger.Selection` (the filter's
indexed part plus ordering and a cursor) that a backend runs."""

from __future__ import annotations

import dataclasses
import datetime
import re
from collections.abc import Mapping
from typing import Any

from opentelemetry_instrumentation_toolaudit.ledger import Selection
from opentelemetry_instrumentation_toolaudit.ledger import schema as f
from opentelemetry_instrumentation_toolaudit.ledger._selection import SELECTABLE

_RELATIVE = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


@dataclasses.dataclass(frozen=True)
class Filter:
    """Which records a query returns; every field left None matches all records.

    ``role`` matches a record whose ``user_roles`` holds it; ``subject`` is the keyed pseudonym
    (``hmac-sha256:…``) the recorder stored; ``since`` (inclusive) and ``until`` (exclusive) bound
    ``recorded_at`` and are RFC 3339 text (see :func:`parse_time`)."""

    conversation: str | None = None
    user: str | None = None
    role: str | None = None
    tool: str | None = None
    event_type: str | None = None
    success: bool | None = None
    trace_id: str | None = None
    subject: str | None = None
    purpose: str | None = None
    since: str | None = None
    until: str | None = None

    def where(self) -> dict[str, object]:
        """The record fields this filter asks to equal a value (indexed columns in SQL stores)."""
        pairs: tuple[tuple[str, object], ...] = (
            (f.CONVERSATION_ID, self.conversation),
            (f.USER_ID, self.user),
            (f.TOOL_NAME, self.tool),
            (f.EVENT_TYPE, self.event_type),
            (f.SUCCESS, self.success),
            (f.TRACE_ID, self.trace_id.lower() if self.trace_id else None),
            (f.SUBJECT, self.subject),
            (f.PURPOSE, self.purpose),
        )
        return {name: value for name, value in pairs if value is not None}

    def selection(
        self,
        *,
        after_seq: int | None = None,
        before_seq: int | None = None,
        limit: int | None = None,
        descending: bool = False,
    ) -> Selection:
        """The selection a backend runs for this filter: the conditions on indexed columns, the
        time range and the cursor. The others (``role``, and fields a store does not index, such
        as ``subject`` and ``purpose``) are checked on the results (:meth:`rest_matches`), so the
        limit is then left to the caller too."""
        where = self.where()
        indexed = {name: value for name, value in where.items() if name in SELECTABLE}
        rest = self.role is not None or len(indexed) < len(where)
        return Selection(
            where=indexed,
            since=self.since,
            until=self.until,
            after_seq=after_seq,
            before_seq=before_seq,
            limit=None if rest else limit,
            descending=descending,
        )

    def matches(self, record: Mapping[str, Any]) -> bool:
        """Whether ``record`` passes every condition of this filter."""
        return selection_matches(self.selection(), record) and self.rest_matches(record)

    def rest_matches(self, record: Mapping[str, Any]) -> bool:
        """Whether ``record`` passes the conditions :meth:`selection` leaves out: its roles hold
        :attr:`role`, and its fields that no column indexes have the values asked for."""
        for name, value in self.where().items():
            if name not in SELECTABLE and not _equal(record.get(name), value):
                return False
        if self.role is None:
            return True
        roles = record.get(f.USER_ROLES)
        return isinstance(roles, list) and self.role in roles


def selection_matches(selection: Selection, record: Mapping[str, Any]) -> bool:
    """Whether ``record`` passes ``selection``'s ``where`` and time bounds (the cursor is the
    caller's: it depends on the record's position, not its fields)."""
    for name, wanted in selection.where.items():
        value = record.get(name)
        if isinstance(wanted, tuple):
            if not any(_equal(value, w) for w in wanted):
                return False
        elif not _equal(value, wanted):
            return False
    recorded = record.get(f.RECORDED_AT)
    if selection.since is not None and not (
        isinstance(recorded, str) and recorded >= selection.since
    ):
        return False
    return selection.until is None or (isinstance(recorded, str) and recorded < selection.until)


def _equal(value: object, wanted: object) -> bool:
    # True == 1 in Python; a success filter must not match a record whose success is 1.
    return type(value) is type(wanted) and value == wanted


def parse_time(text: str, *, now: datetime.datetime | None = None) -> str:
    """A time bound as record text (``2026-01-01T00:00:00.000000Z``) from ISO 8601 (a date, or a
    date and time; UTC when no offset is given) or a span back from now (``90s``, ``15m``, ``1h``,
    ``24h``, ``7d``, ``2w``). ValueError for anything else."""
    moment = now or datetime.datetime.now(datetime.timezone.utc)
    relative = _RELATIVE.match(text)
    if relative:
        when = moment - datetime.timedelta(
            seconds=int(relative.group(1)) * _UNITS[relative.group(2)]
        )
    else:
        try:
            when = datetime.datetime.fromisoformat(text.strip().replace("z", "Z"))
        except ValueError:
            raise ValueError(
                f"not a time: {text!r} (give ISO 8601, 2026-06-30 or 2026-06-30T12:00:00Z, "
                "or a span back from now: 1h, 24h, 7d)"
            ) from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=datetime.timezone.utc)
    utc = when.astimezone(datetime.timezone.utc)
    return f"{utc:%Y-%m-%dT%H:%M:%S.%f}Z"


def end_of_day(text: str) -> str:
    """An inclusive report end: a bare date (``2026-06-30``) covers that whole day, so the exclusive
    bound is the next midnight; any other time is used as given."""
    stripped = text.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", stripped):
        day = datetime.date.fromisoformat(stripped) + datetime.timedelta(days=1)
        return f"{day.isoformat()}T00:00:00.000000Z"
    return parse_time(stripped)
