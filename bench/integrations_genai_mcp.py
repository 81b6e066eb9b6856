# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Per-call cost of the google-genai and MCP integrations, beside the same path untraced and with a bare span.

Each figure is one tool call through the framework's own dispatch code, no network:

* ``genai AFC step``: ``_extra_utils.get_function_response_parts`` for a model response asking for
  one function call (argument conversion, the call, the response part), as AFC runs it;
* ``mcp server call``: ``ToolManager.call_tool`` of an ``MCPServer`` (``FastMCP`` on mcp 1.x):
  argument validation, the call, result conversion.

Three cases per path, measured in the same run on the same TracerProvider: ``untraced`` (toolaudit
not instrumented), ``+ bare SDK span`` (still not instrumented; the tool itself wrapped in a plain
span: the least any tool-span instrumentation costs) and ``audited`` (instrumented, inside an
``audit_context``). Rounds alternate between the uninstrumented and the instrumented state, so a
machine that slows down mid-run slows all cases alike.

Usage: ``python bench/integrations_genai_mcp.py [--calls N] [--repeat R]``
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import statistics
from collections.abc import Callable
from typing import Any

from _common import DiscardingExporter, alternating_rounds, repeated
from google.genai import _extra_utils, types
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

try:
    from mcp.server.mcpserver import MCPServer as Server
except ImportError:
    from mcp.server.fastmcp import FastMCP as Server  # type: ignore[no-redef]


ATTRIBUTION: dict[str, Any] = {
    "user_id": "usr_98765",
    "user_role": "support_agent",
    "conversation_id": "conv_abc123",
    "model": "gemini-2.5-flash",
}


def get_order(order_id: str) -> dict[str, Any]:
    """Fetch an order and its status."""
    return {"order_id": order_id, "status": "shipped"}


async def get_order_async(order_id: str) -> dict[str, Any]:
    """Fetch an order and its status (async: MCP runs a sync tool in a worker thread)."""
    return {"order_id": order_id, "status": "shipped"}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args(argv)

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(DiscardingExporter(), max_queue_size=1 << 16))
    tracer = provider.get_tracer("bench")

    def spanned(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def with_span(**kwargs: Any) -> Any:
            with tracer.start_as_current_span("execute_tool get_order"):
                return fn(**kwargs)

        return with_span

    def spanned_async(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        async def with_span(**kwargs: Any) -> Any:
            with tracer.start_as_current_span("execute_tool get_order"):
                return await fn(**kwargs)

        return with_span

    response = types.GenerateContentResponse(
        candidates=[
            types.Candidate(
                content=types.Content(
                    role="model",
                    parts=[
                        types.Part(
                            function_call=types.FunctionCall(
                                id="fc-1", name="get_order", args={"order_id": "ORD-456"}
                            )
                        )
                    ],
                )
            )
        ],
        model_version="gemini-2.5-flash-001",
    )
    plain_map = {"get_order": get_order}
    span_map = {"get_order": spanned(get_order)}

    server = Server("bench")
    server.add_tool(get_order_async, name="get_order")
    server_spanned = Server("bench-spanned")
    server_spanned.add_tool(spanned_async(get_order_async), name="get_order")
    loop = asyncio.new_event_loop()

    def mcp_calls(target: Any) -> Callable[[int], Any]:
        manager = target._tool_manager

        async def calls(n: int) -> None:
            for _ in range(n):
                await manager.call_tool(
                    "get_order", {"order_id": "ORD-456"}, None, convert_result=True
                )

        return lambda n: loop.run_until_complete(calls(n))

    untraced: dict[str, Callable[[int], Any]] = {
        "genai AFC step, untraced": repeated(
            lambda: _extra_utils.get_function_response_parts(response, plain_map)
        ),
        "genai AFC step + bare SDK span": repeated(
            lambda: _extra_utils.get_function_response_parts(response, span_map)
        ),
        "mcp server call, untraced": mcp_calls(server),
        "mcp server call + bare SDK span": mcp_calls(server_spanned),
    }
    audited: dict[str, Callable[[int], Any]] = {
        "genai AFC step, audited": untraced["genai AFC step, untraced"],
        "mcp server call, audited": untraced["mcp server call, untraced"],
    }

    try:
        runs = alternating_rounds(
            untraced, audited, provider, ATTRIBUTION, args.repeat, lambda name: args.calls
        )
    finally:
        loop.close()
        provider.shutdown()

    figures = {name: statistics.median(values) for name, values in runs.items()}
    print(f"calls={args.calls} repeat={args.repeat} processor=batch (median of means, µs/call)")
    for path in ("genai AFC step", "mcp server call"):
        base = figures[f"{path}, untraced"]
        span_cost = figures[f"{path} + bare SDK span"] - base
        ours = figures[f"{path}, audited"] - base
        for name in (f"{path}, untraced", f"{path} + bare SDK span", f"{path}, audited"):
            print(f"  {name:<32} {figures[name]:8.2f}")
        print(
            f"  {path}: a bare span adds {span_cost:.2f} µs, auditing adds {ours:.2f} µs"
            f" ({ours / span_cost:.2f}x the bare span's cost)"
        )


if __name__ == "__main__":
    main()
