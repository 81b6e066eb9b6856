# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""LangChain and LangGraph: every tool run through ``BaseTool.run`` / ``arun`` is one audited span.

Tools are real ``@tool`` functions; the agent loop is a LangGraph graph (model node, ``ToolNode``) with
``ChatOpenAI`` talking HTTP to the local fake of the OpenAI API.
"""

from __future__ import annotations

import asyncio
import json
import warnings
from typing import Annotated, Any

import pytest
from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool, InjectedToolArg, ToolException, tool
from langchain_core.tools import base as tools_base
from opentelemetry.trace import StatusCode

from opentelemetry_instrumentation_toolaudit import ToolAuditInstrumentor, audit_context

from ..conftest import tool_spans
from .conftest import calls_seen, context_attributes, fake_api, patched_and_restored

ORD1 = {"order_id": "ORD-1"}


@tool
def get_order(order_id: str) -> dict[str, Any]:
    """Fetch an order by id."""
    return {"order_id": order_id, "status": "shipped"}


@tool
def cancel_order(order_id: str) -> dict[str, Any]:
    """Cancel an order."""
    raise PermissionError(f"order {order_id} is locked")


@tool
async def track_order(order_id: str) -> dict[str, Any]:
    """Track an order's parcel."""
    return {"order_id": order_id, "status": "in_transit"}


@tool
def note_order(order_id: str, tenant: Annotated[str, InjectedToolArg]) -> str:
    """Note an order for a tenant."""
    return f"noted {order_id} for {tenant}"


def tool_call(name: str, call_id: str, args: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "args": args, "id": call_id, "type": "tool_call"}


@pytest.mark.usefixtures("instrument")
def test_invoke_with_tool_calls_makes_one_span_per_call(span_exporter):
    """``tool.invoke(tool_call)`` three times gives three spans, each with the model's call id."""
    with audit_context(user_id="usr_1"):
        for n in range(3):
            message = get_order.invoke(tool_call("get_order", f"call_{n}", {"order_id": f"O-{n}"}))
            assert isinstance(message, ToolMessage)

    spans = tool_spans(span_exporter)
    assert [dict(s.attributes) for s in spans] == [
        context_attributes(
            "get_order",
            f"call_{n}",
            f'{{"order_id":"O-{n}"}}',
            f'{{"success":true,"order_id":"O-{n}","status":"shipped"}}',
            "Fetch an order by id.",
        )
        for n in range(3)
    ]


@pytest.mark.usefixtures("instrument")
def test_failing_tool_reraises_its_own_exception(span_exporter):
    """A tool's exception reaches the caller unchanged; the span is ERROR with the tool's class."""
    with audit_context(user_id="usr_1"), pytest.raises(PermissionError) as caught:
        cancel_order.invoke(tool_call("cancel_order", "call_c", ORD1))

    assert str(caught.value) == "order ORD-1 is locked"
    (span,) = tool_spans(span_exporter)
    assert span.status.status_code is StatusCode.ERROR
    assert dict(span.attributes) == context_attributes(
        "cancel_order",
        "call_c",
        '{"order_id":"ORD-1"}',
        '{"success":false,"error":"order ORD-1 is locked","error_type":"PermissionError"}',
        "Cancel an order.",
        failed="PermissionError",
    )
    assert [e.attributes["exception.type"] for e in span.events] == ["PermissionError"]


@pytest.mark.usefixtures("instrument")
def test_handled_tool_error_is_recorded_as_a_failure(span_exporter):
    """With ``handle_tool_error`` the model gets a message, and the span still records the failure."""

    @tool
    def refund(order_id: str) -> str:
        """Refund an order."""
        raise ToolException("refund window closed")

    refund.handle_tool_error = True
    with audit_context(user_id="usr_1"):
        message = refund.invoke(tool_call("refund", "call_r", ORD1))

    assert (message.status, message.content) == ("error", "refund window closed")
    (span,) = tool_spans(span_exporter)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == "ToolException"
    assert json.loads(span.attributes["toolaudit.result.summary"]) == {
        "success": False,
        "error": "refund window closed",
        "error_type": "ToolException",
    }


