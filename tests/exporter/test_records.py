# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Which spans become audit records, and what a record holds."""

from __future__ import annotations

import datetime
import itertools
import os
import uuid
from typing import Any

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode, format_span_id, format_trace_id

from opentelemetry_instrumentation_toolaudit import (
    CallTrigger,
    audit_context,
    audited_tool,
    record_event,
)
from opentelemetry_instrumentation_toolaudit.export import _records
from opentelemetry_instrumentation_toolaudit.export._sdk import sdk_view
from opentelemetry_instrumentation_toolaudit.ledger.schema import EVENT_TYPES


def build(span: Any, event_type: str | None, **kwargs: Any) -> dict[str, Any]:
    """The record body of an SDK span, through its span view."""
    assert event_type is not None
    return _records.build_record(sdk_view(span), event_type, **kwargs)


def event_type(span: Any, *enabled: Any) -> str | None:
    """The audit event type of an SDK span, through its span view."""
    view = sdk_view(span)
    return _records.event_type_of(view.attributes, view.status_error, *enabled)


RESOURCE = Resource.create(
    {
        "service.name": "support-agent",
        "service.version": "2.1.0",
        "deployment.environment.name": "production",
    }
)


@pytest.fixture
def resource_provider(span_exporter: InMemorySpanExporter) -> TracerProvider:
    provider = TracerProvider(resource=RESOURCE)
    provider.add_span_processor(SimpleSpanProcessor(span_exporter))
    return provider


@pytest.fixture
def instrumented(resource_provider: TracerProvider):
    from opentelemetry_instrumentation_toolaudit import ToolAuditInstrumentor

    instrumentor = ToolAuditInstrumentor()
    instrumentor.instrument(tracer_provider=resource_provider)
    yield resource_provider
    instrumentor.uninstrument()


@audited_tool
def update_order_status(order_id: str, status: str) -> dict[str, Any]:
    """Change an order's status."""
    return {"order_id": order_id, "status": status}


@audited_tool
def cancel_order(order_id: str) -> dict[str, Any]:
    raise PermissionError("Cannot cancel shipped order")


def _only(exporter: InMemorySpanExporter):
    (span,) = exporter.get_finished_spans()
    return span


def test_tool_call_record_holds_every_field(instrumented, span_exporter):
    """An execute_tool span becomes a tool.call record with attribution, outcome and resource."""
    with audit_context(
        user_id="usr_98765",
        user_role="support_agent",
        conversation_id="conv_abc123",
        session_id="sess_1",
        turn_number=7,
        model="gpt-4.1",
        client_address="10.0.1.5",
        user_agent="SupportDashboard/2.1",
        purpose="treatment",
        trigger=CallTrigger.USER_REQUEST,
    ):
        update_order_status("ORD-123", "shipped")
    span = _only(span_exporter)
    assert event_type(span) == "tool.call"
    body = build(span, "tool.call")
    volatile = {k: body.pop(k) for k in ("event_id", "recorded_at", "start_time", "end_time")}
    duration = body.pop("duration_ms")
    assert uuid.UUID(hex=volatile["event_id"]).version == 7
    assert volatile["start_time"].endswith("Z") and volatile["end_time"] >= volatile["start_time"]
    assert isinstance(duration, float) and duration >= 0
    assert body == {
        "event_type": "tool.call",
        "trace_id": format_trace_id(span.context.trace_id),
        "span_id": format_span_id(span.context.span_id),
        "tool_name": "update_order_status",
        "user_id": "usr_98765",
        "user_roles": ["support_agent"],
        "session_id": "sess_1",
        "conversation_id": "conv_abc123",
        "turn_number": 7,
        "model": "gpt-4.1",
        "trigger": "user_request",
        "purpose": "treatment",
        "attribution": "User usr_98765 (support_agent) → gpt-4.1 → update_order_status [user_request]",
        "client_address": "10.0.1.5",
        "user_agent": "SupportDashboard/2.1",
        "arguments": {"order_id": "ORD-123", "status": "shipped"},
        "result_summary": {"success": True, "order_id": "ORD-123", "status": "shipped"},
        "success": True,
        "service_name": "support-agent",
        "service_version": "2.1.0",
        "deployment_environment": "production",
        "details": {"attribution_source": "context"},
        "retain_until": str(
            datetime.date.fromisoformat(volatile["recorded_at"][:10]) + datetime.timedelta(days=365)
        ),
    }


