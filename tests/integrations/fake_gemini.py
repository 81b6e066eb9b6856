# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""A local fake of the Gemini API (``generateContent`` and ``streamGenerateContent``) on a real socket.

The google-genai client is pointed at it with ``HttpOptions(base_url=...)``, so the SDK's own HTTP
client, parsing and automatic function calling loop run for real. It answers with the scripted
responses in order and records each request body.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODEL_VERSION = "gemini-2.5-flash-001"


def function_calls(*calls: tuple[str, str | None, dict[str, Any]]) -> dict[str, Any]:
    """A response asking for ``(name, call_id, args)`` function calls."""
    parts = []
    for name, call_id, args in calls:
        call: dict[str, Any] = {"name": name, "args": args}
        if call_id is not None:
            call["id"] = call_id
        parts.append({"functionCall": call})
    return _response(parts)


def text(answer: str) -> dict[str, Any]:
    """A final text response."""
    return _response([{"text": answer}])


def _response(parts: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "candidates": [
            {"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}
        ],
        "modelVersion": MODEL_VERSION,
        "responseId": "resp-fake",
        "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 15},
    }


class FakeGemini:
    """Serves ``responses`` in order, one per request; records ``(path, body)`` of each request."""

    def __init__(self, responses: list[dict[str, Any]]) -> None:
        self.responses = list(responses)
        self.requests: list[tuple[str, dict[str, Any]]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                fake.requests.append((self.path, body))
                answer = fake.responses.pop(0) if fake.responses else text("(no more script)")
                if ":streamGenerateContent" in self.path:
                    payload = f"data: {json.dumps(answer)}\r\n\r\n".encode()
                    content_type = "text/event-stream"
                else:
                    payload = json.dumps(answer).encode()
                    content_type = "application/json"
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def function_responses(self, index: int) -> list[dict[str, Any]]:
        """The ``functionResponse`` parts the SDK sent back in request ``index``."""
        _, body = self.requests[index]
        return [
            part["functionResponse"]
            for content in body["contents"]
            for part in content.get("parts", [])
            if "functionResponse" in part
        ]

    def __enter__(self) -> FakeGemini:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
