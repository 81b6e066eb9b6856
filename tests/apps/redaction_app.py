# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""An app with no tracing code, run under `opentelemetry-instrument` by the redaction tests.

It makes the kinds of spans that carry personal data: our own tool span; a chat span with the GenAI
semantic conventions' ``gen_ai.input.messages`` / ``gen_ai.output.messages`` (as the official OpenAI
instrumentation records them with content capture on); and a span with OpenLLMetry / OpenInference
content attributes and a content event; and log records (a GenAI message event, a log line).
"""

from __future__ import annotations

import json
import logging

from opentelemetry import trace
from opentelemetry._logs import LogRecord, get_logger

from opentelemetry_instrumentation_toolaudit import audit_context, audited_tool

EMAIL = "jane.doe@example.com"
CARD = "4111 1111 1111 1111"
SSN = "219-09-9998"
PHONE = "(415) 555-2671"


@audited_tool
def update_contact(customer_id: str, email: str, note: str) -> dict:
    """Update a customer's contact details."""
    return {"customer_id": customer_id, "status": "updated"}


def main() -> None:
    with audit_context(user_id="usr_98765", user_role="support_agent", client_address="10.0.1.5"):
        update_contact("C-123", email=EMAIL, note=f"card {CARD}, call {PHONE}")
        tracer = trace.get_tracer("genai-instrumentation")
        with tracer.start_as_current_span("chat gpt-4.1", kind=trace.SpanKind.CLIENT) as span:
            span.set_attributes(
                {
                    "gen_ai.operation.name": "chat",
                    "gen_ai.request.model": "gpt-4.1",
                    "gen_ai.input.messages": json.dumps(
                        [
                            {
                                "role": "user",
                                "parts": [{"type": "text", "content": f"I am {EMAIL}, SSN {SSN}"}],
                            }
                        ]
                    ),
                    "gen_ai.output.messages": json.dumps(
                        [
                            {
                                "role": "assistant",
                                "parts": [{"type": "text", "content": "Thanks Jane Doe"}],
                            }
                        ]
                    ),
                    "server.address": "127.0.0.1",
                }
            )
        with tracer.start_as_current_span("llm call") as span:
            span.set_attribute("gen_ai.prompt.0.content", f"my card is {CARD}")
            span.set_attribute("input.value", f"mail {EMAIL}")
            span.add_event("gen_ai.content.prompt", {"gen_ai.prompt": f"ssn {SSN}"})
        # Log records too: a GenAI message event and an ordinary log line.
        get_logger("genai-instrumentation").emit(
            LogRecord(event_name="gen_ai.user.message", body={"content": f"I am {EMAIL}"})
        )
        logging.getLogger("app").warning("refund to card %s for %s", CARD, EMAIL)
    print("APP-DONE")


if __name__ == "__main__":
    main()
