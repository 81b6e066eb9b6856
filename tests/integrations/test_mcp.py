# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""MCP: a real client session and a real server in process, both sides instrumented."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from mcp import ClientSession
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from opentelemetry_instrumentation_toolaudit import ToolAuditInstrumentor, audit_context
from opentelemetry_instrumentation_toolaudit.integrations import _support

from ..conftest import tool_spans
from .mcp_support import CARRIES_CONTEXT, MCP2, ToolError, connected, make_server, tool_manager

CONTEXT: dict[str, Any] = {
    "user_id": "usr_98765",
    "user_role": "support_agent",
    "conversation_id": "conv_abc123",
    "model": "gpt-4.1",
}
ATTRIBUTION: dict[str, Any] = {
    "user.id": "usr_98765",
    "user.roles": ("support_agent",),
    "gen_ai.conversation.id": "conv_abc123",
    "gen_ai.request.model": "gpt-4.1",
    "toolaudit.attribution.source": "context",
    "toolaudit.trigger": "user_request",
}
GET_ORDER_SUMMARY = '{"success":true,"order_id":"ORD-456","status":"shipped"}'


def sides(spans: list[ReadableSpan]) -> tuple[list[ReadableSpan], list[ReadableSpan]]:
    """The execute_tool spans of the client side and of the server side."""
    server = [s for s in spans if "gen_ai.tool.description" in (s.attributes or {})]
    client = [s for s in spans if s not in server]
    return client, server


def client_attributes(tool: str, arguments: str, summary: str, success: bool) -> dict[str, Any]:
    return {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": tool,
        "gen_ai.tool.type": "function",
        "gen_ai.tool.call.arguments": arguments,
        "mcp.method.name": "tools/call",
        **ATTRIBUTION,
        "toolaudit.attribution": f"User usr_98765 (support_agent) → gpt-4.1 → {tool} [user_request]",
        "toolaudit.result.summary": summary,
        "toolaudit.success": success,
    }


def server_attributes(
    tool: str,
    description: str,
    arguments: str,
    summary: str,
    success: bool,
    request_id: str,
    protocol: str,
    from_baggage: bool = True,
) -> dict[str, Any]:
    values: dict[str, Any] = {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": tool,
        "gen_ai.tool.type": "function",
        "gen_ai.tool.description": description,
        "gen_ai.tool.call.arguments": arguments,
        "mcp.method.name": "tools/call",
        "jsonrpc.request.id": request_id,
        "toolaudit.trigger": "user_request",
        "toolaudit.result.summary": summary,
        "toolaudit.success": success,
    }
    if from_baggage:
        values |= ATTRIBUTION | {"toolaudit.attribution.source": "baggage"}
        values["toolaudit.attribution"] = (
            f"User usr_98765 (support_agent) → gpt-4.1 → {tool} [user_request]"
        )
    else:
        values["toolaudit.attribution"] = (
            f"User unknown (unknown) → unknown → {tool} [user_request]"
        )
    if MCP2:  # the SDK's own server span, enriched
        values["mcp.protocol.version"] = protocol
    return values


def sent_request_id(spans: list[ReadableSpan], tool: str) -> str:
    """The JSON-RPC id of the client's tools/call request (mcp 2.x spans it; 1.x counts requests)."""
    if MCP2:
        (send,) = [s for s in spans if s.name == f"MCP send tools/call {tool}"]
        return str(send.attributes["jsonrpc.request.id"])
    return "*"


@pytest.fixture(autouse=True)
def sdk_spans_to_test_provider(monkeypatch, tracer_provider) -> None:
    """mcp 2.x makes its own spans with the global tracer: point them at this test's provider."""
    if MCP2:
        from mcp.shared import _otel

        monkeypatch.setattr(_otel, "_tracer", tracer_provider.get_tracer("mcp-python-sdk"))


needs_context = pytest.mark.skipif(
    not CARRIES_CONTEXT, reason="mcp < 1.19 clients cannot send trace context in _meta"
)


@pytest.fixture
def baggage_both(monkeypatch) -> None:
    """One process plays both services: the client injects attribution, the server extracts it."""
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_BAGGAGE", "both")


@needs_context
@pytest.mark.usefixtures("instrument", "baggage_both")
async def test_client_and_server_spans_join_one_trace(span_exporter):
    """One span per side; the server's joins the client's trace and takes the attribution from baggage."""
    async with connected(make_server()) as (session, protocol):
        with audit_context(**CONTEXT):
            result = await session.call_tool("get_order", {"order_id": "ORD-456"})
    assert not (result.is_error if MCP2 else result.isError)

    spans = span_exporter.get_finished_spans()
    (client,), (server,) = sides(tool_spans(span_exporter))
    assert client.name == "execute_tool get_order"
    assert client.kind is SpanKind.INTERNAL
    assert dict(client.attributes) == client_attributes(
        "get_order", '{"order_id":"ORD-456"}', GET_ORDER_SUMMARY, True
    )
    request_id = sent_request_id(spans, "get_order")
    if not MCP2:
        request_id = server.attributes["jsonrpc.request.id"]
        assert request_id.isdigit()
    assert dict(server.attributes) == server_attributes(
        "get_order",
        "Fetch an order and its status.",
        '{"order_id":"ORD-456"}',
        GET_ORDER_SUMMARY,
        True,
        request_id,
        protocol,
    )
    # Linkage: the server span is in the client's trace, under the client's tool span.
    assert server.context.trace_id == client.context.trace_id
    by_id = {s.context.span_id: s for s in spans}
    parent = by_id[server.parent.span_id]
    if MCP2:  # the SDK's own "MCP send" client span sits in between
        assert (server.name, server.kind) == ("tools/call get_order", SpanKind.SERVER)
        assert parent.name == "MCP send tools/call get_order"
        parent = by_id[parent.parent.span_id]
    assert parent is client


