# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""``RedactingSpanProcessor``: redacts each finished span, then hands a copy to the processors behind it.

The SDK freezes a span's attributes before ``on_end``, so redaction cannot edit the span in place:
the processor builds a redacted ``ReadableSpan`` (attributes, event names and attributes, link
attributes, status description, name, resource attributes) and passes that downstream. A span with
nothing to redact is passed as is.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Mapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.util import BoundedList
from opentelemetry.trace import Link, Status

from opentelemetry_instrumentation_toolaudit._log import internal_error
from opentelemetry_instrumentation_toolaudit.redaction._attributes import (
    AttributeRedactor,
    add_counts,
)
from opentelemetry_instrumentation_toolaudit.redaction._checked import CheckMark, mark_checked
from opentelemetry_instrumentation_toolaudit.redaction._policy import RedactionPolicy


def _attribute_items(span: ReadableSpan) -> Mapping[str, Any]:
    """The span's attributes as a plain mapping, without the SDK's per-access locking."""
    raw = getattr(span, "_attributes", None)
    inner = getattr(raw, "_dict", None)
    if type(inner) is dict:
        return inner
    if type(raw) is dict:
        return raw
    return span.attributes or {}


class RedactingSpanProcessor(SpanProcessor):
    """Redacts every span that ends, then passes the redacted copy to ``downstream`` processors.

    ``RedactingSpanProcessor(BatchSpanProcessor(OTLPSpanExporter()), policy=policy)``. With no
    ``policy``, ``RedactionPolicy.from_env()``. ``on_start`` and ``shutdown``/``force_flush`` are
    forwarded unchanged; only ``on_end`` (where exporters take spans) sees the redacted copy.
    Redaction failures are logged once and counted; the span is then dropped rather than leaked.
    """

    def __init__(
        self,
        *downstream: SpanProcessor,
        policy: RedactionPolicy | None = None,
        source_redacted_scopes: frozenset[str] = frozenset(),
    ) -> None:
        self.policy = policy if policy is not None else RedactionPolicy.from_env()
        self._downstream: tuple[SpanProcessor, ...] = tuple(downstream)
        self._lock = threading.Lock()
        # Spans from these instrumentation scopes had their arguments/summary redacted at the source
        # by this same policy: no need to scan them twice.
        self._source_scopes = source_redacted_scopes
        self._attributes = AttributeRedactor(self.policy)
        # A provider's spans share one Resource: its redacted copy is remembered, keyed by identity
        # (the original is held, so its id cannot be reused by another object).
        self._last_resource: tuple[Resource, Resource, dict[str, int]] | None = None

    @property
    def downstream(self) -> tuple[SpanProcessor, ...]:
        """The processors that receive redacted spans, in order."""
        return self._downstream

    def add_span_processor(self, processor: SpanProcessor) -> None:
        """Put ``processor`` behind this one (it will receive redacted spans)."""
        with self._lock:
            self._downstream += (processor,)

    # --- SpanProcessor --------------------------------------------------------------------------
    def on_start(self, span: Span, parent_context: otel_context.Context | None = None) -> None:
        for processor in self._downstream:
            processor.on_start(span, parent_context=parent_context)

    def _on_ending(self, span: Span) -> None:
        for processor in self._downstream:
            processor._on_ending(span)

    def on_end(self, span: ReadableSpan) -> None:
        try:
            redacted = self.redact_span(span)
            scope = span.instrumentation_scope
            # The audit exporter's guard need not scan again what was checked here by equal rules.
            mark_checked(
                redacted,
                CheckMark(
                    self.policy.rules_id, scope is not None and scope.name in self._source_scopes
                ),
            )
        except Exception as exc:  # noqa: BLE001 - never raise into the app; never leak either
            internal_error("redacting a span", exc)
            return
        for processor in self._downstream:
            processor.on_end(redacted)

    def shutdown(self) -> None:
        for processor in self._downstream:
            processor.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return all([processor.force_flush(timeout_millis) for processor in self._downstream])

    # --- redaction ------------------------------------------------------------------------------
    def redact_span(self, span: ReadableSpan) -> ReadableSpan:
        """``span`` itself if it holds nothing to redact, else a redacted copy."""
        found: dict[str, int] = collections.defaultdict(int)
        scope = span.instrumentation_scope
        trusted = scope is not None and scope.name in self._source_scopes
        original = _attribute_items(span)
        attributes = self.redact_attributes(original, found, trusted=trusted)
        # Read the private lists first: the public properties copy them under a lock.
        events = self._events(span.events, found) if getattr(span, "_events", True) else None
        links = self._links(span.links, found) if getattr(span, "_links", True) else None
        name = self.policy._text(span.name, found, 0)
        status = span.status
        if status.description:
            description = self.policy.redact_collect(status.description, found)
            if description != status.description:
                status = Status(status.status_code, description)
        resource = self.redact_resource(span.resource, found)
        if not found:
            return span
        new_attributes = dict(original) if attributes is None else attributes
        add_counts(new_attributes, found)
        return ReadableSpan(
            name=name,
            context=span.context,
            parent=span.parent,
            resource=resource,
            attributes=_with_dropped(new_attributes, span.dropped_attributes),
            events=span.events
            if events is None
            else _list_with_dropped(events, span.dropped_events),
            links=span.links if links is None else _list_with_dropped(links, span.dropped_links),
            kind=span.kind,
            status=status,
            start_time=span.start_time,
            end_time=span.end_time,
            instrumentation_info=getattr(span, "_instrumentation_info", None),
            instrumentation_scope=scope,
        )

    def redact_resource(self, resource: Resource | None, found: dict[str, int]) -> Resource | None:
        """``resource`` itself if it holds nothing to redact, else a copy with redacted attributes
        (``service.name`` and the rest travel with every span and reach the audit records)."""
        if resource is None:
            return None
        last = self._last_resource
        if last is None or last[0] is not resource:
            own: dict[str, int] = collections.defaultdict(int)
            new = self.redact_attributes(resource.attributes, own)
            redacted = resource if new is None else Resource(new, resource.schema_url)
            last = (resource, redacted, dict(own))
            self._last_resource = last
        for kind, count in last[2].items():
            found[kind] = found.get(kind, 0) + count
        return last[1]

    def redact_attributes(
        self,
        attributes: Mapping[str, Any],
        found: dict[str, int],
        *,
        trusted: bool = False,
    ) -> dict[str, Any] | None:
        """A redacted copy of span (or event/link) attributes; None when nothing changed."""
        return self._attributes.redact(attributes, found, trusted=trusted)

    def _events(self, events: Any, found: dict[str, int]) -> list[Event] | None:
        if not events:
            return None
        out: list[Event] | None = None
        for index, event in enumerate(events):
            new = self.redact_attributes(event.attributes or {}, found)
            # An event's name is free text too: add_event(f"receipt sent to {email}").
            name = self.policy._text(event.name, found, 0)
            if new is None and name is event.name:
                continue
            if out is None:
                out = list(events)
            out[index] = Event(name, event.attributes if new is None else new, event.timestamp)
        return out

    def _links(self, links: Any, found: dict[str, int]) -> list[Link] | None:
        if not links:
            return None
        out: list[Link] | None = None
        for index, link in enumerate(links):
            if not link.attributes:
                continue
            new = self.redact_attributes(link.attributes, found)
            if new is None:
                continue
            if out is None:
                out = list(links)
            out[index] = Link(link.context, new)
        return out


def _with_dropped(attributes: dict[str, Any], dropped: int) -> Any:
    """The attributes, still reporting how many the SDK dropped (exporters send that count)."""
    if not dropped:
        return attributes
    bounded = BoundedAttributes(maxlen=None, attributes=attributes, immutable=True)
    bounded.dropped = dropped
    return bounded


def _list_with_dropped(items: list[Any], dropped: int) -> Any:
    if not dropped:
        return items
    bounded = BoundedList.from_seq(None, items)
    bounded.dropped = dropped
    return bounded
