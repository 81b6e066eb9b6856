# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""OTEL_PYTHON_TOOLAUDIT_EMIT_LOGS: each committed record is also an OpenTelemetry log record."""

from __future__ import annotations

from pathlib import Path

import pytest
from opentelemetry._logs import get_logger_provider, set_logger_provider
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from opentelemetry_instrumentation_toolaudit import (
    AuditLogExporter,
    ToolAuditInstrumentor,
    audited_tool,
)
from opentelemetry_instrumentation_toolaudit.ledger import open_sink

from ..conftest import tool_spans


@audited_tool(action="read")
def access_patient_record(patient_id: str) -> dict[str, str]:
    return {"status": "ok"}


_LOGS = InMemoryLogRecordExporter()


@pytest.fixture
def logs() -> InMemoryLogRecordExporter:
    """The process's SDK logger provider (set once, as an app sets it) exporting to memory."""
    provider = get_logger_provider()
    if not isinstance(provider, LoggerProvider):
        provider = LoggerProvider()
        set_logger_provider(provider)
    if not getattr(provider, "_toolaudit_test_logs", False):
        provider.add_log_record_processor(SimpleLogRecordProcessor(_LOGS))
        provider._toolaudit_test_logs = True  # type: ignore[attr-defined]
    _LOGS.clear()
    return _LOGS


def _run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, emit: str) -> tuple[list, str]:  # type: ignore[type-arg]
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_EMIT_LOGS", emit)
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_SIGNING_KEY_FILE", str(tmp_path / "signing.key"))
    url = f"sqlite:///{tmp_path}/audit.db"
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    provider.add_span_processor(SimpleSpanProcessor(AuditLogExporter(url)))
    instrumentor = ToolAuditInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        access_patient_record("P-1234")
        access_patient_record("P-5678")
    finally:
        instrumentor.uninstrument()
        provider.shutdown()
    return tool_spans(spans), url


def test_committed_records_are_emitted_as_log_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, logs: InMemoryLogRecordExporter
) -> None:
    """Each committed record becomes a log record with its span's trace and span id, its seq and
    entry hash, and no argument value."""
    spans, url = _run(tmp_path, monkeypatch, "true")
    with open_sink(url, create=False) as sink:
        stored = list(sink.read())
    emitted = [item.log_record for item in logs.get_finished_logs()]
    assert [
        (span.context.trace_id, span.context.span_id, r.seq, r.entry_hash)
        for span, r in zip(spans, stored, strict=True)
    ] == [
        (
            log.trace_id,
            log.span_id,
            log.attributes["toolaudit.seq"],
            log.attributes["toolaudit.entry_hash"],
        )
        for log in emitted
    ]
    assert all("P-1234" not in str(log.body) + str(dict(log.attributes)) for log in emitted)


def test_no_log_records_unless_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, logs: InMemoryLogRecordExporter
) -> None:
    """Without OTEL_PYTHON_TOOLAUDIT_EMIT_LOGS=true the records are written and no log is emitted."""
    _spans, url = _run(tmp_path, monkeypatch, "")
    with open_sink(url, create=False) as sink:
        assert sink.size() == 2
    assert logs.get_finished_logs() == ()
