"""JSONL outages: a log that cannot be written for a while, a full disk."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import pytest

from opentelemetry_instrumentation_toolaudit._exceptions import SinkError
from opentelemetry_instrumentation_toolaudit.audit import AuditLog, open_sink
from opentelemetry_instrumentation_toolaudit.audit.sinks.jsonl import JSONLSink
from tests.audit.conftest import body

from .conftest import REFUNDS, make_exporter, order_ids, tool_span, verified_size


@contextlib.contextmanager
def unwritable(sink: JSONLSink) -> Iterator[None]:
    """The sink's open log becomes read-only under it (as after a read-only remount): writes and
    truncation both fail until the block ends. Its descriptor is swapped for a read-only one of the
    same file, then restored."""
    saved = os.dup(sink._fd)
    readonly = os.open(sink.path, os.O_RDONLY)
    os.dup2(readonly, sink._fd)
    os.close(readonly)
    try:
        yield
    finally:
        os.dup2(saved, sink._fd)
        os.close(saved)


def test_a_batch_that_failed_to_write_is_written_by_the_retry(tmp_path, signer):
    """When both the write and the cut back fail, the batch is not taken as stored: the retry
    writes it, and each record is in the log exactly once."""
    url = f"jsonl:///{tmp_path / 'audit.jsonl'}"
    sink = open_sink(url)
    log = AuditLog(sink, signer=signer, checkpoint_interval=3600)
    log.append([body(0)])
    with unwritable(sink), pytest.raises(SinkError, match="append failed"):  # type: ignore[arg-type]
        log.append([body(1), body(2)])
    stored = log.append([body(1), body(2), body(3)], skip_existing=True)
    log.close()
    assert [r.seq for r in stored] == [1, 2, 3]
    assert verified_size(url, signer) == 4


def test_an_unwritable_log_for_a_while_loses_nothing(tmp_path, signer, fail_closed):
    """With the log unwritable for a while, the records wait and are all written once it is
    writable again; stats() matches the file, and fail-closed tools are refused meanwhile only."""
    url = f"jsonl:///{tmp_path / 'audit.jsonl'}"
    exporter = make_exporter(url, signer)
    tools = fail_closed(exporter)
    sink = exporter._log.sink  # type: ignore[union-attr]
    try:
        for i in range(10):
            exporter.export([tool_span(i)])
        with unwritable(sink):  # type: ignore[arg-type]
            for i in range(10, 30):
                exporter.export([tool_span(i)])
            refused = tools.runs("ORD-refused")
            assert exporter.force_flush() is False
        assert exporter.force_flush() is True
        again = tools.runs("ORD-after")
    finally:
        exporter.shutdown()
    assert (refused, again, REFUNDS) == (False, True, ["ORD-after"])
    calls = order_ids(url)
    assert sorted(calls) == sorted([*(f"ORD-{i}" for i in range(30)), "ORD-refused", "ORD-after"])
    stats = exporter.stats()
    # 30 calls, the refused call's record, and the intent and outcome of the call that ran.
    assert (stats["records"], stats.get("dropped", 0)) == (33, 0)
    assert verified_size(url, signer) == 33


def test_an_unwritable_log_longer_than_the_buffer_loses_exactly_what_is_counted(tmp_path, signer):
    """With the log unwritable for longer than the buffer holds, the records stored are exactly
    those exported less those stats() counts as dropped, and the file agrees with stats()."""
    url = f"jsonl:///{tmp_path / 'audit.jsonl'}"
    exporter = make_exporter(url, signer, max_buffer=5)
    sink = exporter._log.sink  # type: ignore[union-attr]
    try:
        exporter.export([tool_span(0)])
        with unwritable(sink):  # type: ignore[arg-type]
            for i in range(1, 13):
                exporter.export([tool_span(i)])
    finally:
        exporter.shutdown()
    stored = order_ids(url)
    stats = exporter.stats()
    assert stored == [f"ORD-{i}" for i in range(6)]
    assert (stats["dropped"], stats["records"]) == (13 - len(stored), len(stored))
    assert verified_size(url, signer) == 6
