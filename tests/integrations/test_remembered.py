# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The remembered tool calls: matched only where they belong, each once, and bounded."""

from __future__ import annotations

import json
import threading

import openai
import pytest
from opentelemetry import trace

from opentelemetry_instrumentation_toolaudit import ToolAuditInstrumentor, audit_context
from opentelemetry_instrumentation_toolaudit._call_scope import MAX_PER_SCOPE
from opentelemetry_instrumentation_toolaudit.integrations import _remembered
from opentelemetry_instrumentation_toolaudit.integrations._remembered import (
    MAX_REMEMBERED,
    REGISTRY,
    RememberedCall,
)
from tests.apps import llm_tools

from ..conftest import tool_spans
from .conftest import fake_api

CALLS = [("call_t1", "lookup_order", {"order_id": "ORD-1"})]


def ask_model(server: fake_api.FakeLLMAPI) -> None:
    client = openai.OpenAI(base_url=server.openai_url, api_key="test")
    client.chat.completions.create(model="gpt-4.1", messages=[])


def in_thread(fn, *args) -> None:
    """Run ``fn`` in a new thread, which starts with an empty context (nothing copied)."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            fn(*args)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(30)
    assert errors == []


@pytest.mark.usefixtures("instrument")
def test_name_matching_stays_in_its_context(span_exporter):
    """Another thread's dispatch of the same tool name is not linked to this thread's model response."""
    with fake_api.FakeLLMAPI([fake_api.chat_completion(CALLS)]) as server:
        ask_model(server)
        in_thread(llm_tools.lookup_order, "ORD-1")
        llm_tools.lookup_order("ORD-1")
    other_thread, same_thread = tool_spans(span_exporter)
    assert [s.attributes.get("gen_ai.tool.call.id") for s in (other_thread, same_thread)] == [
        None,
        "call_t1",
    ]


def test_call_id_matching_works_across_threads(tracer_provider, span_exporter, monkeypatch):
    """A dispatcher that passes the call id finds the call wherever it was remembered."""
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_TOOLS", "tests.apps.llm_tools:dispatch")
    instrumentor = ToolAuditInstrumentor()
    instrumentor.instrument(tracer_provider=tracer_provider)
    try:
        with fake_api.FakeLLMAPI([fake_api.chat_completion(CALLS)]) as server:
            ask_model(server)
            in_thread(llm_tools.dispatch, "lookup_order", json.dumps(CALLS[0][2]), "call_t1")
    finally:
        instrumentor.uninstrument()
    (span,) = tool_spans(span_exporter)
    assert (
        span.attributes["gen_ai.tool.call.id"],
        span.attributes["gen_ai.provider.name"],
    ) == ("call_t1", "openai")


@pytest.mark.usefixtures("instrument")
def test_name_matching_stays_in_its_trace(span_exporter, tracer_provider):
    """In one thread, a dispatch under another trace (the next request) does not take the call."""
    tracer = tracer_provider.get_tracer("app")
    with fake_api.FakeLLMAPI([fake_api.chat_completion(CALLS)]) as server:
        with tracer.start_as_current_span("request 1") as first_request:
            ask_model(server)
        with tracer.start_as_current_span("request 2"), audit_context(user_id="usr_2"):
            llm_tools.lookup_order("ORD-1")
    (span,) = tool_spans(span_exporter)
    assert "gen_ai.tool.call.id" not in span.attributes
    assert REGISTRY.pending == 1
    # Its own trace still claims it.
    with trace.use_span(first_request):
        llm_tools.lookup_order("ORD-1")
    assert tool_spans(span_exporter)[-1].attributes["gen_ai.tool.call.id"] == "call_t1"


def _call(n: int) -> RememberedCall:
    return RememberedCall(call_id=f"call_{n}", name="t", arguments="{}", provider="openai")


def test_store_is_bounded():
    """At most MAX_REMEMBERED calls are kept in the process and MAX_PER_SCOPE per scope."""
    try:
        REGISTRY.remember(_call(n) for n in range(MAX_REMEMBERED + 10))
        local = _remembered._TASK_SCOPE.get()
        assert (REGISTRY.pending, len(local.calls)) == (MAX_REMEMBERED, MAX_PER_SCOPE)
        oldest, newest = REGISTRY.claim("t", "call_0", None), REGISTRY.claim("t", "call_1033", None)
        assert (oldest, newest.call_id) == (None, "call_1033")
        # A call is claimed once, by id or by name.
        assert None is REGISTRY.claim("t", "call_1033", None)
        by_name = REGISTRY.claim("t", None, None)
        assert f"call_{MAX_REMEMBERED + 10 - MAX_PER_SCOPE}" == by_name.call_id
    finally:
        REGISTRY.clear()
    assert REGISTRY.pending == 0


@pytest.mark.usefixtures("instrument")
def test_name_matching_never_crosses_users_without_spans(span_exporter):
    """On one thread with no span current (a server thread taking request after request), a call the
    model asked for while serving one user is not claimed by another user's dispatch."""
    with fake_api.FakeLLMAPI([fake_api.chat_completion(CALLS)]) as server:
        with audit_context(user_id="usr_alice", conversation_id="conv_a"):
            ask_model(server)
        with audit_context(user_id="usr_bob", conversation_id="conv_b"):
            llm_tools.lookup_order("ORD-1")
        with audit_context(user_id="usr_alice", conversation_id="conv_a"):
            llm_tools.lookup_order("ORD-1")
    bob, alice = tool_spans(span_exporter)
    assert [s.attributes.get("gen_ai.tool.call.id") for s in (bob, alice)] == [None, "call_t1"]
