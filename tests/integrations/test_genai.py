# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""google-genai automatic function calling: the real client's AFC loop against a local fake Gemini API."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from google.genai import types
from opentelemetry.trace import StatusCode

from opentelemetry_instrumentation_toolaudit import ToolAuditInstrumentor, audit_context
from opentelemetry_instrumentation_toolaudit.integrations import _support

from ..conftest import json_attr, tool_spans
from .fake_gemini import MODEL_VERSION, FakeGemini, function_calls, text
from .genai_support import (
    CANCEL_ORDER,
    CONTEXT,
    GET_ORDER,
    MODEL,
    cancel_order,
    client_for,
    expected,
    generate,
    get_order,
    lookup_customer,
    refund,
)


@pytest.fixture
def two_calls() -> Iterator[FakeGemini]:
    """The model asks for get_order and cancel_order, then answers in text."""
    script = [
        function_calls(
            ("get_order", "call-1", {"order_id": "ORD-456"}),
            ("cancel_order", "call-2", {"order_id": "ORD-456"}),
        ),
        text("Your order has shipped and cannot be cancelled."),
    ]
    with FakeGemini(script) as fake:
        yield fake


def assert_afc_sent_results(fake: FakeGemini) -> None:
    """AFC sent the tool's result, and the tool's exception as an error, back to the model."""
    (result, error) = fake.function_responses(1)
    assert result == {
        "name": "get_order",
        "response": {"result": {"order_id": "ORD-456", "status": "shipped", "total": 59.9}},
    }
    assert error["name"] == "cancel_order"
    assert "Cannot cancel shipped order" in error["response"]["error"]


@pytest.mark.usefixtures("instrument")
def test_sync_afc_one_span_per_call(span_exporter, two_calls):
    """Each function AFC runs is one span with its call id, the model, the backend and the attribution."""
    with audit_context(**CONTEXT):
        response = generate(two_calls, get_order, cancel_order, contents="Cancel ORD-456")

    assert response.text == "Your order has shipped and cannot be cancelled."
    assert_afc_sent_results(two_calls)
    ok, failed = tool_spans(span_exporter)
    assert (ok.name, failed.name) == ("execute_tool get_order", "execute_tool cancel_order")
    assert dict(ok.attributes) == GET_ORDER
    assert ok.status.status_code is StatusCode.UNSET
    assert dict(failed.attributes) == CANCEL_ORDER
    assert failed.status.status_code is StatusCode.ERROR
    (event,) = failed.events
    assert event.attributes["exception.type"] == "PermissionError"


@pytest.mark.usefixtures("instrument")
async def test_async_afc_one_span_per_call(span_exporter):
    """The async loop: async tools, a sync tool run in a worker thread, and a failing async tool."""
    script = [
        function_calls(
            ("lookup_customer", "call-a", {"customer_id": "CUST-1"}),
            ("get_order", "call-1", {"order_id": "ORD-456"}),
            ("refund", "call-r", {"order_id": "ORD-456", "amount": 10.0}),
        ),
        text("Done."),
    ]
    config = types.GenerateContentConfig(tools=[lookup_customer, get_order, refund])
    with FakeGemini(script) as fake:
        client = client_for(fake)
        with audit_context(**CONTEXT):
            response = await client.aio.models.generate_content(
                model=MODEL, contents="Refund ORD-456", config=config
            )
        assert [r["name"] for r in fake.function_responses(1)] == [
            "lookup_customer",
            "get_order",
            "refund",
        ]
        assert "refund window closed" in fake.function_responses(1)[2]["response"]["error"]

    assert response.text == "Done."
    lookup, order, failed = tool_spans(span_exporter)
    assert dict(lookup.attributes) == expected(
        "lookup_customer",
        "call-a",
        '{"customer_id":"CUST-1"}',
        '{"success":true,"customer_id":"CUST-1"}',
        "Look a customer up by id.",
    )
    assert dict(order.attributes) == GET_ORDER
    assert dict(failed.attributes) == expected(
        "refund",
        "call-r",
        '{"order_id":"ORD-456","amount":10}',
        '{"success":false,"error":"refund window closed","error_type":"ValueError"}',
        "Refund part of an order.",
    ) | {"error.type": "ValueError"}
    assert failed.status.status_code is StatusCode.ERROR


