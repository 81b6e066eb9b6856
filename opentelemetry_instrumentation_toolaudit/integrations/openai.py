# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""openai: remember the tool calls a model returns, so the app's audited dispatch can link to them.

The openai SDK runs no tools: the app reads ``message.tool_calls`` (Chat Completions) or the
``function_call`` output items (Responses) and calls its own handler. This integration only reads
those responses, streamed or not, sync or async, and remembers each call (see ``_remembered``). The
SDK's results are returned unchanged.

Each call also carries who the request was made for, when the request says so (``metadata`` under the
configured user and conversation keys, ``user``, ``safety_identifier``, the Responses API's
``conversation``), for attribution where the app's code sets none. A response that continues a
chain (``previous_response_id``) with no named conversation belongs to the conversation named by the
chain's first response id; the first response itself names none (nothing yet says it is continued).
"""

from __future__ import annotations

import collections
import threading
from types import ModuleType
from typing import Any

from opentelemetry_instrumentation_toolaudit._patching import Patcher
from opentelemetry_instrumentation_toolaudit.integrations._remembered import (
    REGISTRY,
    RememberedCall,
    current_chat_context,
)
from opentelemetry_instrumentation_toolaudit.integrations._stainless import (
    ModelRequest,
    ModelSDK,
    SDKClasses,
    StreamObserver,
    as_sequence,
    field,
    first_text,
    patch_sdk,
    path_of,
    request_body,
    requested_conversation,
    requested_model,
    requested_user,
)
from opentelemetry_instrumentation_toolaudit.integrations._versions import version_supported

SUPPORTED = ">= 1.60, < 4"
PROVIDER = "openai"
AZURE_PROVIDER = "azure.ai.openai"
CHAT = "/chat/completions"
RESPONSES = "/responses"
USER_FIELDS = ("user", "safety_identifier")
MAX_CHAINS = 4096


class _ResponseChains:
    """The first response of each ``previous_response_id`` chain seen, by response id (bounded)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._root: collections.OrderedDict[str, str] = collections.OrderedDict()

    def conversation(self, request: ModelRequest, response_id: str | None) -> str | None:
        """The conversation of ``response_id``: the one its request names, else its chain's root."""
        if request.conversation_id is not None or request.endpoint != RESPONSES:
            return request.conversation_id
        previous = request.previous_response_id
        with self._lock:
            root = self._root.get(previous, previous) if previous else None
            if response_id:
                # A response that continues none may start a chain: it is the root of its own.
                self._root[response_id] = root or response_id
                while len(self._root) > MAX_CHAINS:
                    self._root.popitem(last=False)
        return root

    def clear(self) -> None:
        with self._lock:
            self._root.clear()


CHAINS = _ResponseChains()


def _conversation_param(body: dict[str, Any]) -> str | None:
    """The Responses API's ``conversation``: an id, or an object with an ``id``."""
    conversation = body.get("conversation")
    if isinstance(conversation, dict):
        conversation = conversation.get("id")
    return first_text(conversation)


def _remembered(
    call_id: Any,
    spec: Any,
    response_id: str | None,
    request: ModelRequest,
    model: str | None,
    conversation_id: str | None,
) -> RememberedCall | None:
    """The call named by ``spec`` (its ``name`` and ``arguments``, or ``input`` for custom tools)."""
    name = field(spec, "name")
    if not (isinstance(call_id, str) and call_id and isinstance(name, str) and name):
        return None
    arguments = field(spec, "arguments")
    if arguments is None:
        arguments = field(spec, "input")
    return RememberedCall(
        call_id=call_id,
        name=name,
        arguments=arguments,
        provider=request.provider,
        model=model,
        response_id=response_id,
        chat_context=request.chat_context,
        user_id=request.user_id,
        conversation_id=conversation_id,
    )


def _chat_tool_call(
    tool_call: Any, response_id: str | None, request: ModelRequest, model: str | None
) -> RememberedCall | None:
    """A ``ChatCompletionMessageToolCall`` (function or custom) as a remembered call."""
    spec = field(tool_call, "function") or field(tool_call, "custom")
    return _remembered(
        field(tool_call, "id"), spec, response_id, request, model, request.conversation_id
    )


def _response_item_call(
    item: Any,
    response_id: str | None,
    request: ModelRequest,
    model: str | None,
    conversation_id: str | None,
) -> RememberedCall | None:
    """A Responses ``function_call`` (or ``custom_tool_call``) output item as a remembered call."""
    if field(item, "type") not in ("function_call", "custom_tool_call"):
        return None
    return _remembered(field(item, "call_id"), item, response_id, request, model, conversation_id)


def _response_calls(response: Any, request: ModelRequest) -> list[RememberedCall]:
    response_id = first_text(field(response, "id"))
    model = request.model or first_text(field(response, "model"))
    conversation_id = CHAINS.conversation(request, response_id)
    calls = (
        _response_item_call(item, response_id, request, model, conversation_id)
        for item in as_sequence(field(response, "output"))
    )
    return [c for c in calls if c is not None]


