# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""An MCP server with a few tools, and a real client session connected to it in process.

The streams are plain anyio memory streams: unlike mcp 2.x's own in-memory transport they do not
carry the client's contextvars to the server, so the server sees only what crosses the wire
(``_meta``), as it would in another process.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from mcp import ClientSession

from opentelemetry_instrumentation_toolaudit.integrations._support import release

MCP2 = (release("mcp") or (0,)) >= (2,)
# mcp 2.x propagates trace context itself; 1.19+ clients accept the ``meta`` this package fills in.
CARRIES_CONTEXT = MCP2 or "meta" in inspect.signature(ClientSession.call_tool).parameters

if MCP2:
    from mcp.server.mcpserver import MCPServer as Server
    from mcp.server.mcpserver.exceptions import ToolError
    from mcp.server.mcpserver.tools import tool_manager
else:
    from mcp.server.fastmcp import FastMCP as Server  # type: ignore[no-redef]
    from mcp.server.fastmcp.exceptions import ToolError  # type: ignore[no-redef]
    from mcp.server.fastmcp.tools import tool_manager  # type: ignore[no-redef]

__all__ = [
    "CARRIES_CONTEXT",
    "MCP2",
    "Server",
    "ToolError",
    "connected",
    "make_server",
    "tool_manager",
]


def make_server() -> Any:
    """An order-desk server: one tool that works, one that crashes, one that refuses."""
    server = Server("orders")

    @server.tool()
    def get_order(order_id: str) -> dict[str, Any]:
        """Fetch an order and its status.

        Not part of the description.
        """
        return {"order_id": order_id, "status": "shipped"}

    @server.tool()
    def cancel_order(order_id: str) -> dict[str, Any]:
        """Cancel an order."""
        raise PermissionError("Cannot cancel shipped order")

    @server.tool()
    def refund(order_id: str) -> dict[str, Any]:
        """Refund an order."""
        raise ToolError("refund window closed")

    return server


@asynccontextmanager
async def connected(server: Any) -> AsyncIterator[tuple[ClientSession, str]]:
    """A client session initialised against ``server``, and the protocol version they agreed."""
    lowlevel = server._lowlevel_server if MCP2 else server._mcp_server
    client_to_server = anyio.create_memory_object_stream[Any](16)
    server_to_client = anyio.create_memory_object_stream[Any](16)
    async with anyio.create_task_group() as tg:

        async def run_server() -> None:
            await lowlevel.run(
                client_to_server[1],
                server_to_client[0],
                lowlevel.create_initialization_options(),
            )

        tg.start_soon(run_server)
        async with ClientSession(server_to_client[1], client_to_server[0]) as session:
            result = await session.initialize()
            version = getattr(result, "protocol_version", None) or result.protocolVersion
            yield session, version
        tg.cancel_scope.cancel()
