# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Durability and concurrency: kill -9 under load loses nothing acknowledged; writers share one chain."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from opentelemetry_instrumentation_toolaudit.ledger import AuditLog, NoteSigner, open_sink, verify

from .conftest import body

ROOT = Path(__file__).resolve().parents[2]
KILL_TRIALS = int(os.environ.get("TOOLAUDIT_KILL_TRIALS", "3"))


def _start_writer(
    url: str, key_file: Path, name: str, count: int
) -> tuple[subprocess.Popen[str], list[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.audit._writer", url, str(key_file), name, str(count)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.endswith("\n"):
                lines.append(line)

    threading.Thread(target=pump, daemon=True).start()
    return proc, lines


def _acked(lines: list[str]) -> dict[int, str]:
    return {int(seq): digest for seq, digest in (line.split() for line in lines)}


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "signing.key"
    NoteSigner.from_file(path)
    return path


@pytest.mark.parametrize("trial", range(KILL_TRIALS))
def test_kill_9_under_load_loses_nothing_acknowledged(sink_url, key_file, trial):
    """A writer killed with SIGKILL at a random moment: every acknowledged record survives, the torn
    tail (if any) is repaired and reported on reopen, and the chain verifies."""
    proc, lines = _start_writer(sink_url, key_file, f"killed-{trial}", -1)
    deadline = time.monotonic() + 60
    while len(lines) < 20 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
    time.sleep(random.Random(trial).uniform(0.05, 0.5))
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    time.sleep(0.2)  # let the reader thread drain what the writer printed before it died
    acked = _acked(list(lines))
    with open_sink(sink_url) as sink:  # a writer's open repairs a torn tail
        stored = {r.seq: r.entry_hash for r in sink.read()}
        result = verify(sink, public_key=NoteSigner.from_file(key_file).verifier)
    assert acked, "the writer acknowledged nothing before it was killed"
    assert {seq: stored.get(seq) for seq in acked} == acked
    assert result.ok, result.summary()
    assert result.size >= max(acked) + 1


def test_torn_jsonl_tail_is_repaired_and_reported(tmp_path, key_file):
    """A JSONL log ending in half a line (a write cut short) is repaired on open, the bytes kept aside
    and reported by verify and the sink; no whole record is touched."""
    url = f"jsonl:///{tmp_path}/audit.jsonl"
    proc, _lines = _start_writer(url, key_file, "torn", 30)
    assert proc.wait(timeout=120) == 0
    path = tmp_path / "audit.jsonl"
    with open(path, "ab") as f:
        f.write(b'{"entry_hash":"00ff')
    signer = NoteSigner.from_file(key_file)
    with open_sink(url, create=False) as reader:
        before = verify(reader, public_key=signer.verifier)
    assert (before.ok, before.size) == (True, 30)
    assert before.repairs == [
        "a torn final write is present and not yet repaired (the next writer repairs it)"
    ]
    with open_sink(url) as sink:
        after = verify(sink, public_key=signer.verifier)
        assert sink.size() == 30
    assert (after.ok, len(after.repairs)) == (True, 1)
    assert after.repairs[0].startswith("torn final write of 19 bytes at offset")
    assert (tmp_path / "audit.jsonl.torn").read_text().count("\n") == 1
    assert path.read_bytes().endswith(b"}\n")


def test_several_processes_keep_one_linear_chain(sink_url, key_file):
    """Three writer processes appending to one sink at once build one gap-free chain that verifies."""
    writers = [_start_writer(sink_url, key_file, f"w{i}", 60) for i in range(3)]
    for proc, _ in writers:
        assert proc.wait(timeout=180) == 0, proc.stderr.read() if proc.stderr else ""
    time.sleep(0.2)
    acked = [_acked(lines) for _, lines in writers]
    with open_sink(sink_url, create=False) as sink:
        result = verify(sink, public_key=NoteSigner.from_file(key_file).verifier)
        records = list(sink.read())
    assert (result.ok, result.size) == (True, 180), result.summary()
    assert list(range(180)) == [r.seq for r in records]
    assert sorted(s for a in acked for s in a) == list(range(180))
    stored = {r.seq: r.entry_hash for r in records}
    for a in acked:
        assert {s: stored[s] for s in a} == a
    writers_seen = {r.record["writer"] for r in records}
    assert {"w0", "w1", "w2"} == writers_seen


def test_writer_repairs_a_tail_torn_by_another_process(tmp_path, key_file):
    """A writer that was already open when another process died mid-write repairs the torn tail
    before appending, so its own records stay whole and the chain verifies."""
    url = f"jsonl:///{tmp_path}/audit.jsonl"
    signer = NoteSigner.from_file(key_file)
    from opentelemetry_instrumentation_toolaudit.ledger import AuditLog

    from .conftest import body

    log = AuditLog(open_sink(url), signer=signer)
    log.append([body(0), body(1)])
    with open(tmp_path / "audit.jsonl", "ab") as f:
        f.write(b'{"entry_hash":"abcd')  # what a writer killed mid-write leaves behind
    log.append([body(2)])
    log.close()
    with open_sink(url, create=False) as sink:
        result = verify(sink, public_key=signer.verifier)
    assert (result.ok, result.size, len(result.repairs)) == (True, 3, 1)


def test_log_opened_before_fork_keeps_one_chain(sink_url, signer):
    """An AuditLog opened before fork (gunicorn --preload) appends from parent and children into one
    chain: each child gets its own connection, file description and locks."""
    from opentelemetry_instrumentation_toolaudit.ledger import AuditLog

    from .conftest import body

    log = AuditLog(
        open_sink(sink_url), signer=signer, checkpoint_every=10, checkpoint_interval=3600
    )
    log.append([body(0)])
    children = []
    for k in range(2):
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            code = 0
            try:
                for i in range(20):
                    log.append([body(100 * (k + 1) + i)])
                log.close()
            except BaseException:  # noqa: BLE001 - the child reports any failure by its exit code
                code = 1
            os._exit(code)
        children.append(pid)
    for i in range(20):
        log.append([body(1000 + i)])
    statuses = [os.waitpid(pid, 0)[1] for pid in children]
    log.close()
    with open_sink(sink_url, create=False) as sink:
        result = verify(sink, public_key=signer.verifier)
    assert (statuses, result.ok, result.size) == ([0, 0], True, 61), result.summary()


def test_failed_jsonl_write_leaves_no_partial_batch(tmp_path, signer, monkeypatch):
    """When the write or fsync fails (disk full, I/O error), append raises SinkError and the batch's
    bytes are cut back, so a retry does not store it twice."""
    from opentelemetry_instrumentation_toolaudit._exceptions import SinkError
    from opentelemetry_instrumentation_toolaudit.ledger.stores import jsonl

    from .conftest import body

    sink = open_sink(f"jsonl:///{tmp_path}/audit.jsonl")
    sink.append([body(0)])
    before = (tmp_path / "audit.jsonl").read_bytes()

    def failing_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(jsonl.os, "fsync", failing_fsync)
    with pytest.raises(SinkError, match="append failed \\(No space left on device\\)"):
        sink.append([body(1), body(2)])
    monkeypatch.undo()
    assert (tmp_path / "audit.jsonl").read_bytes() == before
    sink.append([body(1), body(2)])
    sink.close()
    with open_sink(f"jsonl:///{tmp_path}/audit.jsonl", create=False) as reader:
        result = verify(reader)
    assert (result.ok, result.size) == (True, 3)


def test_jsonl_lines_longer_than_a_read_verify(tmp_path, signer, monkeypatch):
    """Records longer than one read of the log (and reads ending mid-line) scan and verify."""
    from opentelemetry_instrumentation_toolaudit.ledger.stores import jsonl

    monkeypatch.setattr(jsonl, "_READ_SIZE", 300)
    url = f"jsonl:///{tmp_path}/audit.jsonl"
    with AuditLog(open_sink(url), signer=signer) as log:
        log.append([body(0), body(1, arguments={"text": "x" * 2000}), body(2)])
    with open_sink(url, create=False) as sink:
        result = verify(sink, public_key=signer.verifier)
        records = [r.record for r in sink.read()]
    expected = (True, 3, "x" * 2000)
    assert expected == (result.ok, result.size, records[1]["arguments"]["text"])