class _ChatStream(StreamObserver):
    """Assembles streamed ``tool_calls`` deltas; a choice's calls are complete at its finish_reason."""

    def __init__(self, request: ModelRequest) -> None:
        self._request = request
        self._response_id: str | None = None
        self._model: str | None = request.model
        # (choice index, tool call index) -> [id, name, argument fragments]
        self._parts: dict[tuple[int, int], list[Any]] = {}
        self._done: set[int] = set()

    def see(self, event: Any) -> None:
        self._response_id = self._response_id or first_text(field(event, "id"))
        self._model = self._model or first_text(field(event, "model"))
        for choice in as_sequence(field(event, "choices")):
            index = field(choice, "index") or 0
            for delta in as_sequence(field(field(choice, "delta"), "tool_calls")):
                part = self._parts.setdefault((index, field(delta, "index") or 0), [None, "", []])
                part[0] = part[0] or first_text(field(delta, "id"))
                function = field(delta, "function") or field(delta, "custom")
                part[1] += field(function, "name") or ""
                piece = field(function, "arguments")
                if piece is None:
                    piece = field(function, "input")
                if piece:
                    part[2].append(piece)
            if field(choice, "finish_reason"):
                self._flush(index)

    def finish(self) -> None:
        for index in {choice for choice, _ in self._parts}:
            self._flush(index)

    def _flush(self, choice: int) -> None:
        if choice in self._done:
            return
        self._done.add(choice)
        calls = []
        for (index, _), (call_id, name, pieces) in sorted(self._parts.items()):
            if index == choice and call_id and name:
                calls.append(
                    RememberedCall(
                        call_id=call_id,
                        name=name,
                        arguments="".join(pieces),
                        provider=self._request.provider,
                        model=self._model,
                        response_id=self._response_id,
                        chat_context=self._request.chat_context,
                        user_id=self._request.user_id,
                        conversation_id=self._request.conversation_id,
                    )
                )
        REGISTRY.remember(calls)


class _ResponsesStream(StreamObserver):
    """A call is complete at its ``response.output_item.done`` event (or, failing that, at the end)."""

    def __init__(self, request: ModelRequest) -> None:
        self._request = request
        self._response_id: str | None = None
        self._model: str | None = request.model
        self._seen: set[str] = set()

    def see(self, event: Any) -> None:
        kind = field(event, "type")
        if kind in ("response.created", "response.in_progress"):
            response = field(event, "response")
            self._response_id = self._response_id or first_text(field(response, "id"))
            self._model = self._model or first_text(field(response, "model"))
        elif kind == "response.output_item.done":
            call = _response_item_call(
                field(event, "item"),
                self._response_id,
                self._request,
                self._model,
                CHAINS.conversation(self._request, self._response_id),
            )
            if call is not None:
                self._remember([call])
        elif kind in ("response.completed", "response.incomplete"):
            self._remember(_response_calls(field(event, "response"), self._request))

    def _remember(self, calls: list[RememberedCall]) -> None:
        # A call seen in output_item.done comes again in response.completed, maybe already claimed.
        fresh = [c for c in calls if c.call_id not in self._seen]
        self._seen.update(c.call_id for c in fresh)
        REGISTRY.remember(fresh)


class _OpenAI(ModelSDK):
    name = "openai"

    def request_of(self, client: Any, options: Any) -> ModelRequest | None:
        path = path_of(options)
        if path.endswith(CHAT):
            endpoint = CHAT
        elif path.endswith(RESPONSES):
            endpoint = RESPONSES
        else:
            return None
        provider = AZURE_PROVIDER if "Azure" in type(client).__name__ else PROVIDER
        body = request_body(options)
        return ModelRequest(
            endpoint,
            provider,
            requested_model(options),
            current_chat_context(),
            user_id=requested_user(body, *USER_FIELDS),
            conversation_id=requested_conversation(body) or _conversation_param(body),
            previous_response_id=first_text(body.get("previous_response_id")),
        )

    def calls_in(self, result: Any, request: ModelRequest) -> list[RememberedCall]:
        kind = field(result, "object")
        if kind == "response":
            return _response_calls(result, request)
        if kind != "chat.completion":
            return []
        response_id = first_text(field(result, "id"))
        model = request.model or first_text(field(result, "model"))
        calls = (
            _chat_tool_call(tool_call, response_id, request, model)
            for choice in as_sequence(field(result, "choices"))
            for tool_call in as_sequence(field(field(choice, "message"), "tool_calls"))
        )
        return [c for c in calls if c is not None]

    def stream_observer(self, request: ModelRequest) -> StreamObserver | None:
        return _ChatStream(request) if request.endpoint == CHAT else _ResponsesStream(request)


def patch(patcher: Patcher, module: ModuleType) -> None:
    """Hook the openai SDK's response processing (called once ``openai`` is imported)."""
    if not version_supported("openai", "openai", SUPPORTED):
        return
    from openai import _base_client, _legacy_response, _response, _streaming

    patch_sdk(
        patcher,
        _OpenAI(),
        SDKClasses(
            sync_client=_base_client.SyncAPIClient,
            async_client=_base_client.AsyncAPIClient,
            streams=(_streaming.Stream,),
            async_streams=(_streaming.AsyncStream,),
            raw_responses=(_legacy_response.LegacyAPIResponse, _response.APIResponse),
            async_raw_responses=(_response.AsyncAPIResponse,),
        ),
    )
