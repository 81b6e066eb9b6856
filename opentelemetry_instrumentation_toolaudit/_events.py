# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""``record_event``: audit events the app declares itself (logins, permission changes, guardrail blocks).

Such an event is a short span carrying ``toolaudit.event_type`` and the attribution in effect; the
audit exporter turns it into a record like any tool call, and it shows in the tracing backend too.
"""

from __future__ import annotations

import collections
from collections.abc import Mapping
from typing import Any

from opentelemetry.trace import SpanKind, Status, StatusCode

from opentelemetry_instrumentation_toolaudit import attributes as attrs
from opentelemetry_instrumentation_toolaudit._context import current_attribution
from opentelemetry_instrumentation_toolaudit._jsonable import dumps, to_jsonable
from opentelemetry_instrumentation_toolaudit._log import internal_error
from opentelemetry_instrumentation_toolaudit._recorder import redaction_attributes
from opentelemetry_instrumentation_toolaudit._state import STATE

_INT64 = 1 << 63


def _attribute(value: Any) -> Any:
    """A detail as a span attribute: scalars as they are (an integer beyond 64 bits, which OTLP
    cannot carry, as its digits), anything else as (redacted) JSON."""
    if isinstance(value, int) and not isinstance(value, bool) and not -_INT64 <= value < _INT64:
        return str(value)
    if isinstance(value, (str, bool, int, float)):
        return value
    return dumps(to_jsonable(value))


def record_event(
    event_type: str,
    action: str,
    *,
    success: bool = True,
    details: Mapping[str, Any] | None = None,
) -> None:
    """Record an audit event the app declares, e.g. ``record_event("admin", "grant_role",
    details={"role": "supervisor", "target_user": "usr_42"})``.

    ``event_type`` is one of ``auth``, ``admin``, ``guardrail.block``, ``rag.query`` (or another
    type the exporter is configured to keep). ``details`` are redacted like tool arguments. Never raises.
    """
    try:
        policy = STATE.policy
        # Our own spans are redacted here, at the source (the redacting processor trusts them):
        # the attribution as much as the details.
        found: dict[str, int] = collections.defaultdict(int)
        values: dict[str, Any] = current_attribution().span_attributes()
        values[attrs.TOOLAUDIT_EVENT_TYPE] = event_type
        values[attrs.TOOLAUDIT_EVENT_ACTION] = action
        for key, value in to_jsonable(dict(details or {})).items():
            values[f"{attrs.TOOLAUDIT_EVENT_PREFIX}{key}"] = _attribute(value)
        values = policy.redact_collect(values, found)
        values[attrs.TOOLAUDIT_SUCCESS] = success
        if found:
            values.update(redaction_attributes(found))
        span = STATE.current_tracer().start_span(
            f"toolaudit {event_type} {action}", kind=SpanKind.INTERNAL, attributes=values
        )
        if not success:
            span.set_status(Status(StatusCode.ERROR, f"{event_type} {action} failed"))
        span.end()
    except Exception as exc:  # noqa: BLE001 - telemetry never breaks the app
        internal_error("recording an audit event", exc)
