# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The access report: who accessed one subject's records in a period, and whether the trail
that says so is intact."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from opentelemetry_instrumentation_toolaudit.ledger import NoteVerifier
from opentelemetry_instrumentation_toolaudit.ledger import schema as f
from opentelemetry_instrumentation_toolaudit.query._filter import Filter
from opentelemetry_instrumentation_toolaudit.query._integrity import check_integrity
from opentelemetry_instrumentation_toolaudit.query._links import trace_link
from opentelemetry_instrumentation_toolaudit.query._query import AuditQuery


def access_report(
    query: AuditQuery,
    subject: str,
    since: str | None,
    until: str | None,
    verifiers: Sequence[NoteVerifier],
    *,
    integrity_method: str = "full",
    key_pinned: bool = False,
    shown_period: tuple[str | None, str | None] | None = None,
) -> dict[str, Any]:
    """The report on ``subject`` (its keyed pseudonym) for ``since <= recorded_at < until``.

    Keys: ``subject``, ``report_period`` (``from``, ``to``), ``total_accesses``, ``unique_users``,
    ``accesses`` (each ``timestamp``, ``accessed_by``, ``role``, ``tool``, ``action``,
    ``purpose``, ``success``, ``seq``, ``trace_id``, and ``trace_url`` when a trace URL is set),
    ``integrity_verified`` and ``integrity`` (the method, the checkpoint it rests on, and why not
    when it is not verified). ``shown_period`` is the period as the user gave it."""
    results = list(
        query.search(
            Filter(subject=subject, event_type=f.EVENT_TOOL_CALL, since=since, until=until)
        )
    )
    accesses = []
    for result in results:
        record = result.record
        roles = record.get(f.USER_ROLES)
        entry: dict[str, Any] = {
            "timestamp": record.get(f.RECORDED_AT),
            "accessed_by": record.get(f.USER_ID),
            "role": ", ".join(roles) if isinstance(roles, list) else None,
            "tool": record.get(f.TOOL_NAME),
            "action": record.get(f.TOOL_ACTION),
            "purpose": record.get(f.PURPOSE),
            "success": record.get(f.SUCCESS),
            "seq": result.seq,
            "trace_id": result.trace_id,
        }
        link = trace_link(result.trace_id)
        if link:
            entry["trace_url"] = link
        accesses.append(entry)
    integrity = check_integrity(
        query.sink,
        [r.seq for r in results],
        verifiers,
        method=integrity_method,
        key_pinned=key_pinned,
    )
    period = shown_period or (since, until)
    return {
        "subject": subject,
        "report_period": {"from": period[0], "to": period[1]},
        "total_accesses": len(accesses),
        "unique_users": len({a["accessed_by"] for a in accesses if a["accessed_by"]}),
        "accesses": accesses,
        "integrity_verified": integrity.verified,
        "integrity": integrity.to_json(),
    }
