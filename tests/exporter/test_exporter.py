# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""AuditLogExporter: spans become durable, verifiable records; a failing sink never reaches the app."""

from __future__ import annotations

import collections
import json
from collections.abc import Iterator
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.trace import StatusCode, format_trace_id

from opentelemetry_instrumentation_toolaudit import (
    AuditLogExporter,
    AuditUnavailableError,
    ToolAuditInstrumentor,
    audit_context,
    audited_tool,
)
from opentelemetry_instrumentation_toolaudit.ledger import (
    AuditLog,
    NoteSigner,
    open_sink,
    public_key_path,
    verify,
)

from ..conftest import tool_spans


@pytest.fixture
def signer(tmp_path: Path) -> NoteSigner:
    return NoteSigner.from_file(tmp_path / "signing.key")


@pytest.fixture
def sink_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'audit.db'}"


def make_exporter(url: str, signer: NoteSigner, **kwargs: Any) -> AuditLogExporter:
    return AuditLogExporter(AuditLog(open_sink(url), signer=signer), **kwargs)


@pytest.fixture
def audit_exporter(sink_url: str, signer: NoteSigner) -> Iterator[AuditLogExporter]:
    exporter = make_exporter(sink_url, signer)
    yield exporter
    exporter.shutdown()


@pytest.fixture
def audited_provider(
    span_exporter: InMemorySpanExporter, audit_exporter: AuditLogExporter
) -> Iterator[TracerProvider]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(span_exporter))
    provider.add_span_processor(SimpleSpanProcessor(audit_exporter))
    instrumentor = ToolAuditInstrumentor()
    instrumentor.instrument(tracer_provider=provider, fail_closed_tools=["issue_refund"])
    yield provider
    instrumentor.uninstrument()


def stored(url: str) -> list[dict[str, Any]]:
    """Every record in the sink, read through a fresh connection."""
    with open_sink(url, create=False) as sink:
        return [r.record for r in sink.read()]


@audited_tool
def update_order_status(order_id: str, status: str) -> dict[str, Any]:
    """Change an order's status."""
    return {"order_id": order_id, "status": status}


CALLS: list[str] = []


@audited_tool
def issue_refund(order_id: str, amount: float) -> dict[str, Any]:
    """Refund an order (a fail-closed tool in these tests)."""
    CALLS.append(order_id)
    return {"order_id": order_id, "status": "refunded"}


def test_records_are_durable_when_export_returns(
    audited_provider, span_exporter, sink_url, signer, tmp_path
):
    """Each tool call is in the sink, readable by another connection, once the span has ended."""
    with audit_context(user_id="usr_98765", user_role="support_agent", model="gpt-4.1"):
        update_order_status("ORD-1", "shipped")
        update_order_status("ORD-2", "cancelled")
    records = stored(sink_url)
    spans = tool_spans(span_exporter)
    assert [r["seq"] for r in records] == [0, 1]
    assert [r["trace_id"] for r in records] == [format_trace_id(s.context.trace_id) for s in spans]
    assert [r["arguments"]["order_id"] for r in records] == ["ORD-1", "ORD-2"]
    assert {r["user_id"] for r in records} == {"usr_98765"}
    assert {r["event_type"] for r in records} == {"tool.call"}


def test_shutdown_checkpoints_and_trail_verifies(sink_url, signer, tmp_path):
    """After shutdown the trail verifies against the signing key, final checkpoint included."""
    exporter = make_exporter(sink_url, signer)
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    instrumentor = ToolAuditInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        for i in range(5):
            update_order_status(f"ORD-{i}", "open")
    finally:
        instrumentor.uninstrument()
    provider.shutdown()
    with open_sink(sink_url, create=False) as sink:
        result = verify(sink, public_key=str(public_key_path(tmp_path / "signing.key")))
    assert (result.ok, result.size, result.signatures_checked) == (True, 5, True)
    assert result.checkpoints >= 1


def test_unaudited_spans_are_not_recorded(audited_provider, sink_url):
    """A span that is neither a tool call nor an LLM/RAG/declared event yields no record."""
    tracer = audited_provider.get_tracer("web")
    with tracer.start_as_current_span("GET /orders"):
        pass
    assert stored(sink_url) == []


def test_fail_closed_tool_writes_intent_before_running(audited_provider, sink_url):
    """A fail-closed tool's intent record is durable before its body runs; the outcome follows."""
    seen_before: list[list[str]] = []

    @audited_tool(name="issue_refund")
    def refund(order_id: str, amount: float) -> dict[str, Any]:
        seen_before.append([r["event_type"] for r in stored(sink_url)])
        return {"order_id": order_id, "status": "refunded"}

    with audit_context(user_id="usr_1"):
        refund("ORD-9", 12.5)
    assert seen_before == [["tool.intent"]]
    intent, outcome = stored(sink_url)
    assert (intent["event_type"], outcome["event_type"]) == ("tool.intent", "tool.call")
    assert intent["span_id"] == outcome["span_id"]
    assert intent["arguments"] == {"order_id": "ORD-9", "amount": 12.5}
    assert "success" not in intent and outcome["success"] is True


