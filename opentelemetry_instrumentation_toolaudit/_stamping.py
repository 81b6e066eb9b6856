"""Stamp the attribution in effect onto LLM, retrieval and agent spans other instrumentations start.

The official OpenAI, Gemini or Anthropic instrumentations know the model and the tokens, not the
human behind the conversation. A chat span started inside an :func:`audit_context` gets the user,
roles, session, conversation, turn, purpose and client from it here, so the audit exporter's
``llm.request`` records say who asked too. Values the span already has are left as they are.
"""

from __future__ import annotations

from typing import Any

from opentelemetry import context as otel_context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from opentelemetry_instrumentation_toolaudit import attributes as attrs
from opentelemetry_instrumentation_toolaudit._context import current_attribution
from opentelemetry_instrumentation_toolaudit._log import internal_error
from opentelemetry_instrumentation_toolaudit._state import STATE

_MARK = "_toolaudit_stamping"


class AttributionStampingProcessor(SpanProcessor):
    """On start, adds the attribution to spans with a ``gen_ai.operation.name`` other than
    ``execute_tool`` (ours carry it already). Inactive while the instrumentor is not instrumented."""

    def on_start(self, span: Span, parent_context: otel_context.Context | None = None) -> None:
        if STATE.tracer is None:
            return
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


def install_stamping(provider: Any) -> None:
    """Add the stamping processor to an SDK ``TracerProvider`` once (a provider cannot drop a
    processor again, so it stays and goes quiet after ``uninstrument()``)."""
    if not hasattr(provider, "add_span_processor") or getattr(provider, _MARK, False):
        return
    provider.add_span_processor(AttributionStampingProcessor())
    setattr(provider, _MARK, True)
