# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""An app run under `opentelemetry-instrument` with ``OTEL_TRACES_EXPORTER=otlp`` by the collector
tests: its spans go to a real OpenTelemetry Collector.

Each round makes one audited tool call whose arguments hold an email, an SSN and a card number; one
span of the app's own that is not an audit event and carries the same data unredacted (in its
attributes and an event); and, every fifth round, a chat span (an LLM request). Every span's
``<kind> <trace id> <span id>`` is printed, so the test knows what the app emitted; ``APP-DONE``
ends the run.

``python -m tests.apps.collector_app ROUNDS PAUSE_SECONDS``
"""

from __future__ import annotations

import sys
import time

from opentelemetry import trace
from opentelemetry.trace import format_span_id, format_trace_id

from opentelemetry_instrumentation_toolaudit import audit_context, audited_tool

EMAIL = "jane.doe@example.com"
SSN = "219-09-9998"
CARD = "4111 1111 1111 1111"


def _emit(kind: str, span: trace.Span) -> None:
    context = span.get_span_context()
    sys.stdout.write(
        f"{kind} {format_trace_id(context.trace_id)} {format_span_id(context.span_id)}\n"
    )


@audited_tool
def update_contact(customer_id: str, email: str, ssn: str, card: str) -> dict:
    """Update a customer's contact and payment details."""
    _emit("AUDIT", trace.get_current_span())
    return {"customer_id": customer_id, "status": "updated"}


def main() -> None:
    rounds, pause = int(sys.argv[1]), float(sys.argv[2])
    tracer = trace.get_tracer("collector-app")
    with audit_context(user_id="usr_98765", user_role="support_agent", model="gpt-4.1"):
        for i in range(rounds):
            with tracer.start_as_current_span("crm.fetch") as span:
                span.set_attribute("crm.query", f"email={EMAIL} ssn={SSN}")
                span.add_event("crm.payment", {"card": CARD})
                _emit("PLAIN", span)
                update_contact(f"C-{i}", email=EMAIL, ssn=SSN, card=CARD)
            if i % 5 == 0:
                with tracer.start_as_current_span("chat gpt-4.1") as span:
                    span.set_attribute("gen_ai.operation.name", "chat")
                    span.set_attribute("gen_ai.request.model", "gpt-4.1")
                    _emit("AUDIT", span)
            sys.stdout.flush()
            time.sleep(pause)
    print("APP-DONE", flush=True)


if __name__ == "__main__":
    main()