@needs_context
@pytest.mark.usefixtures("instrument", "baggage_both")
async def test_tool_failures_on_both_sides(span_exporter):
    """A crash and a deliberate ToolError: isError results on the client, the exception on the server."""
    async with connected(make_server()) as (session, protocol):
        with audit_context(**CONTEXT):
            crashed = await session.call_tool("cancel_order", {"order_id": "ORD-456"})
            refused = await session.call_tool("refund", {"order_id": "ORD-456"})
    assert [r.is_error if MCP2 else r.isError for r in (crashed, refused)] == [True, True]

    spans = span_exporter.get_finished_spans()
    clients, servers = sides(tool_spans(span_exporter))
    crash_text = "Error executing tool cancel_order" + (
        "" if MCP2 else ": Cannot cancel shipped order"
    )
    assert [dict(s.attributes) for s in clients] == [
        client_attributes(
            "cancel_order",
            '{"order_id":"ORD-456"}',
            f'{{"success":false,"error":"{crash_text}"}}',
            False,
        )
        | {"error.type": "tool_error"},
        client_attributes(
            "refund",
            '{"order_id":"ORD-456"}',
            '{"success":false,"error":"Error executing tool refund: refund window closed"}',
            False,
        )
        | {"error.type": "tool_error"},
    ]
    assert [s.status.status_code for s in clients] == [StatusCode.ERROR, StatusCode.ERROR]

    crash, refusal = servers
    tool_error = f"{ToolError.__module__}.{ToolError.__qualname__}"
    for span, tool, description, summary, exception_type, event_type in (
        (
            crash,
            "cancel_order",
            "Cancel an order.",
            '{"success":false,"error":"Cannot cancel shipped order","error_type":"PermissionError"}',
            "PermissionError",
            "PermissionError",
        ),
        (
            refusal,
            "refund",
            "Refund an order.",
            '{"success":false,"error":"refund window closed","error_type":"ToolError"}',
            "ToolError",
            tool_error,
        ),
    ):
        request_id = sent_request_id(spans, tool) if MCP2 else span.attributes["jsonrpc.request.id"]
        expected = server_attributes(
            tool, description, '{"order_id":"ORD-456"}', summary, False, request_id, protocol
        )
        # mcp 2.x's server span sets error.type = tool_error (MCP semconv) after our wrapper
        # recorded the exception class; the class stays in the summary and the exception event.
        expected["error.type"] = "tool_error" if MCP2 else exception_type
        assert dict(span.attributes) == expected
        assert span.status.status_code is StatusCode.ERROR
        assert [e.attributes["exception.type"] for e in span.events] == [event_type]


@needs_context
@pytest.mark.usefixtures("instrument")
async def test_server_ignores_baggage_unless_opted_in(span_exporter, monkeypatch):
    """Without OTEL_PYTHON_TOOLAUDIT_BAGGAGE=extract the server does not take attribution from the caller."""
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_BAGGAGE", "off")
    async with connected(make_server()) as (session, protocol):
        with audit_context(**CONTEXT, propagate=True):
            await session.call_tool("get_order", {"order_id": "ORD-456"})

    spans = span_exporter.get_finished_spans()
    (client,), (server,) = sides(tool_spans(span_exporter))
    request_id = (
        sent_request_id(spans, "get_order") if MCP2 else server.attributes["jsonrpc.request.id"]
    )
    assert dict(server.attributes) == server_attributes(
        "get_order",
        "Fetch an order and its status.",
        '{"order_id":"ORD-456"}',
        GET_ORDER_SUMMARY,
        True,
        request_id,
        protocol,
        from_baggage=False,
    )
    assert server.context.trace_id == client.context.trace_id


def _targets() -> list[tuple[Any, str]]:
    return [(ClientSession, "call_tool"), (tool_manager.ToolManager, "call_tool")]


async def test_uninstrument_restores_every_attribute(tracer_provider, span_exporter):
    """Uninstrument puts back the very objects that were there, and calls then record nothing."""
    before = [vars(owner)[attr] for owner, attr in _targets()]
    instrumentor = ToolAuditInstrumentor()
    instrumentor.instrument(tracer_provider=tracer_provider)
    try:
        assert all(vars(o)[a] is not b for (o, a), b in zip(_targets(), before, strict=True))
    finally:
        instrumentor.uninstrument()
    assert all(vars(o)[a] is b for (o, a), b in zip(_targets(), before, strict=True))
    async with connected(make_server()) as (session, _):
        await session.call_tool("get_order", {"order_id": "ORD-456"})
    spans = span_exporter.get_finished_spans()
    assert [s for s in spans if "toolaudit.attribution" in (s.attributes or {})] == []


def test_unsupported_version_is_skipped_and_logged_once(tracer_provider, monkeypatch, caplog):
    """An mcp release outside the supported range is left unpatched, with one warning."""
    monkeypatch.setattr(_support, "_reported", set())
    real_release = _support.release
    monkeypatch.setattr(
        _support, "release", lambda dist: (1, 9, 0) if dist == "mcp" else real_release(dist)
    )
    before = [vars(owner)[attr] for owner, attr in _targets()]
    caplog.set_level(logging.WARNING, logger="opentelemetry_instrumentation_toolaudit")
    instrumentor = ToolAuditInstrumentor()
    for _ in range(2):
        instrumentor.instrument(tracer_provider=tracer_provider)
        try:
            assert all(vars(o)[a] is b for (o, a), b in zip(_targets(), before, strict=True))
        finally:
            instrumentor.uninstrument()
    assert [r.getMessage() for r in caplog.records] == [
        "toolaudit: integration mcp skipped: mcp 1.9.0 is outside the supported range >=1.10,<3"
    ]
