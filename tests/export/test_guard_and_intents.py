# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The content guard scans each value once per policy; intent records go to the IntentSink handed
over at instrument(), or to the audit exporter behind the tracer provider, and nowhere else."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from opentelemetry_instrumentation_toolaudit import (
    AuditLogExporter,
    AuditUnavailableError,
    ToolAuditInstrumentor,
    audited_tool,
)
from opentelemetry_instrumentation_toolaudit.export import ContentGuard
from opentelemetry_instrumentation_toolaudit.ledger import AuditLog, NoteSigner, open_sink
from opentelemetry_instrumentation_toolaudit.redaction import RedactionPolicy

EMAIL = "jane.doe@example.com"


class CountingPolicy(RedactionPolicy):
    """The real policy, counting how many values it is asked to scan."""

    scans = 0

    def findings(self, value: Any) -> list[str]:
        type(self).scans += 1
        return super().findings(value)


def test_arguments_from_a_trusted_scope_are_not_scanned_again():
    """Arguments a trusted source redacted are taken as they are; from any other scope they are
    scanned and redacted."""
    guard = ContentGuard(RedactionPolicy(), trusted_scopes={"ours"})
    trusted = {"event_id": "e1", "arguments": {"note": EMAIL}}
    assert guard.check(trusted, "ours") == []
    assert trusted["arguments"] == {"note": EMAIL}
    other = {"event_id": "e2", "arguments": {"note": EMAIL}}
    assert guard.check(other, "theirs") == ["email"]
    assert EMAIL not in json.dumps(other)


def test_a_value_found_clean_is_not_scanned_twice():
    """Recurring clean values (user, model, roles) are scanned once; a new value is scanned."""
    CountingPolicy.scans = 0
    guard = ContentGuard(CountingPolicy())
    for _ in range(50):
        body = {"user_id": "usr_1", "model": "gpt-4.1", "user_roles": ["agent"], "event_id": "x"}
        assert guard.check(body) == []
    assert CountingPolicy.scans == 3
    assert guard.check({"user_id": EMAIL}) == ["email"]
    assert guard.check({"user_id": EMAIL}) == ["email"]
    assert CountingPolicy.scans == 5


CALLS: list[str] = []


@audited_tool
def issue_refund(order_id: str) -> dict[str, Any]:
    """Refund an order (fail-closed in these tests)."""
    CALLS.append(order_id)
    return {"order_id": order_id, "status": "refunded"}


@pytest.fixture
def exporter(tmp_path: Path):
    log = AuditLog(
        open_sink(f"sqlite:///{tmp_path / 'audit.db'}"),
        signer=NoteSigner.from_file(tmp_path / "signing.key"),
    )
    made = AuditLogExporter(log)
    yield made
    made.shutdown()


def test_an_exporter_not_behind_the_provider_takes_no_intent_records(exporter, span_exporter):
    """An audit exporter that exists but is not behind the tracer provider is not written to:
    the fail-closed tool is refused."""
    CALLS.clear()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(span_exporter))
    instrumentor = ToolAuditInstrumentor()
    instrumentor.instrument(tracer_provider=provider, fail_closed_tools=["issue_refund"])
    try:
        with pytest.raises(AuditUnavailableError, match="needs an audit exporter"):
            issue_refund("ORD-1")
    finally:
        instrumentor.uninstrument()
    assert CALLS == []
    assert exporter.stats().get("intents") is None


def test_intent_records_go_to_the_sink_handed_to_instrument(exporter, span_exporter):
    """instrument(intent_sink=...) sends the fail-closed tool's intent record there."""
    CALLS.clear()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(span_exporter))
    instrumentor = ToolAuditInstrumentor()
    instrumentor.instrument(
        tracer_provider=provider, fail_closed_tools=["issue_refund"], intent_sink=exporter
    )
    try:
        issue_refund("ORD-2")
    finally:
        instrumentor.uninstrument()
    assert CALLS == ["ORD-2"]
    assert exporter.stats()["intents"] == 1