@pytest.mark.usefixtures("instrument")
async def test_async_tools_and_sync_tools_run_async(span_exporter):
    """``ainvoke`` of an async tool and of a sync one (run in an executor) is one span each."""
    with audit_context(user_id="usr_1"):
        await track_order.ainvoke(tool_call("track_order", "call_t", ORD1))
        await get_order.ainvoke(tool_call("get_order", "call_g", ORD1))

    track, order = tool_spans(span_exporter)
    assert (track.attributes["gen_ai.tool.call.id"], order.attributes["gen_ai.tool.call.id"]) == (
        "call_t",
        "call_g",
    )
    assert json.loads(track.attributes["toolaudit.result.summary"]) == {
        "success": True,
        "order_id": "ORD-1",
        "status": "in_transit",
    }
    assert {track.attributes["user.id"], order.attributes["user.id"]} == {"usr_1"}


@pytest.mark.usefixtures("instrument")
def test_injected_arguments_are_not_recorded(span_exporter):
    """Arguments the app injects (``InjectedToolArg``) are left out of the recorded arguments."""
    with audit_context(user_id="usr_1"):
        note_order.invoke(tool_call("note_order", "call_n", {**ORD1, "tenant": "acme-secret"}))

    (span,) = tool_spans(span_exporter)
    assert span.attributes["gen_ai.tool.call.arguments"] == '{"order_id":"ORD-1"}'


@pytest.mark.usefixtures("instrument")
def test_langgraph_agent_loop_gets_call_ids_model_and_user(span_exporter):
    """A LangGraph agent over ChatOpenAI: each ToolNode call is one span with the model's call
    id, the requested model and the audit_context's user; a failing tool is ERROR and the loop goes on."""
    from langchain_openai import ChatOpenAI
    from langgraph.graph import START, MessagesState, StateGraph
    from langgraph.prebuilt import ToolNode, tools_condition

    script = [
        fake_api.chat_completion(
            [("call_1", "get_order", ORD1), ("call_2", "cancel_order", ORD1)],
            model="gpt-4.1",
        ),
        fake_api.chat_completion(text="Shipped; it cannot be cancelled.", model="gpt-4.1"),
    ]
    with fake_api.FakeLLMAPI(script) as server, audit_context(user_id="usr_1"):
        tools = [get_order, cancel_order]
        model = ChatOpenAI(model="gpt-4.1", base_url=server.openai_url, api_key="test")
        model = model.bind_tools(tools)
        graph = StateGraph(MessagesState)
        graph.add_node("agent", lambda state: {"messages": [model.invoke(state["messages"])]})
        graph.add_node("tools", ToolNode(tools, handle_tool_errors=True))
        graph.add_edge(START, "agent")
        graph.add_conditional_edges("agent", tools_condition)
        graph.add_edge("tools", "agent")
        result = graph.compile().invoke({"messages": [("user", "Cancel ORD-1")]})

    assert result["messages"][-1].content == "Shipped; it cannot be cancelled."
    spans = {s.attributes["gen_ai.tool.call.id"]: s for s in tool_spans(span_exporter)}
    assert set(spans) == {"call_1", "call_2"}
    remembered = {
        "gen_ai.request.model": "gpt-4.1",
        "gen_ai.provider.name": "openai",
        "gen_ai.response.id": "chatcmpl-1",
    }
    assert dict(spans["call_1"].attributes) == context_attributes(
        "get_order",
        "call_1",
        '{"order_id":"ORD-1"}',
        '{"success":true,"order_id":"ORD-1","status":"shipped"}',
        "Fetch an order by id.",
        model="gpt-4.1",
        extra=remembered,
    )
    failed = spans["call_2"]
    assert failed.status.status_code is StatusCode.ERROR
    assert (failed.attributes["error.type"], failed.attributes["user.id"]) == (
        "PermissionError",
        "usr_1",
    )


def test_uninstrument_restores_the_tool_runner(tracer_provider):
    """uninstrument() puts back the very functions that were wrapped."""
    targets = [
        (BaseTool, "run"),
        (BaseTool, "arun"),
        (tools_base, "_handle_tool_error"),
        (tools_base, "_handle_validation_error"),
    ]
    assert patched_and_restored(tracer_provider, targets) == ([True] * 4, [True] * 4)


