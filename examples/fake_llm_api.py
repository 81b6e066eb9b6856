# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""A local stand-in for the OpenAI and Anthropic HTTP APIs, so the real SDKs run offline with no key.

A threaded HTTP server on 127.0.0.1 answers each POST with the next scripted reply: a JSON body, or
a stream of server-sent events. The SDKs parse those replies with their own code, exactly as they
would the real service's. The builders below make replies that ask for tool calls.

    with FakeLLMAPI([chat_tool_calls([("call_1", "lookup_order", {"order_id": "ORD-1"})])]) as api:
        client = openai.OpenAI(base_url=api.openai_url, api_key="test")
"""

from __future__ import annotations

import collections
import dataclasses
import http.server
import json
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

ToolCallSpec = tuple[str, str, dict[str, Any]]
"""(call id, tool name, arguments) of one tool call the fake model asks for."""


@dataclasses.dataclass
class Reply:
    """One scripted HTTP reply: a JSON body, or server-sent events when ``events`` is set."""

    body: Any = None
    events: list[tuple[str | None, Any]] | None = None
    status: int = 200
    done_marker: bool = False
    """End an event stream with OpenAI's ``data: [DONE]``."""


Script = Callable[[str, dict[str, Any]], Reply]


class FakeLLMAPI:
    """A local fake of the providers' APIs; replies come from a list (in order) or a function."""

    def __init__(self, replies: Sequence[Reply] | Script) -> None:
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()
        if callable(replies):
            self._script: Script = replies
        else:
            queue = collections.deque(replies)
            self._script = lambda path, body: queue.popleft()
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def openai_url(self) -> str:
        """``base_url`` for ``openai.OpenAI``."""
        return f"{self.url}/v1"

    def __enter__(self) -> FakeLLMAPI:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _reply_to(self, path: str, body: dict[str, Any]) -> Reply:
        with self._lock:
            self.requests.append((path, body))
            try:
                return self._script(path, body)
            except IndexError:
                return Reply({"error": {"message": "no scripted reply left"}}, status=500)

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b"{}"
                reply = api._reply_to(self.path, json.loads(raw or b"{}"))
                if reply.events is None:
                    data = json.dumps(reply.body).encode()
                    self.send_response(reply.status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                self.send_response(reply.status)
                self.send_header("content-type", "text/event-stream")
                self.send_header("connection", "close")
                self.end_headers()
                for name, payload in reply.events:
                    prefix = f"event: {name}\n" if name else ""
                    self.wfile.write(f"{prefix}data: {json.dumps(payload)}\n\n".encode())
                    self.wfile.flush()
                if reply.done_marker:
                    self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()
                self.close_connection = True

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


# --- OpenAI Chat Completions -------------------------------------------------------------------
def _chat_tool_call(call_id: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": call_id,
        "type": "function",
        "function": {"name": name, "arguments": json.dumps(arguments)},
    }


def chat_completion(
    calls: Iterable[ToolCallSpec] = (),
    *,
    text: str | None = None,
    model: str = "gpt-4.1-2025-04-14",
    response_id: str = "chatcmpl-1",
) -> Reply:
    """A Chat Completions response asking for ``calls`` (or answering ``text``)."""
    tool_calls = [_chat_tool_call(*c) for c in calls]
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return Reply(
        {
            "id": response_id,
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": "tool_calls" if tool_calls else "stop",
                    "logprobs": None,
                }
            ],
            "usage": {"prompt_tokens": 20, "completion_tokens": 10, "total_tokens": 30},
        }
    )


def chat_completion_stream(
    calls: Iterable[ToolCallSpec],
    *,
    model: str = "gpt-4.1-2025-04-14",
    response_id: str = "chatcmpl-2",
) -> Reply:
    """A streamed Chat Completions response whose tool calls arrive in fragments."""

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            "id": response_id,
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }

    events: list[tuple[str | None, Any]] = [(None, chunk({"role": "assistant", "content": None}))]
    for index, (call_id, name, arguments) in enumerate(calls):
        text = json.dumps(arguments)
        head = {"index": index, "id": call_id, "type": "function"}
        head["function"] = {"name": name, "arguments": ""}
        events.append((None, chunk({"tool_calls": [head]})))
        for start in range(0, len(text), 7):
            piece = {"index": index, "function": {"arguments": text[start : start + 7]}}
            events.append((None, chunk({"tool_calls": [piece]})))
    events.append((None, chunk({}, finish="tool_calls")))
    return Reply(events=events, done_marker=True)


