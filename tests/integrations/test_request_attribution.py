# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The model request itself attributes the tool calls its response asks for (source ``request``).

The real openai and anthropic SDKs talk HTTP to the local fake API; the app has no audit_context.
"""

from __future__ import annotations

import json
from typing import Any

import anthropic
import openai
from opentelemetry import context as otel_context
from opentelemetry.baggage.propagation import W3CBaggagePropagator

from opentelemetry_instrumentation_toolaudit import audit_context
from tests.apps import llm_tools

from ..conftest import tool_spans
from .conftest import dispatch_attributes, fake_api

ORD1 = {"order_id": "ORD-1"}
SHIPPED = '{"success":true,"order_id":"ORD-1","status":"shipped"}'


def openai_client(server: Any) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.openai_url, api_key="test")


def dispatch_chat(client: openai.OpenAI, **request: Any) -> None:
    completion = client.chat.completions.create(model="gpt-4.1", messages=[], **request)
    for call in completion.choices[0].message.tool_calls:
        llm_tools.lookup_order(**json.loads(call.function.arguments))


def picked(span: Any) -> list[Any]:
    keys = ("user.id", "gen_ai.conversation.id", "toolaudit.attribution.source")
    return [span.attributes.get(k) for k in keys]


def test_chat_user_and_metadata_attribute_the_call(instrumented, span_exporter):
    """``user`` and ``metadata.conversation_id`` of a chat request attribute the call it returns."""
    instrumented()
    reply = fake_api.chat_completion([("call_1", "lookup_order", ORD1)])
    with fake_api.FakeLLMAPI([reply]) as server:
        dispatch_chat(openai_client(server), user="usr_req", metadata={"conversation_id": "conv_m"})
    (span,) = tool_spans(span_exporter)
    assert dispatch_attributes(
        "lookup_order",
        call_id="call_1",
        arguments='{"order_id":"ORD-1"}',
        provider="openai",
        model="gpt-4.1",
        response_id="chatcmpl-1",
        summary=SHIPPED,
        user="usr_req",
        source="request",
        description="Look an order up.",
        extra={"gen_ai.conversation.id": "conv_m"},
    ) == dict(span.attributes)


def test_configured_metadata_keys_and_safety_identifier(instrumented, span_exporter):
    """The metadata keys are configurable; with none present, ``safety_identifier`` names the user."""
    instrumented(
        OTEL_PYTHON_TOOLAUDIT_METADATA_USER_KEY="end_user",
        OTEL_PYTHON_TOOLAUDIT_METADATA_CONVERSATION_KEY="thread",
    )
    replies = [
        fake_api.chat_completion([("call_1", "lookup_order", ORD1)]),
        fake_api.chat_completion([("call_2", "lookup_order", ORD1)]),
    ]
    with fake_api.FakeLLMAPI(replies) as server:
        client = openai_client(server)
        dispatch_chat(
            client,
            user="ignored-when-metadata-names-one",
            metadata={"end_user": "usr_meta", "thread": "th_1", "conversation_id": "not-this"},
        )
        dispatch_chat(client, safety_identifier="sid_hash_1")
    first, second = tool_spans(span_exporter)
    assert [picked(first), picked(second)] == [
        ["usr_meta", "th_1", "request"],
        ["sid_hash_1", None, "request"],
    ]


def test_responses_conversation_and_chain(instrumented, span_exporter):
    """The Responses ``conversation`` names it; a ``previous_response_id`` chain is one conversation,
    named by its first response."""
    instrumented()
    replies = [
        fake_api.responses_output([("fc_1", "lookup_order", ORD1)], response_id="resp_a"),
        fake_api.responses_output([("fc_2", "lookup_order", ORD1)], response_id="resp_b"),
        fake_api.responses_output([("fc_3", "lookup_order", ORD1)], response_id="resp_c"),
        fake_api.responses_output([("fc_4", "lookup_order", ORD1)], response_id="resp_d"),
    ]
    with fake_api.FakeLLMAPI(replies) as server:
        client = openai_client(server)
        for request in (
            {"user": "usr_r"},
            {"user": "usr_r", "previous_response_id": "resp_a"},
            {"user": "usr_r", "previous_response_id": "resp_b"},
            {"user": "usr_r", "conversation": {"id": "conv_named"}},
        ):
            response = client.responses.create(model="gpt-4.1", input="where?", **request)
            (item,) = response.output
            llm_tools.lookup_order(**json.loads(item.arguments))
    assert [picked(s) for s in tool_spans(span_exporter)] == [
        ["usr_r", None, "request"],
        ["usr_r", "resp_a", "request"],
        ["usr_r", "resp_a", "request"],
        ["usr_r", "conv_named", "request"],
    ]


def test_streamed_responses_carry_the_request_user(instrumented, span_exporter):
    """Streamed Chat Completions and Responses calls carry the request's user and conversation too."""
    instrumented()
    replies = [
        fake_api.chat_completion_stream([("call_s", "lookup_order", ORD1)]),
        fake_api.responses_stream([("fc_s", "lookup_order", ORD1)], response_id="resp_s2"),
    ]
    with fake_api.FakeLLMAPI(replies) as server:
        client = openai_client(server)
        stream = client.chat.completions.create(
            model="gpt-4.1",
            messages=[],
            stream=True,
            user="usr_s",
            metadata={"conversation_id": "c1"},
        )
        for _ in stream:
            pass
        llm_tools.lookup_order("ORD-1")
        events = client.responses.create(
            model="gpt-4.1",
            input="again",
            stream=True,
            user="usr_s",
            previous_response_id="resp_s1",
        )
        for _ in events:
            pass
        llm_tools.lookup_order("ORD-1")
    assert [picked(s) for s in tool_spans(span_exporter)] == [
        ["usr_s", "c1", "request"],
        ["usr_s", "resp_s1", "request"],
    ]


