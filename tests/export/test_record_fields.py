# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""subject, tool_action and retain_until: set by span → record from the span and the policy."""

from __future__ import annotations

import datetime

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from opentelemetry_instrumentation_toolaudit.export import (
    RetentionCategory,
    RetentionPolicy,
    build_record,
    sdk_view,
)

PSEUDONYM = "hmac-sha256:k1:0123456789abcdef0123456789abcdef"


def test_subject_action_and_retain_until_are_copied_into_the_record(span_exporter):
    """A tool span's toolaudit.subject and toolaudit.tool.action become subject and tool_action,
    and retain_until is the record's date plus the tool's retention period."""
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(span_exporter))
    with provider.get_tracer("t").start_as_current_span("execute_tool access_patient_record") as s:
        s.set_attributes(
            {
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": "access_patient_record",
                "toolaudit.subject": PSEUDONYM,
                "toolaudit.tool.action": "read",
            }
        )
    (span,) = span_exporter.get_finished_spans()
    policy = RetentionPolicy(
        [RetentionCategory("healthcare", 10, frozenset({"access_patient_record"}))]
    )
    body = build_record(sdk_view(span), "tool.call", retention=policy)
    recorded = datetime.date.fromisoformat(body["recorded_at"][:10])
    assert (body["subject"], body["tool_action"]) == (PSEUDONYM, "read")
    assert body["retain_until"] == str(recorded + datetime.timedelta(days=10))


def test_records_without_subject_or_action_leave_them_out(span_exporter):
    """A span without those attributes gives a record without subject or tool_action."""
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(span_exporter))
    with provider.get_tracer("t").start_as_current_span("chat") as s:
        s.set_attribute("gen_ai.operation.name", "chat")
    (span,) = span_exporter.get_finished_spans()
    body = build_record(sdk_view(span), "llm.request", retention=RetentionPolicy())
    assert "subject" not in body and "tool_action" not in body
    assert body["retain_until"] == str(
        datetime.date.fromisoformat(body["recorded_at"][:10]) + datetime.timedelta(days=365)
    )