def test_fail_closed_tool_does_not_run_when_sink_is_down(tmp_path, signer, span_exporter):
    """When the intent cannot be written the tool does not run and the caller gets AuditUnavailableError."""
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the sink's directory should be")
    exporter = AuditLogExporter(sink_url=f"jsonl:///{blocker / 'audit.jsonl'}")
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(span_exporter))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    instrumentor = ToolAuditInstrumentor()
    instrumentor.instrument(tracer_provider=provider, fail_closed_tools=["issue_refund"])
    CALLS.clear()
    try:
        with pytest.raises(AuditUnavailableError):
            issue_refund("ORD-7", 10.0)
        assert update_order_status("ORD-8", "open")["status"] == "open"
    finally:
        instrumentor.uninstrument()
        exporter.shutdown()
    assert CALLS == []
    refused, other = tool_spans(span_exporter)
    assert refused.status.status_code is StatusCode.ERROR
    assert refused.attributes["error.type"] == "AuditUnavailableError"
    assert other.attributes["toolaudit.success"] is True
    assert exporter.stats()["refused_intents"] == 1


def test_fail_closed_without_audit_exporter(tracer_provider, span_exporter):
    """With no audit exporter configured a fail-closed tool refuses to run."""
    instrumentor = ToolAuditInstrumentor()
    instrumentor.instrument(tracer_provider=tracer_provider, fail_closed_tools=["issue_refund"])
    CALLS.clear()
    try:
        with pytest.raises(AuditUnavailableError, match="needs an audit exporter"):
            issue_refund("ORD-7", 10.0)
    finally:
        instrumentor.uninstrument()
    assert CALLS == []


def test_fail_closed_from_environment(monkeypatch, audit_exporter, tracer_provider, sink_url):
    """OTEL_PYTHON_TOOLAUDIT_FAIL_CLOSED_TOOLS names the fail-closed tools."""
    monkeypatch.setenv(
        "OTEL_PYTHON_TOOLAUDIT_FAIL_CLOSED_TOOLS", "issue_refund, access_patient_record"
    )
    tracer_provider.add_span_processor(SimpleSpanProcessor(audit_exporter))
    instrumentor = ToolAuditInstrumentor()
    instrumentor.instrument(tracer_provider=tracer_provider)
    try:
        issue_refund("ORD-1", 1.0)
    finally:
        instrumentor.uninstrument()
    assert [r["event_type"] for r in stored(sink_url)] == ["tool.intent", "tool.call"]


def test_intent_records_for_every_tool(monkeypatch, audit_exporter, tracer_provider, sink_url):
    """OTEL_PYTHON_TOOLAUDIT_INTENT_RECORDS=all queues an intent record for each tool without blocking."""
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_INTENT_RECORDS", "all")
    tracer_provider.add_span_processor(SimpleSpanProcessor(audit_exporter))
    instrumentor = ToolAuditInstrumentor()
    instrumentor.instrument(tracer_provider=tracer_provider)
    try:
        update_order_status("ORD-1", "open")
    finally:
        instrumentor.uninstrument()
    assert audit_exporter.force_flush()
    kinds = sorted(r["event_type"] for r in stored(sink_url))
    assert kinds == ["tool.call", "tool.intent"]


def test_sink_down_buffers_then_recovers(tmp_path, signer, span_exporter):
    """Records wait in the buffer while the sink cannot be opened, and are written once it can."""
    parent = tmp_path / "later"
    parent.write_text("not yet a directory")
    url = f"jsonl:///{parent / 'audit.jsonl'}"
    exporter = AuditLogExporter(sink_url=url, retry_interval=0.05)
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    instrumentor = ToolAuditInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        update_order_status("ORD-1", "open")
        update_order_status("ORD-2", "open")
        assert exporter.stats()["buffered"] == 2
        assert exporter.force_flush() is False
        parent.unlink()
        parent.mkdir()
        assert exporter.force_flush() is True
    finally:
        instrumentor.uninstrument()
        exporter.shutdown()
    assert [r["arguments"]["order_id"] for r in stored(url)] == ["ORD-1", "ORD-2"]
    stats = exporter.stats()
    assert (stats["records"], stats["buffered"], stats.get("dropped", 0)) == (2, 0, 0)
    assert stats["write_failures"] >= 1


