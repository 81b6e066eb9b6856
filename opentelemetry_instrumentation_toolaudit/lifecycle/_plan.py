# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Which stored payloads a retention run or an erasure removes: found through the store port."""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Iterable, Iterator
from typing import Any

from opentelemetry_instrumentation_toolaudit.export._retention import RetentionPolicy
from opentelemetry_instrumentation_toolaudit.ledger import AuditSink, Selection, StoredRecord
from opentelemetry_instrumentation_toolaudit.ledger._selection import SELECTABLE
from opentelemetry_instrumentation_toolaudit.ledger.schema import (
    PAYLOAD_ERASED,
    PAYLOAD_HASH,
    RECORDED_AT,
    TOOL_NAME,
)

RETAIN_UNTIL = "retain_until"
SUBJECT = "subject"
PAGE = 2000
"""Records read per query: memory stays bounded on a trail of any length."""


@dataclasses.dataclass
class Plan:
    """The records whose payloads a run removes, and what it leaves and why."""

    seqs: list[int] = dataclasses.field(default_factory=list)
    """Records with a stored payload to remove, in sequence order."""
    categories: dict[str, int] = dataclasses.field(default_factory=dict)
    """Retention: how many of ``seqs`` fall under each policy category (the longest that applies)."""
    already_erased: int = 0
    """Matching records whose payload was removed before."""
    whole: list[int] = dataclasses.field(default_factory=list)
    """Matching records in record format 1: chained whole, so nothing of them can be removed."""

    def to_json(self) -> dict[str, Any]:
        return {
            "count": len(self.seqs),
            "seqs": seq_ranges(self.seqs),
            "categories": dict(sorted(self.categories.items())),
            "already_erased": self.already_erased,
            "format1_kept": seq_ranges(self.whole),
        }


def seq_ranges(seqs: Iterable[int]) -> list[str]:
    """Sequence numbers as ranges: ``[0, 1, 2, 5]`` → ``["0-2", "5"]``."""
    ranges: list[str] = []
    start = prev = None
    for seq in sorted(set(seqs)):
        if prev is not None and seq == prev + 1:
            prev = seq
            continue
        if start is not None:
            ranges.append(str(start) if start == prev else f"{start}-{prev}")
        start = prev = seq
    if start is not None:
        ranges.append(str(start) if start == prev else f"{start}-{prev}")
    return ranges


def _sort(plan: Plan, stored: StoredRecord, record: dict[str, Any]) -> bool:
    """File a matching record under the plan; True when its payload is to be removed."""
    if record.get(PAYLOAD_ERASED):
        plan.already_erased += 1
        return False
    if PAYLOAD_HASH not in record:
        plan.whole.append(stored.seq)
        return False
    plan.seqs.append(stored.seq)
    return True


def category_of(policy: RetentionPolicy, tool: str | None) -> str:
    """The category whose period a record of ``tool`` is kept for (the longest that applies)."""
    best: tuple[int, str] | None = None
    for category in policy.categories:
        if category.applies_to(tool) and (best is None or category.retention_days > best[0]):
            best = (category.retention_days, category.name)
    return best[1] if best is not None else "default"


def retain_until(policy: RetentionPolicy, record: dict[str, Any]) -> str | None:
    """The record's ``retain_until``, or for a record without one (written before the field
    existed) the date the policy gives it from ``recorded_at``; None when neither is readable."""
    until = record.get(RETAIN_UNTIL)
    if isinstance(until, str) and until:
        return until
    recorded = record.get(RECORDED_AT)
    tool = record.get(TOOL_NAME)
    try:
        return policy.retain_until(
            tool if isinstance(tool, str) else None, str(recorded)
        ).isoformat()
    except (ValueError, TypeError):
        return None


def _pages(sink: AuditSink, selection: Selection) -> Iterator[StoredRecord]:
    """Every record ``selection`` picks: from a store with indexed columns :data:`PAGE` at a time
    along the sequence cursor (one indexed query each), from the others in one streaming scan."""
    if not sink.seals_columns:
        yield from sink.select(selection)
        return
    after = None
    while True:
        page = list(sink.select(dataclasses.replace(selection, after_seq=after, limit=PAGE)))
        yield from page
        if len(page) < PAGE:
            return
        after = page[-1].seq


def expired(sink: AuditSink, policy: RetentionPolicy, as_of: datetime.date) -> Plan:
    """The records whose ``retain_until`` is before ``as_of`` (UTC date). Only records made before
    ``as_of`` can have expired, so one indexed selection on ``recorded_at`` finds the candidates."""
    plan = Plan()
    for stored in _pages(sink, Selection(until=as_of.isoformat())):
        record = stored.record
        until = retain_until(policy, record)
        if until is None or until >= as_of.isoformat():
            continue
        if _sort(plan, stored, record):
            tool = record.get(TOOL_NAME)
            name = category_of(policy, tool if isinstance(tool, str) else None)
            plan.categories[name] = plan.categories.get(name, 0) + 1
    return plan


def _of_subject(sink: AuditSink, pseudonym: str) -> Iterator[StoredRecord]:
    if SUBJECT in SELECTABLE:
        yield from _pages(sink, Selection(where={SUBJECT: pseudonym}))
        return
    for stored in sink.read():  # a store without a subject column: a scan
        if stored.record.get(SUBJECT) == pseudonym:
            yield stored


def of_subject(sink: AuditSink, pseudonym: str) -> Plan:
    """The records about the subject with this pseudonym (their ``subject`` field)."""
    plan = Plan()
    for stored in _of_subject(sink, pseudonym):
        _sort(plan, stored, stored.record)
    return plan
