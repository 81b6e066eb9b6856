# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""An LLM app with no tracing code of its own, run under `opentelemetry-instrument` by the tests.

It asks a (local, fake) OpenAI API for tool calls twice: once through its own dispatch loop, whose
dispatcher is named in OTEL_PYTHON_TOOLAUDIT_TOOLS, and once through an openai-agents Runner.
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from pathlib import Path
from typing import Any

import openai
from agents import Agent, OpenAIResponsesModel, Runner, function_tool

from opentelemetry_instrumentation_toolaudit import audit_context
from tests.apps import llm_tools

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
spec = importlib.util.spec_from_file_location("fake_llm_api", EXAMPLES / "fake_llm_api.py")
assert spec is not None and spec.loader is not None
fake_api = importlib.util.module_from_spec(spec)
sys.modules["fake_llm_api"] = fake_api
spec.loader.exec_module(fake_api)


@function_tool
def get_order(order_id: str) -> dict[str, Any]:
    """Fetch an order and its status."""
    return {"order_id": order_id, "status": "shipped"}


def fake_model(path: str, body: dict[str, Any]) -> Any:
    if path.endswith("/chat/completions"):
        return fake_api.chat_completion([("call_dispatch", "lookup_order", {"order_id": "ORD-2"})])
    if any(item.get("type") == "function_call_output" for item in body["input"]):
        return fake_api.responses_output(text="Shipped.")
    return fake_api.responses_output([("call_agent", "get_order", {"order_id": "ORD-1"})])


async def run_agent(base_url: str) -> None:
    client = openai.AsyncOpenAI(base_url=base_url, api_key="not-needed")
    model = OpenAIResponsesModel(model="gpt-4.1", openai_client=client)
    agent = Agent(name="support", instructions="Help.", tools=[get_order], model=model)
    await Runner.run(agent, "where is ORD-1?")


def main() -> None:
    with fake_api.FakeLLMAPI(fake_model) as api, audit_context(user_id="usr_98765"):
        client = openai.OpenAI(base_url=api.openai_url, api_key="not-needed")
        completion = client.chat.completions.create(model="gpt-4.1-mini", messages=[])
        for call in completion.choices[0].message.tool_calls:
            llm_tools.dispatch(call.function.name, call.function.arguments, tool_call_id=call.id)
        asyncio.run(run_agent(api.openai_url))
    print("APP-DONE")


if __name__ == "__main__":
    main()
