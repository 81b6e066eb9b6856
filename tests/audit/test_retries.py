# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""A retried batch is stored once: event_id is unique, and a retry skips what was committed."""

from __future__ import annotations

import contextlib

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.trace import SpanContext, TraceFlags

from opentelemetry_instrumentation_toolaudit import AuditLogExporter
from opentelemetry_instrumentation_toolaudit._exceptions import SinkError
from opentelemetry_instrumentation_toolaudit.ledger import AuditLog, open_sink, verify

from .conftest import body

N = 10


def test_a_retry_with_skip_existing_stores_each_event_once(sink_url, signer):
    """A batch appended again with skip_existing (its first append did commit) adds nothing; a
    retry holding new records too adds only those. verify shows N, not 2N."""
    with AuditLog(open_sink(sink_url), signer=signer, checkpoint_interval=3600) as log:
        assert len(log.append([body(i) for i in range(N)])) == N
        assert log.append([body(i) for i in range(N)], skip_existing=True) == []
        again = log.append([body(i) for i in range(N + 5)], skip_existing=True)
        assert [r.record["event_id"] for r in again] == [
            body(i)["event_id"] for i in range(N, N + 5)
        ]
    with open_sink(sink_url, create=False) as sink:
        result = verify(sink, public_key=signer.verifier)
    assert (result.ok, result.size) == (True, N + 5)


def test_a_duplicate_event_id_is_refused_without_skip_existing(sink_url, signer):
    """Without skip_existing a body whose event_id is stored fails the batch (nothing of it is
    stored), also a repeat within one batch."""
    with AuditLog(open_sink(sink_url), signer=signer, checkpoint_interval=3600) as log:
        log.append([body(i) for i in range(N)])
        with pytest.raises(SinkError, match=r"event_id|unique"):
            log.append([body(N), body(3)])
        with pytest.raises(SinkError, match=r"event_id|unique"):
            log.append([body(N + 1), body(N + 1)])
    with open_sink(sink_url, create=False) as sink:
        assert sink.size() == N


def _flaky(sink):  # type: ignore[no-untyped-def]
    """``sink`` whose next append commits and then raises, as a timeout after the commit does."""
    original = sink.append_transaction
    state = {"failed": False}

    @contextlib.contextmanager
    def append_transaction():  # type: ignore[no-untyped-def]
        with original() as tx:
            yield tx
        if not state["failed"]:
            state["failed"] = True
            raise SinkError("timed out waiting for the commit's acknowledgement")

    sink.append_transaction = append_transaction
    return sink


def _tool_span(i: int) -> ReadableSpan:
    context = SpanContext(trace_id=i + 1, span_id=i + 1, is_remote=False, trace_flags=TraceFlags(1))
    return ReadableSpan(
        name="execute_tool lookup_order",
        context=context,
        attributes={"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "lookup_order"},
        start_time=1_000_000_000 * (i + 1),
        end_time=1_000_000_000 * (i + 1) + 5_000,
    )


def test_exporter_retry_after_a_commit_that_seemed_to_fail(sink_url, signer):
    """The exporter's retry of a batch whose commit did happen stores each event once."""
    log = AuditLog(_flaky(open_sink(sink_url)), signer=signer, checkpoint_interval=3600)
    exporter = AuditLogExporter(log, retry_interval=3600)
    try:
        assert exporter.export([_tool_span(i) for i in range(N)]) == SpanExportResult.FAILURE
        assert exporter.stats()["buffered"] == N
        assert exporter.force_flush() is True
    finally:
        exporter.shutdown()
    with open_sink(sink_url, create=False) as sink:
        result = verify(sink, public_key=signer.verifier)
        events = [r.record["event_id"] for r in sink.read()]
    assert (result.ok, result.size, len(set(events))) == (True, N, N)
