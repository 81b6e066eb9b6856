# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Per-call cost of an audited tool call beside a bare SDK span and a bare function call.

Everything is measured in the same run, on the same TracerProvider set-up, so the ratios are fair:

* ``bare call``: the tool function alone;
* ``bare SDK span``: ``with tracer.start_as_current_span(...)`` around the tool function;
* ``same attrs span``: a plain span given the very attributes an audited call records (what the SDK
  alone charges for storing them);
* ``audited call``: the ``@audited_tool`` function inside an ``audit_context`` (attribution, redacted
  argument JSON, result summary: 17 attributes).

Three patterns of use, each beside a bare span and a same-attributes span per tool call:

* ``reused``: one ``audit_context`` around every call (a worker serving one user);
* ``fresh, 1 call``: a new ``audit_context`` per request with one tool call, as a service opens one
  per request; requests rotate over 200 users, a conversation lasts 4 requests (turns);
* ``fresh, 3 calls``: the same with three tool calls per request.

Usage: ``python bench/overhead.py [--calls N] [--repeat R] [--processor batch|simple|none]``
"""

from __future__ import annotations

import argparse
import contextvars
import statistics
import time
from collections.abc import Callable
from typing import Any

from _common import DiscardingExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from opentelemetry_instrumentation_toolaudit import (
    ToolAuditInstrumentor,
    audit_context,
    audited_tool,
)

ATTRIBUTION: dict[str, Any] = {
    "user_id": "usr_98765",
    "user_role": "support_agent",
    "conversation_id": "conv_abc123",
    "turn_number": 7,
    "model": "gpt-4.1",
    "client_address": "10.0.1.5",
    "user_agent": "SupportDashboard/2.1",
}


def update_order_status(order_id: str, status: str) -> dict[str, Any]:
    """Change an order's status."""
    return {"order_id": order_id, "status": status, "old_status": "processing"}


def per_call_us(cases: dict[str, Callable[[], Any]], calls: int, repeat: int) -> dict[str, float]:
    """Median over ``repeat`` rounds of the mean microseconds per call of each case."""
    rounds = per_round_us(cases, calls, repeat)
    return {name: statistics.median(values) for name, values in rounds.items()}


def per_round_us(
    cases: dict[str, Callable[[], Any]], calls: int, repeat: int, slices: int = 20
) -> dict[str, list[float]]:
    """The mean microseconds per call of each case, in each of ``repeat`` rounds.

    Within a round the cases take turns in ``slices`` short runs each, so that a machine whose speed
    changes from moment to moment (a shared one) slows all cases alike.
    """
    for fn in cases.values():
        for _ in range(min(calls, 2000)):
            fn()
    per_slice = max(1, calls // slices)
    runs: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(repeat):
        spent = dict.fromkeys(cases, 0.0)
        for _ in range(slices):
            for name, fn in cases.items():
                start = time.perf_counter()
                for _ in range(per_slice):
                    fn()
                spent[name] += time.perf_counter() - start
        for name, seconds in spent.items():
            runs[name].append(seconds / (per_slice * slices) * 1e6)
    return runs


def ratio(values: list[float], baseline: list[float]) -> str:
    """The median of the per-round ratios, and their spread (min-max), as ``1.23x (1.20-1.31)``."""
    ratios = [v / b for v, b in zip(values, baseline, strict=True)]
    return f"{statistics.median(ratios):5.2f}x ({min(ratios):.2f}-{max(ratios):.2f})"


USERS = 200
TURNS = 4


def request_attribution(n: int) -> dict[str, Any]:
    """The attribution of request ``n``: one of USERS users, a conversation of TURNS turns."""
    return {
        **ATTRIBUTION,
        "user_id": f"usr_{10000 + n % USERS}",
        "conversation_id": f"conv_{n // TURNS:06d}",
        "turn_number": n % TURNS + 1,
    }


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

    # The attributes an audited call records, set on a plain span: what the SDK alone charges for them.
    sample = InMemorySpanExporter()
    sample_provider = TracerProvider()
    sample_provider.add_span_processor(SimpleSpanProcessor(sample))
    with audit_context(**ATTRIBUTION):
        instrumentor.uninstrument()
        instrumentor.instrument(tracer_provider=sample_provider)
        audited("ORD-123", "shipped")
        instrumentor.uninstrument()
        instrumentor.instrument(tracer_provider=provider)
    (recorded,) = sample.get_finished_spans()
    result_keys = ("toolaudit.result.summary", "toolaudit.success")
    start_attrs = {k: v for k, v in recorded.attributes.items() if k not in result_keys}
    end_attrs = {k: recorded.attributes[k] for k in result_keys}

    def same_attributes_span() -> Any:
        with tracer.start_as_current_span(
            "execute_tool update_order_status", attributes=start_attrs
        ) as span:
            result = update_order_status("ORD-123", "shipped")
            span.set_attributes(end_attrs)
            return result

    requests = iter(range(1 << 62))

    def fresh_request(calls: int) -> Callable[[], Any]:
        def request() -> Any:
            with audit_context(**request_attribution(next(requests))):
                for _ in range(calls):
                    audited("ORD-123", "shipped")

        return request

    def spans(case: Callable[[], Any], calls: int) -> Callable[[], Any]:
        def request() -> Any:
            for _ in range(calls):
                case()

        return request

    # The reused pattern's audited call runs in one context holding one audit_context (its
    # Context.run is charged to us); the fresh requests open theirs in an empty context.
    with audit_context(**ATTRIBUTION):
        reused = contextvars.copy_context()

    def in_reused(case: Callable[[], Any]) -> Callable[[], Any]:
        return lambda: reused.run(case)

    try:
        rounds = per_round_us(
            {
                "bare call": bare_call,
                "bare SDK span": bare_span,
                "same attrs span": same_attributes_span,
                "audited call": in_reused(audited_call),
                "bare span x3": spans(bare_span, 3),
                "same attrs x3": spans(same_attributes_span, 3),
                "fresh, 1 call": fresh_request(1),
                "fresh, 3 calls": fresh_request(3),
            },
            args.calls,
            args.repeat,
        )
    finally:
        instrumentor.uninstrument()
        provider.shutdown()

    figures = {name: statistics.median(values) for name, values in rounds.items()}
    span_cost = figures["bare SDK span"]
    print(f"processor={args.processor} calls={args.calls} repeat={args.repeat} (median of means)")
    for name in ("bare call", "bare SDK span", "same attrs span", "audited call"):
        value = figures[name]
        print(f"  {name:<16} {value:8.2f} µs/call   {value / span_cost:5.2f}x bare SDK span")
    print("patterns: µs per request; median ratio of the same round (spread) to as many spans:")
    rows = [
        ("reused", "audited call", "bare SDK span", "same attrs span"),
        ("fresh, 1 call", "fresh, 1 call", "bare SDK span", "same attrs span"),
        ("fresh, 3 calls", "fresh, 3 calls", "bare span x3", "same attrs x3"),
    ]
    for label, case, bare, same in rows:
        print(
            f"  {label:<15} {figures[case]:7.2f} µs  {ratio(rounds[case], rounds[bare])} bare span"
            f"  {ratio(rounds[case], rounds[same])} same-attributes span"
        )


if __name__ == "__main__":
    main()
