"""Stamp the attribution in effect onto LLM, retrieval and agent spans other instrumentations start.

The official OpenAI, Gemini or Anthropic instrumentations know the model and the tokens, not the
human behind the conversation. A chat span started inside an :func:`audit_context` gets the user,
roles, session, conversation, turn, purpose and client from it here, so the audit exporter's
``llm.request`` records say who asked too. Values the span already has are left as they are.
"""

from __future__ import annotations

from collections.abc import Callable
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
from opentelemetry_instrumentation_toolaudit._log import internal_error


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
