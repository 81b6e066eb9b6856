# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""LlamaIndex: every ``FunctionTool`` call is one audited execute_tool span.

The agents are LlamaIndex's real workflow agents; the model side is LlamaIndex's own
``MockFunctionCallingLLM``, scripted to ask for tool calls with call ids.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from llama_index.core.agent.workflow import (
    AgentWorkflow,
    FunctionAgent,
    base_agent,
    multi_agent_workflow,
)
from llama_index.core.base.llms.types import ToolCallBlock
from llama_index.core.llms import ChatMessage, MessageRole
from llama_index.core.llms.mock import MockFunctionCallingLLM
from llama_index.core.tools import FunctionTool
from opentelemetry.trace import StatusCode

from opentelemetry_instrumentation_toolaudit import audit_context

from ..conftest import tool_spans
from .conftest import calls_seen, context_attributes, patched_and_restored

ORD1 = {"order_id": "ORD-1"}


def get_order(order_id: str) -> dict[str, Any]:
    """Fetch an order by id."""
    return {"order_id": order_id, "status": "shipped"}


def cancel_order(order_id: str) -> dict[str, Any]:
    """Cancel an order."""
    raise PermissionError(f"order {order_id} is locked")


async def track_order(order_id: str) -> dict[str, Any]:
    """Track an order's parcel."""
    return {"order_id": order_id, "status": "in_transit"}


def scripted_llm(*calls: tuple[str, str, dict[str, Any]]) -> MockFunctionCallingLLM:
    """A model that asks for ``calls`` (tool, call id, arguments) once, then answers "done"."""

    def respond(messages: list[ChatMessage], **kwargs: Any) -> ChatMessage:
        if any(m.role == MessageRole.TOOL for m in messages):
            return ChatMessage(role="assistant", content="done")
        blocks = [
            ToolCallBlock(tool_call_id=call_id, tool_name=name, tool_kwargs=args)
            for name, call_id, args in calls
        ]
        return ChatMessage(role="assistant", blocks=blocks)

    return MockFunctionCallingLLM(response_generator=respond)


def tools() -> list[FunctionTool]:
    return [FunctionTool.from_defaults(fn) for fn in (get_order, cancel_order, track_order)]


def attributes(
    tool: str,
    call_id: str,
    summary: str,
    description: str,
    *,
    failed: str | None = None,
    agent: str | None = "support",
) -> dict[str, Any]:
    """The whole attribute dict of a tool span run under audit_context(user_id=usr_1)."""
    return context_attributes(
        tool,
        call_id,
        '{"order_id":"ORD-1"}',
        summary,
        description,
        failed=failed,
        extra={"gen_ai.agent.name": agent} if agent is not None else None,
    )


SHIPPED = '{"success":true,"order_id":"ORD-1","status":"shipped"}'
LOCKED = '{"success":false,"error":"order ORD-1 is locked","error_type":"PermissionError"}'


@pytest.mark.usefixtures("instrument")
async def test_function_agent_loop_makes_one_span_per_call(span_exporter):
    """A FunctionAgent run: each tool the model asks for is one span with its call id, the agent and
    the user; the failing tool's span is ERROR with its own exception, and the run goes on."""
    llm = scripted_llm(
        ("get_order", "call_1", ORD1),
        ("cancel_order", "call_2", ORD1),
        ("track_order", "call_3", ORD1),
    )
    agent = FunctionAgent(tools=tools(), llm=llm, name="support")
    with audit_context(user_id="usr_1"):
        result = await agent.run("Cancel ORD-1")

    assert str(result) == "done"
    spans = {s.attributes["gen_ai.tool.call.id"]: s for s in tool_spans(span_exporter)}
    assert dict(spans["call_1"].attributes) == attributes(
        "get_order", "call_1", SHIPPED, "Fetch an order by id."
    )
    assert dict(spans["call_2"].attributes) == attributes(
        "cancel_order", "call_2", LOCKED, "Cancel an order.", failed="PermissionError"
    )
    assert spans["call_2"].status.status_code is StatusCode.ERROR
    assert spans["call_3"].attributes["toolaudit.result.summary"] == (
        '{"success":true,"order_id":"ORD-1","status":"in_transit"}'
    )


@pytest.mark.usefixtures("instrument")
async def test_agent_workflow_gives_call_ids(span_exporter):
    """A multi-agent AgentWorkflow runs the tools too: each span has the model's call id."""
    llm = scripted_llm(("get_order", "call_1", ORD1))
    workflow = AgentWorkflow(agents=[FunctionAgent(tools=tools(), llm=llm, name="support")])
    with audit_context(user_id="usr_1"):
        await workflow.run("Where is ORD-1?")

    (span,) = tool_spans(span_exporter)
    assert dict(span.attributes) == attributes(
        "get_order", "call_1", SHIPPED, "Fetch an order by id.", agent=None
    )


@pytest.mark.usefixtures("instrument")
def test_direct_call_reraises_the_tools_exception(span_exporter):
    """Called directly, a tool's exception reaches the caller unchanged; its span is ERROR."""
    ok, failing, _ = tools()
    with audit_context(user_id="usr_1"):
        assert ok(order_id="ORD-1").raw_output == {"order_id": "ORD-1", "status": "shipped"}
        with pytest.raises(PermissionError) as caught:
            failing.call("ORD-1")

    assert str(caught.value) == "order ORD-1 is locked"
    first, second = tool_spans(span_exporter)
    assert first.attributes["toolaudit.result.summary"] == SHIPPED
    assert second.status.status_code is StatusCode.ERROR
    assert second.attributes["gen_ai.tool.call.arguments"] == '{"order_id":"ORD-1"}'
    assert [e.attributes["exception.type"] for e in second.events] == ["PermissionError"]


def test_uninstrument_restores_tools_and_steps(tracer_provider):
    """uninstrument() puts back the very functions that were wrapped."""
    targets = [
        (FunctionTool, "call"),
        (FunctionTool, "acall"),
        (base_agent.BaseWorkflowAgent, "call_tool"),
        (multi_agent_workflow.AgentWorkflow, "call_tool"),
    ]
    assert patched_and_restored(tracer_provider, targets) == ([True] * 4, [True] * 4)


@pytest.mark.usefixtures("instrument")
async def test_two_users_at_once_each_get_their_own_spans(span_exporter):
    """Two agent runs at once for two users: each tool span has its own run's user and call id."""

    def respond(messages: list[ChatMessage], **kwargs: Any) -> ChatMessage:
        if any(m.role == MessageRole.TOOL for m in messages):
            return ChatMessage(role="assistant", content="done")
        order, call_id = str(messages[-1].content).split()
        call = ToolCallBlock(
            tool_call_id=call_id, tool_name="get_order", tool_kwargs={"order_id": order}
        )
        return ChatMessage(role="assistant", blocks=[call])

    async def request(user: str, order: str) -> None:
        llm = MockFunctionCallingLLM(response_generator=respond)
        agent = FunctionAgent(tools=tools(), llm=llm, name="support")
        with audit_context(user_id=user):
            await agent.run(f"{order} call_{user}")

    await asyncio.gather(request("usr_1", "ORD-1"), request("usr_2", "ORD-2"))

    assert calls_seen(span_exporter) == {
        ("call_usr_1", "usr_1", '{"order_id":"ORD-1"}'),
        ("call_usr_2", "usr_2", '{"order_id":"ORD-2"}'),
    }
