# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Gemini automatic function calling, audited: no API key, no network.

The real ``google-genai`` client talks to a small fake of the Gemini API running on localhost. The
"model" asks for two function calls; the SDK's automatic function calling (AFC) runs them and sends
the results back; the model answers. Each function AFC runs becomes one ``execute_tool`` span with
the model's call id, the model, and who asked, printed here as one line. One tool fails: AFC hides
the exception from the app (the model gets ``{"error": ...}``), the audit line does not.

Run it with ``python examples/gemini_afc.py``.
"""

# No `from __future__ import annotations`: google-genai before 3.x checks AFC arguments against
# the tools' annotations at runtime, and cannot resolve them when they are strings.

import json
import threading
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from google import genai
from google.genai import types
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

from opentelemetry_instrumentation_toolaudit import ToolAuditInstrumentor, audit_context

ORDERS = {"ORD-456": {"status": "shipped", "total": 59.90}}


# --- the tools the model may call (plain functions: AFC reads their signatures) ----------------
def get_order(order_id: str) -> dict[str, Any]:
    """Fetch an order and its status."""
    return {"order_id": order_id, **ORDERS[order_id]}


def cancel_order(order_id: str) -> dict[str, Any]:
    """Cancel an order that has not shipped."""
    if ORDERS[order_id]["status"] == "shipped":
        raise PermissionError("Cannot cancel a shipped order")
    ORDERS[order_id]["status"] = "cancelled"
    return {"order_id": order_id, "status": "cancelled"}


# --- a fake Gemini API: first a function-call turn, then a text answer ---------------------------
def _response(parts: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP"}],
        "modelVersion": "gemini-2.5-flash-001",
    }


SCRIPT = [
    _response(
        [
            {"functionCall": {"id": "fc-1", "name": "get_order", "args": {"order_id": "ORD-456"}}},
            {
                "functionCall": {
                    "id": "fc-2",
                    "name": "cancel_order",
                    "args": {"order_id": "ORD-456"},
                }
            },
        ]
    ),
    _response([{"text": "Your order ORD-456 has shipped, so it can no longer be cancelled."}]),
]


class FakeGemini(BaseHTTPRequestHandler):
    """Answers ``POST .../models/{model}:generateContent`` from SCRIPT, in order."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.dumps(SCRIPT.pop(0)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


# --- a one-line-per-call printer ---------------------------------------------------------------
class AuditLinePrinter(SpanExporter):
    """Prints each execute_tool span as one readable audit line."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        for span in spans:
            a = span.attributes or {}
            if a.get("gen_ai.operation.name") != "execute_tool":
                continue
            outcome = "ok" if a.get("toolaudit.success") else f"FAILED ({a.get('error.type')})"
            print(
                f"audit: {a['gen_ai.tool.name']}({a.get('gen_ai.tool.call.arguments')})"
                f" call_id={a.get('gen_ai.tool.call.id')} model={a.get('gen_ai.request.model')}"
                f" provider={a.get('gen_ai.provider.name')} → {outcome}\n"
                f"       {a.get('toolaudit.attribution')}"
            )
        return SpanExportResult.SUCCESS


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeGemini)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    provider = TracerProvider(resource=Resource.create({"service.name": "support-agent"}))
    provider.add_span_processor(SimpleSpanProcessor(AuditLinePrinter()))
    instrumentor = ToolAuditInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        host, port = server.server_address[:2]
        client = genai.Client(
            api_key="not-a-real-key",
            http_options=types.HttpOptions(base_url=f"http://{host}:{port}"),
        )
        print("user: please cancel my order ORD-456")
        with audit_context(
            user_id="usr_98765", user_role="support_agent", conversation_id="conv_abc123"
        ):
            chat = client.chats.create(
                model="gemini-2.5-flash",
                config=types.GenerateContentConfig(tools=[get_order, cancel_order]),
            )
            response = chat.send_message("please cancel my order ORD-456")
        print(f"model: {response.text}")
    finally:
        instrumentor.uninstrument()
        provider.shutdown()
        server.shutdown()


if __name__ == "__main__":
    main()