@pytest.mark.usefixtures("instrument")
def test_call_ids_follow_arguments(span_exporter):
    """A call AFC skips (no args) does not shift the ids: calls are matched by name and arguments."""
    script = [
        {
            **function_calls(("get_order", "call-b", {"order_id": "ORD-2"})),
        },
        text("ok"),
    ]
    script[0]["candidates"][0]["content"]["parts"].insert(
        0, {"functionCall": {"name": "get_order", "id": "call-a"}}
    )
    with FakeGemini(script) as fake, audit_context(**CONTEXT):
        generate(fake, get_order)

    (span,) = tool_spans(span_exporter)
    assert span.attributes["gen_ai.tool.call.id"] == "call-b"
    assert json_attr(span, "gen_ai.tool.call.arguments") == {"order_id": "ORD-2"}


@pytest.mark.usefixtures("instrument")
def test_stream_and_chat(span_exporter):
    """Streaming AFC and Chat.send_message run their tools through the same hooks."""
    script = [
        function_calls(("get_order", "call-1", {"order_id": "ORD-456"})),
        text("streamed"),
        function_calls(("get_order", "call-1", {"order_id": "ORD-456"})),
        text("chatted"),
    ]
    config = types.GenerateContentConfig(tools=[get_order])
    with FakeGemini(script) as fake, audit_context(**CONTEXT):
        client = client_for(fake)
        chunks = list(
            client.models.generate_content_stream(model=MODEL, contents="x", config=config)
        )
        answer = client.chats.create(model=MODEL, config=config).send_message("y")

    assert chunks[-1].text == "streamed"
    assert answer.text == "chatted"
    streamed, chatted = tool_spans(span_exporter)
    assert dict(streamed.attributes) == GET_ORDER
    assert dict(chatted.attributes) == GET_ORDER


@pytest.mark.usefixtures("instrument")
async def test_async_stream_and_chat(span_exporter):
    """The async streaming loop and the async chat run their tools through the same hooks."""
    script = [
        function_calls(("get_order", "call-1", {"order_id": "ORD-456"})),
        text("streamed"),
        function_calls(("get_order", "call-1", {"order_id": "ORD-456"})),
        text("chatted"),
    ]
    config = types.GenerateContentConfig(tools=[get_order])
    with FakeGemini(script) as fake, audit_context(**CONTEXT):
        client = client_for(fake)
        stream = await client.aio.models.generate_content_stream(
            model=MODEL, contents="x", config=config
        )
        chunks = [chunk async for chunk in stream]
        answer = await client.aio.chats.create(model=MODEL, config=config).send_message("y")

    assert chunks[-1].text == "streamed"
    assert answer.text == "chatted"
    streamed, chatted = tool_spans(span_exporter)
    assert dict(streamed.attributes) == GET_ORDER
    assert dict(chatted.attributes) == GET_ORDER


@pytest.mark.usefixtures("instrument")
def test_no_attribution_context(span_exporter, two_calls):
    """Outside any audit_context the span still has the tool, the call id and the model."""
    generate(two_calls, get_order, cancel_order)

    ok, _ = tool_spans(span_exporter)
    assert dict(ok.attributes) == {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "get_order",
        "gen_ai.tool.type": "function",
        "gen_ai.tool.description": "Fetch an order and its status.",
        "gen_ai.tool.call.id": "call-1",
        "gen_ai.tool.call.arguments": '{"order_id":"ORD-456"}',
        "gen_ai.request.model": MODEL,
        "gen_ai.response.model": MODEL_VERSION,
        "gen_ai.provider.name": "gcp.gemini",
        "toolaudit.trigger": "user_request",
        "toolaudit.attribution": f"User unknown (unknown) → {MODEL} → get_order [user_request]",
        "toolaudit.result.summary": '{"success":true,"order_id":"ORD-456","status":"shipped"}',
        "toolaudit.success": True,
    }