def test_buffer_is_bounded_and_losses_counted(tmp_path, caplog):
    """Beyond the bound records are dropped and counted, and shutdown reports the loss."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    exporter = AuditLogExporter(sink_url=f"jsonl:///{blocker / 'a.jsonl'}", max_buffer=3)
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    instrumentor = ToolAuditInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        for i in range(5):
            update_order_status(f"ORD-{i}", "open")
    finally:
        instrumentor.uninstrument()
    assert exporter.stats()["dropped"] == 2
    exporter.shutdown()
    assert exporter.stats()["dropped"] == 5
    assert "5 audit records could not be written" in caplog.text


def test_export_after_shutdown_fails_quietly(audit_exporter):
    """export() after shutdown() returns FAILURE; shutdown is idempotent."""
    audit_exporter.shutdown()
    audit_exporter.shutdown()
    assert audit_exporter.export([]) is SpanExportResult.FAILURE


def test_traces_exporter_entry_point():
    """OTEL_TRACES_EXPORTER=toolaudit finds the audit exporter."""
    (ep,) = entry_points(group="opentelemetry_traces_exporter", name="toolaudit")
    assert ep.load() is AuditLogExporter


def test_exporter_refuses_to_write_flagged_values(sink_url, signer):
    """A span that reached the exporter unredacted (no RedactingSpanProcessor in front) still
    yields a record without the PII or secret, and the exporter counts what it caught."""
    exporter = make_exporter(sink_url, signer)
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    provider.get_tracer("raw").start_span(
        "execute_tool lookup",
        attributes={
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": "lookup",
            "user.id": "jane.doe@example.com",
            "client.address": "10.0.1.5",
            "gen_ai.tool.call.arguments": json.dumps(
                {
                    "email": "jane.doe@example.com",
                    "card": "4111 1111 1111 1111",
                    "order_id": "ORD-1",
                }
            ),
            "toolaudit.result.summary": json.dumps(
                {"success": True, "note": "key ghp_1a2B3c4D5e6F7g8H9i0J1k2L3m4N5o6P7q8R"}
            ),
        },
    ).end()
    exporter.shutdown()
    (record,) = stored(sink_url)
    text = json.dumps(record)
    for secret in (
        "jane.doe@example.com",
        "4111 1111 1111 1111",
        "ghp_1a2B3c4D5e6F7g8H9i0J1k2L3m4N5o6P7q8R",
    ):
        assert secret not in text
    assert record["arguments"]["order_id"] == "ORD-1"
    assert (record["user_id"].startswith("<EMAIL:hmac-sha256:"), record["client_address"]) == (
        True,
        "10.0.1.5",
    )
    assert exporter.stats()["guarded"] == 1


def test_a_misconfigured_sink_says_why(tmp_path, caplog, monkeypatch):
    """When the sink cannot be opened, our log line says what and where (never a value)."""
    from opentelemetry_instrumentation_toolaudit import _log

    # Each kind is logged once per process: start this test from a clean slate.
    monkeypatch.setattr(_log, "_counts", collections.Counter())
    blocker = tmp_path / "file"
    blocker.write_text("x")
    exporter = AuditLogExporter(sink_url=f"jsonl:///{blocker / 'a.jsonl'}")
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    instrumentor = ToolAuditInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        update_order_status("ORD-1", "open")
    finally:
        instrumentor.uninstrument()
        exporter.shutdown()
    (line,) = [
        r.getMessage() for r in caplog.records if "writing to the audit sink" in r.getMessage()
    ]
    assert "SinkError: " in line and str(blocker) in line
    assert "ORD-1" not in caplog.text


def test_arguments_nested_too_deep_are_kept_as_text(sink_url, signer):
    """Arguments JSON nested beyond the parser's recursion limit is recorded as its text: nothing lost."""
    exporter = make_exporter(sink_url, signer)
    tracer = TracerProvider().get_tracer("raw")
    deep = "[" * 5000 + "]" * 5000
    spans = []
    for name, arguments in (("a", '{"x":1}'), ("b", deep)):
        span = tracer.start_span(
            f"execute_tool {name}",
            attributes={
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": name,
                "gen_ai.tool.call.arguments": arguments,
            },
        )
        span.end()
        spans.append(span)
    assert exporter.export(spans) is SpanExportResult.SUCCESS
    exporter.shutdown()
    assert [(r["tool_name"], r["arguments"]) for r in stored(sink_url)] == [
        ("a", {"x": 1}),
        ("b", deep),
    ]


class _CardShapedIds(RandomIdGenerator):
    """Span ids whose hex form is 16 decimal digits passing Luhn, as about 1 in 60,000 random ones
    are: the guard must not take them for card numbers."""

    def generate_span_id(self) -> int:
        return int("4303508048815755", 16)


def test_guard_keeps_ids_that_look_like_card_numbers(sink_url, signer, span_exporter):
    """The record keeps its span id even when the id reads as a Luhn-valid card number; a card
    number in the content is still redacted."""
    exporter = make_exporter(sink_url, signer)
    provider = TracerProvider(id_generator=_CardShapedIds())
    provider.add_span_processor(SimpleSpanProcessor(span_exporter))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    instrumentor = ToolAuditInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        with audit_context(user_id="usr_98765"):
            update_order_status("ORD-1", "shipped")
        with provider.get_tracer("app").start_as_current_span("note") as span:
            span.set_attribute("toolaudit.event_type", "admin")
            span.set_attribute("toolaudit.event.action", "card 4111 1111 1111 1111")
    finally:
        instrumentor.uninstrument()
        exporter.shutdown()
    records = stored(sink_url)
    assert [r["span_id"] for r in records] == ["4303508048815755"] * 2
    assert exporter.stats().get("guarded", 0) == 0
    stored_text = json.dumps(records)
    assert "4111 1111 1111 1111" not in stored_text
    assert "card <CREDIT_CARD>" in stored_text
