# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Beside the official GenAI instrumentations for openai and anthropic (built on util-genai).

``opentelemetry-instrumentation-genai-openai`` and ``-genai-anthropic`` make a chat span around each
model request and no tool span: a dispatched tool call is one span of ours, linked to their chat
span, whichever instrumentor ran first. (The openai-agents, LangChain and google-genai ones, which do
make tool spans, are tested beside their frameworks.)
"""

from __future__ import annotations

import json
from typing import Any

import anthropic
import openai
import pytest
from opentelemetry.instrumentation.genai.anthropic import AnthropicInstrumentor
from opentelemetry.instrumentation.genai.openai import OpenAIInstrumentor

from opentelemetry_instrumentation_toolaudit import ToolAuditInstrumentor, audit_context
from tests.apps import llm_tools

from ..conftest import tool_spans
from .conftest import fake_api, linked_span_ids

ORD1 = {"order_id": "ORD-1"}


def instrument_both(official: Any, tracer_provider: Any, ours_first: bool) -> ToolAuditInstrumentor:
    ours = ToolAuditInstrumentor()
    steps = [
        lambda: ours.instrument(tracer_provider=tracer_provider),
        lambda: official.instrument(tracer_provider=tracer_provider, skip_dep_check=True),
    ]
    for step in steps if ours_first else reversed(steps):
        step()
    return ours


def chat_spans(exporter: Any, scope: str) -> list[Any]:
    return [
        s
        for s in exporter.get_finished_spans()
        if s.instrumentation_scope.name == scope and s.name.startswith("chat")
    ]


@pytest.mark.parametrize("ours_first", [True, False], ids=["toolaudit-first", "official-first"])
def test_genai_openai_chat_span_is_the_link_target(tracer_provider, span_exporter, ours_first):
    """One tool span per dispatched call, with the call id and user, linked to genai-openai's chat span."""
    official = OpenAIInstrumentor()
    ours = instrument_both(official, tracer_provider, ours_first)
    try:
        reply = fake_api.chat_completion([("call_1", "lookup_order", ORD1)])
        with fake_api.FakeLLMAPI([reply]) as server, audit_context(user_id="usr_1"):
            client = openai.OpenAI(base_url=server.openai_url, api_key="test")
            completion = client.chat.completions.create(model="gpt-4.1", messages=[])
            (tool_call,) = completion.choices[0].message.tool_calls
            llm_tools.lookup_order(**json.loads(tool_call.function.arguments))
    finally:
        ours.uninstrument()
        official.uninstrument()

    (chat,) = chat_spans(span_exporter, "opentelemetry.instrumentation.genai.openai")
    (span,) = tool_spans(span_exporter)
    assert linked_span_ids(span) == [chat.context.span_id]
    assert (span.attributes["gen_ai.tool.call.id"], span.attributes["user.id"]) == (
        "call_1",
        "usr_1",
    )


@pytest.mark.parametrize("ours_first", [True, False], ids=["toolaudit-first", "official-first"])
def test_genai_anthropic_chat_span_is_the_link_target(tracer_provider, span_exporter, ours_first):
    """One tool span per tool_use block, with its id and user, linked to genai-anthropic's chat span."""
    official = AnthropicInstrumentor()
    ours = instrument_both(official, tracer_provider, ours_first)
    try:
        reply = fake_api.anthropic_message([("toolu_1", "lookup_order", ORD1)])
        with fake_api.FakeLLMAPI([reply]) as server, audit_context(user_id="usr_1"):
            client = anthropic.Anthropic(base_url=server.url, api_key="test")
            message = client.messages.create(model="claude-opus-4-6", max_tokens=100, messages=[])
            (block,) = [b for b in message.content if b.type == "tool_use"]
            llm_tools.lookup_order(**block.input)
    finally:
        ours.uninstrument()
        official.uninstrument()

    (chat,) = chat_spans(span_exporter, "opentelemetry.instrumentation.genai.anthropic")
    (span,) = tool_spans(span_exporter)
    assert linked_span_ids(span) == [chat.context.span_id]
    assert (span.attributes["gen_ai.tool.call.id"], span.attributes["user.id"]) == (
        "toolu_1",
        "usr_1",
    )
