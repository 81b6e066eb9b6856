# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Where the recorder sends intent records: an :class:`IntentSink` handed over at ``instrument()``.

``instrument(intent_sink=...)`` names it; otherwise it is the audit exporter found behind the
tracer provider's span processors (``OTEL_TRACES_EXPORTER=...,toolaudit`` puts it there before
any instrumentor runs). The recorder knows only this protocol, never the exporter's module.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from opentelemetry.sdk.trace import ReadableSpan

_MAX_DEPTH = 8


@runtime_checkable
class IntentSink(Protocol):
    """Takes the ``tool.intent`` record of a tool span that has started but not run yet."""

    @property
    def is_shut_down(self) -> bool:
        """True once the sink takes no more records."""
        ...

    def write_intent(self, span: ReadableSpan) -> None:
        """Make the intent record durable before returning; raise ``AuditUnavailableError`` if not."""
        ...

    def enqueue_intent(self, span: ReadableSpan) -> None:
        """Queue the intent record without blocking the caller."""
        ...


def find_intent_sink(provider: Any) -> IntentSink | None:
    """The last intent sink (not shut down) among the exporters behind ``provider``'s processors."""
    found: list[IntentSink] = []
    multi = getattr(provider, "_active_span_processor", None)
    _collect(getattr(multi, "_span_processors", ()), found, 0)
    live = [sink for sink in found if not sink.is_shut_down]
    return live[-1] if live else None


def _collect(processors: Any, found: list[IntentSink], depth: int) -> None:
    if depth > _MAX_DEPTH:
        return
    for processor in processors:
        exporter = getattr(processor, "span_exporter", None)
        if isinstance(exporter, IntentSink):
            found.append(exporter)
        # A redacting processor (or any multi-processor) holds the real ones behind it.
        inner = getattr(processor, "downstream", None) or getattr(processor, "_span_processors", ())
        if inner:
            _collect(inner, found, depth + 1)