def test_failed_tool_record(instrumented, span_exporter):
    """A tool that raised is recorded as unsuccessful with its error type."""
    with pytest.raises(PermissionError):
        cancel_order("ORD-1")
    body = build(_only(span_exporter), "tool.call")
    assert (body["success"], body["error_type"]) == (False, "PermissionError")
    assert body["result_summary"]["error_type"] == "PermissionError"


def test_intent_record_has_no_outcome(instrumented, span_exporter):
    """The intent form of a tool span carries who and what, but no outcome or end."""
    update_order_status("ORD-1", "open")
    body = build(_only(span_exporter), "tool.call", phase_intent=True)
    assert body["event_type"] == "tool.intent"
    assert not {"success", "result_summary", "end_time", "duration_ms"} & set(body)
    assert body["arguments"] == {"order_id": "ORD-1", "status": "open"}


def test_llm_span_becomes_llm_request(resource_provider, span_exporter):
    """A chat span from another instrumentation is an llm.request with model, tokens and hashes."""
    tracer = resource_provider.get_tracer("openai-v2")
    with tracer.start_as_current_span(
        "chat gpt-4.1",
        attributes={
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4.1",
            "gen_ai.response.model": "gpt-4.1-2025-04-14",
            "gen_ai.response.id": "chatcmpl-1",
            "gen_ai.usage.input_tokens": 150,
            "gen_ai.usage.output_tokens": 280,
            "gen_ai.input.messages_hash": "hmac-sha256:k1:abcd",
            "user.id": "usr_1",
        },
    ):
        pass
    span = _only(span_exporter)
    assert event_type(span) == "llm.request"
    body = build(span, "llm.request")
    assert (body["model"], body["provider"], body["user_id"], body["success"]) == (
        "gpt-4.1",
        "openai",
        "usr_1",
        True,
    )
    assert body["details"] == {
        "response_model": "gpt-4.1-2025-04-14",
        "response_id": "chatcmpl-1",
        "input_tokens": 150,
        "output_tokens": 280,
        "gen_ai.input.messages_hash": "hmac-sha256:k1:abcd",
    }


@pytest.mark.parametrize(
    ("span_attributes", "expected"),
    [
        ({"gen_ai.operation.name": "retrieval"}, "rag.query"),
        ({"openinference.span.kind": "RETRIEVER"}, "rag.query"),
        ({"gen_ai.operation.name": "generate_content"}, "llm.request"),
        ({"gen_ai.operation.name": "invoke_agent"}, "llm.request"),
        ({"gen_ai.operation.name": "embeddings"}, None),
        ({"http.request.method": "GET"}, None),
        ({"toolaudit.event_type": "auth"}, "auth"),
    ],
)
def test_event_type_of(resource_provider, span_exporter, span_attributes, expected):
    """Spans are classified by operation name, OpenInference kind or a declared event type."""
    resource_provider.get_tracer("t").start_span("s", attributes=span_attributes).end()
    assert event_type(_only(span_exporter)) == expected


def test_disabled_event_type_is_skipped(resource_provider, span_exporter):
    """An event type left out of the configuration yields no record."""
    resource_provider.get_tracer("t").start_span(
        "s", attributes={"gen_ai.operation.name": "chat"}
    ).end()
    enabled = set(EVENT_TYPES) - {"llm.request"}
    assert event_type(_only(span_exporter), enabled) is None


def test_guardrail_span_counts_only_when_it_blocked(resource_provider, span_exporter):
    """An OpenInference guardrail span is a guardrail.block record only when it failed."""
    tracer = resource_provider.get_tracer("t")
    tracer.start_span("pass", attributes={"openinference.span.kind": "GUARDRAIL"}).end()
    blocked = tracer.start_span("block", attributes={"openinference.span.kind": "GUARDRAIL"})
    blocked.set_status(StatusCode.ERROR)
    blocked.end()
    passed, failed = span_exporter.get_finished_spans()
    assert (event_type(passed), event_type(failed)) == (
        None,
        "guardrail.block",
    )


def test_record_event_declares_an_audit_event(instrumented, span_exporter):
    """record_event makes a span the exporter records, with attribution and redacted details."""
    with audit_context(user_id="usr_admin", user_role="admin"):
        record_event(
            "admin",
            "grant_role",
            details={"role": "supervisor", "target_user": "usr_42", "password": "hunter2"},
        )
    span = _only(span_exporter)
    assert span.name == "toolaudit admin grant_role"
    body = build(span, event_type(span))
    assert (body["event_type"], body["user_id"], body["user_roles"], body["success"]) == (
        "admin",
        "usr_admin",
        ["admin"],
        True,
    )
    assert body["details"] == {
        "action": "grant_role",
        "role": "supervisor",
        "target_user": "usr_42",
        "password": "***REDACTED***",
        "attribution_source": "context",
    }


