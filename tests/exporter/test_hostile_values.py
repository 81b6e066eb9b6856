# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Values a record cannot hold as they are still make a record, and never block the others."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from opentelemetry_instrumentation_toolaudit import (
    AuditLogExporter,
    ToolAuditInstrumentor,
    audited_tool,
    record_event,
)
from opentelemetry_instrumentation_toolaudit.ledger import AuditLog, NoteSigner, open_sink, verify
from opentelemetry_instrumentation_toolaudit.ledger._canonical import canonicalize

HUGE = 10**5000
HUGE_MARKER = f"<int bits={HUGE.bit_length()}>"


@pytest.fixture
def signer(tmp_path: Path) -> NoteSigner:
    return NoteSigner.from_file(tmp_path / "signing.key")


@pytest.fixture
def sink_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'audit.db'}"


@pytest.fixture
def audit_exporter(sink_url: str, signer: NoteSigner) -> Iterator[AuditLogExporter]:
    exporter = AuditLogExporter(AuditLog(open_sink(sink_url), signer=signer))
    yield exporter
    exporter.shutdown()


def stored(url: str) -> list[dict[str, Any]]:
    with open_sink(url, create=False) as sink:
        return [r.record for r in sink.read()]


CALLS: list[Any] = []


@audited_tool
def issue_refund(order_id: str, amount: Any) -> dict[str, Any]:
    """Refund an order (fail-closed here)."""
    CALLS.append(order_id)
    return {"order_id": order_id, "status": "refunded"}


def test_a_fail_closed_tool_with_a_huge_integer_runs_and_is_recorded(
    audit_exporter, sink_url, span_exporter
):
    """A fail-closed tool called with an integer too wide to print gets its span, its intent
    record and its outcome record (the value as a marker), and runs."""
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(span_exporter))
    provider.add_span_processor(SimpleSpanProcessor(audit_exporter))
    instrumentor = ToolAuditInstrumentor()
    instrumentor.instrument(tracer_provider=provider, fail_closed_tools=["issue_refund"])
    CALLS.clear()
    try:
        assert issue_refund("ORD-1", HUGE)["status"] == "refunded"
    finally:
        instrumentor.uninstrument()
    assert CALLS == ["ORD-1"]
    records = stored(sink_url)
    assert [(r["event_type"], r["arguments"]) for r in records] == [
        ("tool.intent", {"order_id": "ORD-1", "amount": HUGE_MARKER}),
        ("tool.call", {"order_id": "ORD-1", "amount": HUGE_MARKER}),
    ]
    assert records[1]["success"] is True


def test_span_attributes_a_record_cannot_hold_do_not_block_the_batch(
    audit_exporter, sink_url, signer, tmp_path
):
    """Event attributes holding an integer too wide to print, bytes or a mapping become what tool
    arguments make of them: the batch is written whole and the trail verifies."""
    tracer = TracerProvider().get_tracer("raw")
    spans = []
    for name, attributes in (
        ("a", {}),
        ("b", {"toolaudit.event.n": HUGE, "toolaudit.event.blob": b"\x00\xff"}),
        ("c", {"toolaudit.event.map": {"k": HUGE}, "toolaudit.event.wide": 2**60}),
    ):
        span = tracer.start_span(
            f"toolaudit admin {name}",
            attributes={"toolaudit.event_type": "admin", **attributes},
        )
        span.end()
        spans.append(span)
    assert audit_exporter.export(spans) is SpanExportResult.SUCCESS
    audit_exporter.shutdown()
    records = stored(sink_url)
    assert [r.get("details") for r in records] == [
        None,
        {"n": HUGE_MARKER, "blob": "<bytes len=2>"},
        {"map": {"k": HUGE_MARKER}, "wide": str(2**60)},  # beyond 2^53: digits
    ]
    with open_sink(sink_url, create=False) as sink:
        result = verify(sink, public_key=signer.verifier)
    assert (result.ok, result.size) == (True, 3)


def test_record_event_details_beyond_64_bits_are_text():
    """record_event details: an integer OTLP cannot carry (beyond 64 bits) is set as its digits,
    one too wide to print as a marker; 64-bit integers stay integers."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    instrumentor = ToolAuditInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        record_event("admin", "grant", details={"small": 2**63 - 1, "big": 2**64, "huge": HUGE})
    finally:
        instrumentor.uninstrument()
    (span,) = exporter.get_finished_spans()
    assert {k: v for k, v in span.attributes.items() if k.startswith("toolaudit.event.")} == {
        "toolaudit.event.action": "grant",
        "toolaudit.event.small": 2**63 - 1,
        "toolaudit.event.big": str(2**64),
        "toolaudit.event.huge": HUGE_MARKER,
    }


@pytest.mark.parametrize(
    ("value", "canonical"),
    [
        (2**53 - 1, b"9007199254740991"),
        (2**53, b'"9007199254740992"'),
        (-(2**53), b'"-9007199254740992"'),
        (HUGE, json.dumps(HUGE_MARKER).encode()),
        (-HUGE, json.dumps(HUGE_MARKER).encode()),
        ({HUGE: 1}, b'{"' + HUGE_MARKER.encode() + b'":1}'),
    ],
    ids=["max-safe", "2^53", "-2^53", "huge", "-huge", "huge-key"],
)
def test_canonical_form_of_wide_integers(value, canonical):
    """Integers beyond ±(2^53 - 1) are canonicalised as strings of their digits, and those too wide
    to print as a marker, instead of failing; only exact values are reported exact."""
    data, exact = canonicalize({"v": value})
    assert (data, exact) == (b'{"v":' + canonical + b"}", value == 2**53 - 1)
