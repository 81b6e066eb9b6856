# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Audited tool calls in several threads, each acknowledged on stdout once its record is durable.

Run by the kill -9 trials: with a SimpleSpanProcessor, ``export()`` runs inside the span's end, so
when an audited call returns its record is committed; the line ``ACK <span id>`` says so.
"""

from __future__ import annotations

import sys
import threading

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import format_span_id

from opentelemetry_instrumentation_toolaudit import (
    AuditLogExporter,
    ToolAuditInstrumentor,
    audit_context,
    audited_tool,
)

_print_lock = threading.Lock()


@audited_tool
def update_order_status(order_id: str, status: str, note: str) -> dict:
    """Change an order's status."""
    from opentelemetry import trace

    return {
        "order_id": order_id,
        "status": status,
        "id": format_span_id(trace.get_current_span().get_span_context().span_id),
    }


def worker(n: int) -> None:
    with audit_context(user_id=f"usr_{n}", model="gpt-4.1"):
        i = 0
        while True:
            result = update_order_status(f"ORD-{n}-{i}", "shipped", note="x" * (i % 300))
            with _print_lock:
                sys.stdout.write(f"ACK {result['id']}\n")
                sys.stdout.flush()
            i += 1


def main() -> None:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(AuditLogExporter()))
    ToolAuditInstrumentor().instrument(tracer_provider=provider)
    threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


if __name__ == "__main__":
    main()
