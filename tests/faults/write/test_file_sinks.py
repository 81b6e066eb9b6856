# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""File sinks (SQLite, JSONL): a file that cannot be written, a full disk, a held SQLite lock."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading

import pytest

from opentelemetry_instrumentation_toolaudit import AuditLogExporter
from opentelemetry_instrumentation_toolaudit.ledger import AuditLog, open_sink

from .conftest import (
    REFUNDS,
    make_exporter,
    order_ids,
    promptly,
    tool_span,
    unwritable,
    verified_size,
)

FILE_SINKS = ("sqlite:///{}/audit.db", "jsonl:///{}/audit.jsonl")


def assert_every_call_stored(url, exporter, signer) -> None:
    """The 30 calls, the refused call's record, and the intent and outcome of the call that ran
    after the outage are all stored, none dropped, and the trail verifies."""
    calls = order_ids(url)
    assert sorted(calls) == sorted([*(f"ORD-{i}" for i in range(30)), "ORD-refused", "ORD-after"])
    stats = exporter.stats()
    assert (stats["records"], stats.get("dropped", 0)) == (33, 0)
    assert verified_size(url, signer) == 33


@pytest.mark.parametrize("template", FILE_SINKS, ids=("sqlite", "jsonl"))
def test_an_unwritable_file_for_a_while_loses_nothing(template, tmp_path, signer, fail_closed):
    """With the writer's open files made read-only for a while, appends fail at once, the records
    wait and are all written once the files are writable again; stats() matches the file, and
    fail-closed tools are refused meanwhile only."""
    url = template.format(tmp_path)
    exporter = make_exporter(url, signer)
    tools = fail_closed(exporter)

    def outage() -> tuple[bool, dict[str, int], bool]:
        for i in range(10, 30):
            exporter.export([tool_span(i)])
        return tools.runs("ORD-refused"), exporter.stats(), exporter.force_flush()

    try:
        for i in range(10):
            exporter.export([tool_span(i)])
        with unwritable(tmp_path / "audit."):
            refused, during, flushed = promptly(outage)
        assert flushed is False
        assert exporter.force_flush() is True
        again = tools.runs("ORD-after")
    finally:
        exporter.shutdown()
    assert (during["buffered"], during["refused_intents"]) == (21, 1)
    assert (refused, again, REFUNDS) == (False, True, ["ORD-after"])
    assert_every_call_stored(url, exporter, signer)


@pytest.mark.parametrize("template", FILE_SINKS, ids=("sqlite", "jsonl"))
def test_an_unwritable_file_longer_than_the_buffer_loses_exactly_what_is_counted(
    template, tmp_path, signer
):
    """With the file unwritable for longer than the buffer holds, appends fail at once and the
    records stored are exactly those exported less those stats() counts as dropped."""
    url = template.format(tmp_path)
    exporter = make_exporter(url, signer, max_buffer=5)

    def outage() -> None:
        for i in range(1, 13):
            exporter.export([tool_span(i)])

    try:
        exporter.export([tool_span(0)])
        with unwritable(tmp_path / "audit."):
            promptly(outage)
    finally:
        exporter.shutdown()
    stored = order_ids(url)
    stats = exporter.stats()
    assert stored == [f"ORD-{i}" for i in range(6)]
    assert (stats["dropped"], stats["records"]) == (13 - len(stored), len(stored))
    assert verified_size(url, signer) == 6


@pytest.mark.parametrize("template", FILE_SINKS, ids=("sqlite", "jsonl"))
def test_a_full_disk_for_a_while_loses_nothing(template, tiny_fs, signer, fail_closed):
    """With the disk full for a while the records wait and all arrive once space is freed;
    fail-closed tools are refused while it is full and run again after."""
    url = template.format(tiny_fs.path)
    exporter = make_exporter(url, signer)
    tools = fail_closed(exporter)
    try:
        for i in range(10):
            exporter.export([tool_span(i)])
        tiny_fs.fill()
        for i in range(10, 30):
            exporter.export([tool_span(i)])
        refused = tools.runs("ORD-refused")
        during = exporter.stats()
        tiny_fs.free()
        assert exporter.force_flush() is True
        again = tools.runs("ORD-after")
    finally:
        exporter.shutdown()
    # A few records may still fit in the log's last, partly used block before the writes fail.
    assert (during["buffered"] > 0, during["refused_intents"]) == (True, 1)
    assert (refused, again, REFUNDS) == (False, True, ["ORD-after"])
    assert_every_call_stored(url, exporter, signer)


