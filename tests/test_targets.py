# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""No-code patching of dispatch functions named in OTEL_PYTHON_TOOLAUDIT_TOOLS, and uninstrument."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator

import pytest

from opentelemetry_instrumentation_toolaudit import ToolAuditInstrumentor, audit_context
from opentelemetry_instrumentation_toolaudit.integrations import all_integrations

from .conftest import json_attr, tool_spans

MODULE = "tests.apps.support_tools"
TARGETS = [
    f"{MODULE}:dispatch",
    f"{MODULE}:dispatch_json",
    f"{MODULE}:dispatch_async",
    f"{MODULE}:Registry.call",
    f"{MODULE}:Registry.call_cls",
    f"{MODULE}:Registry.call_static",
]


@pytest.fixture(autouse=True)
def _no_framework_integrations(monkeypatch) -> None:
    """These tests count the patcher's entries: frameworks other tests imported stay unpatched."""
    names = ",".join(i.name for i in all_integrations())
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_DISABLED_INTEGRATIONS", names)


@pytest.fixture
def app():
    return importlib.import_module(MODULE)


@pytest.fixture
def originals(app) -> dict[str, object]:
    return {
        "dispatch": app.dispatch,
        "dispatch_json": app.dispatch_json,
        "dispatch_async": app.dispatch_async,
        "call": vars(app.Registry)["call"],
        "call_cls": vars(app.Registry)["call_cls"],
        "call_static": vars(app.Registry)["call_static"],
    }


@pytest.fixture
def targeted(tracer_provider, monkeypatch, app) -> Iterator[ToolAuditInstrumentor]:
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_TOOLS", ",".join(TARGETS))
    instrumentor = ToolAuditInstrumentor()
    instrumentor.instrument(tracer_provider=tracer_provider)
    yield instrumentor
    instrumentor.uninstrument()


@pytest.mark.usefixtures("targeted")
def test_dispatch_function_records_named_tool(app, span_exporter):
    """dispatch(tool_name, arguments) is recorded under the tool's name with its arguments."""
    with audit_context(user_id="usr_1", model="gpt-4.1"):
        assert app.dispatch("lookup_order", {"order_id": "ORD-1"})["status"] == "shipped"
    (span,) = tool_spans(span_exporter)
    assert span.name == "execute_tool lookup_order"
    assert json_attr(span, "gen_ai.tool.call.arguments") == {"order_id": "ORD-1"}
    assert json_attr(span, "toolaudit.result.summary") == {
        "success": True,
        "order_id": "ORD-1",
        "status": "shipped",
    }
    assert span.attributes["toolaudit.attribution"] == (
        "User usr_1 (unknown) → gpt-4.1 → lookup_order [user_request]"
    )
    assert "gen_ai.tool.description" not in span.attributes


@pytest.mark.usefixtures("targeted")
def test_json_string_arguments_and_call_id(app, span_exporter):
    """An OpenAI-style dispatcher's JSON arguments are parsed and its call id recorded."""
    app.dispatch_json("lookup_order", '{"order_id": "ORD-2"}', tool_call_id="call_abc")
    (span,) = tool_spans(span_exporter)
    assert span.attributes["gen_ai.tool.call.id"] == "call_abc"
    assert json_attr(span, "gen_ai.tool.call.arguments") == {"order_id": "ORD-2"}


@pytest.mark.usefixtures("targeted")
async def test_async_dispatch(app, span_exporter):
    """An async dispatch function is recorded around the awaited call."""
    assert (await app.dispatch_async("lookup_order", {"order_id": "ORD-3"}))["order_id"] == "ORD-3"
    (span,) = tool_spans(span_exporter)
    assert span.name == "execute_tool lookup_order"


@pytest.mark.usefixtures("targeted")
def test_method_classmethod_staticmethod_targets(app, span_exporter):
    """Registry.call (method), call_cls and call_static are each recorded once."""
    registry = app.Registry()
    registry.call("lookup_order", order_id="ORD-4")
    app.Registry.call_cls("lookup_order", {"order_id": "ORD-5"})
    app.Registry.call_static("lookup_order", {"order_id": "ORD-6"})
    assert registry.calls == 1
    args = [json_attr(s, "gen_ai.tool.call.arguments") for s in tool_spans(span_exporter)]
    assert args == [{"order_id": "ORD-4"}, {"order_id": "ORD-5"}, {"order_id": "ORD-6"}]


@pytest.mark.usefixtures("targeted")
def test_dispatch_failure_reraises(app, span_exporter):
    """A failing tool behind a dispatcher re-raises the same exception and records error.type."""
    with pytest.raises(KeyError):
        app.dispatch("lookup_order", {"order_id": "ORD-BAD"})
    (span,) = tool_spans(span_exporter)
    assert span.attributes["error.type"] == "KeyError"
    assert span.attributes["toolaudit.success"] is False


def test_uninstrument_restores_exactly(app, originals, tracer_provider, span_exporter, monkeypatch):
    """After uninstrument every patched attribute is the very object it was before."""
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_TOOLS", ",".join(TARGETS))
    instrumentor = ToolAuditInstrumentor()
    instrumentor.instrument(tracer_provider=tracer_provider)
    assert app.dispatch is not originals["dispatch"]
    assert len(instrumentor.patcher) == len(TARGETS)
    instrumentor.uninstrument()
    assert app.dispatch is originals["dispatch"]
    assert app.dispatch_json is originals["dispatch_json"]
    assert app.dispatch_async is originals["dispatch_async"]
    for name in ("call", "call_cls", "call_static"):
        assert vars(app.Registry)[name] is originals[name]
    app.dispatch("lookup_order", {"order_id": "ORD-1"})
    assert tool_spans(span_exporter) == []


def test_module_imported_after_instrument_is_patched(tracer_provider, span_exporter):
    """A target whose module is imported after instrument() is patched on import (post-import hook)."""
    name = "tests.apps.late_tools"
    sys.modules.pop(name, None)
    instrumentor = ToolAuditInstrumentor()
    instrumentor.instrument(tracer_provider=tracer_provider, tools=[f"{name}:run_tool"])
    try:
        late = importlib.import_module(name)
        late.run_tool(name="ping", arguments={"n": 1})
    finally:
        instrumentor.uninstrument()
        sys.modules.pop(name, None)
    (span,) = tool_spans(span_exporter)
    assert span.name == "execute_tool ping"


def test_hook_of_an_old_generation_does_nothing(tracer_provider, span_exporter):
    """A post-import hook registered before uninstrument does not patch when the module comes later."""
    name = "tests.apps.late_tools"
    sys.modules.pop(name, None)
    instrumentor = ToolAuditInstrumentor()
    instrumentor.instrument(tracer_provider=tracer_provider, tools=[f"{name}:run_tool"])
    instrumentor.uninstrument()
    try:
        late = importlib.import_module(name)
        late.run_tool(name="ping", arguments={})
        assert len(instrumentor.patcher) == 0
    finally:
        sys.modules.pop(name, None)
    assert tool_spans(span_exporter) == []


def test_bad_targets_are_skipped_not_raised(tracer_provider, caplog):
    """Malformed or missing targets are logged and skipped; instrument() does not raise."""
    instrumentor = ToolAuditInstrumentor()
    instrumentor.instrument(
        tracer_provider=tracer_provider,
        tools=["no_colon", f"{MODULE}:does_not_exist", "no_such_module_xyz:f"],
    )
    try:
        assert len(instrumentor.patcher) == 0
    finally:
        instrumentor.uninstrument()
    assert "does_not_exist" in caplog.text
    assert "no_such_module_xyz" in caplog.text
