# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Committed audit records as OpenTelemetry log records (``OTEL_PYTHON_TOOLAUDIT_EMIT_LOGS=true``).

Each log record carries the audited span's trace and span id, so a log backend that links logs to
traces (Loki with Tempo, Elastic) shows the audit entry beside its trace, and its
``toolaudit.seq`` and ``toolaudit.entry_hash`` let anyone check that entry against the chain
(``toolaudit show SINK --entry-hash H``). The body names the event, never its arguments or result.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from opentelemetry import trace
from opentelemetry._logs import LogRecord, SeverityNumber, get_logger
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from opentelemetry_instrumentation_toolaudit import attributes as attrs
from opentelemetry_instrumentation_toolaudit._env import read_bool
from opentelemetry_instrumentation_toolaudit._log import internal_error
from opentelemetry_instrumentation_toolaudit.environment_variables import (
    OTEL_PYTHON_TOOLAUDIT_EMIT_LOGS,
)
from opentelemetry_instrumentation_toolaudit.ledger import schema as f
from opentelemetry_instrumentation_toolaudit.version import __version__

LOGGER_NAME = "opentelemetry_instrumentation_toolaudit.audit"
EVENT_NAME = "toolaudit.record"


def emit_logs_enabled() -> bool:
    """Whether ``OTEL_PYTHON_TOOLAUDIT_EMIT_LOGS`` asks for log records (``true``, ``1``...)."""
    return read_bool(OTEL_PYTHON_TOOLAUDIT_EMIT_LOGS, False)


def _hex_id(value: Any, width: int) -> int:
    if isinstance(value, str) and len(value) == width:
        try:
            return int(value, 16)
        except ValueError:
            return 0
    return 0


def emit_records(stored: Iterable[Any]) -> None:
    """Emit one log record per committed record (``StoredRecord``) through the global logger
    provider. Never raises: a failure is logged once and counted, the records stay committed."""
    try:
        logger = get_logger(LOGGER_NAME, __version__)
        for item in stored:
            record = item.record
            trace_id = _hex_id(record.get(f.TRACE_ID), 32)
            span_id = _hex_id(record.get(f.SPAN_ID), 16)
            context = None
            if trace_id and span_id:
                context = trace.set_span_in_context(
                    NonRecordingSpan(
                        SpanContext(trace_id, span_id, False, TraceFlags(TraceFlags.SAMPLED))
                    )
                )
            event_type = record.get(f.EVENT_TYPE)
            tool = record.get(f.TOOL_NAME)
            attributes: dict[str, Any] = {
                attrs.TOOLAUDIT_SEQ: item.seq,
                attrs.TOOLAUDIT_ENTRY_HASH: item.entry_hash,
            }
            if isinstance(event_type, str):
                attributes[attrs.TOOLAUDIT_EVENT_TYPE] = event_type
            if isinstance(tool, str):
                attributes[attrs.GEN_AI_TOOL_NAME] = tool
            logger.emit(
                LogRecord(
                    context=context,
                    severity_number=SeverityNumber.INFO,
                    severity_text="INFO",
                    body=f"audit record #{item.seq} {event_type or ''} {tool or ''}".strip(),
                    attributes=attributes,
                    event_name=EVENT_NAME,
                )
            )
    except Exception as exc:  # noqa: BLE001 - telemetry about telemetry never breaks the writer
        internal_error("emitting audit records as log records", exc)
