"""A small support agent whose tool calls are audited: no API key, no network, no server.

A scripted "model" reads each user message and decides which tools to call, the way an LLM would
return tool calls. Every call runs through ``@audited_tool`` inside an ``audit_context``, becomes an
``execute_tool`` span with its attribution (arguments redacted: the refund's card number never
leaves), is printed as one readable line, and is written to the audit trail: a hash-chained, signed
SQLite file (``toolaudit.db`` in the working directory, or ``OTEL_PYTHON_TOOLAUDIT_SINK``) that the
demo verifies at the end, as ``toolaudit verify toolaudit.db`` would.

Run it with ``python examples/quickstart.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

from opentelemetry_instrumentation_toolaudit import (
    AuditLogExporter,
    CallTrigger,
    ToolAuditInstrumentor,
    audit_context,
    audited_tool,
)
from opentelemetry_instrumentation_toolaudit.audit import (
    AuditLog,
    default_key_path,
    open_sink,
    public_key_path,
    verify,
)

ORDERS = {"ORD-456": {"status": "shipped", "total": 59.90}, "ORD-789": {"status": "processing"}}


# --- the tools the agent may call ------------------------------------------------------------
@audited_tool
def get_customer(customer_id: str) -> dict[str, Any]:
    """Look a customer up by id."""
    return {"customer_id": customer_id, "name": "Jane Doe", "tier": "gold"}


@audited_tool
def get_order(order_id: str) -> dict[str, Any]:
    """Fetch an order and its status."""
    return {"order_id": order_id, **ORDERS[order_id]}


@audited_tool
def update_order_status(order_id: str, status: str) -> dict[str, Any]:
    """Change an order's status."""
    if ORDERS[order_id]["status"] == "shipped" and status == "cancelled":
        return {"error": "Cannot cancel shipped order", "order_id": order_id}
    ORDERS[order_id]["status"] = status
    return {"order_id": order_id, "status": status}


@audited_tool
def initiate_return(order_id: str) -> dict[str, Any]:
    """Open a return for a shipped order."""
    return {"id": "RET-789", "order_id": order_id, "status": "return_opened"}


@audited_tool(trigger=CallTrigger.PROACTIVE)
def issue_refund(order_id: str, amount: float, card_number: str) -> dict[str, Any]:
    """Refund an order to a card."""
    if amount > 50:
        raise PermissionError("refunds over 50.00 need a supervisor")
    return {"id": "RF-1", "order_id": order_id, "status": "refunded"}


TOOLS = {
    f.__name__: f
    for f in (get_customer, get_order, update_order_status, initiate_return, issue_refund)
}


# --- the scripted model ------------------------------------------------------------------------
def scripted_model(message: str) -> list[tuple[str, dict[str, Any]]]:
    """Decide tool calls from the user's message, as an LLM's tool_calls would."""
    if "who am i" in message:
        return [("get_customer", {"customer_id": "C-123"})]
    if "where is" in message:
        return [("get_order", {"order_id": "ORD-456"})]
    if "cancel" in message:
        return [("update_order_status", {"order_id": "ORD-456", "status": "cancelled"})]
    if "return" in message:
        return [
            ("initiate_return", {"order_id": "ORD-456"}),
            (
                "issue_refund",
                {"order_id": "ORD-456", "amount": 59.90, "card_number": "4111 1111 1111 1111"},
            ),
        ]
    return []


# --- a one-line-per-call printer ---------------------------------------------------------------
class AuditLinePrinter(SpanExporter):
    """Prints each execute_tool span as one readable audit line."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        for span in spans:
            a = span.attributes or {}
            if a.get("gen_ai.operation.name") != "execute_tool":
                continue
            ok = "✅" if a.get("toolaudit.success") else "❌"
            ms = ((span.end_time or 0) - (span.start_time or 0)) / 1e6
            print(
                f"[turn {a.get('toolaudit.turn_number')}] {ok} {a['gen_ai.tool.name']}"
                f"({a.get('gen_ai.tool.call.arguments', '')}) → {a.get('toolaudit.result.summary')}"
                f" [{ms:.2f} ms]\n      {a.get('toolaudit.attribution')}"
                f"  trace={span.context.trace_id:032x}"
            )
        return SpanExportResult.SUCCESS


def run_conversation(provider: TracerProvider, messages: Sequence[str]) -> None:
    tracer = provider.get_tracer("support-agent")
    for turn, message in enumerate(messages, start=1):
        print(f"\nuser: {message}")
        # One agent span per turn: the turn's tool calls share its trace id.
        with (
            tracer.start_as_current_span(
                "invoke_agent support-agent", attributes={"gen_ai.operation.name": "invoke_agent"}
            ),
            audit_context(
                user_id="usr_98765",
                user_role="support_agent",
                conversation_id="conv_abc123",
                turn_number=turn,
                model="gpt-4.1",
                client_address="10.0.1.5",
                user_agent="SupportDashboard/2.1",
                trigger=CallTrigger.USER_REQUEST,
            ),
        ):
            for name, arguments in scripted_model(message):
                try:
                    TOOLS[name](**arguments)
                except PermissionError as exc:
                    print(f"      (agent told the user: {exc})")


def main() -> None:
    provider = TracerProvider(resource=Resource.create({"service.name": "support-agent"}))
    provider.add_span_processor(SimpleSpanProcessor(AuditLinePrinter()))
    # The audit trail: the embedded default sink (SQLite), the signing key from its default place.
    log = AuditLog.from_env()
    provider.add_span_processor(SimpleSpanProcessor(AuditLogExporter(log)))
    instrumentor = ToolAuditInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        run_conversation(
            provider,
            [
                "who am i?",
                "where is my order ORD-456?",
                "please cancel it",
                "ok, then I want to return it",
            ],
        )
    finally:
        instrumentor.uninstrument()
        provider.shutdown()  # the exporter writes a final signed checkpoint and closes the sink
    with open_sink(log.sink.url, create=False) as sink:
        result = verify(sink, public_key=str(public_key_path(default_key_path())))
        (refund,) = [r.record for r in sink.read() if r.record.get("tool_name") == "issue_refund"][
            -1:
        ]
    print(f"\naudit trail {log.sink.url}: {result.summary()}")
    print(f"  the refund as recorded: {refund['arguments']} by {refund['user_id']}")
    print("  check it yourself: toolaudit verify toolaudit.db")


if __name__ == "__main__":
    main()
