# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""An OpenAI tool-calling loop whose dispatched tool calls are audited and tied to the model's request.

The real ``openai`` SDK talks to a local fake of the OpenAI API (``fake_llm_api.py``, no key, no
network). The app does what every Chat Completions app does: it reads ``message.tool_calls`` and calls
its own handlers. Nothing in the loop mentions auditing: the handlers are ``@audited_tool`` functions,
and the openai integration remembers what the model asked for, so each tool span carries the model's
call id, the model, the provider and a link to the span of the API call that asked for it.

Run it with ``python examples/openai_dispatch.py``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import openai
from fake_llm_api import FakeLLMAPI, Reply, chat_completion
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

from opentelemetry_instrumentation_toolaudit import (
    ToolAuditInstrumentor,
    audit_context,
    audited_tool,
)

ORDERS = {"ORD-456": {"status": "shipped", "total": 59.90}}


@audited_tool
def get_order(order_id: str) -> dict[str, Any]:
    """Fetch an order and its status."""
    return {"order_id": order_id, **ORDERS[order_id]}


@audited_tool
def cancel_order(order_id: str) -> dict[str, Any]:
    """Cancel an order that has not shipped."""
    if ORDERS[order_id]["status"] == "shipped":
        raise PermissionError("orders that shipped cannot be cancelled")
    return {"order_id": order_id, "status": "cancelled"}


HANDLERS = {"get_order": get_order, "cancel_order": cancel_order}
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": name,
            "description": fn.__doc__,
            "parameters": {
                "type": "object",
                "properties": {"order_id": {"type": "string"}},
                "required": ["order_id"],
            },
        },
    }
    for name, fn in HANDLERS.items()
]


def fake_model(path: str, body: dict[str, Any]) -> Reply:
    """The fake API's model: asks for both tools, then answers once it has their results."""
    if any(m.get("role") == "tool" for m in body["messages"]):
        return chat_completion(text="ORD-456 has shipped, so it cannot be cancelled.")
    return chat_completion(
        [
            ("call_get_1", "get_order", {"order_id": "ORD-456"}),
            ("call_cancel_2", "cancel_order", {"order_id": "ORD-456"}),
        ],
        response_id="chatcmpl-demo",
    )


class AuditLinePrinter(SpanExporter):
    """Prints each execute_tool span as one line, with what ties it to the model's request."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        for span in spans:
            a = span.attributes or {}
            if a.get("gen_ai.operation.name") != "execute_tool":
                continue
            ok = "ok  " if a.get("toolaudit.success") else "FAIL"
            links = ",".join(f"{link.context.span_id:016x}" for link in span.links) or "-"
            print(
                f"{ok} {a['gen_ai.tool.name']} call_id={a.get('gen_ai.tool.call.id')}"
                f" model={a.get('gen_ai.request.model')} provider={a.get('gen_ai.provider.name')}"
                f" response={a.get('gen_ai.response.id')} linked_to={links}"
                f"\n     {a.get('toolaudit.attribution')}"
            )
        return SpanExportResult.SUCCESS


def run(provider: TracerProvider, base_url: str) -> str:
    client = openai.OpenAI(base_url=base_url, api_key="not-needed")
    tracer = provider.get_tracer("support-agent")
    messages: list[dict[str, Any]] = [{"role": "user", "content": "Cancel my order ORD-456."}]
    with audit_context(user_id="usr_98765", user_role="support_agent", conversation_id="conv_1"):
        while True:
            # Stands for the span an LLM instrumentation makes around the API call.
            with tracer.start_as_current_span("chat gpt-4.1") as chat:
                completion = client.chat.completions.create(
                    model="gpt-4.1", messages=messages, tools=TOOLS
                )
            print(f"chat span {chat.get_span_context().span_id:016x}")
            message = completion.choices[0].message
            if not message.tool_calls:
                return message.content or ""
            messages.append(message.model_dump(exclude_none=True))
            for call in message.tool_calls:
                try:
                    result = HANDLERS[call.function.name](**json.loads(call.function.arguments))
                except PermissionError as exc:
                    result = {"error": str(exc)}
                messages.append(
                    {"role": "tool", "tool_call_id": call.id, "content": json.dumps(result)}
                )


def main() -> None:
    provider = TracerProvider(resource=Resource.create({"service.name": "support-agent"}))
    provider.add_span_processor(SimpleSpanProcessor(AuditLinePrinter()))
    instrumentor = ToolAuditInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        with FakeLLMAPI(fake_model) as api:
            print(f"assistant: {run(provider, api.openai_url)}")
    finally:
        instrumentor.uninstrument()
        provider.shutdown()


if __name__ == "__main__":
    main()
