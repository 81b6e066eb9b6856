# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""pydantic-ai: every function tool an agent run executes is one audited execute_tool span.

The agents run for real; the model side is pydantic-ai's own ``FunctionModel``, scripted to ask for
tool calls with call ids, as its users test their agents.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from opentelemetry.trace import StatusCode
from pydantic_ai import Agent, ModelRetry, RunContext
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.tool_manager import ToolManager

from opentelemetry_instrumentation_toolaudit import ToolAuditInstrumentor, audit_context

from ..conftest import tool_spans
from .conftest import calls_seen, context_attributes, patched_and_restored

MODEL = "function:ask_for_tools:"
ORD1 = {"order_id": "ORD-1"}


def ask_for(*calls: tuple[str, str, dict[str, Any]]) -> FunctionModel:
    """A model that asks for ``calls`` (tool, call id, arguments) once, then answers "done"."""

    def ask_for_tools(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        if len(messages) == 1:
            return ModelResponse(
                parts=[
                    ToolCallPart(name, args, tool_call_id=call_id) for name, call_id, args in calls
                ]
            )
        return ModelResponse(parts=[TextPart("done")])

    return FunctionModel(ask_for_tools)


def support_agent(model: FunctionModel, **kwargs: Any) -> Agent[None, str]:
    agent: Agent[None, str] = Agent(model, name="support", **kwargs)

    @agent.tool_plain
    def get_order(order_id: str) -> dict[str, Any]:
        """Fetch an order by id."""
        return {"order_id": order_id, "status": "shipped"}

    @agent.tool_plain
    def hold_order(order_id: str) -> str:
        """Put an order on hold."""
        raise ModelRetry(f"order {order_id} is locked, try later")

    @agent.tool
    async def track_order(ctx: RunContext[None], order_id: str) -> dict[str, Any]:
        """Track an order's parcel."""
        return {"order_id": order_id, "status": "in_transit"}

    @agent.tool_plain
    def cancel_order(order_id: str) -> str:
        """Cancel an order."""
        raise PermissionError(f"order {order_id} cannot be cancelled")

    return agent


def attributes(
    tool: str, call_id: str, summary: str, description: str, failed: str | None = None
) -> dict[str, Any]:
    """The whole attribute dict of a tool span run under audit_context(user_id=usr_1)."""
    return context_attributes(
        tool,
        call_id,
        '{"order_id":"ORD-1"}',
        summary,
        description,
        model=MODEL,
        failed=failed,
        extra={
            "gen_ai.request.model": MODEL,
            "gen_ai.provider.name": "function",
            "gen_ai.agent.name": "support",
        },
    )


@pytest.mark.usefixtures("instrument")
def test_agent_run_makes_one_span_per_tool_call(span_exporter):
    """A run whose model asks for two tools gives two spans with call ids, model, agent and user;
    a tool raising ModelRetry is a failed call, and the run goes on."""
    agent = support_agent(ask_for(("get_order", "call_1", ORD1), ("hold_order", "call_2", ORD1)))
    with audit_context(user_id="usr_1"):
        result = agent.run_sync("Where is ORD-1? Hold it.")

    assert result.output == "done"
    spans = {s.attributes["gen_ai.tool.call.id"]: s for s in tool_spans(span_exporter)}
    assert dict(spans["call_1"].attributes) == attributes(
        "get_order",
        "call_1",
        '{"success":true,"order_id":"ORD-1","status":"shipped"}',
        "Fetch an order by id.",
    )
    held = spans["call_2"]
    assert held.status.status_code is StatusCode.ERROR
    assert dict(held.attributes) == attributes(
        "hold_order",
        "call_2",
        '{"success":false,"error":"order ORD-1 is locked, try later","error_type":"ModelRetry"}',
        "Put an order on hold.",
        failed="ModelRetry",
    )


@pytest.mark.usefixtures("instrument")
def test_failing_tool_reraises_its_own_exception(span_exporter):
    """A tool's own exception ends the run unchanged; its span is ERROR with that class."""
    agent = support_agent(ask_for(("cancel_order", "call_c", ORD1)))
    with audit_context(user_id="usr_1"), pytest.raises(PermissionError) as caught:
        agent.run_sync("Cancel ORD-1")

    assert str(caught.value) == "order ORD-1 cannot be cancelled"
    (span,) = tool_spans(span_exporter)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == "PermissionError"
    assert [e.attributes["exception.type"] for e in span.events] == ["PermissionError"]


@pytest.mark.usefixtures("instrument")
async def test_async_run_with_a_context_tool(span_exporter):
    """``await agent.run`` with a tool taking the RunContext: one span, arguments without the context."""
    agent = support_agent(ask_for(("track_order", "call_t", ORD1)))
    with audit_context(user_id="usr_1"):
        result = await agent.run("Track ORD-1")

    assert result.output == "done"
    (span,) = tool_spans(span_exporter)
    assert dict(span.attributes) == attributes(
        "track_order",
        "call_t",
        '{"success":true,"order_id":"ORD-1","status":"in_transit"}',
        "Track an order's parcel.",
    )


def test_pydantic_ai_instrumentation_span_is_enriched_not_doubled(tracer_provider, span_exporter):
    """An agent with pydantic-ai's own OpenTelemetry instrumentation: its execute_tool span carries
    our audit, and there is one span per call."""
    from pydantic_ai.capabilities import Instrumentation
    from pydantic_ai.models.instrumented import InstrumentationSettings

    own = Instrumentation(settings=InstrumentationSettings(tracer_provider=tracer_provider))
    instrumentor = ToolAuditInstrumentor()
    instrumentor.instrument(tracer_provider=tracer_provider)
    try:
        agent = support_agent(ask_for(("get_order", "call_1", ORD1)), capabilities=[own])
        with audit_context(user_id="usr_1"):
            agent.run_sync("Where is ORD-1?")
    finally:
        instrumentor.uninstrument()

    (span,) = tool_spans(span_exporter)
    assert span.instrumentation_scope.name != "opentelemetry_instrumentation_toolaudit"
    assert (span.attributes["gen_ai.tool.call.id"], span.attributes["user.id"]) == (
        "call_1",
        "usr_1",
    )
    assert json.loads(span.attributes["toolaudit.result.summary"])["success"] is True


def test_uninstrument_restores_the_tool_manager(tracer_provider):
    """uninstrument() puts back the very function that was wrapped."""
    targets = [(ToolManager, "_raw_execute")]
    assert patched_and_restored(tracer_provider, targets) == ([True], [True])


@pytest.mark.usefixtures("instrument")
async def test_two_users_at_once_each_get_their_own_spans(span_exporter):
    """Two agent runs at once for two users: each tool span has its own run's user and call id."""

    def per_user(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        if len(messages) == 1:
            prompt = str(messages[0].parts[-1].content)
            order, call_id = prompt.split()
            return ModelResponse(parts=[ToolCallPart("get_order", {"order_id": order}, call_id)])
        return ModelResponse(parts=[TextPart("done")])

    agent = support_agent(FunctionModel(per_user))

    async def request(user: str, order: str) -> None:
        with audit_context(user_id=user):
            await agent.run(f"{order} call_{user}")

    await asyncio.gather(request("usr_1", "ORD-1"), request("usr_2", "ORD-2"))

    assert calls_seen(span_exporter) == {
        ("call_usr_1", "usr_1", '{"order_id":"ORD-1"}'),
        ("call_usr_2", "usr_2", '{"order_id":"ORD-2"}'),
    }
