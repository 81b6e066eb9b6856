# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Per-call cost of the LangChain, LlamaIndex and pydantic-ai integrations, beside the same path
untraced and with a bare span.

Each figure is one tool call through the framework's own code, no network:

* ``langchain invoke``: ``tool.invoke(tool_call)`` of a ``@tool`` (input validation, callbacks, the
  call, the ``ToolMessage``), as LangGraph's ``ToolNode`` runs it;
* ``llamaindex call``: ``FunctionTool.call`` (the ``ToolOutput`` included);
* ``pydantic-ai run``: a whole ``Agent.run_sync`` whose ``FunctionModel`` asks for one tool call and
  then answers (two model steps and the graph around them: the tool is a small part of it).

Three cases per path, measured in the same run on the same TracerProvider: ``untraced`` (toolaudit
not instrumented), ``+ bare SDK span`` (still not instrumented; the tool function wrapped in a plain
span: the least any tool-span instrumentation costs) and ``audited`` (instrumented, inside an
``audit_context``). Rounds alternate between the uninstrumented and the instrumented state.

Usage: ``python bench/integrations_frameworks.py [--calls N] [--repeat R]`` (pydantic-ai runs N/10).
"""

from __future__ import annotations

import argparse
import functools
import statistics
from collections.abc import Callable
from typing import Any

from _common import DiscardingExporter, alternating_rounds, repeated
from langchain_core.tools import tool
from llama_index.core.tools import FunctionTool
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from pydantic_ai import Agent
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

ATTRIBUTION: dict[str, Any] = {
    "user_id": "usr_98765",
    "user_role": "support_agent",
    "conversation_id": "conv_abc123",
    "model": "gpt-4.1",
}
PATHS = ("langchain invoke", "llamaindex call", "pydantic-ai run")


def get_order(order_id: str) -> dict[str, Any]:
    """Fetch an order and its status."""
    return {"order_id": order_id, "status": "shipped"}


def ask_once(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    if len(messages) == 1:
        return ModelResponse(parts=[ToolCallPart("get_order", {"order_id": "ORD-456"}, "c-1")])
    return ModelResponse(parts=[TextPart("shipped")])


def cases(tracer: Any) -> dict[str, Callable[[], Any]]:
    """``{path: call}`` for the plain tool and for the tool inside a bare span."""

    @functools.wraps(get_order)
    def spanned(order_id: str) -> dict[str, Any]:
        with tracer.start_as_current_span("execute_tool get_order"):
            return get_order(order_id)

    made: dict[str, Callable[[], Any]] = {}
    for label, fn in (("untraced", get_order), ("+ bare SDK span", spanned)):
        lc_tool = tool(fn)
        tool_call = {
            "name": "get_order",
            "args": {"order_id": "ORD-456"},
            "id": "call-1",
            "type": "tool_call",
        }
        li_tool = FunctionTool.from_defaults(fn, name="get_order")
        agent: Agent[None, str] = Agent(FunctionModel(ask_once), tools=[fn])
        # Methods are looked up at each call, so that the instrumented runs go through the wrappers.
        made[f"langchain invoke, {label}"] = _calling(lc_tool, "invoke", tool_call)
        made[f"llamaindex call, {label}"] = _calling(li_tool, "call", order_id="ORD-456")
        made[f"pydantic-ai run, {label}"] = _calling(agent, "run_sync", "Where is ORD-456?")
    return made


def _calling(owner: Any, method: str, *args: Any, **kwargs: Any) -> Callable[[], Any]:
    def call() -> Any:
        return getattr(owner, method)(*args, **kwargs)

    return call


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args(argv)

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(DiscardingExporter(), max_queue_size=1 << 16))
    made = cases(provider.get_tracer("bench"))
    calls = {path: args.calls // (10 if path.startswith("pydantic") else 1) for path in PATHS}
    untraced = {name: repeated(fn) for name, fn in made.items()}
    audited = {f"{path}, audited": untraced[f"{path}, untraced"] for path in PATHS}

    try:
        runs = alternating_rounds(
            untraced,
            audited,
            provider,
            ATTRIBUTION,
            args.repeat,
            lambda name: calls[name.split(",")[0]],
        )
    finally:
        provider.shutdown()

    figures = {name: statistics.median(values) for name, values in runs.items()}
    print(f"calls={args.calls} repeat={args.repeat} processor=batch (median of means, µs/call)")
    for path in PATHS:
        base = figures[f"{path}, untraced"]
        span_cost = figures[f"{path}, + bare SDK span"] - base
        ours = figures[f"{path}, audited"] - base
        for name in (f"{path}, untraced", f"{path}, + bare SDK span", f"{path}, audited"):
            print(f"  {name:<34} {figures[name]:9.2f}")
        print(
            f"  {path}: a bare span adds {span_cost:.2f} µs, auditing adds {ours:.2f} µs"
            f" ({ours / span_cost:.2f}x the bare span's cost)"
        )


if __name__ == "__main__":
    main()
