# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Audit exporter throughput: finished spans in, records made durable, beside the seeds' chain.

Spans are made by the instrumented package (``@audited_tool`` tools under ``audit_context``: 1,000
users, 500 conversations, 10% of calls failing) and collected finished, then handed to
``AuditLogExporter.export()`` in batches of 512, followed by ``force_flush()`` and ``shutdown()``,
with default settings, as a ``BatchSpanProcessor`` would. Printed, from one run:

* the seeds' in-memory chain (``bench/seed_chain.py``) appending as many entries (the baseline);
* records/s made durable by the exporter on SQLite, JSONL and PostgreSQL, end to end, and as a
  multiple of the seed;
* the per-stage breakdown of a second, instrumented pass on each sink (build, guard, canonicalize,
  seal, insert, commit, checkpoint), in µs per record and as a share of the pass. ``insert`` is
  the sink's own row writing where it has one (SQLite); elsewhere it is counted with ``commit``.

Usage: ``python bench/exporter_throughput.py [--spans N] [--sinks sqlite jsonl postgres]``
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import functools
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from seed_chain import ImmutableAuditLog
from sink import PG_URL, drop_pg, pg_available, seed_entry

from opentelemetry_instrumentation_toolaudit import (
    AuditLogExporter,
    CallTrigger,
    ToolAuditInstrumentor,
    audit_context,
    audited_tool,
)
from opentelemetry_instrumentation_toolaudit.export import _exporter, _guard
from opentelemetry_instrumentation_toolaudit.ledger import _append, _chain, open_sink
from opentelemetry_instrumentation_toolaudit.ledger import _auditlog as _log
from opentelemetry_instrumentation_toolaudit.ledger.stores import sqlite

BATCH = 512
USERS = 1_000
CONVERSATIONS = 500
STAGES = ("build", "guard", "canonicalize", "seal", "insert", "commit", "checkpoint")


class RefusedError(Exception):
    """A tool's failure (10% of the calls)."""


@audited_tool
def lookup_order(order_id: str) -> dict[str, Any]:
    """Look an order up."""
    return {"order_id": order_id, "status": "shipped", "count": 1}


@audited_tool
def update_order_status(order_id: str, status: str, note: str) -> dict[str, Any]:
    """Change an order's status."""
    return {"order_id": order_id, "status": status}


@audited_tool
def issue_refund(order_id: str, amount: float, fail: bool) -> dict[str, Any]:
    """Refund an order; refused when ``fail``."""
    if fail:
        raise RefusedError("refund limit reached")
    return {"order_id": order_id, "status": "refunded", "refund_id": f"RF-{order_id}"}


def make_spans(n: int) -> list[ReadableSpan]:
    """``n`` finished execute_tool spans, as the instrumented package makes them."""
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    instrumentor = ToolAuditInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        for i in range(n):
            with audit_context(
                user_id=f"usr_{i % USERS:05d}",
                user_role="support_agent" if i % 7 else "supervisor",
                conversation_id=f"conv_{i % CONVERSATIONS:04d}",
                turn_number=i % 20,
                model="gpt-4.1",
                trigger=CallTrigger.USER_REQUEST,
            ):
                order = f"ORD-{i:07d}"
                kind = i % 3
                try:
                    if i % 10 == 9:
                        issue_refund(order, 12.5, True)
                    elif kind == 0:
                        lookup_order(order)
                    elif kind == 1:
                        update_order_status(order, "shipped", f"left the depot at {i % 24}h")
                    else:
                        issue_refund(order, 12.5, False)
                except RefusedError:
                    pass
    finally:
        instrumentor.uninstrument()
    spans = list(memory.get_finished_spans())
    assert len(spans) == n, len(spans)
    return spans


def seed_rate(n: int) -> float:
    entries = [seed_entry(i) for i in range(n)]
    log = ImmutableAuditLog()
    start = time.perf_counter()
    for entry in entries:
        log.append(entry)
    return n / (time.perf_counter() - start)


def run_exporter(url: str, spans: list[ReadableSpan]) -> float:
    """Records/s made durable: export in batches, then force_flush and shutdown."""
    exporter = AuditLogExporter(url)
    start = time.perf_counter()
    for i in range(0, len(spans), BATCH):
        exporter.export(spans[i : i + BATCH])
    exporter.force_flush()
    exporter.shutdown()
    seconds = time.perf_counter() - start
    with open_sink(url, create=False) as sink:
        # The alert rules (on by default) may add alert records of their own.
        stored = sum(1 for r in sink.read() if r.record["event_type"] != "alert")
    assert stored == len(spans), (stored, len(spans))
    assert "dropped" not in exporter.stats(), exporter.stats()
    return len(spans) / seconds


