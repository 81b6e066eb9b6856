# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""A decoded OTLP protobuf ``Span`` (with its ``Resource`` and ``InstrumentationScope``) as a
:class:`~._view.SpanView`, for a receiver of OTLP exports.

Attribute values become what the SDK holds: strings, bools, ints, floats, and tuples of them for
arrays; bytes stay bytes. Nested maps (``kvlist_value``), which the SDK never produces for span
attributes, become dicts.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

_STATUS_ERROR = Status.STATUS_CODE_ERROR


def any_value(value: Any) -> Any:
    """An OTLP ``AnyValue`` as a plain Python value."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return tuple(any_value(item) for item in value.array_value.values)
    if kind == "kvlist_value":
        return key_values(value.kvlist_value.values)
    return getattr(value, kind)


def key_values(items: Any) -> dict[str, Any]:
    """A repeated OTLP ``KeyValue`` as a dict."""
    return {item.key: any_value(item.value) for item in items}


class OtlpEventView:
    """One OTLP span event."""

    __slots__ = ("attributes", "name", "timestamp")

    def __init__(self, event: Any) -> None:
        self.name: str = event.name
        self.timestamp: int | None = event.time_unix_nano or None
        self.attributes: Mapping[str, Any] = key_values(event.attributes)


class OtlpSpanView:
    """An OTLP protobuf ``Span`` as a :class:`~._view.SpanView`."""

    __slots__ = (
        "_span",
        "attributes",
        "end_time",
        "kind",
        "name",
        "parent_span_id",
        "resource_attributes",
        "scope_name",
        "span_id",
        "start_time",
        "status_error",
        "trace_id",
    )

    def __init__(
        self,
        span: Span,
        resource_attributes: Mapping[str, Any] | None = None,
        scope_name: str | None = None,
    ) -> None:
        self._span = span
        self.name: str = span.name
        # OTLP numbers kinds from 1 (INTERNAL); the SDK enum from 0.
        self.kind: int = max(0, span.kind - 1)
        self.trace_id: bytes | None = span.trace_id or None
        self.span_id: bytes | None = span.span_id or None
        self.parent_span_id: bytes | None = span.parent_span_id or None
        self.start_time: int | None = span.start_time_unix_nano or None
        self.end_time: int | None = span.end_time_unix_nano or None
        self.status_error: bool = span.status.code == _STATUS_ERROR
        self.attributes: Mapping[str, Any] = key_values(span.attributes)
        self.resource_attributes: Mapping[str, Any] = resource_attributes or {}
        self.scope_name: str | None = scope_name

    @property
    def events(self) -> Sequence[OtlpEventView]:
        return tuple(OtlpEventView(event) for event in self._span.events)


def otlp_views(data: Any) -> Iterator[OtlpSpanView]:
    """Every span of an OTLP ``TracesData`` or ``ExportTraceServiceRequest`` as a view."""
    for resource_spans in data.resource_spans:
        resource = key_values(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            scope = scope_spans.scope.name or None
            for span in scope_spans.spans:
                yield OtlpSpanView(span, resource, scope)
