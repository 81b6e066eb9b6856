# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""``toolaudit serve``'s own metrics, from the global MeterProvider (a no-op until one is set, e.g.
by running under ``opentelemetry-instrument`` with ``OTEL_METRICS_EXPORTER``).

Their attributes are the transport and a fixed reason; never a value from a span.
"""

from __future__ import annotations

from opentelemetry import metrics

from opentelemetry_instrumentation_toolaudit import attributes as attrs
from opentelemetry_instrumentation_toolaudit.version import __version__

METER_NAME = "opentelemetry_instrumentation_toolaudit.serve"
RECORDS = "toolaudit.serve.records"
SPANS = "toolaudit.serve.spans"
SPANS_REJECTED = "toolaudit.serve.spans.rejected"
REQUESTS_REFUSED = "toolaudit.serve.requests.refused"
INFLIGHT = "toolaudit.serve.inflight"
COMMIT_DURATION = "toolaudit.serve.commit.duration"


class ServeMetrics:
    """The instruments, created once per receiver."""

    def __init__(self, meter_provider: metrics.MeterProvider | None = None) -> None:
        self.meter_provider = meter_provider
        """The MeterProvider given (None: the global one), which the alert counter uses too."""
        meter = metrics.get_meter(METER_NAME, __version__, meter_provider)
        self._records = meter.create_counter(
            RECORDS, unit="{record}", description="Audit records committed to the sink."
        )
        self._spans = meter.create_counter(
            SPANS, unit="{span}", description="Spans received (audited or not)."
        )
        self._rejected = meter.create_counter(
            SPANS_REJECTED,
            unit="{span}",
            description="Malformed spans refused with an OTLP partial success.",
        )
        self._refused = meter.create_counter(
            REQUESTS_REFUSED,
            unit="{request}",
            description="Requests refused whole: overload, too large, unauthenticated, undecodable, sink unavailable.",
        )
        self._inflight = meter.create_up_down_counter(
            INFLIGHT, unit="{request}", description="Requests being decoded or committed now."
        )
        self._commit = meter.create_histogram(
            COMMIT_DURATION,
            unit="s",
            description="Time to durably commit one group of records.",
        )

    def received(self, transport: str, spans: int, rejected: int) -> None:
        labels = {attrs.TOOLAUDIT_SERVE_TRANSPORT: transport}
        self._spans.add(spans, labels)
        if rejected:
            self._rejected.add(rejected, labels)

    def refused(self, transport: str, reason: str) -> None:
        self._refused.add(1, {attrs.TOOLAUDIT_SERVE_TRANSPORT: transport, attrs.ERROR_TYPE: reason})

    def inflight(self, delta: int) -> None:
        self._inflight.add(delta)

    def committed(self, records: int, seconds: float) -> None:
        self._records.add(records)
        self._commit.record(seconds)
