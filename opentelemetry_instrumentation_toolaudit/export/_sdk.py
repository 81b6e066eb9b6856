# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""An SDK ``ReadableSpan`` as a :class:`~._view.SpanView`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode

from opentelemetry_instrumentation_toolaudit.export._view import SpanEventView, SpanView


def _plain_attributes(span: ReadableSpan) -> dict[str, Any]:
    """One C-level copy of the span's attribute dict, without the SDK's per-read lock."""
    raw = getattr(span, "_attributes", None)
    inner = getattr(raw, "_dict", raw)
    if isinstance(inner, dict):
        return dict(inner)
    return dict(span.attributes or {})


class SdkSpanView:
    """An SDK ``ReadableSpan`` as a :class:`SpanView`."""

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

    def __init__(self, span: ReadableSpan) -> None:
        self._span = span
        self.name: str = span.name
        self.kind: int = span.kind.value if span.kind is not None else 0
        ctx = span.context
        self.trace_id: int | bytes | None = ctx.trace_id if ctx is not None else None
        self.span_id: int | bytes | None = ctx.span_id if ctx is not None else None
        parent = span.parent
        self.parent_span_id: int | bytes | None = parent.span_id if parent is not None else None
        self.start_time: int | None = span.start_time
        self.end_time: int | None = span.end_time
        status = span.status
        self.status_error: bool = status is not None and status.status_code is StatusCode.ERROR
        self.attributes: Mapping[str, Any] = _plain_attributes(span)
        resource = span.resource
        self.resource_attributes: Mapping[str, Any] = (
            resource.attributes if resource is not None else {}
        )
        scope = span.instrumentation_scope
        self.scope_name: str | None = scope.name if scope is not None else None

    @property
    def events(self) -> Sequence[SpanEventView]:
        return tuple(self._span.events)


def sdk_view(span: ReadableSpan | SpanView) -> SpanView:
    """``span`` as a :class:`SpanView` (an SDK span is wrapped; a view is returned as is)."""
    if isinstance(span, ReadableSpan):
        return SdkSpanView(span)
    return span
