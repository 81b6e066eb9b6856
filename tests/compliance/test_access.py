# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Access rules on tools, break-the-glass emergency access, and the audit event types it needs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import baggage
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from opentelemetry_instrumentation_toolaudit import (
    AccessDeniedError,
    AuditLogExporter,
    AuditUnavailableError,
    BreakGlass,
    ToolAuditError,
    ToolAuditInstrumentor,
    audit_context,
    audited_tool,
    current_attribution,
    record_event,
)
from opentelemetry_instrumentation_toolaudit.ledger import AuditLog, NoteSigner, open_sink

from ..conftest import tool_spans

RAN: list[str] = []


@audited_tool(allowed_roles=["physician", "nurse"], allowed_purposes="TREAT,ETREAT")
def access_patient_record(patient_id: str) -> dict[str, Any]:
    """Read a patient's chart."""
    RAN.append(patient_id)
    return {"patient_id": patient_id, "status": "ok"}


@pytest.fixture(autouse=True)
def _clear() -> None:
    RAN.clear()


@pytest.mark.usefixtures("instrument")
def test_allowed_role_and_purpose_run_the_tool(span_exporter):
    """A caller with an allowed role and purpose runs the tool; the span records the decision."""
    with audit_context(user_id="dr_1", user_role="physician", purpose="TREAT"):
        assert access_patient_record("P-1")["status"] == "ok"
    (span,) = tool_spans(span_exporter)
    assert RAN == ["P-1"]
    assert (
        span.attributes["toolaudit.access.decision"],
        span.attributes["toolaudit.access.rule"],
    ) == (
        "allowed",
        "roles=nurse,physician; purposes=ETREAT,TREAT",
    )
    assert "toolaudit.break_glass" not in span.attributes


@pytest.mark.usefixtures("instrument")
@pytest.mark.parametrize(
    "context",
    [
        {"user_id": "clerk_1", "user_role": "billing", "purpose": "TREAT"},
        {"user_id": "dr_1", "user_role": "physician", "purpose": "MARKETING"},
        {"user_id": "dr_1", "user_role": "physician"},
        {},
    ],
)
def test_refused_call_raises_before_the_tool_runs_and_is_recorded(span_exporter, context):
    """A wrong role or purpose raises AccessDeniedError before the tool runs; the refusal is the
    call's span, with error.type and the rule, and the message names no user."""
    with audit_context(**context), pytest.raises(AccessDeniedError) as caught:
        access_patient_record("P-1")
    assert RAN == []
    assert isinstance(caught.value, ToolAuditError) and isinstance(caught.value, PermissionError)
    assert "roles=nurse,physician; purposes=ETREAT,TREAT" in str(caught.value)
    assert "clerk_1" not in str(caught.value) and "dr_1" not in str(caught.value)
    (span,) = tool_spans(span_exporter)
    assert span.status.status_code is StatusCode.ERROR
    assert {k: span.attributes[k] for k in (
        "error.type", "toolaudit.success", "toolaudit.access.decision", "toolaudit.access.rule"
    )} == {
        "error.type": "AccessDeniedError",
        "toolaudit.success": False,
        "toolaudit.access.decision": "denied",
        "toolaudit.access.rule": "roles=nurse,physician; purposes=ETREAT,TREAT",
    }  # fmt: skip


@pytest.mark.usefixtures("instrument")
def test_break_glass_lets_a_refused_call_through_recorded_as_emergency(span_exporter):
    """Under break-the-glass a refused call runs, recorded with the redacted reason, the urgency,
    purpose ETREAT and the decision break_glass."""
    reason = "cardiac arrest, bed 4, call 415-555-0132"
    with audit_context(user_id="clerk_1", user_role="billing", break_glass=BreakGlass(reason)):
        assert current_attribution().purpose == "ETREAT"
        assert access_patient_record("P-1")["status"] == "ok"
    assert RAN == ["P-1"]
    (span,) = tool_spans(span_exporter)
    got = {k: v for k, v in span.attributes.items() if k.startswith(("toolaudit.break", "toolaudit.access", "toolaudit.purpose"))}  # fmt: skip
    assert got["toolaudit.break_glass.reason"].startswith(
        "cardiac arrest, bed 4, call <PHONE:hmac-sha256:"
    )
    assert "415-555-0132" not in json.dumps(dict(span.attributes))
    del got["toolaudit.break_glass.reason"]
    assert got == {
        "toolaudit.purpose": "ETREAT",
        "toolaudit.break_glass": True,
        "toolaudit.break_glass.urgency": "emergency",
        "toolaudit.access.decision": "break_glass",
        "toolaudit.access.rule": "roles=nurse,physician; purposes=ETREAT,TREAT",
    }


