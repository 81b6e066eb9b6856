# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""@audited_tool and audit_context: the execute_tool span and its attribution."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from typing import Any

import pytest
from opentelemetry.trace import SpanKind, StatusCode

from opentelemetry_instrumentation_toolaudit import (
    CallTrigger,
    audit_context,
    audited_tool,
    current_attribution,
)

from .conftest import json_attr, tool_spans

pytestmark = pytest.mark.usefixtures("instrument")

FULL_CONTEXT: dict[str, Any] = {
    "user_id": "usr_98765",
    "user_role": "support_agent",
    "conversation_id": "conv_abc123",
    "turn_number": 7,
    "model": "gpt-4.1",
    "client_address": "10.0.1.5",
    "user_agent": "SupportDashboard/2.1",
    "purpose": "treatment",
    "trigger": CallTrigger.USER_REQUEST,
}


@audited_tool
def update_order_status(order_id: str, status: str, api_key: str | None = None) -> dict[str, Any]:
    """Change an order's status.

    Longer text that is not the description.
    """
    return {"order_id": order_id, "status": status, "old_status": "processing"}


@audited_tool(name="lookup", trigger=CallTrigger.PROACTIVE)
async def lookup_order(order_id: str) -> dict[str, Any]:
    await asyncio.sleep(0)
    return {"order_id": order_id, "status": "shipped"}


@audited_tool
def cancel_order(order_id: str) -> dict[str, Any]:
    raise PermissionError("Cannot cancel shipped order")


@audited_tool
def refund(order_id: str) -> dict[str, Any]:
    return {"error": "refund window closed", "error_type": "PolicyViolation", "order_id": order_id}


def test_sync_tool_span_has_every_attribute(span_exporter):
    """A sync tool call inside a full audit_context yields one span with the whole attribution."""
    with audit_context(**FULL_CONTEXT):
        result = update_order_status("ORD-123", "shipped", api_key="sk-secret")

    assert result == {"order_id": "ORD-123", "status": "shipped", "old_status": "processing"}
    (span,) = tool_spans(span_exporter)
    assert span.name == "execute_tool update_order_status"
    assert span.kind is SpanKind.INTERNAL
    assert span.status.status_code is StatusCode.UNSET
    assert dict(span.attributes) == {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "update_order_status",
        "gen_ai.tool.type": "function",
        "gen_ai.tool.description": "Change an order's status.",
        "gen_ai.conversation.id": "conv_abc123",
        "gen_ai.request.model": "gpt-4.1",
        "user.id": "usr_98765",
        "toolaudit.attribution.source": "context",
        "user.roles": ("support_agent",),
        "client.address": "10.0.1.5",
        "user_agent.original": "SupportDashboard/2.1",
        "toolaudit.turn_number": 7,
        "toolaudit.trigger": "user_request",
        "toolaudit.purpose": "treatment",
        "toolaudit.attribution": "User usr_98765 (support_agent) → gpt-4.1 → update_order_status [user_request]",
        "gen_ai.tool.call.arguments": '{"order_id":"ORD-123","status":"shipped","api_key":"***REDACTED***"}',
        "toolaudit.result.summary": '{"success":true,"order_id":"ORD-123","status":"shipped"}',
        "toolaudit.success": True,
        "toolaudit.redaction.count": 1,
        "toolaudit.redaction.kinds": ("secret_key",),
    }


def test_operation_name_is_known_at_span_start(tracer_provider, span_exporter):
    """gen_ai.operation.name is passed to the sampler, so it can sample on it."""
    seen: list[Any] = []

    class Recorder:
        def on_start(self, span, parent_context=None):
            seen.append(dict(span.attributes))

        def on_end(self, span):
            pass

        def shutdown(self):
            pass

        def force_flush(self, timeout_millis=30000):
            return True

    tracer_provider.add_span_processor(Recorder())
    update_order_status("ORD-1", "shipped")
    assert seen[0]["gen_ai.operation.name"] == "execute_tool"
    assert seen[0]["gen_ai.tool.name"] == "update_order_status"


