# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""OTLP/HTTP request bodies: gzip within a size bound, then protobuf or OTLP/JSON.

OTLP/JSON differs from protobuf's JSON mapping in one way that matters here: trace and span ids
are hex strings, not base64. An id that is not hex becomes empty, so its span is rejected as
malformed rather than the whole request.
"""

from __future__ import annotations

import base64
import json
import zlib
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
_ID_KEYS = ("traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id")


class TooLargeError(Exception):
    """The body, or what it decompresses to, is over the size limit."""


class UndecodableError(Exception):
    """The body is not an OTLP export request; the message names the format, never the content."""


def decompress(body: bytes, encoding: str, limit: int) -> bytes:
    """``body`` decoded from its ``Content-Encoding`` (identity, gzip or deflate), at most ``limit``
    bytes of it; raises :class:`TooLargeError` or :class:`UndecodableError`."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding not in ("gzip", "deflate"):
        raise UndecodableError(f"unsupported Content-Encoding {encoding[:20]!r}")
    # wbits 47 reads a gzip or zlib header; raw deflate (negative wbits) is what some clients send.
    for wbits in (47, -15):
        inflater = zlib.decompressobj(wbits)
        try:
            out = inflater.decompress(body, limit + 1)
        except zlib.error:
            continue
        if len(out) > limit or inflater.unconsumed_tail:
            raise TooLargeError(f"the decompressed request is over {limit} bytes")
        return out
    raise UndecodableError(f"the body is not valid {encoding}")


def decode(body: bytes, content_type: str) -> ExportTraceServiceRequest:
    """An ``ExportTraceServiceRequest`` from a protobuf or OTLP/JSON body."""
    kind = content_type.split(";", 1)[0].strip().lower()
    request = ExportTraceServiceRequest()
    if kind == JSON:
        try:
            document = json.loads(body)
            _hex_ids_to_base64(document)
            json_format.ParseDict(document, request, ignore_unknown_fields=True)
        except (ValueError, TypeError, AttributeError, RecursionError, json_format.ParseError):
            raise UndecodableError("the body is not an OTLP/JSON trace export request") from None
        return request
    try:
        request.ParseFromString(body)
    except (DecodeError, RecursionError):
        raise UndecodableError("the body is not an OTLP protobuf trace export request") from None
    return request


def _hex_ids_to_base64(document: Any) -> None:
    for resource_spans in _items(document, "resourceSpans", "resource_spans"):
        for scope_spans in _items(resource_spans, "scopeSpans", "scope_spans"):
            for span in _items(scope_spans, "spans"):
                _fix_ids(span)
                for link in _items(span, "links"):
                    _fix_ids(link)


def _items(parent: Any, *keys: str) -> list[Any]:
    if not isinstance(parent, dict):
        return []
    for key in keys:
        value = parent.get(key)
        if isinstance(value, list):
            return value
    return []


def _fix_ids(item: Any) -> None:
    if not isinstance(item, dict):
        return
    for key in _ID_KEYS:
        value = item.get(key)
        if isinstance(value, str):
            try:
                raw = bytes.fromhex(value)
            except ValueError:
                raw = b""
            item[key] = base64.b64encode(raw).decode("ascii")
