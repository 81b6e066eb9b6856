# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""What auditing costs the app's thread: audited tool calls with the audit exporter in place.

Measured in one run, on one machine, each case on its own TracerProvider with a
``BatchSpanProcessor`` (as ``opentelemetry-instrument`` sets it up) in front of a SQLite sink:

* ``bare SDK span``: a plain span around the tool (the baseline);
* ``audited, no audit sink``: the audited call, spans discarded;
* ``audited + audit exporter``: the audited call; the audit exporter writes on the processor's thread;
* ``+ intent records (all)``: ``OTEL_PYTHON_TOOLAUDIT_INTENT_RECORDS=all`` (queued, not awaited);
* ``fail-closed tool``: the intent record is durably committed before the tool runs (one fsync'd
  write per call, on the app's thread: the price of fail-closed).

Also printed: how many records reached the sink in each case (all of them, or the run is invalid).

Usage: ``python bench/exporter.py [--calls N]``
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from opentelemetry_instrumentation_toolaudit import (
    AuditLogExporter,
    ToolAuditInstrumentor,
    audit_context,
    audited_tool,
)
from opentelemetry_instrumentation_toolaudit.ledger import AuditLog, NoteSigner, open_sink


class DiscardingExporter(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def update_order_status(order_id: str, status: str) -> dict[str, Any]:
    """Change an order's status."""
    return {"order_id": order_id, "status": status}


def timed(fn: Callable[[], Any], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls * 1e6


def run_case(
    name: str, calls: int, workdir: Path, signer: NoteSigner, *, sink: bool, **instrument: Any
) -> tuple[float, int | None]:
    url = f"sqlite:///{workdir / (name.replace(' ', '_') + '.db')}"
    exporter: SpanExporter = (
        AuditLogExporter(AuditLog(open_sink(url), signer=signer)) if sink else DiscardingExporter()
    )
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(exporter, max_queue_size=1 << 17))
    instrumentor = ToolAuditInstrumentor()
    instrumentor.instrument(tracer_provider=provider, **instrument)
    audited = audited_tool(update_order_status)
    try:
        with audit_context(user_id="usr_98765", user_role="support_agent", model="gpt-4.1"):
            for _ in range(min(calls, 200)):
                audited("ORD-123", "shipped")
            per_call = timed(lambda: audited("ORD-123", "shipped"), calls)
    finally:
        instrumentor.uninstrument()
        provider.shutdown()
    if not sink:
        return per_call, None
    with open_sink(url, create=False) as reopened:
        return per_call, reopened.size()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        signer = NoteSigner.from_file(workdir / "signing.key")
        provider = TracerProvider()
        provider.add_span_processor(BatchSpanProcessor(DiscardingExporter()))
        tracer = provider.get_tracer("bench")

        def bare_span() -> Any:
            with tracer.start_as_current_span("execute_tool update_order_status"):
                return update_order_status("ORD-123", "shipped")

        for _ in range(200):
            bare_span()
        baseline = timed(bare_span, args.calls)
        provider.shutdown()
        rows: list[tuple[str, float, int | None]] = [("bare SDK span", baseline, None)]
        for name, sink, env, kwargs in (
            ("audited, no audit sink", False, {}, {}),
            ("audited + audit exporter", True, {}, {}),
            ("+ intent records (all)", True, {"OTEL_PYTHON_TOOLAUDIT_INTENT_RECORDS": "all"}, {}),
            ("fail-closed tool", True, {}, {"fail_closed_tools": ["update_order_status"]}),
        ):
            os.environ.update(env)
            try:
                per_call, size = run_case(name, args.calls, workdir, signer, sink=sink, **kwargs)
            finally:
                for key in env:
                    os.environ.pop(key, None)
            rows.append((name, per_call, size))
    print(f"calls={args.calls}, BatchSpanProcessor, SQLite sink (synchronous=FULL)")
    for name, per_call, size in rows:
        records = "" if size is None else f"   {size} records in the sink"
        print(
            f"  {name:<26} {per_call:9.2f} µs/call  {per_call / baseline:6.2f}x bare span{records}"
        )


if __name__ == "__main__":
    main()
