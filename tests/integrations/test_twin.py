# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""An execute_tool span already current for the same call is enriched, never nested under."""

from __future__ import annotations

from typing import Any

import pytest

from opentelemetry_instrumentation_toolaudit import audit_context, audited_tool
from opentelemetry_instrumentation_toolaudit._recorder import ToolCall, run_sync

from ..conftest import tool_spans

pytestmark = pytest.mark.usefixtures("instrument")


@audited_tool
def get_order(order_id: str) -> dict[str, Any]:
    """Fetch an order."""
    return {"order_id": order_id, "status": "shipped"}


def foreign_tool_span(tracer_provider: Any, name: str, call_id: str | None = None) -> Any:
    """An execute_tool span as another instrumentation opens it (operation and tool name at start)."""
    attributes = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": name}
    if call_id is not None:
        attributes["gen_ai.tool.call.id"] = call_id
    tracer = tracer_provider.get_tracer("another.instrumentation")
    return tracer.start_as_current_span(f"execute_tool {name}", attributes=attributes)


def test_foreign_span_for_the_same_tool_is_enriched(tracer_provider, span_exporter):
    """Inside another instrumentation's span for the same tool, ours adds to it and opens none."""
    with audit_context(user_id="usr_1"), foreign_tool_span(tracer_provider, "get_order", "c-1"):
        run_sync(
            ToolCall(name="get_order", arguments={"order_id": "O-1"}, call_id="c-1"),
            get_order.__wrapped__,
            ("O-1",),
            {},
        )

    (span,) = tool_spans(span_exporter)
    assert span.instrumentation_scope.name == "another.instrumentation"
    assert dict(span.attributes) == {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "get_order",
        "gen_ai.tool.call.id": "c-1",
        "gen_ai.tool.type": "function",
        "gen_ai.tool.call.arguments": '{"order_id":"O-1"}',
        "user.id": "usr_1",
        "toolaudit.attribution.source": "context",
        "toolaudit.trigger": "user_request",
        "toolaudit.attribution": "User usr_1 (unknown) → unknown → get_order [user_request]",
        "toolaudit.result.summary": '{"success":true,"order_id":"O-1","status":"shipped"}',
        "toolaudit.success": True,
    }


def test_our_dispatcher_and_decorator_make_one_span(span_exporter):
    """A decorated tool run by an audited dispatch of the same name is one span, with the call id."""
    run_sync(ToolCall(name="get_order", call_id="c-9"), get_order, ("O-1",), {})

    (span,) = tool_spans(span_exporter)
    assert span.attributes["gen_ai.tool.call.id"] == "c-9"
    assert span.attributes["gen_ai.tool.description"] == "Fetch an order."


@pytest.mark.parametrize(
    ("outer_name", "outer_id", "inner_id"),
    [("get_order", "c-1", "c-2"), ("lookup", None, None)],
    ids=["another-call-id", "another-tool"],
)
def test_a_different_call_is_nested(tracer_provider, span_exporter, outer_name, outer_id, inner_id):
    """Another call id, or another tool, is a different call: it gets its own child span."""
    with foreign_tool_span(tracer_provider, outer_name, outer_id) as outer:
        run_sync(ToolCall(name="get_order", call_id=inner_id), get_order.__wrapped__, ("O-1",), {})

    inner, _ = tool_spans(span_exporter)
    assert inner.instrumentation_scope.name == "opentelemetry_instrumentation_toolaudit"
    assert inner.parent.span_id == outer.get_span_context().span_id
