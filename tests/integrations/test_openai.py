# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""openai: the tool calls a model returns are remembered and linked to the app's audited dispatch.

The real openai SDK talks HTTP to a local fake of the OpenAI API (tests/integrations/conftest.py).
"""

from __future__ import annotations

import json

import openai
import pytest
import wrapt
from openai import _base_client, _legacy_response, _response

from opentelemetry_instrumentation_toolaudit import ToolAuditInstrumentor, audit_context
from tests.apps import llm_tools

from ..conftest import tool_spans
from .conftest import dispatch_attributes, fake_api, linked_span_ids, patched_and_restored

ORD1 = {"order_id": "ORD-1"}
ORD2 = {"order_id": "ORD-2"}
SHIPPED = '{"success":true,"order_id":"ORD-1","status":"shipped"}'
PROCESSING = '{"success":true,"order_id":"ORD-2","status":"processing"}'
LOOKUP = "Look an order up."


@pytest.fixture
def chat_span(tracer_provider):
    """A span standing for the chat span the app (or an LLM instrumentation) has around create()."""
    tracer = tracer_provider.get_tracer("app")

    def start():
        return tracer.start_as_current_span("chat gpt-4.1")

    return start


def expected(call_id, arguments, summary, response_id, **kwargs):
    return dispatch_attributes(
        "lookup_order",
        call_id=call_id,
        arguments=json.dumps(arguments, separators=(",", ":")),
        provider="openai",
        model="gpt-4.1",
        response_id=response_id,
        summary=summary,
        description=LOOKUP,
        **kwargs,
    )


def api(*replies):
    return fake_api.FakeLLMAPI(list(replies))


@pytest.mark.usefixtures("instrument")
def test_chat_completion_calls_link_to_the_chat_span(span_exporter, chat_span):
    """Each dispatched tool call gets its call id, model, provider, response id and a link to the chat span."""
    reply = fake_api.chat_completion(
        [("call_1", "lookup_order", ORD1), ("call_2", "lookup_order", ORD2)]
    )
    with api(reply) as server, audit_context(user_id="usr_1"):
        client = openai.OpenAI(base_url=server.openai_url, api_key="test")
        with chat_span() as chat:
            completion = client.chat.completions.create(
                model="gpt-4.1", messages=[{"role": "user", "content": "where are my orders?"}]
            )
        # Dispatched in reverse order: the arguments decide which call is which.
        for tool_call in reversed(completion.choices[0].message.tool_calls):
            llm_tools.lookup_order(**json.loads(tool_call.function.arguments))
    second, first = tool_spans(span_exporter)
    assert expected("call_2", ORD2, PROCESSING, "chatcmpl-1") == dict(second.attributes)
    assert expected("call_1", ORD1, SHIPPED, "chatcmpl-1") == dict(first.attributes)
    chat_id = chat.get_span_context().span_id
    assert [[chat_id], [chat_id]] == [linked_span_ids(second), linked_span_ids(first)]
    assert isinstance(completion, openai.types.chat.ChatCompletion)


@pytest.mark.usefixtures("instrument")
async def test_async_chat_completion(span_exporter):
    """AsyncCompletions.create is read the same way, and an async tool claims its call."""
    reply = fake_api.chat_completion([("call_9", "lookup_order", ORD1)], response_id="chatcmpl-9")
    with api(reply) as server, audit_context(user_id="usr_1"):
        client = openai.AsyncOpenAI(base_url=server.openai_url, api_key="test")
        completion = await client.chat.completions.create(model="gpt-4.1", messages=[])
        (tool_call,) = completion.choices[0].message.tool_calls
        await llm_tools.lookup_order_async(**json.loads(tool_call.function.arguments))
    (span,) = tool_spans(span_exporter)
    assert expected("call_9", ORD1, SHIPPED, "chatcmpl-9") == dict(span.attributes)
    assert linked_span_ids(span) == []


@pytest.mark.usefixtures("instrument")
def test_streamed_chat_completion_is_unchanged_and_remembered(span_exporter):
    """A stream still streams the same chunks; its tool calls are remembered as they complete."""
    calls = [("call_s1", "lookup_order", ORD1), ("call_s2", "lookup_order", ORD2)]
    reply = fake_api.chat_completion_stream(calls)
    with api(reply) as server:
        client = openai.OpenAI(base_url=server.openai_url, api_key="test")
        stream = client.chat.completions.create(model="gpt-4.1", messages=[], stream=True)
        assert type(stream) is openai.Stream
        chunks = list(stream)
        with audit_context(user_id="usr_1"):
            llm_tools.lookup_order("ORD-2")
            llm_tools.lookup_order("ORD-1")
    # Every chunk the fake sent reached the app, in order and as sent.
    assert [payload["choices"] for _, payload in reply.events] == [
        c.model_dump(exclude_unset=True)["choices"] for c in chunks
    ]
    second, first = tool_spans(span_exporter)
    assert expected("call_s2", ORD2, PROCESSING, "chatcmpl-2") == dict(second.attributes)
    assert expected("call_s1", ORD1, SHIPPED, "chatcmpl-2") == dict(first.attributes)


@pytest.mark.usefixtures("instrument")
async def test_async_stream_helper(span_exporter):
    """The chat.completions.stream() helper (async) still accumulates, and its calls are remembered."""
    calls = [("call_h1", "lookup_order", ORD1)]
    with api(fake_api.chat_completion_stream(calls, response_id="chatcmpl-h")) as server:
        client = openai.AsyncOpenAI(base_url=server.openai_url, api_key="test")
        async with client.chat.completions.stream(model="gpt-4.1", messages=[]) as stream:
            final = await stream.get_final_completion()
        (tool_call,) = final.choices[0].message.tool_calls
        assert (tool_call.id, tool_call.function.arguments) == ("call_h1", '{"order_id": "ORD-1"}')
        with audit_context(user_id="usr_1"):
            await llm_tools.lookup_order_async("ORD-1")
    (span,) = tool_spans(span_exporter)
    assert expected("call_h1", ORD1, SHIPPED, "chatcmpl-h") == dict(span.attributes)


@pytest.mark.usefixtures("instrument")
def test_with_raw_response_is_read_when_parsed(span_exporter, chat_span):
    """with_raw_response returns the raw wrapper unchanged; its calls are remembered when parsed."""
    reply = fake_api.chat_completion([("call_r", "lookup_order", ORD1)], response_id="chatcmpl-r")
    with api(reply) as server, audit_context(user_id="usr_1"):
        client = openai.OpenAI(base_url=server.openai_url, api_key="test")
        with chat_span() as chat:
            raw = client.chat.completions.with_raw_response.create(model="gpt-4.1", messages=[])
        assert type(raw) is _legacy_response.LegacyAPIResponse
        completion = raw.parse()
        (tool_call,) = completion.choices[0].message.tool_calls
        llm_tools.lookup_order(**json.loads(tool_call.function.arguments))
    (span,) = tool_spans(span_exporter)
    assert expected("call_r", ORD1, SHIPPED, "chatcmpl-r") == dict(span.attributes)
    assert [chat.get_span_context().span_id] == linked_span_ids(span)


@pytest.mark.usefixtures("instrument")
def test_responses_function_calls(span_exporter):
    """Responses API function_call items are remembered, by their call_id."""
    reply = fake_api.responses_output([("fc_call_1", "lookup_order", ORD1)], response_id="resp_7")
    with api(reply) as server, audit_context(user_id="usr_1"):
        client = openai.OpenAI(base_url=server.openai_url, api_key="test")
        response = client.responses.create(model="gpt-4.1", input="where is ORD-1?")
        (item,) = [i for i in response.output if i.type == "function_call"]
        llm_tools.lookup_order(**json.loads(item.arguments))
    (span,) = tool_spans(span_exporter)
    assert expected("fc_call_1", ORD1, SHIPPED, "resp_7") == dict(span.attributes)


@pytest.mark.usefixtures("instrument")
async def test_async_responses_stream(span_exporter):
    """A streamed Responses call is remembered at output_item.done; every event reaches the app."""
    reply = fake_api.responses_stream([("call_rs", "lookup_order", ORD2)], response_id="resp_s")
    with api(reply) as server, audit_context(user_id="usr_1"):
        client = openai.AsyncOpenAI(base_url=server.openai_url, api_key="test")
        stream = await client.responses.create(model="gpt-4.1", input="x", stream=True)
        kinds = [event.type async for event in stream]
        await llm_tools.lookup_order_async("ORD-2")
    assert kinds == [
        "response.created",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.output_item.done",
        "response.completed",
    ]
    (span,) = tool_spans(span_exporter)
    assert expected("call_rs", ORD2, PROCESSING, "resp_s") == dict(span.attributes)


def test_dispatch_target_matches_by_call_id(tracer_provider, span_exporter, monkeypatch):
    """A no-code dispatch target passing tool_call_id claims exactly that call, whatever the order."""
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_TOOLS", "tests.apps.llm_tools:dispatch")
    instrumentor = ToolAuditInstrumentor()
    instrumentor.instrument(tracer_provider=tracer_provider)
    try:
        # Same name and arguments twice: only the call id tells them apart.
        calls = [("call_x", "lookup_order", ORD1), ("call_y", "lookup_order", ORD1)]
        with api(fake_api.chat_completion(calls)) as server, audit_context(user_id="usr_1"):
            client = openai.OpenAI(base_url=server.openai_url, api_key="test")
            completion = client.chat.completions.create(model="gpt-4.1", messages=[])
            for tool_call in reversed(completion.choices[0].message.tool_calls):
                llm_tools.dispatch(
                    tool_call.function.name, tool_call.function.arguments, tool_call.id
                )
    finally:
        instrumentor.uninstrument()
    # One span per call: the decorated handler enriches the dispatcher's span instead of nesting.
    spans = tool_spans(span_exporter)
    assert [s.attributes["gen_ai.tool.call.id"] for s in spans] == ["call_y", "call_x"]
    assert expected("call_y", ORD1, SHIPPED, "chatcmpl-1") == dict(spans[0].attributes)


@pytest.mark.usefixtures("instrument")
def test_tool_failure_is_recorded_and_raised_unchanged(span_exporter):
    """A failing dispatched tool records error.type on the linked span and raises its own exception."""
    reply = fake_api.chat_completion([("call_f", "cancel_order", ORD1)])
    with api(reply) as server, audit_context(user_id="usr_1"):
        client = openai.OpenAI(base_url=server.openai_url, api_key="test")
        completion = client.chat.completions.create(model="gpt-4.1", messages=[])
        (tool_call,) = completion.choices[0].message.tool_calls
        with pytest.raises(PermissionError, match="orders that shipped cannot be cancelled"):
            llm_tools.cancel_order(**json.loads(tool_call.function.arguments))
    (span,) = tool_spans(span_exporter)
    summary = {
        "success": False,
        "error": "orders that shipped cannot be cancelled",
        "error_type": "PermissionError",
    }
    assert dispatch_attributes(
        "cancel_order",
        call_id="call_f",
        arguments='{"order_id":"ORD-1"}',
        provider="openai",
        model="gpt-4.1",
        response_id="chatcmpl-1",
        summary=json.dumps(summary, separators=(",", ":")),
        description="Cancel an order that has not shipped.",
        failed="PermissionError",
    ) == dict(span.attributes)
    assert (span.status.status_code.name, span.events[0].name) == ("ERROR", "exception")


@pytest.mark.usefixtures("instrument")
def test_each_remembered_call_is_used_once(span_exporter):
    """A call the model asked for once links one dispatch; a second dispatch, or another tool, links none."""
    reply = fake_api.chat_completion([("call_once", "lookup_order", ORD1)])
    with api(reply) as server:
        client = openai.OpenAI(base_url=server.openai_url, api_key="test")
        client.chat.completions.create(model="gpt-4.1", messages=[])
        llm_tools.lookup_order("ORD-1")
        llm_tools.lookup_order("ORD-1")
    first, second = tool_spans(span_exporter)
    assert first.attributes["gen_ai.tool.call.id"] == "call_once"
    assert ("gen_ai.tool.call.id" in second.attributes, second.links) == (False, ())


@pytest.mark.usefixtures("instrument")
def test_other_api_calls_are_not_read(span_exporter):
    """Only model calls are read: an embeddings call remembers nothing, and its result is untouched."""
    vector = {"object": "embedding", "index": 0, "embedding": [0.5]}
    usage = {"prompt_tokens": 1, "total_tokens": 1}
    embedding = {"object": "list", "data": [vector], "model": "e", "usage": usage}
    with api(fake_api.Reply(embedding)) as server:
        client = openai.OpenAI(base_url=server.openai_url, api_key="test")
        result = client.embeddings.create(model="e", input="x", encoding_format="float")
    from opentelemetry_instrumentation_toolaudit.integrations._remembered import REGISTRY

    assert (REGISTRY.pending, result.object) == (0, "list")


def test_uninstrument_restores_every_patched_attribute(tracer_provider):
    """uninstrument() puts back the very objects that were patched, and nothing is remembered after."""
    targets = [
        (_base_client.SyncAPIClient, "_process_response"),
        (_base_client.AsyncAPIClient, "_process_response"),
        (_legacy_response.LegacyAPIResponse, "parse"),
        (_response.APIResponse, "parse"),
        (_response.AsyncAPIResponse, "parse"),
    ]
    assert patched_and_restored(tracer_provider, targets) == ([True] * 5, [True] * 5)


def test_disabled_integration_is_not_patched(tracer_provider, monkeypatch):
    """OTEL_PYTHON_TOOLAUDIT_DISABLED_INTEGRATIONS=openai leaves the SDK untouched."""
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_DISABLED_INTEGRATIONS", "mcp, openai")
    original = vars(_base_client.SyncAPIClient)["_process_response"]
    instrumentor = ToolAuditInstrumentor()
    instrumentor.instrument(tracer_provider=tracer_provider)
    try:
        assert vars(_base_client.SyncAPIClient)["_process_response"] is original
    finally:
        instrumentor.uninstrument()


class ChatInstrumentation:
    """Stands in for an LLM instrumentation (opentelemetry-instrumentation-openai-v2 patches the same
    method the same way): a ``chat {model}`` span current around ``Completions.create``."""

    def __init__(self, tracer_provider) -> None:
        self._tracer = tracer_provider.get_tracer("llm-instrumentation")
        self._original = vars(openai.resources.chat.completions.Completions)["create"]

    def instrument(self) -> None:
        def create(wrapped, instance, args, kwargs):
            with self._tracer.start_as_current_span(f"chat {kwargs['model']}"):
                return wrapped(*args, **kwargs)

        wrapt.wrap_function_wrapper(openai.resources.chat.completions.Completions, "create", create)

    def uninstrument(self) -> None:
        openai.resources.chat.completions.Completions.create = self._original


@pytest.mark.parametrize("ours_first", [True, False], ids=["toolaudit-first", "llm-first"])
def test_link_points_at_an_llm_instrumentations_chat_span(
    tracer_provider, span_exporter, ours_first
):
    """The tool span links to the chat span another instrumentation makes around create(), whichever patched first."""
    ours, theirs = ToolAuditInstrumentor(), ChatInstrumentation(tracer_provider)
    if ours_first:
        ours.instrument(tracer_provider=tracer_provider)
        theirs.instrument()
    else:
        theirs.instrument()
        ours.instrument(tracer_provider=tracer_provider)
    try:
        reply = fake_api.chat_completion(
            [("call_v2", "lookup_order", ORD1)], response_id="chatcmpl-v2"
        )
        with api(reply) as server, audit_context(user_id="usr_1"):
            client = openai.OpenAI(base_url=server.openai_url, api_key="test")
            completion = client.chat.completions.create(model="gpt-4.1", messages=[])
            (tool_call,) = completion.choices[0].message.tool_calls
            llm_tools.lookup_order(**json.loads(tool_call.function.arguments))
    finally:
        theirs.uninstrument()
        ours.uninstrument()
    (chat,) = [s for s in span_exporter.get_finished_spans() if s.name == "chat gpt-4.1"]
    (span,) = tool_spans(span_exporter)
    assert [chat.context.span_id] == linked_span_ids(span)
    assert expected("call_v2", ORD1, SHIPPED, "chatcmpl-v2") == dict(span.attributes)


@pytest.mark.usefixtures("instrument")
def test_malformed_model_arguments_are_remembered_safely(span_exporter):
    """Arguments that are not JSON (or are huge) never break the SDK call; the call still links by name."""
    reply = fake_api.chat_completion([("call_bad", "lookup_order", ORD1)])
    reply.body["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] = (
        '{"order_id": "ORD-1", "note": "' + "\ud800x" * 50_000 + '"'
    )
    with api(reply) as server:
        client = openai.OpenAI(base_url=server.openai_url, api_key="test")
        completion = client.chat.completions.create(model="gpt-4.1", messages=[])
        assert completion.choices[0].message.tool_calls[0].function.arguments.endswith('x"')
        llm_tools.lookup_order("ORD-1")
    from opentelemetry_instrumentation_toolaudit import error_counts

    (span,) = tool_spans(span_exporter)
    assert span.attributes["gen_ai.tool.call.id"] == "call_bad"
    assert not any("openai" in kind for kind in error_counts())
