# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""An app with no tracing code of its own, run under `opentelemetry-instrument` with the OTLP
exporter pointed at `toolaudit serve`; it prints ``SPAN <trace id> <span id>`` for each tool call."""

from __future__ import annotations

import sys

from opentelemetry import trace
from opentelemetry.trace import format_span_id, format_trace_id

from opentelemetry_instrumentation_toolaudit import audit_context, audited_tool

EMAIL = "jane.doe@example.com"


@audited_tool
def lookup_customer(customer_id: str, email: str) -> dict:
    """Find a customer by id and e-mail address."""
    context = trace.get_current_span().get_span_context()
    print(f"SPAN {format_trace_id(context.trace_id)} {format_span_id(context.span_id)}")
    return {"customer_id": customer_id, "status": "active"}


def main(calls: int) -> None:
    for i in range(calls):
        with audit_context(user_id=f"usr_{i % 3}", model="gpt-4.1"):
            lookup_customer(f"CUS-{i}", email=EMAIL)
    print("APP-DONE")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