# --- OpenAI Responses ------------------------------------------------------------------------
def _response(
    output: list[dict[str, Any]], model: str, response_id: str, status: str = "completed"
) -> dict[str, Any]:
    return {
        "id": response_id,
        "object": "response",
        "created_at": int(time.time()),
        "status": status,
        "model": model,
        "output": output,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "metadata": {},
        "temperature": 1.0,
        "top_p": 1.0,
        "usage": {
            "input_tokens": 20,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": 10,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 30,
        },
    }


def _function_call_item(call_id: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "function_call",
        "id": f"fc_{call_id}",
        "call_id": call_id,
        "name": name,
        "arguments": json.dumps(arguments),
        "status": "completed",
    }


def _message_item(text: str) -> dict[str, Any]:
    return {
        "type": "message",
        "id": "msg_1",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }


def responses_output(
    calls: Iterable[ToolCallSpec] = (),
    *,
    text: str | None = None,
    model: str = "gpt-4.1-2025-04-14",
    response_id: str = "resp_1",
) -> Reply:
    """A Responses API response with ``function_call`` items for ``calls`` (or a message)."""
    output = [_function_call_item(*c) for c in calls]
    if text is not None:
        output.append(_message_item(text))
    return Reply(_response(output, model, response_id))


def responses_stream(
    calls: Iterable[ToolCallSpec],
    *,
    model: str = "gpt-4.1-2025-04-14",
    response_id: str = "resp_2",
) -> Reply:
    """A streamed Responses API response: created, argument deltas, item done, completed."""
    items = [_function_call_item(*c) for c in calls]
    sequence = iter(range(1_000_000))
    events: list[tuple[str | None, Any]] = []

    def event(kind: str, **fields: Any) -> None:
        events.append((kind, {"type": kind, "sequence_number": next(sequence), **fields}))

    event("response.created", response=_response([], model, response_id, status="in_progress"))
    for index, item in enumerate(items):
        event("response.output_item.added", output_index=index, item={**item, "arguments": ""})
        event(
            "response.function_call_arguments.delta",
            output_index=index,
            item_id=item["id"],
            delta=item["arguments"],
        )
        event("response.output_item.done", output_index=index, item=item)
    event("response.completed", response=_response(items, model, response_id))
    return Reply(events=events)


# --- Anthropic Messages ----------------------------------------------------------------------
def anthropic_message(
    calls: Iterable[ToolCallSpec] = (),
    *,
    text: str | None = None,
    model: str = "claude-opus-4-6",
    message_id: str = "msg_01",
) -> Reply:
    """A Messages API response with ``tool_use`` blocks for ``calls`` (or a text block)."""
    content: list[dict[str, Any]] = []
    if text is not None:
        content.append({"type": "text", "text": text})
    content += [{"type": "tool_use", "id": i, "name": n, "input": a} for i, n, a in calls]
    return Reply(
        {
            "id": message_id,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": content,
            "stop_reason": "tool_use"
            if any(c["type"] == "tool_use" for c in content)
            else "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": 20, "output_tokens": 10},
        }
    )


def anthropic_stream(
    calls: Iterable[ToolCallSpec],
    *,
    model: str = "claude-opus-4-6",
    message_id: str = "msg_02",
) -> Reply:
    """A streamed Messages API response whose ``tool_use`` inputs arrive as JSON fragments."""
    events: list[tuple[str | None, Any]] = []

    def event(kind: str, **fields: Any) -> None:
        events.append((kind, {"type": kind, **fields}))

    event(
        "message_start",
        message={
            "id": message_id,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 20, "output_tokens": 1},
        },
    )
    for index, (call_id, name, arguments) in enumerate(calls):
        block = {"type": "tool_use", "id": call_id, "name": name, "input": {}}
        event("content_block_start", index=index, content_block=block)
        text = json.dumps(arguments)
        for start in range(0, len(text), 7):
            delta = {"type": "input_json_delta", "partial_json": text[start : start + 7]}
            event("content_block_delta", index=index, delta=delta)
        event("content_block_stop", index=index)
    event(
        "message_delta",
        delta={"stop_reason": "tool_use", "stop_sequence": None},
        usage={"output_tokens": 10},
    )
    event("message_stop")
    return Reply(events=events)