async def test_async_tool_and_tool_trigger(span_exporter):
    """An async tool is recorded; a trigger given to the decorator wins over the context's."""
    with audit_context(user_id="u1", model="m1", trigger="user_request"):
        result = await lookup_order("ORD-9")
    assert result == {"order_id": "ORD-9", "status": "shipped"}
    (span,) = tool_spans(span_exporter)
    assert span.name == "execute_tool lookup"
    assert span.attributes["toolaudit.trigger"] == "proactive"
    assert span.attributes["toolaudit.attribution"] == "User u1 (unknown) → m1 → lookup [proactive]"


def test_exception_is_recorded_and_reraised_unchanged(span_exporter):
    """The tool's exception propagates as the same object, and the span records the failure."""
    with pytest.raises(PermissionError) as caught:
        cancel_order("ORD-1")
    assert str(caught.value) == "Cannot cancel shipped order"
    (span,) = tool_spans(span_exporter)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == "PermissionError"
    assert span.attributes["toolaudit.success"] is False
    assert json_attr(span, "toolaudit.result.summary") == {
        "success": False,
        "error": "Cannot cancel shipped order",
        "error_type": "PermissionError",
    }
    (event,) = span.events
    assert event.name == "exception"
    assert event.attributes["exception.type"] == "PermissionError"


def test_error_result_counts_as_failure(span_exporter):
    """A result dict with an 'error' key is a failure without an exception."""
    assert refund("ORD-1")["error"] == "refund window closed"
    (span,) = tool_spans(span_exporter)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["toolaudit.success"] is False
    assert span.attributes["error.type"] == "PolicyViolation"
    assert json_attr(span, "toolaudit.result.summary") == {
        "success": False,
        "error": "refund window closed",
        "order_id": "ORD-1",
    }


def test_large_result_is_summarized_not_copied(span_exporter):
    """A result over 1000 bytes is summarized with its size, never copied whole."""

    @audited_tool
    def search(query: str) -> dict[str, Any]:
        return {"count": 50, "rows": [{"id": i, "text": "x" * 40} for i in range(50)]}

    search("all")
    (span,) = tool_spans(span_exporter)
    summary = json_attr(span, "toolaudit.result.summary")
    assert summary["success"] is True
    assert summary["count"] == 50
    assert summary["_truncated"] is True
    assert summary["_result_size"] > 1000
    assert "rows" not in summary


def test_contexts_nest_inner_overrides(span_exporter):
    """Inner audit_context values override outer ones; unset values are inherited."""
    with audit_context(user_id="usr_1", user_role="nurse", model="gpt-4.1", turn_number=1):
        with audit_context(turn_number=2, trigger=CallTrigger.RETRY):
            assert current_attribution().summary() == "User usr_1 (nurse) → gpt-4.1 [retry]"
            update_order_status("ORD-1", "shipped")
        update_order_status("ORD-2", "shipped")
    inner, outer = tool_spans(span_exporter)
    assert (inner.attributes["toolaudit.turn_number"], inner.attributes["toolaudit.trigger"]) == (
        2,
        "retry",
    )
    assert (outer.attributes["toolaudit.turn_number"], outer.attributes["toolaudit.trigger"]) == (
        1,
        "user_request",
    )
    assert inner.attributes["user.id"] == outer.attributes["user.id"] == "usr_1"
    assert current_attribution().user_id is None


def test_current_attribution_inside_tool_names_the_tool():
    """Inside a tool, current_attribution() includes the tool being run."""
    seen: list[str] = []

    @audited_tool
    def whoami() -> None:
        seen.append(current_attribution().summary())

    with audit_context(user_id="usr_98765", user_role="support_agent", model="gpt-4.1"):
        whoami()
    assert seen == ["User usr_98765 (support_agent) → gpt-4.1 → whoami [user_request]"]


def test_attribution_crosses_threads_with_copied_context(span_exporter):
    """A thread started with the context copied sees the attribution."""
    with audit_context(user_id="usr_t", model="m"):
        ctx = contextvars.copy_context()
        thread = threading.Thread(target=ctx.run, args=(update_order_status, "ORD-T", "open"))
        thread.start()
        thread.join()
    (span,) = tool_spans(span_exporter)
    assert span.attributes["user.id"] == "usr_t"