def test_official_langchain_instrumentation_gives_no_twin(tracer_provider, span_exporter):
    """With opentelemetry-instrumentation-genai-langchain too, each tool call (sync or async) is still one span."""
    from opentelemetry.instrumentation.genai.langchain import (
        LangChainInstrumentor,
        callback_handler,
    )

    original = vars(callback_handler.OpenTelemetryLangChainCallbackHandler)["on_tool_start"]
    theirs, ours = LangChainInstrumentor(), ToolAuditInstrumentor()
    theirs.instrument(tracer_provider=tracer_provider, skip_dep_check=True)
    ours.instrument(tracer_provider=tracer_provider)
    try:
        with audit_context(user_id="usr_1"):
            get_order.invoke(tool_call("get_order", "call_1", ORD1))
            with pytest.raises(PermissionError):
                cancel_order.invoke(tool_call("cancel_order", "call_2", ORD1))
            asyncio.run(track_order.ainvoke(tool_call("track_order", "call_3", ORD1)))
    finally:
        ours.uninstrument()
        theirs.uninstrument()

    ok, failed, tracked = tool_spans(span_exporter)
    assert tracked.attributes["gen_ai.tool.call.id"] == "call_3"
    assert [
        (s.attributes["gen_ai.tool.call.id"], s.attributes["user.id"]) for s in (ok, failed)
    ] == [
        ("call_1", "usr_1"),
        ("call_2", "usr_1"),
    ]
    assert failed.status.status_code is StatusCode.ERROR
    assert vars(callback_handler.OpenTelemetryLangChainCallbackHandler)["on_tool_start"] is original


def test_official_langchain_instrumentation_alone_records_its_tool_span(
    tracer_provider, span_exporter
):
    """Without our instrumentor, the official handler's own tool span is there (the twin test's control)."""
    from opentelemetry.instrumentation.genai.langchain import LangChainInstrumentor

    theirs = LangChainInstrumentor()
    theirs.instrument(tracer_provider=tracer_provider, skip_dep_check=True)
    try:
        get_order.invoke(tool_call("get_order", "call_1", ORD1))
    finally:
        theirs.uninstrument()

    (span,) = tool_spans(span_exporter)
    assert span.instrumentation_scope.name == "opentelemetry.instrumentation.genai.langchain"
    assert span.attributes["gen_ai.tool.call.id"] == "call_1"


@pytest.mark.usefixtures("instrument")
async def test_two_users_at_once_each_get_their_own_spans(span_exporter):
    """Two requests running concurrently, async and sync tools: each span has its own request's user."""

    async def request(user: str, order: str) -> None:
        with audit_context(user_id=user):
            await asyncio.sleep(0)
            await track_order.ainvoke(tool_call("track_order", f"t_{user}", {"order_id": order}))
            await get_order.ainvoke(tool_call("get_order", f"g_{user}", {"order_id": order}))

    await asyncio.gather(request("usr_1", "ORD-1"), request("usr_2", "ORD-2"))

    assert calls_seen(span_exporter) == {
        ("t_usr_1", "usr_1", '{"order_id":"ORD-1"}'),
        ("g_usr_1", "usr_1", '{"order_id":"ORD-1"}'),
        ("t_usr_2", "usr_2", '{"order_id":"ORD-2"}'),
        ("g_usr_2", "usr_2", '{"order_id":"ORD-2"}'),
    }


def test_prebuilt_agent_beside_the_official_instrumentation(tracer_provider, span_exporter):
    """A LangGraph prebuilt agent with genai-langchain: one tool span, ours, under its invoke_agent
    span and carrying the agent name it knows."""
    from langchain_openai import ChatOpenAI
    from langgraph.prebuilt import create_react_agent
    from opentelemetry.instrumentation.genai.langchain import LangChainInstrumentor

    theirs, ours = LangChainInstrumentor(), ToolAuditInstrumentor()
    theirs.instrument(tracer_provider=tracer_provider, skip_dep_check=True)
    ours.instrument(tracer_provider=tracer_provider)
    script = [
        fake_api.chat_completion([("call_1", "get_order", ORD1)], model="gpt-4.1"),
        fake_api.chat_completion(text="Shipped.", model="gpt-4.1"),
    ]
    try:
        with fake_api.FakeLLMAPI(script) as server, audit_context(user_id="usr_1"):
            model = ChatOpenAI(model="gpt-4.1", base_url=server.openai_url, api_key="test")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # moved to langchain.agents
                agent = create_react_agent(model, [get_order], name="support")
            agent.invoke({"messages": [("user", "Where is ORD-1?")]})
    finally:
        ours.uninstrument()
        theirs.uninstrument()

    (span,) = tool_spans(span_exporter)
    (invoke_agent,) = [
        s for s in span_exporter.get_finished_spans() if s.name == "invoke_agent support"
    ]
    assert span.instrumentation_scope.name == "opentelemetry_instrumentation_toolaudit"
    assert span.parent.span_id == invoke_agent.context.span_id
    assert (span.attributes["gen_ai.agent.name"], span.attributes["gen_ai.tool.call.id"]) == (
        "support",
        "call_1",
    )
