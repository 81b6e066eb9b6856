# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Decoded OTLP spans presented as the SDK's ``ReadableSpan``, so that the span → record code the
in-process exporter uses serves ``toolaudit serve`` unchanged.

A span whose ids are not OTLP-shaped (a 16-byte trace id and 8-byte span id, not all zero; an
8-byte parent id or none) or that ends before it starts is malformed: it is reported by the reason
only, never by a value.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span as ProtoSpan
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags

_STATUS = {0: StatusCode.UNSET, 1: StatusCode.OK, 2: StatusCode.ERROR}
_KINDS = {1: SpanKind.INTERNAL, 2: SpanKind.SERVER, 3: SpanKind.CLIENT, 4: SpanKind.PRODUCER}
_KINDS[5] = SpanKind.CONSUMER
_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
_EVENT_ID_DOMAIN = b"toolaudit.otlp.span\x00"


class MalformedSpanError(ValueError):
    """A span that cannot be an audit record; the message is the reason, naming no value."""


def event_id_for(trace_id: bytes, span_id: bytes) -> str:
    """The record's event id for the span ``trace_id``/``span_id``: the same on every delivery, so a
    retried request is stored once. A UUIDv8 (RFC 9562) as 32 hex digits, from SHA-256."""
    value = int.from_bytes(
        hashlib.sha256(_EVENT_ID_DOMAIN + trace_id + span_id).digest()[:16], "big"
    )
    value = value & ~(0xF << 76) | 0x8 << 76  # version 8
    value = value & ~(0x3 << 62) | 0x2 << 62  # variant 10
    return f"{value:032x}"


def any_value(value: AnyValue) -> Any:
    """An OTLP ``AnyValue`` as a plain Python value (lists for arrays, dicts for key-value lists)."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return tuple(any_value(item) for item in value.array_value.values)
    if kind == "kvlist_value":
        return key_values(value.kvlist_value.values)
    return getattr(value, kind)


def key_values(pairs: Any) -> dict[str, Any]:
    """OTLP ``KeyValue`` list → dict; attributes with no value are left out (as the SDK does)."""
    out: dict[str, Any] = {}
    for pair in pairs:
        value = pair.value
        kind = value.WhichOneof("value")
        # Most attributes are strings: read them without the general conversion.
        if kind == "string_value":
            out[pair.key] = value.string_value
        elif kind is not None:
            out[pair.key] = any_value(value)
    return out


def _span_context(trace_id: bytes, span_id: bytes, what: str) -> SpanContext:
    if len(trace_id) != 16 or not any(trace_id):
        raise MalformedSpanError(f"invalid {what}trace id")
    if len(span_id) != 8 or not any(span_id):
        raise MalformedSpanError(f"invalid {what}span id")
    return SpanContext(
        int.from_bytes(trace_id, "big"),
        int.from_bytes(span_id, "big"),
        is_remote=True,
        trace_flags=_SAMPLED,
    )


def readable_span(
    span: ProtoSpan, resource: Resource, scope: InstrumentationScope | None
) -> ReadableSpan:
    """``span`` as a ``ReadableSpan``; raises :class:`MalformedSpanError`."""
    context = _span_context(span.trace_id, span.span_id, "")
    parent = None
    if span.parent_span_id:
        parent = _span_context(span.trace_id, span.parent_span_id, "parent ")
    if span.end_time_unix_nano and span.end_time_unix_nano < span.start_time_unix_nano:
        raise MalformedSpanError("span ends before it starts")
    status = Status(_STATUS.get(span.status.code, StatusCode.UNSET), span.status.message or None)
    events = [
        Event(event.name, key_values(event.attributes), event.time_unix_nano or None)
        for event in span.events
    ]
    links = [
        Link(_span_context(link.trace_id, link.span_id, "link "), key_values(link.attributes))
        for link in span.links
    ]
    return ReadableSpan(
        name=span.name,
        context=context,
        parent=parent,
        resource=resource,
        attributes=key_values(span.attributes),
        events=events,
        links=links,
        kind=_KINDS.get(span.kind, SpanKind.INTERNAL),
        status=status,
        start_time=span.start_time_unix_nano or None,
        end_time=span.end_time_unix_nano or None,
        instrumentation_scope=scope,
    )


def _scalar(value: Any) -> bool:
    return isinstance(value, (str, bool, int, float))


def resource_of(attributes: Mapping[str, Any], schema_url: str) -> Resource:
    """A ``Resource`` of ``attributes``; a value a resource cannot hold (a key-value list, a mixed
    array) is kept as its JSON text rather than dropped."""
    clean: dict[str, Any] = {}
    for key, value in attributes.items():
        if _scalar(value) or (
            isinstance(value, tuple)
            and all(_scalar(item) for item in value)
            and len({type(item) for item in value}) <= 1
        ):
            clean[key] = value
        else:
            clean[key] = json.dumps(value, default=_bytes_text, separators=(",", ":"))
    return Resource(clean, schema_url or None)


def _bytes_text(value: Any) -> str:
    return value.hex() if isinstance(value, bytes) else str(value)


def spans_of(
    request: ExportTraceServiceRequest,
) -> Iterator[tuple[ProtoSpan, Resource, InstrumentationScope | None]]:
    """Every span of ``request`` with its resource and instrumentation scope."""
    for resource_spans in request.resource_spans:
        resource = resource_of(
            key_values(resource_spans.resource.attributes), resource_spans.schema_url
        )
        for scope_spans in resource_spans.scope_spans:
            scope = None
            if scope_spans.HasField("scope"):
                scope = InstrumentationScope(
                    scope_spans.scope.name,
                    scope_spans.scope.version or None,
                    scope_spans.schema_url or None,
                )
            for span in scope_spans.spans:
                yield span, resource, scope
