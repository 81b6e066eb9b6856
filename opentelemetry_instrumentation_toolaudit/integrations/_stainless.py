# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Watch the model responses of a Stainless-generated SDK (openai, anthropic) without changing them.

Both SDKs turn every HTTP response into its result in ``SyncAPIClient._process_response`` (and the
async twin). Hooking there, rather than each ``create``, covers ``create``, ``parse``, the ``stream``
helpers, ``with_raw_response`` and ``with_streaming_response`` at once, and it runs *inside* whatever
chat span an LLM instrumentation (opentelemetry-instrumentation-openai-v2, the anthropic SDK's own
tracing) made current around the API call, whichever of us patched first: that span is what a
remembered tool call links to.

The result is handed back as it came. A complete response is read at once; a stream keeps its type
and identity, and only its private ``_iterator`` is replaced by a generator that sees each event on
its way to the app; a raw response is read when the app calls ``parse()``.
"""

from __future__ import annotations

import abc
import dataclasses
import threading
import weakref
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

from opentelemetry.trace import SpanContext

from opentelemetry_instrumentation_toolaudit._log import internal_error
from opentelemetry_instrumentation_toolaudit._patching import Patcher
from opentelemetry_instrumentation_toolaudit._state import STATE
from opentelemetry_instrumentation_toolaudit.integrations._remembered import (
    REGISTRY,
    RememberedCall,
)


@dataclasses.dataclass(frozen=True)
class ModelRequest:
    """What is known of one API call when its response arrives."""

    endpoint: str
    """The request path, without the query (``/chat/completions``, ``/v1/messages``...)."""
    provider: str
    model: str | None
    chat_context: SpanContext | None
    user_id: str | None = None
    """The user the request names (see :func:`requested_user`)."""
    conversation_id: str | None = None
    """The conversation the request names (``metadata``, the Responses API's ``conversation``)."""
    previous_response_id: str | None = None
    """The Responses API's ``previous_response_id``: the response this one continues."""


class StreamObserver(abc.ABC):
    """Reads one response stream's events and remembers each tool call once it is complete."""

    @abc.abstractmethod
    def see(self, event: Any) -> None:
        """Take one event, as the app receives it."""

    def finish(self) -> None:  # noqa: B027 - most streams have nothing left at the end
        """The stream ended: remember what is complete and not yet remembered."""


class ModelSDK(abc.ABC):
    """What one SDK's integration knows: which requests are model calls, and how to read them."""

    name: str

    @abc.abstractmethod
    def request_of(self, client: Any, options: Any) -> ModelRequest | None:
        """The model request behind ``options``, or None for any other API call."""

    @abc.abstractmethod
    def calls_in(self, result: Any, request: ModelRequest) -> list[RememberedCall]:
        """The tool calls in a complete (non-streamed) model response."""

    @abc.abstractmethod
    def stream_observer(self, request: ModelRequest) -> StreamObserver | None:
        """An observer for a streamed response to ``request``."""


@dataclasses.dataclass(frozen=True)
class SDKClasses:
    """The SDK classes that are patched or recognised."""

    sync_client: type
    async_client: type
    streams: tuple[type, ...]
    async_streams: tuple[type, ...]
    raw_responses: tuple[type, ...]
    """Response wrappers whose ``parse()`` is synchronous."""
    async_raw_responses: tuple[type, ...]


class _PendingRaw:
    """Raw responses returned to the app, read when it calls ``parse()``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_response: weakref.WeakKeyDictionary[Any, tuple[ModelSDK, ModelRequest]] = (
            weakref.WeakKeyDictionary()
        )

    def __bool__(self) -> bool:
        return bool(self._by_response)

    def add(self, response: Any, sdk: ModelSDK, request: ModelRequest) -> None:
        with self._lock:
            self._by_response[response] = (sdk, request)

    def pop(self, response: Any) -> tuple[ModelSDK, ModelRequest] | None:
        with self._lock:
            return self._by_response.pop(response, None)


_PENDING_RAW = _PendingRaw()


def _observe(sdk: ModelSDK, classes: SDKClasses, request: ModelRequest, result: Any) -> None:
    stream: Any = result
    if isinstance(result, classes.streams):
        observer = sdk.stream_observer(request)
        if observer is not None:
            stream._iterator = _observed(stream._iterator, observer, sdk.name)
    elif isinstance(result, classes.async_streams):
        observer = sdk.stream_observer(request)
        if observer is not None:
            stream._iterator = _aobserved(stream._iterator, observer, sdk.name)
    elif isinstance(result, classes.raw_responses + classes.async_raw_responses):
        _PENDING_RAW.add(result, sdk, request)
    else:
        REGISTRY.remember(sdk.calls_in(result, request))


def _safely(what: str, fn: Any, *args: Any) -> None:
    try:
        fn(*args)
    except Exception as exc:  # noqa: BLE001 - telemetry never breaks the app
        internal_error(what, exc)


def _observed(iterator: Iterator[Any], observer: StreamObserver, name: str) -> Iterator[Any]:
    """Yield ``iterator``'s events unchanged, showing each to ``observer`` first."""
    for event in iterator:
        _safely(f"reading a {name} stream event", observer.see, event)
        yield event
    _safely(f"finishing a {name} stream", observer.finish)


async def _aobserved(
    iterator: AsyncIterator[Any], observer: StreamObserver, name: str
) -> AsyncIterator[Any]:
    async for event in iterator:
        _safely(f"reading a {name} stream event", observer.see, event)
        yield event
    _safely(f"finishing a {name} stream", observer.finish)


def patch_sdk(patcher: Patcher, sdk: ModelSDK, classes: SDKClasses) -> None:
    """Hook ``_process_response`` of both clients and ``parse`` of the raw response wrappers."""

    def see_response(client: Any, kwargs: dict[str, Any], result: Any) -> None:
        try:
            request = sdk.request_of(client, kwargs.get("options"))
            if request is not None:
                _observe(sdk, classes, request, result)
        except Exception as exc:  # noqa: BLE001
            internal_error(f"reading a {sdk.name} response", exc)

    def see_parsed(response: Any, result: Any) -> None:
        try:
            pending = _PENDING_RAW.pop(response)
            if pending is not None:
                _observe(pending[0], classes, pending[1], result)
        except Exception as exc:  # noqa: BLE001
            internal_error(f"reading a parsed {sdk.name} response", exc)

    def process_response(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        result = wrapped(*args, **kwargs)
        see_response(instance, kwargs, result)
        return result

    async def aprocess_response(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        result = await wrapped(*args, **kwargs)
        see_response(instance, kwargs, result)
        return result

    def parse(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        result = wrapped(*args, **kwargs)
        if _PENDING_RAW:
            see_parsed(instance, result)
        return result

    async def aparse(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        result = await wrapped(*args, **kwargs)
        if _PENDING_RAW:
            see_parsed(instance, result)
        return result

    patcher.wrap(classes.sync_client, "_process_response", process_response)
    patcher.wrap(classes.async_client, "_process_response", aprocess_response)
    for cls in classes.raw_responses:
        patcher.wrap(cls, "parse", parse)
    for cls in classes.async_raw_responses:
        patcher.wrap(cls, "parse", aparse)


def path_of(options: Any) -> str:
    """The request path of ``options`` without its query string, for POST requests only."""
    if str(getattr(options, "method", "")).lower() != "post":
        return ""
    return str(getattr(options, "url", "")).split("?", 1)[0].rstrip("/")


def requested_model(options: Any) -> str | None:
    """The ``model`` field of the request's JSON body, if any."""
    body = getattr(options, "json_data", None)
    model = body.get("model") if isinstance(body, dict) else None
    return model if isinstance(model, str) and model else None


def request_body(options: Any) -> dict[str, Any]:
    """The request's JSON body, or an empty dict."""
    body = getattr(options, "json_data", None)
    return body if isinstance(body, dict) else {}


def _metadata(body: dict[str, Any], key: str) -> Any:
    metadata = body.get("metadata")
    return metadata.get(key) if isinstance(metadata, dict) else None


def requested_user(body: dict[str, Any], *fields: str) -> str | None:
    """The user a model request names: ``metadata[<user key>]``, then each of ``fields`` (openai's
    ``user`` and ``safety_identifier``)."""
    return first_text(
        _metadata(body, STATE.metadata_user_key), *(body.get(name) for name in fields)
    )


def requested_conversation(body: dict[str, Any]) -> str | None:
    """The conversation a model request names in ``metadata[<conversation key>]``."""
    return first_text(_metadata(body, STATE.metadata_conversation_key))


def first_text(*values: Any) -> str | None:
    """The first of ``values`` that is a non-empty string."""
    for value in values:
        if isinstance(value, str) and value:
            return value
    return None


def field(obj: Any, name: str) -> Any:
    """``obj.name`` for SDK models, ``obj[name]`` for plain dicts (events a proxy may have decoded)."""
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


def as_sequence(value: Any) -> Sequence[Any]:
    return value if isinstance(value, (list, tuple)) else ()
