# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Put a ``RedactingSpanProcessor`` in front of every processor of an SDK ``TracerProvider``.

Under ``opentelemetry-instrument`` the SDK configurator creates the provider and its exporting
processors before any instrumentor runs, so redaction has to be slotted in after the fact:

* the processors already registered move behind one ``RedactingSpanProcessor``;
* processors registered later (``provider.add_span_processor``) also go behind it, because the
  provider's multi-processor is told to route additions there.

Tracers hold a reference to the provider's multi-processor, so it is edited in place rather than
replaced. Processors that are themselves ``RedactingSpanProcessor``s stay in front, untouched.
"""

from __future__ import annotations

import threading
from typing import Any

from opentelemetry.sdk.trace import (
    ConcurrentMultiSpanProcessor,
    SpanProcessor,
    SynchronousMultiSpanProcessor,
    TracerProvider,
)

from opentelemetry_instrumentation_toolaudit._log import logger
from opentelemetry_instrumentation_toolaudit.redaction._policy import RedactionPolicy
from opentelemetry_instrumentation_toolaudit.redaction._processor import RedactingSpanProcessor

_ADD = "add_span_processor"
_lock = threading.Lock()


class Installation:
    """A redactor put in front of a provider's processors; :meth:`remove` undoes it exactly."""

    def __init__(self, multi: Any, redactor: RedactingSpanProcessor) -> None:
        self.multi = multi
        self.redactor = redactor

    def remove(self) -> None:
        """Restore the provider's processors: those redacted so far come back in their order."""
        with _lock, self.multi._lock:
            current = self.multi._span_processors
            restored: list[SpanProcessor] = []
            for processor in current:
                if processor is self.redactor:
                    restored.extend(self.redactor.downstream)
                else:
                    restored.append(processor)
            self.multi._span_processors = tuple(restored)
            if self.multi.__dict__.get(_ADD) is not None:
                del self.multi.__dict__[_ADD]


def install_redaction(
    provider: Any,
    policy: RedactionPolicy,
    *,
    source_redacted_scopes: frozenset[str] = frozenset(),
) -> Installation | None:
    """Redact every span of ``provider`` before any of its processors sees it.

    Returns None (and logs why) when ``provider`` is not an SDK ``TracerProvider`` or already has a
    redactor installed by this function.
    """
    if not isinstance(provider, TracerProvider):
        logger.warning(
            "toolaudit: the tracer provider is not an SDK TracerProvider (%s); spans are not "
            "redacted by toolaudit before export: add RedactingSpanProcessor yourself",
            type(provider).__name__,
        )
        return None
    multi: Any = getattr(provider, "_active_span_processor", None)
    if not isinstance(multi, (SynchronousMultiSpanProcessor, ConcurrentMultiSpanProcessor)):
        logger.warning(
            "toolaudit: unknown span processor layout (%s); spans are not redacted by toolaudit",
            type(multi).__name__,
        )
        return None
    with _lock, multi._lock:
        if multi.__dict__.get(_ADD) is not None:
            return None
        before = multi._span_processors
        kept = tuple(p for p in before if isinstance(p, RedactingSpanProcessor))
        behind = [p for p in before if not isinstance(p, RedactingSpanProcessor)]
        redactor = RedactingSpanProcessor(
            *behind, policy=policy, source_redacted_scopes=source_redacted_scopes
        )
        multi._span_processors = (*kept, redactor)
        original_add: Any = type(multi).add_span_processor

        def add_span_processor(span_processor: SpanProcessor) -> None:
            # A redactor the app adds itself goes in front; anything else goes behind ours.
            if isinstance(span_processor, RedactingSpanProcessor):
                original_add(multi, span_processor)
            else:
                redactor.add_span_processor(span_processor)

        multi.__dict__[_ADD] = add_span_processor
    return Installation(multi, redactor)
