# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Gemini AFC running MCP session tools: one client-side span per call, with the model's call id."""

from __future__ import annotations

import pytest

from opentelemetry_instrumentation_toolaudit import audit_context

from ..conftest import tool_spans
from .fake_gemini import MODEL_VERSION, FakeGemini, function_calls, text
from .genai_support import CONTEXT, MODEL, client_for
from .mcp_support import CARRIES_CONTEXT, MCP2, connected, make_server

pytestmark = pytest.mark.usefixtures("instrument")


@pytest.fixture(autouse=True)
def sdk_spans_to_test_provider(monkeypatch, tracer_provider) -> None:
    """mcp 2.x makes its own spans with the global tracer: point them at this test's provider."""
    if MCP2:
        from mcp.shared import _otel

        monkeypatch.setattr(_otel, "_tracer", tracer_provider.get_tracer("mcp-python-sdk"))


async def test_afc_mcp_tool_has_one_client_span_with_the_call_id(span_exporter):
    """The AFC span and the MCP client span are one span; the server's is its descendant."""
    script = [
        function_calls(
            ("get_order", "call-1", {"order_id": "ORD-456"}),
            ("cancel_order", "call-2", {"order_id": "ORD-456"}),
        ),
        text("done"),
    ]
    with FakeGemini(script) as fake:
        client = client_for(fake)
        async with connected(make_server()) as (session, _):
            # A dict: google-genai deep-copies a config object, and an mcp 2.x session holds tasks.
            config = {"tools": [session]}
            with audit_context(**CONTEXT):
                response = await client.aio.models.generate_content(
                    model=MODEL, contents="x", config=config
                )
        sent = fake.function_responses(1)
    assert response.text == "done"
    assert [r["name"] for r in sent] == ["get_order", "cancel_order"]
    assert "error" in sent[1]["response"]

    spans = tool_spans(span_exporter)
    clients = [s for s in spans if "gen_ai.tool.call.id" in s.attributes]
    servers = [s for s in spans if s not in clients]
    assert len(servers) == 2
    common = {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.type": "function",
        "gen_ai.tool.call.arguments": '{"order_id":"ORD-456"}',
        "gen_ai.request.model": MODEL,
        "gen_ai.response.model": MODEL_VERSION,
        "gen_ai.provider.name": "gcp.gemini",
        "gen_ai.conversation.id": "conv_abc123",
        "mcp.method.name": "tools/call",
        "user.id": "usr_98765",
        "user.roles": ("support_agent",),
        "toolaudit.attribution.source": "context",
        "toolaudit.trigger": "user_request",
    }
    crash_text = "Error executing tool cancel_order" + (
        "" if MCP2 else ": Cannot cancel shipped order"
    )
    assert [dict(s.attributes) for s in clients] == [
        common
        | {
            "gen_ai.tool.name": "get_order",
            "gen_ai.tool.call.id": "call-1",
            "toolaudit.attribution": f"User usr_98765 (support_agent) → {MODEL} → get_order [user_request]",
            "toolaudit.result.summary": '{"success":true,"order_id":"ORD-456","status":"shipped"}',
            "toolaudit.success": True,
        },
        common
        | {
            "gen_ai.tool.name": "cancel_order",
            "gen_ai.tool.call.id": "call-2",
            "toolaudit.attribution": f"User usr_98765 (support_agent) → {MODEL} → cancel_order [user_request]",
            "toolaudit.result.summary": f'{{"success":false,"error":"{crash_text}"}}',
            "toolaudit.success": False,
            "error.type": "tool_error",
        },
    ]
    if CARRIES_CONTEXT:  # each server span is in the trace of the client span of its call
        traces = {s.attributes["gen_ai.tool.name"]: s.context.trace_id for s in clients}
        assert {s.attributes["gen_ai.tool.name"]: s.context.trace_id for s in servers} == traces
