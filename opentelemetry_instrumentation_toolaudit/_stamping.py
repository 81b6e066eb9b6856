# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Stamp the attribution in effect onto LLM, retrieval and agent spans other instrumentations start.

The official OpenAI, Gemini or Anthropic instrumentations know the model and the tokens, not the
human behind the conversation. A chat span started inside an :func:`audit_context` gets the user,
roles, session, conversation, turn, purpose and client from it here, so the audit exporter's
``llm.request`` records say who asked too. Values the span already has are left as they are.

The other way round, on another instrumentation's ``execute_tool`` span that our recorder enriched
(a twin), our identity values win: the contrib openai-agents processor names every agent with its
placeholder ``OpenAI Agent``, and sets it again when the span ends. :func:`keep_identity` remembers
our values for the span; when it ends they replace what differs, and ``toolaudit.twin.replaced``
keeps the values they replaced.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Mapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry.sdk.trace import (
    ConcurrentMultiSpanProcessor,
    ReadableSpan,
    Span,
    SpanProcessor,
    SynchronousMultiSpanProcessor,
)

from opentelemetry_instrumentation_toolaudit import attributes as attrs
from opentelemetry_instrumentation_toolaudit._context import current_attribution
from opentelemetry_instrumentation_toolaudit._jsonable import dumps
from opentelemetry_instrumentation_toolaudit._log import internal_error

IDENTITY_ATTRIBUTES = (
    attrs.GEN_AI_AGENT_NAME,
    attrs.GEN_AI_REQUEST_MODEL,
    attrs.GEN_AI_PROVIDER_NAME,
    attrs.USER_ID,
    attrs.SESSION_ID,
    attrs.GEN_AI_CONVERSATION_ID,
)
"""Who and what a tool call is attributed to: on a twin span, the values our recorder knows win."""

_lock = threading.Lock()
_kept: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()


def keep_identity(span: Any, values: Mapping[str, Any]) -> None:
    """Make our identity ``values`` win on another instrumentation's ``span`` once it ends."""
    identity = {k: values[k] for k in IDENTITY_ATTRIBUTES if values.get(k) is not None}
    if identity:
        with _lock:
            _kept.setdefault(span, {}).update(identity)


def _restore_identity(span: Span) -> None:
    with _lock:
        identity = _kept.pop(span, None)
    if not identity:
        return
    bounded: Any = span._attributes
    current = bounded._dict if hasattr(bounded, "_dict") else bounded
    replaced = {k: current[k] for k, v in identity.items() if k in current and current[k] != v}
    changes = {k: v for k, v in identity.items() if current.get(k) != v}
    if not changes:
        return
    if replaced:
        changes[attrs.TOOLAUDIT_TWIN_REPLACED] = dumps(replaced)
    # The SDK froze the attributes before _on_ending; the span is still ours to finish (no
    # processor has seen it ended yet), so the values are written under its own lock.
    lock = getattr(bounded, "_lock", None)
    if lock is None:
        current.update(changes)
        return
    with lock:
        current.update(changes)


class AttributionStampingProcessor(SpanProcessor):
    """On start, adds the attribution to spans with a ``gen_ai.operation.name`` other than
    ``execute_tool`` (ours carry it already)."""

    def on_start(self, span: Span, parent_context: otel_context.Context | None = None) -> None:
        try:
            existing = span.attributes or {}
            operation = existing.get(attrs.GEN_AI_OPERATION_NAME)
            if operation is None or operation == attrs.OPERATION_EXECUTE_TOOL:
                return
            attribution = current_attribution(parent_context)
            if attribution.user_id is None and attribution.conversation_id is None:
                return
            values = {k: v for k, v in attribution.span_attributes().items() if k not in existing}
            if values:
                span.set_attributes(values)
        except Exception as exc:  # noqa: BLE001 - a processor never raises into the SDK
            internal_error("stamping attribution on an LLM span", exc)

    def _on_ending(self, span: Span) -> None:
        try:
            if _kept:
                _restore_identity(span)
        except Exception as exc:  # noqa: BLE001 - a processor never raises into the SDK
            internal_error("keeping attribution on a twin tool span", exc)

    def on_end(self, span: ReadableSpan) -> None:
        pass

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


def install_stamping(provider: Any) -> Callable[[], None] | None:
    """Add the stamping processor to an SDK ``TracerProvider``, in front of nothing and behind
    nothing that redacts (it only adds attributes at start); returns the function that takes it out
    again, or None when the provider is not an SDK one."""
    multi: Any = getattr(provider, "_active_span_processor", None)
    if not isinstance(multi, (SynchronousMultiSpanProcessor, ConcurrentMultiSpanProcessor)):
        return None
    stamper = AttributionStampingProcessor()
    with multi._lock:
        # Straight onto the provider's own list: an add_span_processor routed behind a redactor
        # would tuck it among the exporting processors, where uninstrument could not find it.
        multi._span_processors = (*multi._span_processors, stamper)

    def remove() -> None:
        with multi._lock:
            multi._span_processors = tuple(p for p in multi._span_processors if p is not stamper)

    return remove
