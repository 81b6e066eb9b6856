"""Per-call cost of an audited tool call beside a bare SDK span and a bare function call.

All three are measured in the same run, on the same TracerProvider set-up, so the ratio is fair:

* ``bare call``: the tool function alone;
* ``bare SDK span``: ``with tracer.start_as_current_span(...)`` around the tool function;
* ``audited call``: the ``@audited_tool`` function inside an ``audit_context`` (attribution, redacted
  argument JSON, result summary: about 17 attributes).

Usage: ``python bench/overhead.py [--calls N] [--repeat R] [--processor batch|simple|none]``
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)

from opentelemetry_instrumentation_toolaudit import (
    ToolAuditInstrumentor,
    audit_context,
    audited_tool,
)


class DiscardingExporter(SpanExporter):
    """Accepts spans and drops them, so the figures measure the SDK and us, not I/O."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def update_order_status(order_id: str, status: str) -> dict[str, Any]:
    """Change an order's status."""
    return {"order_id": order_id, "status": status, "old_status": "processing"}


def per_call_us(fn: Callable[[], Any], calls: int, repeat: int) -> float:
    """Median over ``repeat`` runs of the mean microseconds per call."""
    for _ in range(min(calls, 2000)):
        fn()
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        runs.append((time.perf_counter() - start) / calls * 1e6)
    return statistics.median(runs)


def provider_for(kind: str) -> TracerProvider:
    provider = TracerProvider()
    if kind == "batch":
        provider.add_span_processor(
            BatchSpanProcessor(DiscardingExporter(), max_queue_size=1 << 16)
        )
    elif kind == "simple":
        provider.add_span_processor(SimpleSpanProcessor(DiscardingExporter()))
    return provider


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--processor", choices=["batch", "simple", "none"], default="batch")
    args = parser.parse_args(argv)

    provider = provider_for(args.processor)
    tracer = provider.get_tracer("bench")
    instrumentor = ToolAuditInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    audited = audited_tool(update_order_status)

    def bare_call() -> Any:
        return update_order_status("ORD-123", "shipped")

    def bare_span() -> Any:
        with tracer.start_as_current_span("execute_tool update_order_status"):
            return update_order_status("ORD-123", "shipped")

    def audited_call() -> Any:
        return audited("ORD-123", "shipped")

    context = audit_context(
        user_id="usr_98765",
        user_role="support_agent",
        conversation_id="conv_abc123",
        turn_number=7,
        model="gpt-4.1",
        client_address="10.0.1.5",
        user_agent="SupportDashboard/2.1",
    )
    try:
        with context:
            figures = {
                "bare call": per_call_us(bare_call, args.calls, args.repeat),
                "bare SDK span": per_call_us(bare_span, args.calls, args.repeat),
                "audited call": per_call_us(audited_call, args.calls, args.repeat),
            }
    finally:
        instrumentor.uninstrument()
        provider.shutdown()

    span_cost = figures["bare SDK span"]
    print(f"processor={args.processor} calls={args.calls} repeat={args.repeat} (median of means)")
    for name, value in figures.items():
        print(f"  {name:<14} {value:8.2f} µs/call   {value / span_cost:5.2f}x bare SDK span")


if __name__ == "__main__":
    main()
