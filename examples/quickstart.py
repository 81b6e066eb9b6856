# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The whole story in under a minute: an audited support agent, with no API key, no network, no server.

A scripted "model" reads each user message and decides which tools to call, as an LLM returns tool
calls. Every model request and tool call runs inside an ``audit_context`` that names the user, so
each becomes a span carrying its attribution (user → model → tool) and a record in the audit trail:
a hash-chained, Merkle-tree, signed SQLite file. The demo shows

* attributed tool calls, one of which fails (an order that cannot be cancelled);
* redacted PII: an email becomes a keyed pseudonym and a card number never leaves the process;
* a fail-closed tool (``issue_refund``) refused while the audit database cannot take writes, then
  run once it can: it never runs unless its intent is durably recorded first;
* the trail verified with the public key, then a copy tampered with (one record edited, as someone
  with the file could) and ``verify`` naming the record that was changed.

Each run writes to a new directory (a fresh temporary one, or the empty or new ``DIR`` given), so
running it twice never mixes two runs: ``trail.db`` (the audit trail), ``tampered.db`` (the edited
copy), ``signing.key`` and ``signing.key.pub`` (the checkpoint key pair) and ``hash.key`` (the key of
the pseudonyms). The last lines print the ``toolaudit verify`` commands to check both trails yourself.

Run it with ``python examples/quickstart.py [DIR]``.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

from opentelemetry_instrumentation_toolaudit import (
    AuditLogExporter,
    AuditUnavailableError,
    CallTrigger,
    SinkError,
    ToolAuditInstrumentor,
    audit_context,
    audited_tool,
)
from opentelemetry_instrumentation_toolaudit import attributes as attrs
from opentelemetry_instrumentation_toolaudit.environment_variables import (
    OTEL_PYTHON_TOOLAUDIT_HASH_KEY_FILE,
)
from opentelemetry_instrumentation_toolaudit.ledger import (
    AuditLog,
    NoteSigner,
    open_sink,
    public_key_path,
    verify,
)
from opentelemetry_instrumentation_toolaudit.ledger.stores.sqlite import SQLiteSink

MODEL = "gpt-4.1"
ORDERS = {"ORD-456": {"status": "shipped", "total": 59.90}}


# --- the tools the agent may call ------------------------------------------------------------
@audited_tool
def find_customer(email: str) -> dict[str, Any]:
    """Look a customer up by email address."""
    return {"customer_id": "C-123", "tier": "gold"}


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
    """Refund an order to a card (fail-closed: runs only once its intent is on record)."""
    return {"id": "RF-1", "order_id": order_id, "status": "refunded"}


TOOLS = {
    f.__name__: f
    for f in (find_customer, get_order, update_order_status, initiate_return, issue_refund)
}


# --- the scripted model ------------------------------------------------------------------------
def scripted_model(message: str) -> list[tuple[str, dict[str, Any]]]:
    """Decide tool calls from the user's message, as an LLM's tool_calls would."""
    if "I am" in message:
        return [("find_customer", {"email": message.split()[-1]})]
    if "where is" in message:
        return [("get_order", {"order_id": "ORD-456"})]
    if "cancel" in message:
        return [("update_order_status", {"order_id": "ORD-456", "status": "cancelled"})]
    if "return" in message or "refund" in message:
        refund = {"order_id": "ORD-456", "amount": 59.90, "card_number": "4111 1111 1111 1111"}
        first = [("initiate_return", {"order_id": "ORD-456"})] if "return" in message else []
        return [*first, ("issue_refund", refund)]
    return []


# --- the audit database, with an outage switch ---------------------------------------------------
class DemoTrail(SQLiteSink):
    """The demo's SQLite audit trail. While ``down`` it refuses writes, as a full disk or a lost
    database would, so that the demo can show what a fail-closed tool does then."""

    down = False

    def append_transaction(self) -> AbstractContextManager[Any]:
        if self.down:
            raise SinkError(f"{self.path}: database or disk is full")
        return super().append_transaction()


# --- a one-line-per-call printer ---------------------------------------------------------------
class AuditLinePrinter(SpanExporter):
    """Prints each model request and tool call span as one readable line."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        for span in spans:
            a = span.attributes or {}
            operation = a.get(attrs.GEN_AI_OPERATION_NAME)
            if operation == "chat":
                print(f"  model  {span.name}  user={a.get(attrs.USER_ID)}")
            elif operation == attrs.OPERATION_EXECUTE_TOOL:
                ok = "ok    " if a.get(attrs.TOOLAUDIT_SUCCESS) else "FAILED"
                outcome = a.get(attrs.TOOLAUDIT_RESULT_SUMMARY) or a.get(attrs.ERROR_TYPE)
                print(
                    f"  tool   {ok} {a[attrs.GEN_AI_TOOL_NAME]}"
                    f"({a.get(attrs.GEN_AI_TOOL_CALL_ARGUMENTS, '')}) → {outcome}\n"
                    f"         {a.get(attrs.TOOLAUDIT_ATTRIBUTION)}"
                )
        return SpanExportResult.SUCCESS


def run_turn(provider: TracerProvider, turn: int, message: str) -> None:
    """One user message: the model's request, then the tool calls it asked for."""
    tracer = provider.get_tracer("support-agent")
    print(f"\n[turn {turn}] user: {message}")
    # The audit_context comes first: spans started inside it (the model request too) carry the user.
    with (
        audit_context(
            user_id="usr_98765",
            user_role="support_agent",
            conversation_id="conv_abc123",
            turn_number=turn,
            model=MODEL,
            client_address="10.0.1.5",
            user_agent="SupportDashboard/2.1",
            trigger=CallTrigger.USER_REQUEST,
        ),
        tracer.start_as_current_span(f"turn {turn}"),
    ):
        with tracer.start_as_current_span(
            f"chat {MODEL}",
            attributes={
                attrs.GEN_AI_OPERATION_NAME: "chat",
                attrs.GEN_AI_REQUEST_MODEL: MODEL,
                attrs.GEN_AI_PROVIDER_NAME: "scripted",
            },
        ):
            calls = scripted_model(message)
        for name, arguments in calls:
            try:
                TOOLS[name](**arguments)
            except AuditUnavailableError:
                print("         agent: the refund cannot be recorded right now; not issued yet")


