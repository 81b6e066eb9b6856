# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Alerts leave as OpenTelemetry log records and a counter, and are written into the chain, by the
audit exporter's own thread as records are committed."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

try:
    from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter
except ImportError:  # SDK < 1.39: the same exporter under its older name
    from opentelemetry.sdk._logs.export import (  # type: ignore[attr-defined,no-redef]
        InMemoryLogExporter as InMemoryLogRecordExporter,
    )

from opentelemetry_instrumentation_toolaudit import (
    AuditLogExporter,
    BreakGlass,
    ToolAuditInstrumentor,
    audit_context,
    audited_tool,
)
from opentelemetry_instrumentation_toolaudit.alerts import Alert, AlertEmitter
from opentelemetry_instrumentation_toolaudit.ledger import (
    AuditLog,
    NoteSigner,
    open_sink,
    public_key_path,
    verify,
)


@pytest.fixture
def telemetry() -> Iterator[tuple[AlertEmitter, InMemoryLogRecordExporter, InMemoryMetricReader]]:
    logs = InMemoryLogRecordExporter()
    logger_provider = LoggerProvider()
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(logs))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    yield AlertEmitter(logger_provider, meter_provider), logs, reader
    logger_provider.shutdown()
    meter_provider.shutdown()


def alert_counts(reader: InMemoryMetricReader) -> dict[str, int]:
    data = reader.get_metrics_data()
    out: dict[str, int] = {}
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == "toolaudit.alerts":
                    for point in metric.data.data_points:
                        out[point.attributes["toolaudit.alert.rule"]] = point.value
    return out


def test_an_alert_is_a_warn_log_record_and_a_count(telemetry):
    """Each alert is a WARN log record ``toolaudit.alert`` with the rule, pseudonyms and sequence
    numbers, and adds one to the ``toolaudit.alerts`` counter for its rule."""
    emitter, logs, reader = telemetry
    alert = Alert(
        "repeated_subject_access",
        "2026-11-02T10:00:00.000000Z",
        (3, 4, 5),
        3,
        user="hmac-sha256:kt:" + "a" * 32,
        subject="hmac-sha256:kt:" + "b" * 32,
        detail="3 accesses to one subject in 60 min",
    )
    emitter.emit(alert)
    emitter.emit(alert)
    first = logs.get_finished_logs()[0].log_record
    assert (first.event_name, first.severity_text, first.severity_number.name) == (
        "toolaudit.alert",
        "WARN",
        "WARN",
    )
    assert (
        first.body
        == "toolaudit.alert: repeated_subject_access: 3 accesses to one subject in 60 min"
    )
    assert dict(first.attributes) == {
        "toolaudit.alert.rule": "repeated_subject_access",
        "toolaudit.alert.seqs": (3, 4, 5),
        "toolaudit.alert.count": 3,
        "toolaudit.alert.user": "hmac-sha256:kt:" + "a" * 32,
        "toolaudit.alert.subject": "hmac-sha256:kt:" + "b" * 32,
    }
    assert alert_counts(reader) == {"repeated_subject_access": 2}


RUN_THREADS: list[str] = []


@audited_tool(allowed_roles="physician")
def access_patient_record(patient_id: str) -> dict[str, Any]:
    """Read a patient's chart."""
    RUN_THREADS.append(threading.current_thread().name)
    return {"patient_id": patient_id}


def test_break_glass_raises_an_immediate_alert_online(tmp_path: Path, telemetry):
    """A break-the-glass call raises an alert as soon as its record is committed: a log record, a
    count, and an ``alert`` record in the chain naming it; the call's record carries the reason;
    the trail still verifies, and the rules ran on the alert thread, not the app's."""
    emitter, logs, reader = telemetry
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    exporter = AuditLogExporter(
        AuditLog(open_sink(url), signer=NoteSigner.from_file(tmp_path / "signing.key")),
        alert_emitter=emitter,
    )
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    instrumentor = ToolAuditInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    emitted_on: list[str] = []
    original = emitter.emit
    emitter.emit = lambda alert: (emitted_on.append(threading.current_thread().name), original(alert))  # type: ignore[method-assign,func-returns-value]  # fmt: skip
    try:
        with audit_context(
            user_id="clerk_1", user_role="billing", break_glass=BreakGlass("code blue")
        ):
            access_patient_record("P-1")
        with audit_context(user_id="dr_1", user_role="physician", purpose="TREAT"):
            access_patient_record("P-2")
    finally:
        instrumentor.uninstrument()
        exporter.shutdown()
    (log,) = [r.log_record for r in logs.get_finished_logs()]
    assert (
        log.attributes["toolaudit.alert.rule"],
        tuple(log.attributes["toolaudit.alert.seqs"]),
    ) == (
        "break_glass",
        (0,),
    )
    assert alert_counts(reader) == {"break_glass": 1}
    assert emitted_on == ["toolaudit-alerts"] and RUN_THREADS[-2:] == ["MainThread", "MainThread"]
    with open_sink(url, create=False) as sink:
        records = [r.record for r in sink.read()]
        result = verify(sink, public_key=str(public_key_path(tmp_path / "signing.key")))
    # The alert record is committed as soon as the rules have run: before or after the next call's.
    (alert,) = [r for r in records if r["event_type"] == "alert"]
    assert sorted(r["event_type"] for r in records) == ["alert", "tool.call", "tool.call"]
    assert (alert["details"]["rule"], alert["details"]["seqs"]) == ("break_glass", [0])
    assert records[0]["purpose"] == "ETREAT" and alert["seq"] > 0
    assert records[0]["details"]["break_glass"] == {"reason": "code blue", "urgency": "emergency"}
    assert alert["details"]["user"] == log.attributes["toolaudit.alert.user"] != "clerk_1"
    assert result.ok, result.summary()


def test_online_alerts_can_be_turned_off(tmp_path: Path, telemetry, monkeypatch):
    """``OTEL_PYTHON_TOOLAUDIT_ALERTS=false`` leaves alerting to ``toolaudit alerts``."""
    emitter, logs, _ = telemetry
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_ALERTS", "false")
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    exporter = AuditLogExporter(
        AuditLog(open_sink(url), signer=NoteSigner.from_file(tmp_path / "signing.key")),
        alert_emitter=emitter,
    )
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    instrumentor = ToolAuditInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        with audit_context(user_id="clerk_1", break_glass=BreakGlass("code blue")):
            access_patient_record("P-1")
    finally:
        instrumentor.uninstrument()
        exporter.shutdown()
    assert logs.get_finished_logs() == ()
    with open_sink(url, create=False) as sink:
        assert [r.record["event_type"] for r in sink.read()] == ["tool.call"]
