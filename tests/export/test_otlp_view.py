# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""A span exported over OTLP and decoded gives the same record body as the SDK span it came from."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

from opentelemetry_instrumentation_toolaudit import (
    CallTrigger,
    ToolAuditInstrumentor,
    audit_context,
    audited_tool,
)
from opentelemetry_instrumentation_toolaudit.export import (
    RetentionPolicy,
    build_record,
    event_type_of,
    otlp_views,
    sdk_view,
)
from tests.otlp_receiver import Received

RESOURCE = Resource.create(
    {"service.name": "support-agent", "deployment.environment.name": "production"}
)


@audited_tool
def issue_refund(order_id: str, amount: float) -> dict[str, Any]:
    """Refund an order."""
    if amount > 100:
        raise ValueError("over the limit")
    return {"order_id": order_id, "status": "refunded", "count": 1}


@pytest.fixture
def both(otlp_server: Received) -> Iterator[tuple[InMemorySpanExporter, Received]]:
    """A provider whose spans go to memory and, through the real OTLP exporter, to a receiver."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=RESOURCE)
    provider.add_span_processor(SimpleSpanProcessor(memory))
    provider.add_span_processor(
        SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{otlp_server.url}/v1/traces"))
    )
    instrumentor = ToolAuditInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        with audit_context(
            user_id="usr_98765",
            user_role=["support_agent", "refunds"],
            conversation_id="conv_1",
            turn_number=3,
            model="gpt-4.1",
            trigger=CallTrigger.USER_REQUEST,
        ):
            issue_refund("ORD-1", 12.5)
            with pytest.raises(ValueError):
                issue_refund("ORD-2", 500.0)
        tracer = provider.get_tracer("genai-app")
        with tracer.start_as_current_span("chat gpt-4.1") as span:
            span.set_attributes(
                {
                    "gen_ai.operation.name": "chat",
                    "gen_ai.request.model": "gpt-4.1",
                    "gen_ai.response.finish_reasons": ("stop", "tool_calls"),
                    "gen_ai.usage.input_tokens": 120,
                    "gen_ai.prompt_hash": "hmac-sha256:k:00ff",
                }
            )
            span.set_status(Status(StatusCode.ERROR))
        provider.force_flush()
    finally:
        instrumentor.uninstrument()
    yield memory, otlp_server


def _comparable(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in ("event_id", "recorded_at")}


def test_an_otlp_span_gives_the_record_body_of_its_sdk_span(both):
    """Each span decoded from the OTLP bytes the real exporter sent gives the same record body
    (event id and record time aside) as the SDK span it was made from."""
    memory, received = both
    retention = RetentionPolicy()
    decoded = {
        view.span_id: view
        for path, body in received.requests
        if path.endswith("/v1/traces")
        for view in otlp_views(ExportTraceServiceRequest.FromString(body))
    }
    compared = []
    for span in memory.get_finished_spans():
        sdk = sdk_view(span)
        otlp = decoded[span.context.span_id.to_bytes(8, "big")]
        kind = event_type_of(sdk.attributes, sdk.status_error)
        assert event_type_of(otlp.attributes, otlp.status_error) == kind
        assert otlp.scope_name == sdk.scope_name
        if kind is None:
            continue
        expected = build_record(sdk, kind, retention=retention)
        actual = build_record(otlp, kind, retention=retention)
        assert _comparable(actual) == _comparable(expected)
        compared.append((kind, expected.get("success")))
    assert sorted(compared) == [
        ("llm.request", False),
        ("tool.call", False),
        ("tool.call", True),
    ]
