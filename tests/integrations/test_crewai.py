# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""CrewAI: every tool a crew's agent runs is one audited execute_tool span.

CrewAI pins openai < 3 and mcp < 2, so it is not in the dev environment: these tests run in their own
environment (``pip install -e . crewai pytest pytest-asyncio``; see docs/integrations.md) and are
skipped elsewhere. The crew runs for real, its LLM (the openai SDK) against the local fake of the
OpenAI API.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

crewai = pytest.importorskip("crewai")

from crewai import LLM, Agent, Crew, Task  # noqa: E402
from crewai.agents import agent_executor  # noqa: E402
from crewai.tools import base_tool, structured_tool, tool  # noqa: E402
from opentelemetry.trace import StatusCode  # noqa: E402

from opentelemetry_instrumentation_toolaudit import (  # noqa: E402
    AuditUnavailableError,
    ToolAuditInstrumentor,
    audit_context,
)
from opentelemetry_instrumentation_toolaudit.integrations import (  # noqa: E402
    _support,
)
from opentelemetry_instrumentation_toolaudit.integrations import (  # noqa: E402
    crewai as integration,
)

from ..conftest import tool_spans  # noqa: E402
from .conftest import fake_api, patched_and_restored  # noqa: E402

ORD1 = {"order_id": "ORD-1"}
RAN: list[str] = []


@pytest.fixture(autouse=True)
def _no_crewai_telemetry(monkeypatch):
    monkeypatch.setenv("CREWAI_DISABLE_TELEMETRY", "true")
    monkeypatch.setenv("CREWAI_TRACING_ENABLED", "false")


@tool("get_order")
def get_order(order_id: str) -> dict[str, Any]:
    """Fetch an order by id."""
    RAN.append(order_id)
    return {"order_id": order_id, "status": "shipped"}


@tool("cancel_order")
def cancel_order(order_id: str) -> dict[str, Any]:
    """Cancel an order."""
    raise PermissionError(f"order {order_id} is locked")


def kickoff(server: Any, model: str = "gpt-4.1") -> Any:
    """Run a one-agent crew against the fake API ``server``."""
    llm = LLM(model=f"openai/{model}", base_url=server.openai_url, api_key="test")
    agent = Agent(
        role="support",
        goal="Answer order questions",
        backstory="A support agent.",
        tools=[get_order, cancel_order],
        llm=llm,
    )
    task = Task(description="Where is ORD-1?", expected_output="Its status", agent=agent)
    return Crew(agents=[agent], tasks=[task]).kickoff()


def script(*calls: tuple[str, str, dict[str, Any]]) -> list[Any]:
    """The model asks for ``calls`` (call id, tool, arguments) once, then answers."""
    return [
        fake_api.chat_completion(list(calls), model="gpt-4.1"),
        fake_api.chat_completion(text="Final Answer: shipped", model="gpt-4.1"),
    ]


@pytest.mark.usefixtures("instrument")
def test_crew_tool_calls_have_call_ids_model_and_user(span_exporter):
    """A crew's agent running two tools: one span each, with the model's call id, the model and the
    audit_context's user; the failing tool's span is ERROR with its own exception class."""
    calls = (("call_1", "get_order", ORD1), ("call_2", "cancel_order", ORD1))
    with fake_api.FakeLLMAPI(script(*calls)) as server, audit_context(user_id="usr_1"):
        result = kickoff(server)

    assert "shipped" in str(result)
    spans = {s.attributes["gen_ai.tool.call.id"]: s for s in tool_spans(span_exporter)}
    assert set(spans) == {"call_1", "call_2"}
    ok = dict(spans["call_1"].attributes)
    assert {k: ok[k] for k in ("user.id", "gen_ai.request.model", "gen_ai.provider.name")} == {
        "user.id": "usr_1",
        "gen_ai.request.model": "gpt-4.1",
        "gen_ai.provider.name": "openai",
    }
    assert ok["gen_ai.tool.call.arguments"] == '{"order_id":"ORD-1"}'
    assert json.loads(ok["toolaudit.result.summary"]) == {
        "success": True,
        "order_id": "ORD-1",
        "status": "shipped",
    }
    failed = spans["call_2"]
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.attributes["error.type"] == "PermissionError"