def test_anthropic_metadata_user_id(instrumented, span_exporter):
    """anthropic's ``metadata.user_id`` attributes the tool_use blocks of its response."""
    instrumented()
    reply = fake_api.anthropic_message([("toolu_1", "lookup_order", ORD1)])
    with fake_api.FakeLLMAPI([reply]) as server:
        client = anthropic.Anthropic(base_url=server.url, api_key="test")
        message = client.messages.create(
            model="claude-opus-4-6", max_tokens=100, messages=[], metadata={"user_id": "usr_a"}
        )
        (block,) = [b for b in message.content if b.type == "tool_use"]
        llm_tools.lookup_order(**block.input)
    (span,) = tool_spans(span_exporter)
    assert picked(span) == ["usr_a", None, "request"]


def test_audit_context_wins_and_request_fills_the_gaps(instrumented, span_exporter):
    """An audit_context's user wins over the request's; the request still names the conversation."""
    instrumented()
    reply = fake_api.chat_completion([("call_1", "lookup_order", ORD1)])
    with fake_api.FakeLLMAPI([reply]) as server, audit_context(user_id="usr_ctx"):
        dispatch_chat(openai_client(server), user="usr_req", metadata={"conversation_id": "conv_m"})
    (span,) = tool_spans(span_exporter)
    assert picked(span) == ["usr_ctx", "conv_m", "context"]


def test_request_wins_over_baggage(instrumented, span_exporter):
    """A user asserted by upstream baggage gives way to the one the model request names."""
    instrumented(OTEL_PYTHON_TOOLAUDIT_BAGGAGE="extract")
    carried = W3CBaggagePropagator().extract({"baggage": "user.id=usr_up,user.roles=nurse"})
    reply = fake_api.chat_completion([("call_1", "lookup_order", ORD1)])
    token = otel_context.attach(carried)
    try:
        with fake_api.FakeLLMAPI([reply]) as server:
            dispatch_chat(openai_client(server), user="usr_req")
    finally:
        otel_context.detach(token)
    (span,) = tool_spans(span_exporter)
    assert [*picked(span), span.attributes.get("user.roles")] == [
        "usr_req",
        None,
        "request",
        ("nurse",),
    ]


def test_request_user_is_redacted_like_an_audit_context_user(instrumented, span_exporter):
    """A user id from the request goes through the same redaction as one from audit_context."""
    instrumented()
    replies = [fake_api.chat_completion([(f"call_{i}", "lookup_order", ORD1)]) for i in (1, 2)]
    with fake_api.FakeLLMAPI(replies) as server:
        client = openai_client(server)
        dispatch_chat(client, user="jane.doe@example.com")
        with audit_context(user_id="jane.doe@example.com"):
            dispatch_chat(client)
    from_request, from_context = tool_spans(span_exporter)
    assert from_request.attributes["user.id"] == from_context.attributes["user.id"]
    assert from_request.attributes["user.id"].startswith("<EMAIL:hmac-sha256:")
    assert "jane.doe" not in from_request.attributes["toolaudit.attribution"]
