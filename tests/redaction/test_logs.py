# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""RedactingLogRecordProcessor: OpenTelemetry log records are redacted before any log exporter."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry._logs import LogRecord
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor

try:
    from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter
except ImportError:  # SDK < 1.39 (the floor is 1.35): the same exporter under its older name
    from opentelemetry.sdk._logs.export import (  # type: ignore[attr-defined,no-redef]
        InMemoryLogExporter as InMemoryLogRecordExporter,
    )

from opentelemetry_instrumentation_toolaudit import ToolAuditInstrumentor, error_counts
from opentelemetry_instrumentation_toolaudit.redaction import (
    RedactingLogRecordProcessor,
    RedactionPolicy,
)

EMAIL = "jane.doe@example.com"
CARD = "4111 1111 1111 1111"


@pytest.fixture
def logs() -> Iterator[tuple[LoggerProvider, InMemoryLogRecordExporter, RedactionPolicy]]:
    exporter = InMemoryLogRecordExporter()
    provider = LoggerProvider()
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    instrumentor = ToolAuditInstrumentor()
    instrumentor.instrument(logger_provider=provider)
    yield provider, exporter, RedactionPolicy.from_env()
    instrumentor.uninstrument()
    provider.shutdown()


def records(exporter: InMemoryLogRecordExporter) -> list[Any]:
    return [r.log_record for r in exporter.get_finished_logs()]


def test_genai_message_event_body_becomes_a_hash(logs):
    """A gen_ai.user.message event keeps only a keyed hash and size of its body."""
    provider, exporter, policy = logs
    body = {"content": f"I am {EMAIL}", "role": "user"}
    provider.get_logger("openai-v2").emit(LogRecord(event_name="gen_ai.user.message", body=body))
    (record,) = records(exporter)
    digest, size = policy.pseudonym(b'{"content":"I am jane.doe@example.com","role":"user"}'), 53
    assert record.body == {"body_hash": digest, "body_size": size}
    assert dict(record.attributes) == {
        "toolaudit.redaction.count": 1,
        "toolaudit.redaction.kinds": ("message_content",),
    }


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_log_lines_and_attributes_redacted(logs):
    """Python logging bridged to OpenTelemetry: message text and extra attributes are redacted."""
    provider, exporter, policy = logs
    handler = LoggingHandler(logger_provider=provider)
    app_logger = logging.getLogger("tests.redaction.app")
    app_logger.addHandler(handler)
    try:
        app_logger.warning("refund for %s failed", EMAIL, extra={"card": CARD, "api_key": "k-1"})
    finally:
        app_logger.removeHandler(handler)
    (record,) = records(exporter)
    assert record.body == f"refund for <EMAIL:{policy.pseudonym(EMAIL)}> failed"
    assert (record.attributes["card"], record.attributes["api_key"]) == (
        "<CREDIT_CARD>",
        "***REDACTED***",
    )
    assert record.attributes["toolaudit.redaction.kinds"] == ("credit_card", "email", "secret_key")


def test_processor_added_later_sees_redacted_records(logs):
    """A log processor registered after instrument() runs after the redactor."""
    provider, _, _ = logs
    late = InMemoryLogRecordExporter()
    provider.add_log_record_processor(SimpleLogRecordProcessor(late))
    provider.get_logger("app").emit(LogRecord(body=f"mail {EMAIL}"))
    (record,) = records(late)
    assert EMAIL not in str(record.body)


def test_clean_record_untouched(logs):
    """A record with nothing to redact gets no extra attributes."""
    provider, exporter, _ = logs
    provider.get_logger("app").emit(LogRecord(body="order ORD-12345 shipped", attributes={"n": 1}))
    (record,) = records(exporter)
    assert (record.body, dict(record.attributes)) == ("order ORD-12345 shipped", {"n": 1})


def test_uninstrument_removes_log_redactor():
    """uninstrument() takes the redactor out of the logger provider."""
    provider = LoggerProvider()
    raw = SimpleLogRecordProcessor(InMemoryLogRecordExporter())
    provider.add_log_record_processor(raw)
    instrumentor = ToolAuditInstrumentor()
    instrumentor.instrument(logger_provider=provider)
    multi = provider._multi_log_record_processor
    assert [type(p).__name__ for p in multi._log_record_processors] == [
        "RedactingLogRecordProcessor",
        "SimpleLogRecordProcessor",
    ]
    instrumentor.uninstrument()
    assert multi._log_record_processors == (raw,)


def test_failure_fails_closed(monkeypatch):
    """If redacting a record fails, its body and attributes are replaced, and the failure counted."""
    processor = RedactingLogRecordProcessor(RedactionPolicy(hash_key=b"log-test-key-0123456789"))
    monkeypatch.setattr(processor, "redact_record", lambda record: 1 / 0)
    exporter = InMemoryLogRecordExporter()
    provider = LoggerProvider()
    provider.add_log_record_processor(processor)
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    before = error_counts().get("redacting a log record", 0)
    provider.get_logger("app").emit(LogRecord(body=f"mail {EMAIL}", attributes={"x": EMAIL}))
    (record,) = records(exporter)
    assert (record.body, dict(record.attributes or {})) == ("***REDACTED***", {})
    assert error_counts()["redacting a log record"] == before + 1


def test_dropped_attribute_count_survives_redaction(monkeypatch):
    """A redacted record keeps the SDK's attributes object, so the count of attributes dropped by
    limits still reaches exporters (SDKs before 1.39 fail to export a record without it)."""
    monkeypatch.setenv("OTEL_ATTRIBUTE_COUNT_LIMIT", "2")
    policy = RedactionPolicy(hash_key=b"log-test-key-0123456789")
    exporter = InMemoryLogRecordExporter()
    provider = LoggerProvider()
    provider.add_log_record_processor(RedactingLogRecordProcessor(policy))
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    with pytest.warns(UserWarning):  # the SDK warns that it dropped an attribute
        provider.get_logger("app").emit(
            LogRecord(body="x", attributes={"a": 1, "b": 2, "note": f"mail {EMAIL}"})
        )
    (record,) = records(exporter)
    assert (dict(record.attributes), getattr(record.attributes, "dropped", None)) == (
        {
            "b": 2,
            "note": f"mail <EMAIL:{policy.pseudonym(EMAIL)}>",
            "toolaudit.redaction.count": 1,
            "toolaudit.redaction.kinds": ("email",),
        },
        1,
    )