def test_plain_thread_without_context_is_unattributed(span_exporter):
    """A thread that did not copy the context carries no attribution (and still records)."""
    with audit_context(user_id="usr_t"):
        thread = threading.Thread(target=update_order_status, args=("ORD-T", "open"))
        thread.start()
        thread.join()
    (span,) = tool_spans(span_exporter)
    assert "user.id" not in span.attributes


async def test_attribution_crosses_asyncio_tasks(span_exporter):
    """Concurrent asyncio tasks each keep their own attribution."""

    async def turn(user: str) -> None:
        with audit_context(user_id=user, model="m"):
            await asyncio.sleep(0)
            await lookup_order(f"ORD-{user}")

    await asyncio.gather(*(turn(f"usr_{i}") for i in range(5)))
    spans = tool_spans(span_exporter)
    pairs = sorted(
        (s.attributes["user.id"], json_attr(s, "gen_ai.tool.call.arguments")["order_id"])
        for s in spans
    )
    assert pairs == [(f"usr_{i}", f"ORD-usr_{i}") for i in range(5)]


def test_nested_tool_calls_are_parent_and_child(span_exporter):
    """A tool that calls another tool makes the inner span a child of the outer one."""

    @audited_tool
    def outer_tool() -> str:
        update_order_status("ORD-1", "shipped")
        return "ok"

    outer_tool()
    inner, outer = tool_spans(span_exporter)
    assert inner.parent.span_id == outer.context.span_id
    assert inner.context.trace_id == outer.context.trace_id


def test_method_tools_skip_self(span_exporter):
    """A decorated method records its arguments without self."""

    class Tools:
        @audited_tool
        def close_ticket(self, ticket_id: str, *, note: str = "") -> str:
            return "closed"

    Tools().close_ticket("T-1", note="done")
    (span,) = tool_spans(span_exporter)
    assert json_attr(span, "gen_ai.tool.call.arguments") == {"ticket_id": "T-1", "note": "done"}


def test_decorator_keeps_function_metadata():
    """functools.wraps keeps the name, docstring and signature introspection."""
    assert update_order_status.__name__ == "update_order_status"
    assert update_order_status.__doc__.startswith("Change an order's status.")
    assert asyncio.iscoroutinefunction(lookup_order)


def test_recursive_tool_calls_are_separate_spans(span_exporter):
    """A tool that calls itself is recorded once per call, each a child of the one that called it."""

    @audited_tool
    def delete_path(path: str, depth: int) -> int:
        return 1 + (delete_path(f"{path}/child", depth - 1) if depth else 0)

    assert delete_path("/srv", 2) == 3
    spans = tool_spans(span_exporter)
    assert [json_attr(s, "gen_ai.tool.call.arguments")["path"] for s in spans] == [
        "/srv/child/child",
        "/srv/child",
        "/srv",
    ]
    assert spans[0].parent.span_id == spans[1].context.span_id
    assert spans[1].parent.span_id == spans[2].context.span_id


def test_error_type_from_a_result_is_a_class_name_or_tool_error(span_exporter):
    """A result's error_type that is not class-name-like (it may hold a message, PII included) is
    not copied into error.type."""

    @audited_tool
    def find_account(query: str) -> dict[str, Any]:
        return {"error": "not found", "error_type": "no account for jane.doe@example.com"}

    find_account("x")
    (span,) = tool_spans(span_exporter)
    assert span.attributes["error.type"] == "tool_error"


def test_repeated_attribution_values_are_redacted_in_every_new_context(span_exporter):
    """A personal value in the attribution is redacted, and counted, in each new audit_context that
    repeats it, not only in the first."""
    for _ in range(2):
        with audit_context(user_id="jane@example.com", user_role="admin"):
            update_order_status("ORD-123", "shipped")
    first, second = tool_spans(span_exporter)
    for span in (first, second):
        assert "jane@example.com" not in str(dict(span.attributes))
        assert span.attributes["user.id"].startswith("<EMAIL:hmac-sha256:")
        assert (span.attributes["toolaudit.redaction.count"], span.attributes["user.roles"]) == (
            2,
            ("admin",),
        )
    assert first.attributes["user.id"] == second.attributes["user.id"]
