# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""anthropic: tool_use blocks are remembered and linked to the app's audited dispatch.

The real anthropic SDK talks HTTP to a local fake of the Messages API. The SDK's own OpenTelemetry
tracing is on (given the test's TracerProvider), so its ``anthropic.messages.create`` span is the chat
span a tool call links to, and its tool runner's ``execute_tool`` span is the one ours must enrich.
"""

from __future__ import annotations

import json

import anthropic
import pytest
from anthropic import _base_client, _response
from anthropic.lib.tools import beta_tool

from opentelemetry_instrumentation_toolaudit import ToolAuditInstrumentor, audit_context
from tests.apps import llm_tools

from ..conftest import tool_spans
from .conftest import dispatch_attributes, fake_api, linked_span_ids

ORD1 = {"order_id": "ORD-1"}
ORD2 = {"order_id": "ORD-2"}
SHIPPED = '{"success":true,"order_id":"ORD-1","status":"shipped"}'
PROCESSING = '{"success":true,"order_id":"ORD-2","status":"processing"}'
MODEL = "claude-opus-4-6"

pytestmark = pytest.mark.usefixtures("instrument")


def expected(call_id, arguments, summary, message_id, **kwargs):
    return dispatch_attributes(
        "lookup_order",
        call_id=call_id,
        arguments=json.dumps(arguments, separators=(",", ":")),
        provider="anthropic",
        model=MODEL,
        response_id=message_id,
        summary=summary,
        description="Look an order up.",
        **kwargs,
    )


def make_client(server, tracer_provider, cls=anthropic.Anthropic):
    return cls(
        base_url=server.url,
        api_key="test",
        open_telemetry={"tracer_provider": tracer_provider},
    )


def sdk_spans(exporter, name):
    return [s for s in exporter.get_finished_spans() if s.name == name]


def test_message_tool_use_links_to_the_sdks_own_span(tracer_provider, span_exporter):
    """Each tool_use block's dispatch gets its id, the model, provider anthropic, and a link to the SDK's span."""
    calls = [("toolu_1", "lookup_order", ORD1), ("toolu_2", "lookup_order", ORD2)]
    reply = fake_api.anthropic_message(calls, text="Let me look.", message_id="msg_a")
    with fake_api.FakeLLMAPI([reply]) as server, audit_context(user_id="usr_1"):
        client = make_client(server, tracer_provider)
        message = client.messages.create(model=MODEL, max_tokens=100, messages=[])
        for block in reversed([b for b in message.content if b.type == "tool_use"]):
            llm_tools.lookup_order(**block.input)
    (chat,) = sdk_spans(span_exporter, "anthropic.messages.create")
    second, first = tool_spans(span_exporter)
    assert expected("toolu_2", ORD2, PROCESSING, "msg_a") == dict(second.attributes)
    assert expected("toolu_1", ORD1, SHIPPED, "msg_a") == dict(first.attributes)
    assert [[chat.context.span_id]] * 2 == [linked_span_ids(second), linked_span_ids(first)]


async def test_async_stream_helper(tracer_provider, span_exporter):
    """messages.stream() (async) still accumulates the message; each tool_use is remembered at its block's end."""
    reply = fake_api.anthropic_stream([("toolu_s", "lookup_order", ORD2)], message_id="msg_s")
    with fake_api.FakeLLMAPI([reply]) as server, audit_context(user_id="usr_1"):
        client = make_client(server, tracer_provider, anthropic.AsyncAnthropic)
        async with client.messages.stream(model=MODEL, max_tokens=100, messages=[]) as stream:
            message = await stream.get_final_message()
        (block,) = message.content
        assert (block.id, block.input) == ("toolu_s", ORD2)
        await llm_tools.lookup_order_async(**block.input)
    (chat,) = sdk_spans(span_exporter, "anthropic.messages.create")
    (span,) = tool_spans(span_exporter)
    assert expected("toolu_s", ORD2, PROCESSING, "msg_s") == dict(span.attributes)
    assert [chat.context.span_id] == linked_span_ids(span)


def test_raw_event_stream_reaches_the_app_unchanged(tracer_provider, span_exporter):
    """create(stream=True) yields every event as sent; the call is remembered from the fragments."""
    reply = fake_api.anthropic_stream([("toolu_e", "lookup_order", ORD1)], message_id="msg_e")
    with fake_api.FakeLLMAPI([reply]) as server, audit_context(user_id="usr_1"):
        client = make_client(server, tracer_provider)
        stream = client.messages.create(model=MODEL, max_tokens=100, messages=[], stream=True)
        assert type(stream) is anthropic.Stream
        events = [event.model_dump(exclude_unset=True) for event in stream]
        llm_tools.lookup_order("ORD-1")
    assert [payload for _, payload in reply.events] == events
    (span,) = tool_spans(span_exporter)
    assert expected("toolu_e", ORD1, SHIPPED, "msg_e") == dict(span.attributes)


def test_with_raw_response(tracer_provider, span_exporter):
    """with_raw_response hands back the raw wrapper; the message is read when the app parses it."""
    reply = fake_api.anthropic_message([("toolu_r", "lookup_order", ORD1)], message_id="msg_r")
    with fake_api.FakeLLMAPI([reply]) as server, audit_context(user_id="usr_1"):
        client = make_client(server, tracer_provider)
        raw = client.messages.with_raw_response.create(model=MODEL, max_tokens=100, messages=[])
        assert isinstance(raw, _response.APIResponse)
        (block,) = raw.parse().content
        llm_tools.lookup_order(**block.input)
    (span,) = tool_spans(span_exporter)
    assert expected("toolu_r", ORD1, SHIPPED, "msg_r") == dict(span.attributes)


def test_tool_failure(tracer_provider, span_exporter):
    """A failing tool's span has error.type and the link; the tool's exception reaches the app unchanged."""
    reply = fake_api.anthropic_message([("toolu_f", "cancel_order", ORD1)], message_id="msg_f")
    with fake_api.FakeLLMAPI([reply]) as server, audit_context(user_id="usr_1"):
        client = make_client(server, tracer_provider)
        (block,) = client.messages.create(model=MODEL, max_tokens=100, messages=[]).content
        with pytest.raises(PermissionError):
            llm_tools.cancel_order(**block.input)
    (span,) = tool_spans(span_exporter)
    summary = '{"success":false,"error":"orders that shipped cannot be cancelled","error_type":"PermissionError"}'
    assert dispatch_attributes(
        "cancel_order",
        call_id="toolu_f",
        arguments='{"order_id":"ORD-1"}',
        provider="anthropic",
        model=MODEL,
        response_id="msg_f",
        summary=summary,
        description="Cancel an order that has not shipped.",
        failed="PermissionError",
    ) == dict(span.attributes)


def test_tool_runner_span_is_enriched_not_duplicated(tracer_provider, span_exporter):
    """The SDK's tool runner makes its own execute_tool span: an audited tool enriches it, no second span."""
    replies = [
        fake_api.anthropic_message([("toolu_t", "lookup_order", ORD1)], message_id="msg_t"),
        fake_api.anthropic_message(text="ORD-1 has shipped.", message_id="msg_t2"),
    ]
    with fake_api.FakeLLMAPI(replies) as server, audit_context(user_id="usr_1"):
        client = make_client(server, tracer_provider)
        runner = client.beta.messages.tool_runner(
            model=MODEL, max_tokens=100, messages=[], tools=[beta_tool(llm_tools.lookup_order)]
        )
        final = runner.until_done()
    assert final.content[0].text == "ORD-1 has shipped."
    (span,) = tool_spans(span_exporter)
    assert span.name == "anthropic.custom_tool_use lookup_order"
    (chat, _) = sdk_spans(span_exporter, "anthropic.messages.create")
    attributes = dict(span.attributes)
    ours = {k: attributes[k] for k in ("gen_ai.tool.call.id", "gen_ai.request.model", "user.id")}
    assert ours == {
        "gen_ai.tool.call.id": "toolu_t",
        "gen_ai.request.model": MODEL,
        "user.id": "usr_1",
    }
    assert (
        attributes["gen_ai.provider.name"],
        attributes["gen_ai.response.id"],
        attributes["toolaudit.result.summary"],
    ) == ("anthropic", "msg_t", SHIPPED)
    assert [chat.context.span_id] == linked_span_ids(span)


def test_uninstrument_restores_the_sdk(tracer_provider):
    """uninstrument() puts back the very objects that were patched."""
    targets = [
        (_base_client.SyncAPIClient, "_process_response"),
        (_base_client.AsyncAPIClient, "_process_response"),
        (_response.APIResponse, "parse"),
        (_response.AsyncAPIResponse, "parse"),
    ]
    before = [vars(owner)[name] for owner, name in targets]
    instrumentor = ToolAuditInstrumentor()
    # The fixture's instrumentor already patched: uninstrument it to start from the original.
    instrumentor.uninstrument()
    originals = [vars(owner)[name] for owner, name in targets]
    instrumentor.instrument(tracer_provider=tracer_provider)
    patched = [vars(owner)[name] for owner, name in targets]
    instrumentor.uninstrument()
    after = [vars(owner)[name] for owner, name in targets]
    assert [a is b for a, b in zip(before, originals, strict=True)] == [False] * 4
    assert [a is b for a, b in zip(originals, patched, strict=True)] == [False] * 4
    assert [a is b for a, b in zip(originals, after, strict=True)] == [True] * 4
    instrumentor.instrument(tracer_provider=tracer_provider)
