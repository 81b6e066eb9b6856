# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Fail-closed tools are refused whichever way they are reached: MCP server dispatch, Gemini AFC."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from opentelemetry_instrumentation_toolaudit import (
    AuditLogExporter,
    AuditUnavailableError,
    ToolAuditInstrumentor,
)
from opentelemetry_instrumentation_toolaudit.ledger import AuditLog, NoteSigner, open_sink

from ..conftest import tool_spans
from .fake_gemini import FakeGemini, function_calls, text
from .genai_support import generate
from .mcp_support import MCP2, connected

RAN: list[str] = []


def get_order(order_id: str) -> dict[str, Any]:
    """Fetch an order (fail-closed in these tests)."""
    RAN.append(order_id)
    return {"order_id": order_id, "status": "shipped"}


@pytest.fixture
def fail_closed(tracer_provider: TracerProvider) -> Iterator[None]:
    """get_order is fail-closed, and no audit exporter is configured: it must never run."""
    RAN.clear()
    instrumentor = ToolAuditInstrumentor()
    instrumentor.instrument(tracer_provider=tracer_provider, fail_closed_tools=["get_order"])
    yield
    instrumentor.uninstrument()


@pytest.fixture
def mcp_tracer(monkeypatch, tracer_provider) -> None:
    if MCP2:
        from mcp.shared import _otel

        monkeypatch.setattr(_otel, "_tracer", tracer_provider.get_tracer("mcp-python-sdk"))


def order_server() -> Any:
    from .mcp_support import Server

    server = Server("orders")
    server.tool()(get_order)
    return server


@pytest.mark.usefixtures("fail_closed", "mcp_tracer")
async def test_mcp_client_refuses_a_fail_closed_tool(span_exporter):
    """Called through an MCP client session, a fail-closed tool with no audit sink is refused before
    the request is sent: the caller gets AuditUnavailableError and the server never runs it."""
    async with connected(order_server()) as (session, _):
        with pytest.raises(AuditUnavailableError):
            await session.call_tool("get_order", {"order_id": "ORD-1"})
    assert RAN == []
    (span,) = tool_spans(span_exporter)
    assert span.attributes["error.type"] == "AuditUnavailableError"


@pytest.mark.usefixtures("fail_closed", "mcp_tracer")
async def test_mcp_server_refuses_a_fail_closed_tool(span_exporter):
    """Dispatched by the MCP server's tool manager, a fail-closed tool with no audit sink does not run."""
    with pytest.raises(Exception) as caught:
        await order_server().call_tool("get_order", {"order_id": "ORD-1"})
    assert RAN == []
    chain = [caught.value, caught.value.__cause__, caught.value.__context__]
    assert any(isinstance(e, AuditUnavailableError) for e in chain)


@pytest.mark.usefixtures("fail_closed")
def test_gemini_afc_refuses_a_fail_closed_tool(span_exporter):
    """Run by Gemini automatic function calling, a fail-closed tool with no audit sink does not run."""
    script = [function_calls(("get_order", "call-1", {"order_id": "ORD-1"})), text("Sorry.")]
    with FakeGemini(script) as fake:
        generate(fake, get_order)
    assert RAN == []
    (span,) = tool_spans(span_exporter)
    assert span.attributes["error.type"] == "AuditUnavailableError"


def test_gemini_afc_fail_closed_tool_writes_intent_first(tracer_provider, tmp_path: Path):
    """With an audit sink, the AFC tool runs after its intent record, and the outcome follows."""
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    exporter = AuditLogExporter(
        AuditLog(open_sink(url), signer=NoteSigner.from_file(tmp_path / "k"))
    )
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    instrumentor = ToolAuditInstrumentor()
    instrumentor.instrument(tracer_provider=tracer_provider, fail_closed_tools=["get_order"])
    RAN.clear()
    script = [function_calls(("get_order", "call-1", {"order_id": "ORD-1"})), text("Shipped.")]
    try:
        with FakeGemini(script) as fake:
            generate(fake, get_order)
    finally:
        instrumentor.uninstrument()
        exporter.shutdown()
    assert RAN == ["ORD-1"]
    with open_sink(url, create=False) as sink:
        records = [r.record for r in sink.read()]
    assert [(r["event_type"], r["call_id"]) for r in records] == [
        ("tool.intent", "call-1"),
        ("tool.call", "call-1"),
    ]