@pytest.mark.usefixtures("instrument")
def test_text_tool_mode_is_audited(span_exporter):
    """With a model CrewAI drives in its text (ReAct) tool mode, the tool it runs is one span too."""
    react = [
        fake_api.chat_completion(
            text='Thought: look it up\nAction: get_order\nAction Input: {"order_id": "ORD-1"}'
        ),
        fake_api.chat_completion(text="Thought: done\nFinal Answer: shipped"),
    ]
    with fake_api.FakeLLMAPI(react) as server, audit_context(user_id="usr_1"):
        kickoff(server, model="o1-mini")  # CrewAI uses no native tool calls with o1 models

    (span,) = tool_spans(span_exporter)
    assert {k: span.attributes[k] for k in ("gen_ai.tool.name", "user.id")} == {
        "gen_ai.tool.name": "get_order",
        "user.id": "usr_1",
    }
    assert span.attributes["gen_ai.tool.description"] == "Fetch an order by id."
    assert span.attributes["gen_ai.tool.call.arguments"] == '{"order_id":"ORD-1"}'


@pytest.mark.usefixtures("instrument")
def test_direct_run_reraises_the_tools_exception(span_exporter):
    """Run directly, a tool's exception reaches the caller unchanged; its span is ERROR."""
    with pytest.raises(PermissionError) as caught:
        cancel_order.run(order_id="ORD-1")
    assert str(caught.value) == "order ORD-1 is locked"
    (span,) = tool_spans(span_exporter)
    assert [e.attributes["exception.type"] for e in span.events] == ["PermissionError"]


def test_fail_closed_tool_is_refused(tracer_provider, span_exporter):
    """A fail-closed tool with no audit sink never runs when the crew asks for it."""
    RAN.clear()
    instrumentor = ToolAuditInstrumentor()
    instrumentor.instrument(tracer_provider=tracer_provider, fail_closed_tools=["get_order"])
    try:
        with fake_api.FakeLLMAPI(script(("call_1", "get_order", ORD1))) as server:
            kickoff(server)
        with pytest.raises(AuditUnavailableError):
            get_order.run(order_id="ORD-2")
    finally:
        instrumentor.uninstrument()
    assert RAN == []
    assert {s.attributes["error.type"] for s in tool_spans(span_exporter)} == {
        "AuditUnavailableError"
    }


def test_uninstrument_restores_tools_and_executor(tracer_provider):
    """uninstrument() puts back the very functions that were wrapped."""
    targets = [
        (base_tool.BaseTool, "run"),
        (base_tool.Tool, "run"),
        (base_tool.Tool, "arun"),
        (agent_executor.AgentExecutor, "_execute_single_native_tool_call"),
        (structured_tool.CrewStructuredTool, "invoke"),
    ]
    assert patched_and_restored(tracer_provider, targets) == ([True] * 5, [True] * 5)


def test_unsupported_version_is_skipped_and_logged_once(tracer_provider, monkeypatch, caplog):
    """Outside its supported range CrewAI is left unpatched, with one warning."""
    monkeypatch.setattr(integration, "MINIMUM", (0,))
    monkeypatch.setattr(integration, "BELOW", (0, 0, 1))
    monkeypatch.setattr(_support, "_reported", set())
    original = vars(base_tool.Tool)["run"]
    instrumentor = ToolAuditInstrumentor()
    with caplog.at_level(logging.WARNING, logger="opentelemetry_instrumentation_toolaudit"):
        for _ in range(2):
            instrumentor.instrument(tracer_provider=tracer_provider)
            try:
                assert vars(base_tool.Tool)["run"] is original
            finally:
                instrumentor.uninstrument()
    warnings = [r for r in caplog.records if "integration crewai skipped" in r.getMessage()]
    assert len(warnings) == 1
