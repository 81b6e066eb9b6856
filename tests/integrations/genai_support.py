# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Tools, expected attributes and the client used by the google-genai tests."""

# No `from __future__ import annotations`: google-genai before 3.x checks AFC arguments against
# the tools' annotations at runtime, and cannot resolve them when they are strings.

import asyncio
import json
from typing import Any

from google import genai
from google.genai import types

from opentelemetry_instrumentation_toolaudit.redaction._hashkey import HashKey

from .fake_gemini import MODEL_VERSION, FakeGemini

MODEL = "gemini-2.5-flash"
CONTEXT: dict[str, Any] = {
    "user_id": "usr_98765",
    "user_role": "support_agent",
    "conversation_id": "conv_abc123",
}


def get_order(order_id: str) -> dict[str, Any]:
    """Fetch an order and its status.

    Not part of the description.
    """
    return {"order_id": order_id, "status": "shipped", "total": 59.9}


def cancel_order(order_id: str) -> dict[str, Any]:
    """Cancel an order."""
    raise PermissionError("Cannot cancel shipped order")


async def lookup_customer(customer_id: str) -> dict[str, Any]:
    """Look a customer up by id."""
    await asyncio.sleep(0)
    return {"customer_id": customer_id, "tier": "gold"}


async def refund(order_id: str, amount: float) -> dict[str, Any]:
    """Refund part of an order."""
    raise ValueError("refund window closed")


def expected(
    tool: str,
    call_id: str | None,
    arguments: str,
    summary: str,
    description: str,
    *,
    provider: str = "gcp.gemini",
) -> dict[str, Any]:
    """The whole attribute dict of one AFC tool span run inside CONTEXT."""
    values: dict[str, Any] = {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": tool,
        "gen_ai.tool.type": "function",
        "gen_ai.tool.description": description,
        "gen_ai.tool.call.arguments": arguments,
        "gen_ai.request.model": MODEL,
        "gen_ai.response.model": MODEL_VERSION,
        "gen_ai.provider.name": provider,
        "gen_ai.conversation.id": "conv_abc123",
        "user.id": "usr_98765",
        "user.roles": ("support_agent",),
        "toolaudit.attribution.source": "context",
        "toolaudit.trigger": "user_request",
        "toolaudit.attribution": f"User usr_98765 (support_agent) → {MODEL} → {tool} [user_request]",
        "toolaudit.result.summary": summary,
        "toolaudit.success": '"success":true' in summary,
    }
    if call_id is not None:
        values["gen_ai.tool.call.id"] = call_id
    customer = json.loads(arguments).get("customer_id")
    if customer is not None:
        # A subject argument: the recorder names the call's subject by its keyed pseudonym.
        values["toolaudit.subject"] = HashKey.from_env().pseudonym(str(customer))
    return values


GET_ORDER = expected(
    "get_order",
    "call-1",
    '{"order_id":"ORD-456"}',
    '{"success":true,"order_id":"ORD-456","status":"shipped"}',
    "Fetch an order and its status.",
)
CANCEL_ORDER = expected(
    "cancel_order",
    "call-2",
    '{"order_id":"ORD-456"}',
    '{"success":false,"error":"Cannot cancel shipped order","error_type":"PermissionError"}',
    "Cancel an order.",
) | {"error.type": "PermissionError"}


def client_for(fake: FakeGemini) -> genai.Client:
    return genai.Client(api_key="test-key", http_options=types.HttpOptions(base_url=fake.url))


def generate(fake: FakeGemini, *tools: Any, contents: str = "x") -> types.GenerateContentResponse:
    """One sync generate_content call with AFC over ``tools`` (the client must outlive the call)."""
    client = client_for(fake)
    config = types.GenerateContentConfig(tools=list(tools))
    return client.models.generate_content(model=MODEL, contents=contents, config=config)