def _patched_targets() -> list[tuple[Any, str]]:
    from google.genai import _adapters, _extra_utils, models

    targets: list[tuple[Any, str]] = [
        (_extra_utils, "get_function_response_parts"),
        (_extra_utils, "get_function_response_parts_async"),
        (_extra_utils, "invoke_function_from_dict_args"),
        (_extra_utils, "invoke_function_from_dict_args_async"),
        (_adapters.McpToGenAiToolAdapter, "call_tool"),
    ]
    for owner in (models.Models, models.AsyncModels):
        targets += [(owner, "_generate_content"), (owner, "_generate_content_stream")]
    return targets


def _raw(owner: Any, attr: str) -> Any:
    return vars(owner)[attr]


def test_uninstrument_restores_every_attribute(tracer_provider, span_exporter, two_calls):
    """Uninstrument puts back the very objects that were there, and AFC then records nothing."""
    targets = _patched_targets()
    before = [_raw(owner, attr) for owner, attr in targets]
    instrumentor = ToolAuditInstrumentor()
    instrumentor.instrument(tracer_provider=tracer_provider)
    try:
        assert all(_raw(o, a) is not b for (o, a), b in zip(targets, before, strict=True))
    finally:
        instrumentor.uninstrument()
    assert all(_raw(o, a) is b for (o, a), b in zip(targets, before, strict=True))

    generate(two_calls, get_order, cancel_order)
    assert tool_spans(span_exporter) == []


def test_unsupported_version_is_skipped_and_logged_once(
    tracer_provider, monkeypatch, caplog, two_calls, span_exporter
):
    """A google-genai outside the supported range is left unpatched, with one warning, and works."""
    monkeypatch.setattr(_support, "_reported", set())
    real_release = _support.release
    monkeypatch.setattr(
        _support,
        "release",
        lambda dist: (9, 0, 0) if dist == "google-genai" else real_release(dist),
    )
    targets = _patched_targets()
    before = [_raw(owner, attr) for owner, attr in targets]
    caplog.set_level(logging.WARNING, logger="opentelemetry_instrumentation_toolaudit")
    instrumentor = ToolAuditInstrumentor()
    for _ in range(2):
        instrumentor.instrument(tracer_provider=tracer_provider)
        try:
            assert all(_raw(o, a) is b for (o, a), b in zip(targets, before, strict=True))
        finally:
            instrumentor.uninstrument()

    assert [r.getMessage() for r in caplog.records] == [
        "toolaudit: integration genai skipped: google-genai 9.0.0 is outside the supported "
        "range >=1.20,<4"
    ]
    response = generate(two_calls, get_order, cancel_order)
    assert response.text == "Your order has shipped and cannot be cancelled."


def test_disabled_by_environment(tracer_provider, monkeypatch, span_exporter, two_calls):
    """OTEL_PYTHON_TOOLAUDIT_DISABLED_INTEGRATIONS=genai leaves google-genai unpatched."""
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_DISABLED_INTEGRATIONS", "openai, genai")
    targets = _patched_targets()
    before = [_raw(owner, attr) for owner, attr in targets]
    instrumentor = ToolAuditInstrumentor()
    instrumentor.instrument(tracer_provider=tracer_provider)
    try:
        assert all(_raw(o, a) is b for (o, a), b in zip(targets, before, strict=True))
        generate(two_calls, get_order, cancel_order)
    finally:
        instrumentor.uninstrument()
    assert tool_spans(span_exporter) == []
