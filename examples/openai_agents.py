# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""An openai-agents support agent whose function tools are audited with no change to the agent.

The real ``Runner`` drives the real ``openai`` SDK against a local fake of the OpenAI Responses API
(``fake_llm_api.py``, no key, no network). The tools are plain ``@function_tool`` functions: the
agents integration turns each invocation into an ``execute_tool`` span with the call id the model
gave, the model and provider, and the user from the ``audit_context``. One tool fails: the SDK tells
the model "An error occurred...", and the span still records the failure and its ``error.type``.

Run it with ``python examples/openai_agents.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import openai
from agents import Agent, OpenAIResponsesModel, Runner, function_tool, set_tracing_disabled
from fake_llm_api import FakeLLMAPI, Reply, responses_output
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

from opentelemetry_instrumentation_toolaudit import ToolAuditInstrumentor, audit_context


@function_tool
def get_order(order_id: str) -> dict[str, Any]:
    """Fetch an order and its status."""
    return {"order_id": order_id, "status": "shipped", "total": 59.90}


@function_tool
def issue_refund(order_id: str, amount: float) -> dict[str, Any]:
    """Refund an order."""
    if amount > 50:
        raise PermissionError("refunds over 50.00 need a supervisor")
    return {"id": "RF-1", "order_id": order_id, "status": "refunded"}


def fake_model(path: str, body: dict[str, Any]) -> Reply:
    """The fake API's model: asks for both tools, then answers once it has their outputs."""
    if any(item.get("type") == "function_call_output" for item in body["input"]):
        return responses_output(text="I have asked a supervisor to approve your refund.")
    return responses_output(
        [
            ("call_order_1", "get_order", {"order_id": "ORD-456"}),
            ("call_refund_2", "issue_refund", {"order_id": "ORD-456", "amount": 59.90}),
        ],
        response_id="resp_demo",
    )


class AuditLinePrinter(SpanExporter):
    """Prints each execute_tool span as one readable line."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        for span in spans:
            a = span.attributes or {}
            if a.get("gen_ai.operation.name") != "execute_tool":
                continue
            outcome = "ok  " if a.get("toolaudit.success") else f"FAIL {a.get('error.type')}"
            print(
                f"{outcome} {a['gen_ai.tool.name']}({a.get('gen_ai.tool.call.arguments')})"
                f" call_id={a.get('gen_ai.tool.call.id')} agent={a.get('gen_ai.agent.name')}"
                f" provider={a.get('gen_ai.provider.name')} response={a.get('gen_ai.response.id')}"
                f"\n     {a.get('toolaudit.attribution')}"
            )
        return SpanExportResult.SUCCESS


async def run(base_url: str) -> str:
    client = openai.AsyncOpenAI(base_url=base_url, api_key="not-needed")
    agent = Agent(
        name="support",
        instructions="Help customers with their orders.",
        tools=[get_order, issue_refund],
        model=OpenAIResponsesModel(model="gpt-4.1", openai_client=client),
    )
    with audit_context(user_id="usr_98765", user_role="support_agent", conversation_id="conv_2"):
        result = await Runner.run(agent, "Refund my order ORD-456, please.")
    return str(result.final_output)


def main() -> None:
    # The agents SDK's own tracing would export to the OpenAI backend: off for an offline demo.
    set_tracing_disabled(True)
    provider = TracerProvider(resource=Resource.create({"service.name": "support-agent"}))
    provider.add_span_processor(SimpleSpanProcessor(AuditLinePrinter()))
    instrumentor = ToolAuditInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        with FakeLLMAPI(fake_model) as api:
            print(f"assistant: {asyncio.run(run(api.openai_url))}")
    finally:
        instrumentor.uninstrument()
        provider.shutdown()


if __name__ == "__main__":
    main()
