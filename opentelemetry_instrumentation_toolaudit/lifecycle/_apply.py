# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Removing payloads on the record: an ``admin`` event saying what is removed, the removal, and a
signed checkpoint covering the event.

The event is appended before the payloads are removed, so a removal is never silent: when the
removal then fails, the trail holds an event for a removal that did not (fully) happen, the error
says so, and running the command again removes what is left and records it again.
"""

from __future__ import annotations

import dataclasses
import datetime
import getpass
import os
from collections.abc import Mapping
from typing import Any

from opentelemetry_instrumentation_toolaudit._exceptions import SinkError
from opentelemetry_instrumentation_toolaudit.export._records import new_event_id, now
from opentelemetry_instrumentation_toolaudit.export._retention import FALLBACK_DAYS, RetentionPolicy
from opentelemetry_instrumentation_toolaudit.ledger import AuditLog
from opentelemetry_instrumentation_toolaudit.lifecycle._plan import RETAIN_UNTIL, Plan


@dataclasses.dataclass(frozen=True)
class Removal:
    """What a run did: the admin event's sequence number, the payloads removed, the checkpoint."""

    event_seq: int
    removed: int
    checkpoint_size: int


def os_user() -> str:
    """The operator's login name (``uid:N`` where there is none)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry (some containers)
        return f"uid:{os.getuid()}" if hasattr(os, "getuid") else "unknown"


def admin_body(
    details: Mapping[str, Any], user: str, policy: RetentionPolicy | None = None
) -> dict[str, Any]:
    """An ``admin`` record body for an action on the trail itself, made by ``user``. It is kept for
    the longest period of ``policy`` (default: the configured one): as long as any record it may
    speak of."""
    policy = policy or RetentionPolicy.configured()
    recorded_at = now()
    days = max((c.retention_days for c in policy.categories), default=FALLBACK_DAYS)
    day = datetime.datetime.fromisoformat(recorded_at.replace("Z", "+00:00")).date()
    return {
        "event_id": new_event_id(),
        "event_type": "admin",
        "recorded_at": recorded_at,
        "user_id": user,
        "success": True,
        RETAIN_UNTIL: (day + datetime.timedelta(days=days)).isoformat(),
        "details": dict(details),
    }


def remove(
    log: AuditLog,
    plan: Plan,
    details: Mapping[str, Any],
    policy: RetentionPolicy | None = None,
) -> Removal:
    """Record ``details`` as an admin event, remove the plan's payloads, then sign a checkpoint.

    Raises SinkError when the store refuses (the message says whether the event was recorded)."""
    user = os_user()
    stored = log.append([admin_body({**details, "os_user": user}, user, policy)])
    event_seq = stored[0].seq
    try:
        removed = log.sink.erase_payloads(plan.seqs)
    except SinkError as exc:
        raise SinkError(
            f"{exc}; admin event #{event_seq} records a removal that did not complete: "
            "run the command again once the store accepts it"
        ) from None
    note_size = log.sink.size()
    log.checkpoint()
    return Removal(event_seq, removed, note_size)