def tamper(trail: Path, copy: Path) -> int:
    """Copy the trail and change one record's refund amount (in its payload, where the arguments
    are kept), as someone with the file could; the trigger that stops an ordinary UPDATE is dropped
    first. Returns the record's seq."""
    shutil.copyfile(trail, copy)
    with sqlite3.connect(copy) as db:
        db.execute("DROP TRIGGER payloads_no_update")
        (seq,) = db.execute(
            "SELECT max(seq) FROM audit_records WHERE tool_name = 'issue_refund' AND success = 1"
        ).fetchone()
        db.execute(
            "UPDATE payloads SET data = CAST(replace(CAST(data AS TEXT), '59.9', '5990.0') AS BLOB) "
            "WHERE seq = ?",
            (seq,),
        )
    return int(seq)


def main(argv: Sequence[str] = ()) -> None:
    folder = Path(argv[0]) if argv else Path(tempfile.mkdtemp(prefix="toolaudit-demo-"))
    folder.mkdir(parents=True, exist_ok=True)
    if (folder / "trail.db").exists():
        sys.exit(f"{folder} holds a trail from an earlier run: give a new or empty folder")
    # Everything of this run stays in its folder: the pseudonym key too.
    os.environ[OTEL_PYTHON_TOOLAUDIT_HASH_KEY_FILE] = str(folder / "hash.key")
    signer = NoteSigner.from_file(folder / "signing.key")
    public_key = str(public_key_path(folder / "signing.key"))
    trail = DemoTrail(folder / "trail.db")
    print(f"audit trail: {trail.path}")

    provider = TracerProvider(resource=Resource.create({"service.name": "support-agent"}))
    provider.add_span_processor(SimpleSpanProcessor(AuditLinePrinter()))
    provider.add_span_processor(
        SimpleSpanProcessor(AuditLogExporter(AuditLog(trail, signer=signer)))
    )
    instrumentor = ToolAuditInstrumentor()
    instrumentor.instrument(tracer_provider=provider, fail_closed_tools=["issue_refund"])
    try:
        run_turn(provider, 1, "hi, I am jane.doe@example.com")
        run_turn(provider, 2, "where is my order ORD-456?")
        run_turn(provider, 3, "please cancel it")
        print("\n(the audit database stops taking writes)")
        trail.down = True
        run_turn(provider, 4, "ok, then I want to return it")
        trail.down = False
        provider.force_flush()  # what waited in the exporter's buffer is written now
        print("\n(the audit database takes writes again; nothing that waited was lost)")
        run_turn(provider, 5, "can you try the refund again?")
    finally:
        instrumentor.uninstrument()
        provider.shutdown()  # the exporter writes a final signed checkpoint and closes the trail

    with open_sink(f"sqlite:///{trail.path}", create=False) as sink:
        result = verify(sink, public_key=public_key)
        records = [stored.record for stored in sink.read()]
    kinds = Counter(record["event_type"] for record in records)
    print(f"\nverify {trail.path}: {result.summary()}")
    print(
        f"  {len(records)} records: {kinds['tool.call']} tool calls (the refused refund included), "
        f"{kinds['tool.intent']} intent record (the refund's, durable before it ran) and "
        f"{kinds['llm.request']} LLM requests (one model request per turn)"
    )
    refund = next(r for r in records if r.get("tool_name") == "issue_refund" and r.get("success"))
    print(f"  the refund as recorded: {refund['arguments']} by {refund['user_id']}")
    lookup = next(r for r in records if r.get("tool_name") == "find_customer")
    print(f"  the lookup as recorded: {lookup['arguments']}")

    tampered = folder / "tampered.db"
    seq = tamper(Path(trail.path), tampered)
    with open_sink(f"sqlite:///{tampered}", create=False) as sink:
        caught = verify(sink, public_key=public_key)
    print(f"\nrecord #{seq} edited in a copy; verify {tampered}:\n  {caught.summary()}")
    print("\ncheck them yourself:")
    for path in (trail.path, tampered):
        print(f"  toolaudit verify {path} --public-key {public_key}")


if __name__ == "__main__":
    main(sys.argv[1:])
