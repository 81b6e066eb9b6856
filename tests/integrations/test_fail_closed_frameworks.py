# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Fail-closed tools are refused when run by LangChain, pydantic-ai or LlamaIndex with no audit sink."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.tools import tool
from llama_index.core.agent.workflow import FunctionAgent
from llama_index.core.base.llms.types import ToolCallBlock
from llama_index.core.llms import ChatMessage, MessageRole
from llama_index.core.llms.mock import MockFunctionCallingLLM
from llama_index.core.tools import FunctionTool
from opentelemetry.sdk.trace import TracerProvider
from pydantic_ai import Agent
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from opentelemetry_instrumentation_toolaudit import AuditUnavailableError, ToolAuditInstrumentor

from ..conftest import tool_spans

RAN: list[str] = []


def refund(order_id: str) -> dict[str, Any]:
    """Refund an order (fail-closed in these tests)."""
    RAN.append(order_id)
    return {"order_id": order_id, "status": "refunded"}


@pytest.fixture(autouse=True)
def fail_closed(tracer_provider: TracerProvider) -> Iterator[None]:
    """refund is fail-closed, and no audit exporter is configured: it must never run."""
    RAN.clear()
    instrumentor = ToolAuditInstrumentor()
    instrumentor.instrument(tracer_provider=tracer_provider, fail_closed_tools=["refund"])
    yield
    instrumentor.uninstrument()


def refused(span_exporter: Any) -> bool:
    (span,) = tool_spans(span_exporter)
    return RAN == [] and span.attributes["error.type"] == "AuditUnavailableError"


def test_langchain_refuses_a_fail_closed_tool(span_exporter):
    """``tool.invoke(tool_call)`` of a fail-closed tool raises AuditUnavailableError; it never runs."""
    with pytest.raises(AuditUnavailableError):
        tool(refund).invoke(
            {"name": "refund", "args": {"order_id": "ORD-1"}, "id": "call_1", "type": "tool_call"}
        )
    assert refused(span_exporter)


def test_pydantic_ai_refuses_a_fail_closed_tool(span_exporter):
    """An agent run asking for a fail-closed tool ends with AuditUnavailableError; it never runs."""

    def model(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        if len(messages) == 1:
            return ModelResponse(parts=[ToolCallPart("refund", {"order_id": "ORD-1"}, "call_1")])
        return ModelResponse(parts=[TextPart("done")])

    agent = Agent(FunctionModel(model), tools=[refund])
    with pytest.raises(AuditUnavailableError):
        agent.run_sync("Refund ORD-1")
    assert refused(span_exporter)


async def test_llamaindex_refuses_a_fail_closed_tool(span_exporter):
    """A FunctionAgent asking for a fail-closed tool gets the refusal as the tool's error; it never runs."""

    def respond(messages: list[ChatMessage], **kwargs: Any) -> ChatMessage:
        if any(m.role == MessageRole.TOOL for m in messages):
            return ChatMessage(role="assistant", content="done")
        call = ToolCallBlock(
            tool_call_id="call_1", tool_name="refund", tool_kwargs={"order_id": "ORD-1"}
        )
        return ChatMessage(role="assistant", blocks=[call])

    llm = MockFunctionCallingLLM(response_generator=respond)
    agent = FunctionAgent(tools=[FunctionTool.from_defaults(refund)], llm=llm)
    await agent.run("Refund ORD-1")
    assert refused(span_exporter)
