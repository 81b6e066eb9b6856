# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""openai-agents: the real Runner invokes function tools; each is one audited execute_tool span.

The Runner's model is the real openai SDK client talking HTTP to a local fake of the OpenAI API,
which asks for tool calls on the first turn and answers once the tool outputs come back.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import agents
import agents.run_internal.tool_execution as tool_execution
import agents.tool as agents_tool
import openai
import pytest
from agents import Agent, Runner, function_tool
from agents.tracing import TracingProcessor, set_trace_processors, set_tracing_disabled
from opentelemetry import context as otel_context
from opentelemetry import trace as otel_trace

from opentelemetry_instrumentation_toolaudit import ToolAuditInstrumentor, audit_context
from opentelemetry_instrumentation_toolaudit.export import _records
from opentelemetry_instrumentation_toolaudit.export._sdk import sdk_view
from tests.apps import llm_tools

from ..conftest import tool_spans
from .conftest import dispatch_attributes, fake_api, linked_span_ids, patched_and_restored

ORD1 = {"order_id": "ORD-1"}


@pytest.fixture(autouse=True)
def _agents_tracing_offline() -> Iterator[None]:
    """The SDK's default trace exporter would post to the OpenAI backend: keep it out."""
    set_trace_processors([])
    set_tracing_disabled(True)
    yield
    set_trace_processors([])
    set_tracing_disabled(True)


@function_tool
def get_order(order_id: str) -> dict[str, Any]:
    """Fetch an order and its status."""
    return {"order_id": order_id, "status": llm_tools.ORDERS[order_id]}


@function_tool
def refund_order(order_id: str) -> dict[str, Any]:
    """Refund an order."""
    raise PermissionError("refunds over the limit need a supervisor")


@function_tool(failure_error_function=None)
def delete_order(order_id: str) -> str:
    """Delete an order (errors are not turned into messages)."""
    raise LookupError(order_id)


@function_tool(timeout=0.05)
async def slow_lookup(order_id: str) -> str:
    """A lookup that takes too long."""
    await asyncio.sleep(5)
    return order_id


def tool_outputs(body: dict[str, Any]) -> list[str]:
    """The tool outputs the runner sent back to the model (Responses or Chat Completions form)."""
    items = body.get("input") or body.get("messages") or []
    return [
        str(i.get("output", i.get("content")))
        for i in items
        if isinstance(i, dict)
        and (i.get("type") == "function_call_output" or i.get("role") == "tool")
    ]


def two_turns(first: fake_api.Reply, last: fake_api.Reply):
    """A model that asks for tools until it has their outputs, then answers."""
    return lambda path, body: last if tool_outputs(body) else first


def responses_agent(server, *tools) -> Agent:
    client = openai.AsyncOpenAI(base_url=server.openai_url, api_key="test")
    model = agents.OpenAIResponsesModel(model="gpt-4.1", openai_client=client)
    return Agent(name="support", instructions="Help.", tools=list(tools), model=model)


def expected(
    tool, call_id, arguments, summary, description, response_id="resp_1", **kwargs
) -> dict[str, Any]:
    return dispatch_attributes(
        tool,
        call_id=call_id,
        arguments=json.dumps(arguments, separators=(",", ":")),
        provider="openai",
        model="gpt-4.1",
        response_id=response_id,
        summary=summary,
        description=description,
        extra={"gen_ai.agent.name": "support"},
        **kwargs,
    )


@pytest.mark.usefixtures("instrument")
async def test_runner_tool_calls_success_and_handled_failure(span_exporter, tracer_provider):
    """A tool that returns and one whose exception the SDK turns into a message both get a full span."""
    calls = [("call_a", "get_order", ORD1), ("call_b", "refund_order", ORD1)]
    script = two_turns(fake_api.responses_output(calls), fake_api.responses_output(text="Done."))
    tracer = tracer_provider.get_tracer("app")
    with (
        fake_api.FakeLLMAPI(script) as server,
        audit_context(user_id="usr_1"),
        tracer.start_as_current_span("support turn") as turn,
    ):
        agent = responses_agent(server, get_order, refund_order)
        result = await Runner.run(agent, "refund ORD-1")
    assert result.final_output == "Done."
    # The model was told about the failure, as the SDK does by default.
    assert tool_outputs(server.requests[1][1])[1].startswith(
        "An error occurred while running the tool."
    )
    spans = {s.attributes["gen_ai.tool.name"]: s for s in tool_spans(span_exporter)}
    assert sorted(spans) == ["get_order", "refund_order"]
    assert expected(
        "get_order",
        "call_a",
        ORD1,
        '{"success":true,"order_id":"ORD-1","status":"shipped"}',
        "Fetch an order and its status.",
    ) == dict(spans["get_order"].attributes)
    summary = {
        "success": False,
        "error": "refunds over the limit need a supervisor",
        "error_type": "PermissionError",
    }
    assert expected(
        "refund_order",
        "call_b",
        ORD1,
        json.dumps(summary, separators=(",", ":")),
        "Refund an order.",
        failed="PermissionError",
    ) == dict(spans["refund_order"].attributes)
    assert spans["refund_order"].status.status_code.name == "ERROR"
    # The model call ran inside the app's span: that is the span current around it, and linked.
    for span in spans.values():
        assert linked_span_ids(span) == [turn.get_span_context().span_id]


