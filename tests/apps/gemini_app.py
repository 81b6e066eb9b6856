# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""A Gemini AFC app with no tracing code of its own: run under `opentelemetry-instrument` by the tests."""

# No `from __future__ import annotations`: google-genai before 3.x checks AFC arguments against
# the tools' annotations at runtime, and cannot resolve them when they are strings.

from google import genai
from google.genai import types

from tests.integrations.fake_gemini import FakeGemini, function_calls, text


def get_order(order_id: str) -> dict:
    """Fetch an order and its status."""
    return {"order_id": order_id, "status": "shipped"}


def main() -> None:
    script = [function_calls(("get_order", "fc-1", {"order_id": "ORD-123"})), text("shipped")]
    with FakeGemini(script) as fake:
        client = genai.Client(api_key="k", http_options=types.HttpOptions(base_url=fake.url))
        chat = client.chats.create(
            model="gemini-2.5-flash", config=types.GenerateContentConfig(tools=[get_order])
        )
        print(chat.send_message("where is ORD-123?").text)
    print("APP-DONE")


if __name__ == "__main__":
    main()
