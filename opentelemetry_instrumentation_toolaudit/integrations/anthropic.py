# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""anthropic: remember the ``tool_use`` blocks of Messages responses, like the openai integration.

The app reads the ``tool_use`` content blocks of a Message and runs its handlers; each block is
remembered (id, name, input, model, message id, the span around the API call) so the audited dispatch
links to it. Streams are read as they pass: a block is complete at its ``content_block_stop``.
Each block also carries the user the request names in ``metadata.user_id`` (the configured metadata
user key), for attribution where the app's code sets none.
"""

from __future__ import annotations

import json
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

SUPPORTED = ">= 0.43, < 3"
PROVIDER = "anthropic"
MESSAGES = "/v1/messages"


class _MessageStream(StreamObserver):
    def __init__(self, request: ModelRequest) -> None:
        self._request = request
        self._message_id: str | None = None
        self._model: str | None = request.model
        # content block index -> [id, name, input from content_block_start, JSON fragments]
        self._blocks: dict[int, list[Any]] = {}

    def see(self, event: Any) -> None:
        kind = field(event, "type")
        if kind == "message_start":
            message = field(event, "message")
            self._message_id = first_text(field(message, "id"))
            self._model = self._model or first_text(field(message, "model"))
        elif kind == "content_block_start":
            block = field(event, "content_block")
            if field(block, "type") == "tool_use":
                self._blocks[field(event, "index") or 0] = [
                    field(block, "id"),
                    field(block, "name"),
                    field(block, "input"),
                    [],
                ]
        elif kind == "content_block_delta":
            block = self._blocks.get(field(event, "index") or 0)
            delta = field(event, "delta")
            if block is not None and field(delta, "type") == "input_json_delta":
                block[3].append(field(delta, "partial_json") or "")
        elif kind == "content_block_stop":
            block = self._blocks.pop(field(event, "index") or 0, None)
            if block is not None:
                self._remember(*block)

    def _remember(self, call_id: Any, name: Any, start_input: Any, pieces: list[str]) -> None:
        if not (isinstance(call_id, str) and call_id and isinstance(name, str) and name):
            return
        arguments: Any = start_input
        text = "".join(pieces)
        if text:
            try:
                arguments = json.loads(text)
            except ValueError:
                arguments = text
        REGISTRY.remember(
            [
                RememberedCall(
                    call_id=call_id,
                    name=name,
                    arguments=arguments,
                    provider=self._request.provider,
                    model=self._model,
                    response_id=self._message_id,
                    chat_context=self._request.chat_context,
                    user_id=self._request.user_id,
                    conversation_id=self._request.conversation_id,
                )
            ]
        )


class _Anthropic(ModelSDK):
    name = "anthropic"

    def request_of(self, client: Any, options: Any) -> ModelRequest | None:
        if not path_of(options).endswith(MESSAGES):
            return None
        body = request_body(options)
        return ModelRequest(
            MESSAGES,
            PROVIDER,
            requested_model(options),
            current_chat_context(),
            user_id=requested_user(body),
            conversation_id=requested_conversation(body),
        )

    def calls_in(self, result: Any, request: ModelRequest) -> list[RememberedCall]:
        if field(result, "type") != "message":
            return []
        message_id = first_text(field(result, "id"))
        model = request.model or first_text(field(result, "model"))
        calls = []
        for block in as_sequence(field(result, "content")):
            call_id, name = field(block, "id"), field(block, "name")
            if field(block, "type") != "tool_use" or not (
                isinstance(call_id, str) and call_id and isinstance(name, str) and name
            ):
                continue
            calls.append(
                RememberedCall(
                    call_id=call_id,
                    name=name,
                    arguments=field(block, "input"),
                    provider=request.provider,
                    model=model,
                    response_id=message_id,
                    chat_context=request.chat_context,
                    user_id=request.user_id,
                    conversation_id=request.conversation_id,
                )
            )
        return calls

    def stream_observer(self, request: ModelRequest) -> StreamObserver | None:
        return _MessageStream(request)


def patch(patcher: Patcher, module: ModuleType) -> None:
    """Hook the anthropic SDK's response processing (called once ``anthropic`` is imported)."""
    if not version_supported("anthropic", "anthropic", SUPPORTED):
        return
    from anthropic import _base_client, _response, _streaming

    # anthropic < 2 answered with_raw_response with a LegacyAPIResponse; 2.x has only APIResponse.
    try:
        from anthropic._legacy_response import LegacyAPIResponse

        legacy: tuple[type, ...] = (LegacyAPIResponse,)
    except ImportError:
        legacy = ()
    patch_sdk(
        patcher,
        _Anthropic(),
        SDKClasses(
            sync_client=_base_client.SyncAPIClient,
            async_client=_base_client.AsyncAPIClient,
            streams=(_streaming.Stream,),
            async_streams=(_streaming.AsyncStream,),
            raw_responses=(*legacy, _response.APIResponse),
            async_raw_responses=(_response.AsyncAPIResponse,),
        ),
    )