@pytest.mark.usefixtures("instrument")
async def test_streamed_chat_completions_runner(span_exporter):
    """Runner.run_streamed over Chat Completions: the streamed call is remembered and claimed by id."""
    first = fake_api.chat_completion_stream(
        [("call_c", "get_order", ORD1)], response_id="chatcmpl-c"
    )
    script = two_turns(first, fake_api.chat_completion_stream([]))
    with fake_api.FakeLLMAPI(script) as server, audit_context(user_id="usr_1"):
        client = openai.AsyncOpenAI(base_url=server.openai_url, api_key="test")
        model = agents.OpenAIChatCompletionsModel(model="gpt-4.1", openai_client=client)
        agent = Agent(name="support", instructions="Help.", tools=[get_order], model=model)
        run = Runner.run_streamed(agent, "where is ORD-1?")
        async for _ in run.stream_events():
            pass
    (span,) = tool_spans(span_exporter)
    assert expected(
        "get_order",
        "call_c",
        ORD1,
        '{"success":true,"order_id":"ORD-1","status":"shipped"}',
        "Fetch an order and its status.",
        response_id="chatcmpl-c",
    ) == dict(span.attributes)


@pytest.mark.usefixtures("instrument")
async def test_unhandled_tool_error_propagates(span_exporter):
    """With failure_error_function=None the tool's exception leaves the runner; the span records it."""
    calls = [("call_d", "delete_order", ORD1)]
    script = two_turns(fake_api.responses_output(calls), fake_api.responses_output(text="Done."))
    with fake_api.FakeLLMAPI(script) as server, pytest.raises(Exception) as raised:
        await Runner.run(responses_agent(server, delete_order), "delete ORD-1")
    (span,) = tool_spans(span_exporter)
    assert (span.attributes["error.type"], span.attributes["gen_ai.tool.call.id"]) == (
        "LookupError",
        "call_d",
    )
    # The SDK may wrap it; the tool's own exception is in the chain, unchanged.
    chain = [raised.value, raised.value.__cause__, raised.value.__context__]
    assert any(isinstance(e, LookupError) and e.args == ("ORD-1",) for e in chain)


@pytest.mark.usefixtures("instrument")
async def test_timeout_answered_by_the_sdk_is_a_failure(span_exporter):
    """A tool the SDK times out (and answers for) is recorded as a ToolTimeoutError failure."""
    calls = [("call_t", "slow_lookup", ORD1)]
    script = two_turns(fake_api.responses_output(calls), fake_api.responses_output(text="Done."))
    with fake_api.FakeLLMAPI(script) as server:
        result = await Runner.run(responses_agent(server, slow_lookup), "look ORD-1 up")
    assert result.final_output == "Done."
    (span,) = tool_spans(span_exporter)
    assert (span.attributes["error.type"], span.attributes["toolaudit.success"]) == (
        "ToolTimeoutError",
        False,
    )
    assert json.loads(span.attributes["toolaudit.result.summary"]) == {
        "success": False,
        "error": "Tool 'slow_lookup' timed out after 0.05 seconds.",
    }


@pytest.mark.usefixtures("instrument")
async def test_audited_function_under_the_runner_is_one_span(span_exporter):
    """An @audited_tool function used as an agents tool enriches the runner's span: no nested twin."""
    calls = [("call_e", "lookup_order", ORD1)]
    script = two_turns(fake_api.responses_output(calls), fake_api.responses_output(text="Done."))
    with fake_api.FakeLLMAPI(script) as server, audit_context(user_id="usr_1"):
        tool = function_tool(llm_tools.lookup_order)
        await Runner.run(responses_agent(server, tool), "where is ORD-1?")
    (span,) = tool_spans(span_exporter)
    assert expected(
        "lookup_order",
        "call_e",
        ORD1,
        '{"success":true,"order_id":"ORD-1","status":"shipped"}',
        "Look an order up.",
    ) == dict(span.attributes)


