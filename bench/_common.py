# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""What the benchmark scripts share: a discarding exporter, and timing rounds that alternate
between the uninstrumented and the instrumented state."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from opentelemetry_instrumentation_toolaudit import ToolAuditInstrumentor, audit_context


class DiscardingExporter(SpanExporter):
    """Accepts spans and drops them, so the figures measure the SDK and us, not I/O."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def timed(run: Callable[[int], Any], calls: int) -> float:
    """Mean microseconds per call of ``run(calls)``, which makes ``calls`` calls."""
    start = time.perf_counter()
    run(calls)
    return (time.perf_counter() - start) / calls * 1e6


def repeated(fn: Callable[[], Any]) -> Callable[[int], Any]:
    """``run(calls)``: calls ``fn`` that many times."""

    def run(calls: int) -> None:
        for _ in range(calls):
            fn()

    return run


def alternating_rounds(
    untraced: Mapping[str, Callable[[int], Any]],
    audited: Mapping[str, Callable[[int], Any]],
    provider: TracerProvider,
    attribution: Mapping[str, Any],
    repeat: int,
    calls: Callable[[str], int],
) -> dict[str, list[float]]:
    """Each case's mean microseconds per call in each of ``repeat`` rounds, inside one
    ``audit_context``: every round times the ``untraced`` cases uninstrumented, then the ``audited``
    ones instrumented on ``provider``. ``calls(name)`` is how many calls a case makes a round."""
    instrumentor = ToolAuditInstrumentor()
    runs: dict[str, list[float]] = {name: [] for name in (*untraced, *audited)}
    with audit_context(**attribution):
        for round_ in range(repeat + 1):  # the first round warms up and is not kept
            for name, fn in untraced.items():
                figure = timed(fn, calls(name))
                if round_:
                    runs[name].append(figure)
            instrumentor.instrument(tracer_provider=provider)
            for name, fn in audited.items():
                figure = timed(fn, calls(name))
                if round_:
                    runs[name].append(figure)
            instrumentor.uninstrument()
    return runs