def test_break_glass_is_refused_unless_given_as_break_glass():
    """audit_context(break_glass=...) takes a BreakGlass, not a bare string."""
    with pytest.raises(TypeError, match="BreakGlass"):
        audit_context(break_glass="cardiac arrest")  # type: ignore[arg-type]


@pytest.mark.parametrize("roles,purposes", [([], None), (None, ""), (",", None)])
def test_an_empty_rule_is_a_usage_error(roles, purposes):
    """A rule that allows nothing by mistake (no roles, no purposes) is refused when declared."""
    with pytest.raises(ValueError, match="at least one"):
        audited_tool(allowed_roles=roles, allowed_purposes=purposes)


def test_break_glass_travels_in_baggage(monkeypatch):
    """With baggage propagation on both sides, the reason travels and invokes break-the-glass
    downstream."""
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_BAGGAGE", "both")
    with audit_context(user_id="dr_1", break_glass=BreakGlass("stroke, ER 2")):
        carried = baggage.get_all()
    ctx = None
    for key, value in carried.items():
        ctx = baggage.set_baggage(key, value, ctx)
    downstream = current_attribution(ctx)
    assert (downstream.break_glass, downstream.purpose) == (BreakGlass("stroke, ER 2"), "ETREAT")


def test_break_glass_from_a_request_header(monkeypatch):
    """``OTEL_PYTHON_TOOLAUDIT_BREAK_GLASS_HEADER`` names a header whose value invokes break-the-glass."""
    from opentelemetry_instrumentation_toolaudit._http import HeaderNames, request_context

    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_BREAK_GLASS_HEADER", "X-Break-Glass")
    headers = {"x-break-glass": "code blue"}
    ctx = request_context(HeaderNames.from_env(), headers.get, "10.0.0.1")
    attribution = current_attribution(ctx)
    assert (attribution.break_glass, attribution.purpose) == (BreakGlass("code blue"), "ETREAT")


# --- with the audit exporter -------------------------------------------------------------------
@pytest.fixture
def audited(tmp_path: Path) -> Iterator[tuple[str, AuditLogExporter]]:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    exporter = AuditLogExporter(
        AuditLog(open_sink(url), signer=NoteSigner.from_file(tmp_path / "signing.key"))
    )
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    instrumentor = ToolAuditInstrumentor()
    instrumentor.instrument(tracer_provider=provider, fail_closed_tools=["access_patient_record"])
    yield url, exporter
    instrumentor.uninstrument()
    exporter.shutdown()


def stored(url: str) -> list[dict[str, Any]]:
    with open_sink(url, create=False) as sink:
        return [r.record for r in sink.read()]


def test_refusal_is_in_the_audit_trail(audited):
    """The refused call is a tool.call record with error_type AccessDeniedError."""
    url, _ = audited
    with (
        audit_context(user_id="clerk_1", user_role="billing", purpose="TREAT"),
        pytest.raises(AccessDeniedError),
    ):
        access_patient_record("P-1")
    (record,) = stored(url)
    assert (record["event_type"], record["success"], record["error_type"]) == (
        "tool.call",
        False,
        "AccessDeniedError",
    )


def test_fail_closed_stays_fail_closed_under_break_glass(tmp_path, span_exporter):
    """Break-the-glass lets a refused call past its access rule, never past a fail-closed tool's
    missing intent record."""
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(span_exporter))
    instrumentor = ToolAuditInstrumentor()
    instrumentor.instrument(tracer_provider=provider, fail_closed_tools=["access_patient_record"])
    try:
        with (
            audit_context(user_id="clerk_1", break_glass=BreakGlass("code blue")),
            pytest.raises(AuditUnavailableError),
        ):
            access_patient_record("P-1")
    finally:
        instrumentor.uninstrument()
    assert RAN == []


@pytest.mark.parametrize("event_type", ["break_glass", "alert", "audit.read"])
def test_compliance_event_types_are_recorded_by_default(audited, event_type):
    """record_event("break_glass" / "alert" / "audit.read", ...) is written to the trail by the
    default exporter, not dropped."""
    url, exporter = audited
    with audit_context(user_id="dr_1"):
        record_event(event_type, "declared", details={"ward": "ICU"})
    # force_flush also lets the alert rules finish: a break-the-glass event raises an alert record.
    assert exporter.force_flush()
    records = stored(url)
    assert (records[0]["event_type"], records[0]["details"]["ward"]) == (event_type, "ICU")
    alerts = [r["details"]["rule"] for r in records[1:]]
    assert alerts == (["break_glass"] if event_type == "break_glass" else [])
