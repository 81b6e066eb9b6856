# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""``toolaudit.result.summary`` keeps the result keys the app cares about (OTEL_PYTHON_TOOLAUDIT_RESULT_KEYS)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from opentelemetry_instrumentation_toolaudit import ToolAuditInstrumentor, audited_tool

from .conftest import json_attr, tool_spans

TICKET = {
    "ticket_id": "T-9",
    "patient_id": "P-4",
    "status": "open",
    "priority": "high",
    "assignee": "dr-house",
    "notes": "long free text the summary leaves out",
}


@audited_tool
def open_ticket() -> dict[str, Any]:
    """Open a ticket."""
    return dict(TICKET)


@pytest.fixture
def instrumented(tracer_provider: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    def start(result_keys: str | None = None) -> None:
        if result_keys is not None:
            monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_RESULT_KEYS", result_keys)
        ToolAuditInstrumentor().instrument(tracer_provider=tracer_provider)

    yield start
    ToolAuditInstrumentor().uninstrument()


def test_default_keeps_any_identifier_and_the_status(instrumented, span_exporter):
    """By default the summary keeps ``id``, every ``*_id``, ``status`` and ``count``, whatever the domain."""
    instrumented()
    open_ticket()
    (span,) = tool_spans(span_exporter)
    assert json_attr(span, "toolaudit.result.summary") == {
        "success": True,
        "ticket_id": "T-9",
        "patient_id": "P-4",
        "status": "open",
    }


def test_configured_keys_replace_the_defaults(instrumented, span_exporter):
    """OTEL_PYTHON_TOOLAUDIT_RESULT_KEYS names the kept keys (exact names and ``*`` patterns)."""
    instrumented(" priority , assign* ")
    open_ticket()
    (span,) = tool_spans(span_exporter)
    assert json_attr(span, "toolaudit.result.summary") == {
        "success": True,
        "priority": "high",
        "assignee": "dr-house",
    }