class Timers:
    """Cumulative seconds per stage, from wrapped functions (nested stages are subtracted)."""

    def __init__(self) -> None:
        self.total: collections.Counter[str] = collections.Counter()

    def wrap(self, owner: Any, name: str, stage: str) -> Callable[[], None]:
        original = getattr(owner, name)
        total = self.total

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                total[stage] += time.perf_counter() - start

        setattr(owner, name, timed)
        return lambda: setattr(owner, name, original)


@contextlib.contextmanager
def stage_timers() -> Iterator[Timers]:
    timers = Timers()
    undo = [
        timers.wrap(_exporter, "build_record", "build"),
        timers.wrap(_guard.ContentGuard, "check", "guard"),
        timers.wrap(_chain, "canonicalize", "canonicalize"),
        timers.wrap(_chain, "seal_records", "seal+"),
        timers.wrap(_append, "seal_records", "seal+"),
        timers.wrap(sqlite.SQLiteSink, "_insert", "insert"),
        timers.wrap(_log.AuditLog, "checkpoint", "checkpoint"),
        timers.wrap(_log.AuditLog, "append", "append+"),
    ]
    try:
        yield timers
    finally:
        for each in reversed(undo):
            each()


def breakdown(url: str, spans: list[ReadableSpan]) -> tuple[float, dict[str, float]]:
    """A second pass with every stage timed: (seconds, µs per record per stage)."""
    with stage_timers() as timers:
        start = time.perf_counter()
        run_exporter(url, spans)
        seconds = time.perf_counter() - start
    t = timers.total
    seal = t["seal+"] - t["canonicalize"]
    # append+ covers the sink's whole transaction and the checkpoints it triggers.
    commit = t["append+"] - t["seal+"] - t["insert"] - t["checkpoint"]
    per = {
        "build": t["build"],
        "guard": t["guard"],
        "canonicalize": t["canonicalize"],
        "seal": seal,
        "insert": t["insert"],
        "commit": max(0.0, commit),
        "checkpoint": t["checkpoint"],
    }
    return seconds, {k: v / len(spans) * 1e6 for k, v in per.items()}


def on_fresh_sink(kind: str, directory: str, run: str, fn: Callable[[str], Any]) -> Any:
    """``fn(url)`` on a new, empty sink of ``kind`` (a PostgreSQL schema is dropped after)."""
    if kind != "postgres":
        return fn(f"{kind}:///{directory}/{run}.{kind}")
    url = pg_available()
    assert url is not None
    try:
        return fn(url)
    finally:
        drop_pg(url)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spans", type=int, default=50_000)
    parser.add_argument("--sinks", nargs="*", default=["sqlite", "jsonl", "postgres"])
    args = parser.parse_args(argv)
    n = args.spans
    with tempfile.TemporaryDirectory() as directory:
        os.environ["OTEL_PYTHON_TOOLAUDIT_SIGNING_KEY_FILE"] = str(Path(directory) / "signing.key")
        os.environ.setdefault(
            "OTEL_PYTHON_TOOLAUDIT_HASH_KEY", "bench-only-hash-key-0123456789abcdef"
        )
        spans = make_spans(n)
        seed = seed_rate(n)
        print(
            f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {n:,} spans "
            f"({USERS:,} users, {CONVERSATIONS} conversations, 10% failing), batches of {BATCH}"
        )
        print(f"{'naive chain (in memory, lost on exit)':37} append {seed:>10,.0f} rec/s")
        rows = []
        for kind in args.sinks:
            if kind == "postgres" and pg_available() is None:
                print(f"{'postgresql':34} skipped: not reachable at {PG_URL}")
                continue
            rate = on_fresh_sink(kind, directory, "end", lambda url: run_exporter(url, spans))
            stages = on_fresh_sink(kind, directory, "stages", lambda url: breakdown(url, spans)[1])
            label = {
                "sqlite": "sqlite (synchronous=FULL)",
                "jsonl": "jsonl (fsync)",
                "postgres": "postgresql (commit)",
            }[kind]
            print(f"{label:37} export {rate:>10,.0f} rec/s ({rate / seed:.2f}x naive chain)")
            rows.append((label, stages))
        print("per-stage breakdown (instrumented pass, µs/record; share of the stages' sum):")
        print(f"  {'':32}" + "".join(f"{s:>14}" for s in STAGES))
        for label, stages in rows:
            whole = sum(stages.values()) or 1.0
            print(
                f"  {label:32}"
                + "".join(f"{stages[s]:>8.2f} {stages[s] / whole:>4.0%}" for s in STAGES)
            )


if __name__ == "__main__":
    main()
