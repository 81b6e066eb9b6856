# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Attribution carried to downstream services as W3C baggage (opt-in), and read back."""

from __future__ import annotations

import pytest
from opentelemetry import baggage
from opentelemetry import context as otel_context
from opentelemetry.baggage.propagation import W3CBaggagePropagator

from opentelemetry_instrumentation_toolaudit import (
    CallTrigger,
    audit_context,
    audited_tool,
    current_attribution,
)

from .conftest import tool_spans

pytestmark = pytest.mark.usefixtures("instrument")


@audited_tool
def read_chart(patient_id: str) -> dict:
    return {"id": patient_id}


def test_no_baggage_unless_opted_in():
    """By default attribution stays in process: nothing goes into baggage."""
    with audit_context(user_id="usr_1"):
        assert baggage.get_all() == {}


def test_propagate_puts_attribution_in_baggage():
    """propagate=True puts the attribution in W3C baggage headers."""
    carrier: dict[str, str] = {}
    with audit_context(
        user_id="usr_1",
        user_role=["nurse", "admin"],
        conversation_id="conv_1",
        turn_number=3,
        model="gpt-4.1",
        trigger=CallTrigger.FOLLOW_UP,
        propagate=True,
    ):
        W3CBaggagePropagator().inject(carrier)
    entries = dict(item.split("=", 1) for item in carrier["baggage"].split(","))
    assert entries == {
        "user.id": "usr_1",
        "user.roles": "nurse%2Cadmin",
        "gen_ai.conversation.id": "conv_1",
        "gen_ai.request.model": "gpt-4.1",
        "toolaudit.turn_number": "3",
        "toolaudit.trigger": "follow_up",
    }


def test_env_inject_mode(monkeypatch):
    """OTEL_PYTHON_TOOLAUDIT_BAGGAGE=inject turns propagation on for every audit_context."""
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_BAGGAGE", "inject")
    with audit_context(user_id="usr_2"):
        assert baggage.get_baggage("user.id") == "usr_2"


def _downstream_context() -> otel_context.Context:
    carrier = {
        "baggage": "user.id=usr_up,user.roles=nurse,toolaudit.turn_number=4,toolaudit.trigger=retry"
    }
    return W3CBaggagePropagator().extract(carrier)


def test_downstream_ignores_baggage_by_default(span_exporter):
    """Baggage can be forged by any caller, so it is not trusted unless extraction is enabled."""
    token = otel_context.attach(_downstream_context())
    try:
        read_chart("P-1")
    finally:
        otel_context.detach(token)
    (span,) = tool_spans(span_exporter)
    assert "user.id" not in span.attributes


def test_downstream_extracts_and_marks_source(span_exporter, monkeypatch):
    """With extraction on, baggage attribution is used and marked as coming from baggage."""
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_BAGGAGE", "extract")
    token = otel_context.attach(_downstream_context())
    try:
        assert current_attribution().summary() == "User usr_up (nurse) → unknown [retry]"
        read_chart("P-1")
    finally:
        otel_context.detach(token)
    (span,) = tool_spans(span_exporter)
    assert span.attributes["user.id"] == "usr_up"
    assert span.attributes["user.roles"] == ("nurse",)
    assert span.attributes["toolaudit.turn_number"] == 4
    assert span.attributes["toolaudit.trigger"] == "retry"
    assert span.attributes["toolaudit.attribution.source"] == "baggage"


def test_local_context_wins_over_baggage(span_exporter, monkeypatch):
    """A local audit_context downstream overrides what baggage asserted, field by field, and the
    span names the source of the user it carries."""
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_BAGGAGE", "extract")
    token = otel_context.attach(_downstream_context())
    try:
        with audit_context(purpose="treatment"):
            read_chart("P-1")
            with audit_context(user_id="usr_local"):
                read_chart("P-2")
    finally:
        otel_context.detach(token)
    first, second = tool_spans(span_exporter)
    picked = ("user.id", "user.roles", "toolaudit.purpose", "toolaudit.attribution.source")
    assert [[s.attributes.get(k) for k in picked] for s in (first, second)] == [
        ["usr_up", ("nurse",), "treatment", "baggage"],
        ["usr_local", ("nurse",), "treatment", "context"],
    ]


def test_hostile_baggage_neither_breaks_nor_silences_auditing(monkeypatch, span_exporter):
    """A caller's malformed baggage (a superscript digit as the turn) is ignored, not fatal: the
    tool call is still audited and audit_context still works."""
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_BAGGAGE", "extract")
    ctx = W3CBaggagePropagator().extract({"baggage": "user.id=usr_9,toolaudit.turn_number=%C2%B2"})
    token = otel_context.attach(ctx)
    try:
        read_chart("P-1")
        with audit_context(model="gpt-4.1"):
            read_chart("P-2")
    finally:
        otel_context.detach(token)
    first, second = tool_spans(span_exporter)
    assert (first.attributes["user.id"], "toolaudit.turn_number" in first.attributes) == (
        "usr_9",
        False,
    )
    assert second.attributes["gen_ai.request.model"] == "gpt-4.1"
