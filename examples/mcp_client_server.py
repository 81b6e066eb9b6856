# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""An MCP client and server in two processes, both audited: no API key, no network.

The client starts this same file as an MCP server over stdio and calls two of its tools inside an
``audit_context``. Each side records one ``execute_tool`` span per call and prints it as a line
(the server on stderr). The client sends W3C trace context and, because it opted in with
``OTEL_PYTHON_TOOLAUDIT_BAGGAGE=inject``, the attribution as baggage in the request ``_meta``; the
server, started with ``OTEL_PYTHON_TOOLAUDIT_BAGGAGE=extract``, joins the client's trace and records
who asked, marked as coming from baggage (a caller's claim, not something the server checked).

Run it with ``python examples/mcp_client_server.py``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any, TextIO

import anyio
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import get_default_environment, stdio_client
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

from opentelemetry_instrumentation_toolaudit import ToolAuditInstrumentor, audit_context

try:  # mcp 2.x
    from mcp.server.mcpserver import MCPServer as Server
    from mcp.server.mcpserver.exceptions import ToolError
except ImportError:  # mcp 1.x
    from mcp.server.fastmcp import FastMCP as Server  # type: ignore[no-redef]
    from mcp.server.fastmcp.exceptions import ToolError  # type: ignore[no-redef]


class AuditLinePrinter(SpanExporter):
    """Prints each execute_tool span as one readable audit line."""

    def __init__(self, side: str, out: TextIO) -> None:
        self._side = side
        self._out = out

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        for span in spans:
            a = span.attributes or {}
            if a.get("gen_ai.operation.name") != "execute_tool":
                continue
            outcome = "ok" if a.get("toolaudit.success") else f"FAILED ({a.get('error.type')})"
            source = " (from baggage)" if a.get("toolaudit.attribution.source") == "baggage" else ""
            print(
                f"{self._side}: {a['gen_ai.tool.name']}({a.get('gen_ai.tool.call.arguments')})"
                f" → {outcome}  trace={span.context.trace_id:032x}\n"
                f"{' ' * len(self._side)}  {a.get('toolaudit.attribution')}{source}",
                file=self._out,
                flush=True,
            )
        return SpanExportResult.SUCCESS


def instrument(side: str, out: TextIO) -> TracerProvider:
    provider = TracerProvider(resource=Resource.create({"service.name": f"orders-{side}"}))
    provider.add_span_processor(SimpleSpanProcessor(AuditLinePrinter(side, out)))
    # Global too: mcp 2.x makes its own spans (the server's is enriched, not duplicated).
    trace.set_tracer_provider(provider)
    ToolAuditInstrumentor().instrument(tracer_provider=provider)
    return provider


# --- the server -----------------------------------------------------------------------------
def serve() -> None:
    # stdout is the MCP channel: the server's audit lines go to stderr.
    provider = instrument("server", sys.stderr)
    server = Server("orders")

    @server.tool()
    def get_order(order_id: str) -> dict[str, Any]:
        """Fetch an order and its status."""
        return {"order_id": order_id, "status": "shipped"}

    @server.tool()
    def cancel_order(order_id: str) -> dict[str, Any]:
        """Cancel an order that has not shipped."""
        # A deliberate refusal: the model gets the message as an isError result.
        raise ToolError("Cannot cancel a shipped order")

    try:
        server.run("stdio")
    finally:
        provider.shutdown()


# --- the client -----------------------------------------------------------------------------
async def run_client() -> None:
    params = StdioServerParameters(
        command=sys.executable,
        args=[__file__, "serve"],
        env={**get_default_environment(), "OTEL_PYTHON_TOOLAUDIT_BAGGAGE": "extract"},
    )
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        with audit_context(
            user_id="usr_98765",
            user_role="support_agent",
            conversation_id="conv_abc123",
            model="gpt-4.1",
        ):
            for tool in ("get_order", "cancel_order"):
                result = await session.call_tool(tool, {"order_id": "ORD-456"})
                text = result.content[0].text if result.content else ""
                print(f"client: {tool} returned {text!r}", flush=True)


def main() -> None:
    os.environ["OTEL_PYTHON_TOOLAUDIT_BAGGAGE"] = "inject"
    provider = instrument("client", sys.stdout)
    try:
        anyio.run(run_client)
    finally:
        provider.shutdown()


if __name__ == "__main__":
    serve() if sys.argv[1:] == ["serve"] else main()
