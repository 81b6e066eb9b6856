# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Received OTLP spans: which are malformed, and the event id each one's record gets.

A span whose ids are not OTLP-shaped (a 16-byte trace id and 8-byte span id, not all zero; an
8-byte parent id or none) or that ends before it starts is malformed: it is reported by the reason
only, never by a value.
"""

from __future__ import annotations

import hashlib

from opentelemetry.proto.trace.v1.trace_pb2 import Span

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


def check_span(span: Span) -> None:
    """Raise :class:`MalformedSpanError` when ``span`` cannot be an audit record."""
    if len(span.trace_id) != 16 or not any(span.trace_id):
        raise MalformedSpanError("invalid trace id")
    if len(span.span_id) != 8 or not any(span.span_id):
        raise MalformedSpanError("invalid span id")
    if span.parent_span_id and (len(span.parent_span_id) != 8 or not any(span.parent_span_id)):
        raise MalformedSpanError("invalid parent span id")
    if span.end_time_unix_nano and span.end_time_unix_nano < span.start_time_unix_nano:
        raise MalformedSpanError("span ends before it starts")