async def test_contrib_openai_agents_spans_are_enriched_not_duplicated(
    tracer_provider, span_exporter
):
    """With opentelemetry-instrumentation-genai-openai-agents (and -genai-openai for the chat spans),
    its execute_tool span carries our audit: one span per call."""
    from opentelemetry.instrumentation.genai.openai import OpenAIInstrumentor
    from opentelemetry.instrumentation.genai.openai_agents import OpenAIAgentsInstrumentor

    set_tracing_disabled(False)
    theirs, chat, ours = OpenAIAgentsInstrumentor(), OpenAIInstrumentor(), ToolAuditInstrumentor()
    theirs.instrument(tracer_provider=tracer_provider)
    chat.instrument(tracer_provider=tracer_provider)
    ours.instrument(tracer_provider=tracer_provider)
    try:
        calls = [("call_g", "get_order", ORD1)]
        script = two_turns(
            fake_api.responses_output(calls), fake_api.responses_output(text="Done.")
        )
        with fake_api.FakeLLMAPI(script) as server, audit_context(user_id="usr_1"):
            await Runner.run(responses_agent(server, get_order), "where is ORD-1?")
    finally:
        ours.uninstrument()
        chat.uninstrument()
        theirs.uninstrument()
    (span,) = tool_spans(span_exporter)
    assert span.instrumentation_scope.name == "opentelemetry.instrumentation.genai.openai_agents"
    attributes = dict(span.attributes)
    ours_only = {
        key: attributes.get(key)
        for key in ("gen_ai.tool.call.id", "user.id", "toolaudit.attribution", "toolaudit.success")
    }
    assert ours_only == {
        "gen_ai.tool.call.id": "call_g",
        "user.id": "usr_1",
        "toolaudit.attribution": "User usr_1 (unknown) → gpt-4.1 → get_order [user_request]",
        "toolaudit.success": True,
    }
    # Its own chat span was current around the model call: that is what the tool span links to.
    chats = [s for s in span_exporter.get_finished_spans() if s.name.startswith("chat")]
    assert linked_span_ids(span) == [chats[0].context.span_id]


class PlaceholderProcessor(TracingProcessor):
    """Stands in for the frozen opentelemetry-instrumentation-openai-agents-v2 processor (its
    successor, -genai-openai-agents, names the agent): an execute_tool span, current while the tool
    runs, with the placeholder agent name "OpenAI Agent", which it sets again as the span ends."""

    def __init__(self, tracer: Any) -> None:
        self._tracer = tracer
        self._open: dict[str, Any] = {}

    def on_span_start(self, span: Any) -> None:
        data = span.span_data
        if getattr(data, "type", None) == "function":
            attributes = {
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": data.name,
                "gen_ai.agent.name": "OpenAI Agent",
            }
            otel = self._tracer.start_span(f"execute_tool {data.name}", attributes=attributes)
            token = otel_context.attach(otel_trace.set_span_in_context(otel))
            self._open[span.span_id] = (otel, token)

    def on_span_end(self, span: Any) -> None:
        opened = self._open.pop(span.span_id, None)
        if opened is not None:
            otel, token = opened
            otel.set_attribute("gen_ai.agent.name", "OpenAI Agent")
            otel_context.detach(token)
            otel.end()

    def on_trace_start(self, trace: Any) -> None:
        pass

    def on_trace_end(self, trace: Any) -> None:
        pass

    def shutdown(self) -> None:
        pass

    def force_flush(self) -> None:
        pass


async def test_placeholder_agent_name_gives_way_to_the_known_one(tracer_provider, span_exporter):
    """On a twin execute_tool span the agent's own name replaces a placeholder ("OpenAI Agent") that
    its instrumentation sets again as the span ends; the span and record say what was replaced."""
    set_tracing_disabled(False)
    set_trace_processors([PlaceholderProcessor(tracer_provider.get_tracer("stand-in"))])
    ours = ToolAuditInstrumentor()
    ours.instrument(tracer_provider=tracer_provider)
    try:
        calls = [("call_n", "get_order", ORD1)]
        script = two_turns(
            fake_api.responses_output(calls), fake_api.responses_output(text="Done.")
        )
        with fake_api.FakeLLMAPI(script) as server, audit_context(user_id="usr_1"):
            agent = responses_agent(server, get_order).clone(name="Support agent")
            await Runner.run(agent, "where is ORD-1?")
    finally:
        ours.uninstrument()
        set_trace_processors([])
    (span,) = tool_spans(span_exporter)
    assert (span.attributes["gen_ai.agent.name"], span.attributes["toolaudit.twin.replaced"]) == (
        "Support agent",
        '{"gen_ai.agent.name":"OpenAI Agent"}',
    )
    details = _records.build_record(sdk_view(span), "tool.call")["details"]
    assert details == {
        "agent_name": "Support agent",
        "twin_replaced": {"gen_ai.agent.name": "OpenAI Agent"},
        "attribution_source": "context",
    }


def test_uninstrument_restores_the_runner(tracer_provider):
    """uninstrument() puts back the very functions that were wrapped."""
    targets = [
        (agents_tool, "_invoke_function_tool_with_metadata"),
        (tool_execution, "_invoke_function_tool_with_metadata"),
        (agents_tool, "maybe_invoke_function_tool_failure_error_function"),
    ]
    assert patched_and_restored(tracer_provider, targets) == ([True] * 3, [True] * 3)