@pytest.mark.parametrize("template", FILE_SINKS, ids=("sqlite", "jsonl"))
def test_a_full_disk_longer_than_the_buffer_loses_exactly_what_is_counted(
    template, tiny_fs, signer
):
    """With the disk full for longer than the buffer holds, the records stored are exactly those
    exported less those stats() counts as dropped."""
    url = template.format(tiny_fs.path)
    exporter = make_exporter(url, signer, max_buffer=5)
    try:
        exporter.export([tool_span(0)])
        tiny_fs.fill()
        for i in range(1, 13):
            exporter.export([tool_span(i)])
        tiny_fs.free()
    finally:
        exporter.shutdown()
    stored = order_ids(url)
    dropped = exporter.stats()["dropped"]
    # The newest records are the ones dropped; a few may fit in the log's last block first.
    assert (dropped > 0, stored) == (True, [f"ORD-{i}" for i in range(13 - dropped)])
    assert verified_size(url, signer) == len(stored)


def test_a_sqlite_lock_held_for_a_while_loses_nothing(tmp_path, signer):
    """While another connection holds the database's write lock, appends wait for it (SQLite's
    busy timeout) and every record is written once it is released."""
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    exporter = make_exporter(url, signer)
    holder = sqlite3.connect(tmp_path / "audit.db", isolation_level=None, check_same_thread=False)
    try:
        exporter.export([tool_span(0)])
        holder.execute("BEGIN EXCLUSIVE")
        release = threading.Timer(0.5, holder.execute, ("ROLLBACK",))
        release.start()
        for i in range(1, 20):
            exporter.export([tool_span(i)])
        release.join()
    finally:
        holder.close()
        exporter.shutdown()
    assert order_ids(url) == [f"ORD-{i}" for i in range(20)]
    stats = exporter.stats()
    assert (stats["records"], stats.get("dropped", 0), stats.get("write_failures", 0)) == (20, 0, 0)
    assert verified_size(url, signer) == 20


def test_a_sqlite_lock_held_by_another_process_is_waited_for(tmp_path, signer):
    """While another process holds the database's write lock, appends wait for it rather than
    fail, and every record is written once it is released."""
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    exporter = make_exporter(url, signer)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys, time\n"
            "db = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
            "db.execute('BEGIN IMMEDIATE')\n"
            "print('held', flush=True)\n"
            "time.sleep(1)\n"
            "db.execute('ROLLBACK')\n",
            str(tmp_path / "audit.db"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        exporter.export([tool_span(0)])
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        for i in range(1, 20):
            exporter.export([tool_span(i)])
    finally:
        holder.wait()
        exporter.shutdown()
    assert order_ids(url) == [f"ORD-{i}" for i in range(20)]
    stats = exporter.stats()
    assert (stats["records"], stats.get("dropped", 0), stats.get("write_failures", 0)) == (20, 0, 0)
    assert verified_size(url, signer) == 20


@pytest.mark.parametrize("template", FILE_SINKS, ids=("sqlite", "jsonl"))
def test_a_filesystem_the_kernel_makes_read_only_loses_exactly_what_is_counted(
    template, errors_ro_fs, signer, fail_closed
):
    """When the kernel makes the filesystem read-only under the writer (ext4 after an error),
    appends fail at once, fail-closed tools are refused, and the records not written are exactly
    those stats() counts as dropped at shutdown; the trail written before verifies."""
    url = template.format(errors_ro_fs.path)
    log = AuditLog(open_sink(url), signer=signer, checkpoint_interval=3600)
    exporter = AuditLogExporter(log, retry_interval=3600)
    tools = fail_closed(exporter)

    def outage() -> bool:
        for i in range(5, 15):
            exporter.export([tool_span(i)])
        return tools.runs("ORD-refused")

    try:
        for i in range(5):
            exporter.export([tool_span(i)])
        log.checkpoint()
        errors_ro_fs.fail()
        refused = promptly(outage)
        during = exporter.stats()
    finally:
        exporter.shutdown()
    errors_ro_fs.remount()
    stats = exporter.stats()
    assert (refused, REFUNDS, during["refused_intents"]) == (False, [], 1)
    assert order_ids(url) == [f"ORD-{i}" for i in range(5)]
    # The ten calls made while it was read-only, and the refused call's own record.
    assert (stats["records"], stats["dropped"]) == (5, 11)
    assert verified_size(url, signer) == 5