def test_record_event_failure(instrumented, span_exporter):
    """A failed declared event (a refused login) is recorded as unsuccessful."""
    record_event("auth", "login", success=False, details={"method": "sso"})
    span = _only(span_exporter)
    assert span.status.status_code is StatusCode.ERROR
    assert build(span, "auth")["success"] is False


def test_timestamp_format():
    """Record timestamps are RFC 3339 UTC with microseconds."""
    assert _records.timestamp(1_700_000_000_123_456_789) == "2023-11-14T22:13:20.123456Z"


def test_llm_span_inside_audit_context_is_stamped(instrumented, span_exporter):
    """A chat span another instrumentation starts inside an audit_context carries the attribution,
    without its own values being overwritten."""
    tracer = instrumented.get_tracer("openai-v2")
    with audit_context(
        user_id="usr_98765", user_role="support_agent", model="gpt-4.1", turn_number=3
    ):
        tracer.start_span(
            "chat gpt-4o",
            attributes={"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o"},
        ).end()
    tracer.start_span("chat outside", attributes={"gen_ai.operation.name": "chat"}).end()
    inside, outside = span_exporter.get_finished_spans()
    assert {
        k: inside.attributes[k]
        for k in ("user.id", "user.roles", "toolaudit.turn_number", "gen_ai.request.model")
    } == {
        "user.id": "usr_98765",
        "user.roles": ("support_agent",),
        "toolaudit.turn_number": 3,
        "gen_ai.request.model": "gpt-4o",
    }
    assert "user.id" not in outside.attributes
    assert build(inside, "llm.request")["user_id"] == "usr_98765"


def test_record_event_redacts_the_attribution_at_the_source(instrumented, span_exporter):
    """The attribution on a declared event's span is redacted like a tool span's (the redacting
    processor trusts our own spans, so nothing else would catch it)."""
    with audit_context(user_id="jane.doe@example.com", purpose="card 4111 1111 1111 1111"):
        record_event("auth", "login")
    span = _only(span_exporter)
    text = str(dict(span.attributes))
    assert ("jane.doe@example.com" in text, "4111" in text) == (False, False)
    assert span.attributes["user.id"].startswith("<EMAIL:hmac-sha256:")
    assert (
        span.attributes["toolaudit.redaction.count"],
        span.attributes["toolaudit.redaction.kinds"],
    ) == (
        2,
        ("credit_card", "email"),
    )


def test_event_ids_are_unique_uuid7_in_time_order(monkeypatch):
    """UUIDv7: version and variant bits set, the leading 48 bits are the clock's Unix milliseconds
    (so later ids sort after, keeping the unique event_id index append-mostly), the rest random."""
    clock = iter(range(1_764_000_000_000_000_000, 1 << 63, 400_000))  # ns, 0.4 ms a tick
    monkeypatch.setattr(_records.time, "time_ns", lambda: next(clock))
    ids = [_records.new_event_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    for n, value in enumerate(ids):
        parsed = uuid.UUID(hex=value)
        assert (parsed.version, parsed.variant, value) == (7, uuid.RFC_4122, parsed.hex)
        assert int(value[:12], 16) == (1_764_000_000_000_000_000 + n * 400_000) // 1_000_000
    assert ids[::3] == sorted(ids[::3])  # 1.2 ms apart: strictly later milliseconds


def test_event_ids_of_one_millisecond_follow_in_creation_order(monkeypatch):
    """Ids made in the same millisecond by one process are distinct and sort in the order they
    were made (a counter after the clock, not fresh random bits per id)."""
    monkeypatch.setattr(_records, "_id_counter", itertools.count(7))
    monkeypatch.setattr(_records.time, "time_ns", lambda: 1_764_000_000_000_000_000)
    ids = [_records.new_event_id() for _ in range(1000)]
    assert (len(set(ids)), ids) == (1000, sorted(ids))


def test_a_forked_process_draws_its_own_event_id_bits():
    """A child process made by fork does not reuse its parent's random id bits, so the two never
    make the same id in the same millisecond."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its id bits and leave at once
        os.write(write, _records.new_event_id(0).encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 64).decode()
    os.close(read)
    os.waitpid(pid, 0)
    parent = _records.new_event_id(0)
    assert (len(child), child[12:24] != parent[12:24]) == (32, True)
