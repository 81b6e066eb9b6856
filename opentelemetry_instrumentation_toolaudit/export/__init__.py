# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Spans in, audit record bodies out: the export side of the audit trail.

* :class:`SpanView`: what span → record reads; an SDK ``ReadableSpan`` (:class:`SdkSpanView`) and
  a decoded OTLP span (:class:`OtlpSpanView`) both provide it.
* :func:`build_record` / :func:`event_type_of`: span → record body; :class:`ContentGuard`: the last
  redaction check before a record is written; :class:`RetentionPolicy`: each record's
  ``retain_until``.
* :class:`RecordWriter`: the OpenTelemetry-free writer (bounded buffer, retry with backoff,
  deferred intent records, loss counts); :class:`AuditLogExporter` is the ``SpanExporter`` over it.

Usage
-----

.. code-block:: python

    from opentelemetry_instrumentation_toolaudit.export import AuditLogExporter

    provider.add_span_processor(BatchSpanProcessor(AuditLogExporter("sqlite:///audit.db")))
"""

from __future__ import annotations

from opentelemetry_instrumentation_toolaudit._intent import IntentSink
from opentelemetry_instrumentation_toolaudit.export._config import ExporterConfig
from opentelemetry_instrumentation_toolaudit.export._exporter import AuditLogExporter
from opentelemetry_instrumentation_toolaudit.export._guard import ContentGuard
from opentelemetry_instrumentation_toolaudit.export._otlp import OtlpSpanView, otlp_views
from opentelemetry_instrumentation_toolaudit.export._records import (
    build_record,
    event_type_of,
    new_event_id,
)
from opentelemetry_instrumentation_toolaudit.export._retention import (
    RetentionCategory,
    RetentionPolicy,
    RetentionPolicyError,
)
from opentelemetry_instrumentation_toolaudit.export._sdk import SdkSpanView, sdk_view
from opentelemetry_instrumentation_toolaudit.export._view import SpanView
from opentelemetry_instrumentation_toolaudit.export._writer import AppendLog, RecordWriter

__all__ = [
    "AppendLog",
    "AuditLogExporter",
    "ContentGuard",
    "ExporterConfig",
    "IntentSink",
    "OtlpSpanView",
    "RecordWriter",
    "RetentionCategory",
    "RetentionPolicy",
    "RetentionPolicyError",
    "SdkSpanView",
    "SpanView",
    "build_record",
    "event_type_of",
    "new_event_id",
    "otlp_views",
    "sdk_view",
]
