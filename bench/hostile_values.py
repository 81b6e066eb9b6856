# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""What a huge exception message, huge arguments or a huge result cost the app's thread.

For each size, one audited tool call is timed end to end on the calling thread (the span ends in a
``SimpleSpanProcessor`` with an in-memory exporter), beside a same-run baseline that redacts the
whole value and only then cuts it to its bound (as recording did before values were cut first):

* ``exception``: a tool raising ``ValueError`` whose message is PII-dense text of the given size;
  baseline: the whole message and the whole formatted traceback redacted, then cut;
* ``arguments``: a tool called with a list of rows (dicts of 20 strings of 1,000 characters)
  adding up to the given size; baseline: the JSON-safe copy of the whole list redacted, then bounded;
* ``result``: the same rows returned; baseline: the whole result copied and encoded to measure it.

Each figure is the median of ``--rounds`` rounds (baselines of 10 MB run once: they take seconds).

Usage: ``python bench/hostile_values.py [--rounds N]``.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import statistics
import time
import traceback
from collections.abc import Callable
from typing import Any

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from opentelemetry_instrumentation_toolaudit import ToolAuditInstrumentor, audited_tool
from opentelemetry_instrumentation_toolaudit._jsonable import bounded_dumps, dumps, to_jsonable
from opentelemetry_instrumentation_toolaudit._state import STATE

SIZES = (10_000, 1_000_000, 10_000_000)
WORDS = (
    "user alice@example.com paid with 4111 1111 1111 1111, call +1 555 123 4567, "
    "token sk-abc123def456ghi789jkl0, order ORD-12345 shipped to 203.0.113.7. "
)


def text_of(size: int) -> str:
    return (WORDS * (size // len(WORDS) + 1))[:size]


def rows_of(size: int) -> list[dict[str, str]]:
    row = {f"k{j}": "v" * 1000 for j in range(20)}
    return [dict(row) for _ in range(max(1, size // 20_000))]


def timed(fn: Callable[[], Any], rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


@audited_tool
def failing(message: str) -> None:
    raise ValueError(message)


@audited_tool
def takes(rows: Any) -> str:
    return "ok"


@audited_tool
def returns(rows: Any) -> Any:
    return rows


def call_failing(message: str) -> None:
    with contextlib.suppress(ValueError):
        failing(message)


def baseline_exception(message: str) -> None:
    """The whole message and traceback redacted, then cut."""
    try:
        raise ValueError(message)
    except ValueError as exc:
        found: collections.Counter[str] = collections.Counter()
        STATE.policy.redact_collect(str(exc), found)[:512]
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        STATE.policy.redact_collect(text, found)[-8192:]


def baseline_arguments(rows: Any) -> None:
    """The JSON-safe copy of all the rows redacted, then bounded."""
    safe = STATE.policy.redact_collect(to_jsonable({"rows": rows}), collections.Counter())
    bounded_dumps(safe, STATE.max_argument_bytes)


def baseline_result(rows: Any) -> None:
    """The whole result copied and encoded to measure it."""
    dumps(to_jsonable(rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    ToolAuditInstrumentor().instrument(tracer_provider=provider)
    call_failing(text_of(1000))  # warm up: policy, hash key, caches
    print(f"{'case':<10} {'size':>10} {'recorded (ms)':>14} {'redact-then-cut (ms)':>21}")
    for size in SIZES:
        base_rounds = 1 if size >= 10_000_000 else args.rounds
        message, rows = text_of(size), rows_of(size)
        cases: list[tuple[str, Callable[[], Any], Callable[[], Any]]] = [
            (
                "exception",
                lambda m=message: call_failing(m),
                lambda m=message: baseline_exception(m),
            ),
            ("arguments", lambda r=rows: takes(r), lambda r=rows: baseline_arguments(r)),
            ("result", lambda r=rows: returns(r), lambda r=rows: baseline_result(r)),
        ]
        for name, recorded, baseline in cases:
            ours = timed(recorded, args.rounds)
            theirs = timed(baseline, base_rounds)
            exporter.clear()
            print(f"{name:<10} {size:>10,} {ours:>14.2f} {theirs:>21.2f}")


if __name__ == "__main__":
    main()
