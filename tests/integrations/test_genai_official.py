# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""No duplicates: with opentelemetry-instrumentation-google-genai also active, one span per tool call.

The official instrumentation wraps each AFC tool function in its own ``execute_tool {name}`` span.
Ours must enrich that span with the attribution, call id and outcome instead of adding a second one.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from google.genai import types
from opentelemetry.instrumentation.google_genai import GoogleGenAiSdkInstrumentor, tool_call_wrapper
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode

from opentelemetry_instrumentation_toolaudit import ToolAuditInstrumentor, audit_context

from ..conftest import tool_spans
from .fake_gemini import FakeGemini, function_calls, text
from .genai_support import (
    CANCEL_ORDER,
    CONTEXT,
    GET_ORDER,
    MODEL,
    cancel_order,
    client_for,
    expected,
    get_order,
    lookup_customer,
    refund,
)

OFFICIAL_SCOPE = "opentelemetry.instrumentation.google_genai"


@pytest.fixture(params=["toolaudit-first", "official-first"])
def both_instrumented(request, tracer_provider, monkeypatch) -> Iterator[None]:
    """Both instrumentations on one TracerProvider, instrumented in either order."""
    # The official instrumentor sets this variable; let monkeypatch put it back afterwards.
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_EMIT_EVENT", "false")
    from google.genai import models

    originals = (
        vars(models.Models)["generate_content"],
        vars(tool_call_wrapper)["_wrap_tool_function"],
    )
    ours, official = ToolAuditInstrumentor(), GoogleGenAiSdkInstrumentor()
    steps = [
        lambda: ours.instrument(tracer_provider=tracer_provider),
        # Its declared range stops below google-genai 3; the tool wrapping works with 3.x.
        lambda: official.instrument(tracer_provider=tracer_provider, skip_dep_check=True),
    ]
    if request.param == "official-first":
        steps.reverse()
    for step in steps:
        step()
    yield
    ours.uninstrument()
    official.uninstrument()
    restored = (
        vars(models.Models)["generate_content"],
        vars(tool_call_wrapper)["_wrap_tool_function"],
    )
    assert all(now is then for now, then in zip(restored, originals, strict=True))


def official_tool_spans(spans: list[ReadableSpan]) -> list[ReadableSpan]:
    assert {s.instrumentation_scope.name for s in spans} == {OFFICIAL_SCOPE}
    return spans


@pytest.mark.usefixtures("both_instrumented")
def test_sync_one_span_per_call_is_the_official_one_enriched(span_exporter):
    """Each call has exactly one execute_tool span: the official one, with our attribution and ids."""
    script = [
        function_calls(
            ("get_order", "call-1", {"order_id": "ORD-456"}),
            ("cancel_order", "call-2", {"order_id": "ORD-456"}),
        ),
        text("done"),
    ]
    with FakeGemini(script) as fake:
        client = client_for(fake)
        config = types.GenerateContentConfig(tools=[get_order, cancel_order])
        with audit_context(**CONTEXT):
            response = client.models.generate_content(model=MODEL, contents="x", config=config)

    assert response.text == "done"
    ok, failed = official_tool_spans(tool_spans(span_exporter))
    # The official instrumentation writes the whole docstring when its span ends.
    assert dict(ok.attributes) == GET_ORDER | {"gen_ai.tool.description": get_order.__doc__}
    assert dict(failed.attributes) == CANCEL_ORDER
    assert failed.status.status_code is StatusCode.ERROR
    assert [e.attributes["exception.type"] for e in failed.events] == ["PermissionError"]
    (chat,) = [
        s for s in span_exporter.get_finished_spans() if s.name == f"generate_content {MODEL}"
    ]
    assert {ok.parent.span_id, failed.parent.span_id} == {chat.context.span_id}


@pytest.mark.usefixtures("both_instrumented")
async def test_async_one_span_per_call(span_exporter):
    """The async loop too, including a sync tool the SDK runs in a worker thread."""
    script = [
        function_calls(
            ("lookup_customer", "call-a", {"customer_id": "CUST-1"}),
            ("get_order", "call-1", {"order_id": "ORD-456"}),
            ("refund", "call-r", {"order_id": "ORD-456", "amount": 10}),
        ),
        text("done"),
    ]
    with FakeGemini(script) as fake:
        client = client_for(fake)
        config = types.GenerateContentConfig(tools=[lookup_customer, get_order, refund])
        with audit_context(**CONTEXT):
            await client.aio.models.generate_content(model=MODEL, contents="x", config=config)

    lookup, order, failed = official_tool_spans(tool_spans(span_exporter))
    assert dict(lookup.attributes) == expected(
        "lookup_customer",
        "call-a",
        '{"customer_id":"CUST-1"}',
        '{"success":true,"customer_id":"CUST-1"}',
        "Look a customer up by id.",
    )
    assert dict(order.attributes) == GET_ORDER | {"gen_ai.tool.description": get_order.__doc__}
    assert dict(failed.attributes) == expected(
        "refund",
        "call-r",
        '{"order_id":"ORD-456","amount":10}',
        '{"success":false,"error":"refund window closed","error_type":"ValueError"}',
        "Refund part of an order.",
    ) | {"error.type": "ValueError"}


def test_official_alone_is_untouched(tracer_provider, span_exporter, monkeypatch):
    """Without our instrumentor the official tool spans are exactly as that package makes them."""
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_EMIT_EVENT", "false")
    official = GoogleGenAiSdkInstrumentor()
    official.instrument(tracer_provider=tracer_provider, skip_dep_check=True)
    script = [function_calls(("get_order", "call-1", {"order_id": "ORD-456"})), text("done")]
    try:
        with FakeGemini(script) as fake:
            client = client_for(fake)
            config = types.GenerateContentConfig(tools=[get_order])
            with audit_context(**CONTEXT):
                client.models.generate_content(model=MODEL, contents="x", config=config)
    finally:
        official.uninstrument()

    (span,) = tool_spans(span_exporter)
    expected_attrs: dict[str, Any] = {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "get_order",
        "gen_ai.tool.description": get_order.__doc__,
    }
    assert dict(span.attributes) == expected_attrs
