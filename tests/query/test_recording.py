# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The recorder names each call's subject (as a keyed pseudonym) and its declared action."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from opentelemetry_instrumentation_toolaudit import (
    AuditLogExporter,
    ToolAuditInstrumentor,
    audited_tool,
)
from opentelemetry_instrumentation_toolaudit.attributes import (
    TOOLAUDIT_SUBJECT,
    TOOLAUDIT_TOOL_ACTION,
)
from opentelemetry_instrumentation_toolaudit.ledger import open_sink
from opentelemetry_instrumentation_toolaudit.redaction import RedactionPolicy

from ..conftest import tool_spans

RAW = "P-1234"


@audited_tool(action="read")
def access_patient_record(patient_id: str, fields: list[str] | None = None) -> dict[str, Any]:
    return {"status": "ok"}


@audited_tool
def lookup_account(account_id: str, customer_id: str) -> dict[str, Any]:
    return {"status": "ok"}


@audited_tool
def list_wards(ward: str) -> dict[str, Any]:
    return {"count": 3}


@pytest.fixture
def recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[InMemorySpanExporter, str]]:
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_TOOL_ACTIONS", "lookup_account:read,list_wards:bogus")
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_SIGNING_KEY_FILE", str(tmp_path / "signing.key"))
    url = f"sqlite:///{tmp_path}/audit.db"
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    provider.add_span_processor(SimpleSpanProcessor(AuditLogExporter(url)))
    instrumentor = ToolAuditInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        yield spans, url
    finally:
        instrumentor.uninstrument()
        provider.shutdown()


def _records(url: str) -> list[dict[str, Any]]:
    with open_sink(url, create=False) as sink:
        return [r.record for r in sink.read()]


def test_subject_is_the_pseudonym_of_the_first_subject_argument(
    recorded: tuple[InMemorySpanExporter, str],
) -> None:
    """The span and the record carry the keyed pseudonym of the subject argument, never its value."""
    spans, url = recorded
    access_patient_record(RAW, fields=["allergies"])
    lookup_account("ACC-9", customer_id="C-7")
    expected = RedactionPolicy.from_env().pseudonym(RAW)
    first, second = tool_spans(spans)
    assert expected == (first.attributes or {})[TOOLAUDIT_SUBJECT]
    # The first argument in the call's order, not in the key list's.
    assert (
        RedactionPolicy.from_env().pseudonym("ACC-9")
        == (second.attributes or {})[TOOLAUDIT_SUBJECT]
    )
    records = _records(url)
    assert [expected, RedactionPolicy.from_env().pseudonym("ACC-9")] == [
        r["subject"] for r in records
    ]
    assert RAW not in str(records[0]["subject"])


def test_declared_action_from_decorator_and_environment(
    recorded: tuple[InMemorySpanExporter, str],
) -> None:
    """The decorator's action and OTEL_PYTHON_TOOLAUDIT_TOOL_ACTIONS become toolaudit.tool.action;
    an unknown action is ignored."""
    spans, url = recorded
    access_patient_record(RAW)
    lookup_account("ACC-9", customer_id="C-7")
    list_wards("north")
    actions = [(s.attributes or {}).get(TOOLAUDIT_TOOL_ACTION) for s in tool_spans(spans)]
    assert actions == ["read", "read", None]
    assert [r.get("tool_action") for r in _records(url)] == ["read", "read", None]
    assert all("subject" not in r for r in _records(url)[2:])


def test_unknown_decorator_action_is_refused() -> None:
    """Declaring an action outside create/read/update/delete/execute is a ValueError at decoration."""
    with pytest.raises(ValueError, match="action must be one of"):
        audited_tool(action="peek")
