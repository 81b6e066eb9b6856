# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Shared pieces of the write-path fault tests: spans to export, a fail-closed tool, the stored
records, and ways to take a sink away."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanContext, TraceFlags

from opentelemetry_instrumentation_toolaudit import (
    AuditLogExporter,
    AuditUnavailableError,
    ToolAuditInstrumentor,
    audited_tool,
)
from opentelemetry_instrumentation_toolaudit.ledger import AuditLog, NoteSigner, open_sink, verify
from opentelemetry_instrumentation_toolaudit.ledger._checkpoint import readable_checkpoints

REFUNDS: list[str] = []


@audited_tool
def issue_refund(order_id: str) -> str:
    """Refund an order (fail-closed in the fault suite)."""
    REFUNDS.append(order_id)
    return order_id


def tool_span(i: int) -> ReadableSpan:
    """The finished span of the i-th tool call (its record's event id is unique to i)."""
    context = SpanContext(trace_id=i + 1, span_id=i + 1, is_remote=False, trace_flags=TraceFlags(1))
    return ReadableSpan(
        name="execute_tool lookup_order",
        context=context,
        attributes={
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": "lookup_order",
            "gen_ai.tool.call.arguments": json.dumps({"order_id": f"ORD-{i}"}),
        },
        start_time=1_000_000_000 * (i + 1),
        end_time=1_000_000_000 * (i + 1) + 5_000,
    )


def order_ids(url: str) -> list[str]:
    """The order id of every stored tool.call record, in log order."""
    with open_sink(url, create=False) as sink:
        records = [r.record for r in sink.read()]
    return [r["arguments"]["order_id"] for r in records if r["event_type"] == "tool.call"]


def verified_size(url: str, signer: NoteSigner) -> int:
    """The number of records of an intact trail whose last checkpoint covers all of them."""
    with open_sink(url, create=False) as sink:
        result = verify(sink, public_key=signer.verifier)
        readable, _ = readable_checkpoints(sink.checkpoints(), sink.log_id())
    assert (result.ok, result.anchored) == (True, True), result.summary()
    assert max(checkpoint.size for checkpoint, _ in readable) == result.size
    return result.size


def make_exporter(url: str, signer: NoteSigner, **kwargs: Any) -> AuditLogExporter:
    """An exporter that retries only when asked (force_flush), so a test decides when."""
    kwargs.setdefault("retry_interval", 3600)
    log = AuditLog(open_sink(url), signer=signer, checkpoint_interval=3600)
    return AuditLogExporter(log, **kwargs)


@pytest.fixture
def signer(tmp_path: Path) -> NoteSigner:
    return NoteSigner.from_file(tmp_path / "signing.key")


class FailClosed:
    """``issue_refund`` instrumented as a fail-closed tool, recorded by ``exporter``."""

    def __init__(self, exporter: AuditLogExporter) -> None:
        self.provider = TracerProvider()
        self.provider.add_span_processor(SimpleSpanProcessor(exporter))
        self.instrumentor = ToolAuditInstrumentor()
        self.instrumentor.instrument(
            tracer_provider=self.provider, fail_closed_tools=["issue_refund"]
        )

    def runs(self, order_id: str) -> bool:
        """True when the tool ran, False when it was refused (AuditUnavailableError)."""
        try:
            issue_refund(order_id)
        except AuditUnavailableError:
            return False
        return True


@pytest.fixture
def fail_closed() -> Iterator[type[FailClosed]]:
    """Instrument a fail-closed tool for an exporter; uninstrumented after the test."""
    made: list[FailClosed] = []

    def build(exporter: AuditLogExporter) -> FailClosed:
        made.append(FailClosed(exporter))
        return made[-1]

    REFUNDS.clear()
    yield build  # type: ignore[misc]
    for each in made:
        each.instrumentor.uninstrument()


@contextlib.contextmanager
def unwritable(path: str | os.PathLike[str]) -> Iterator[None]:
    """Every file this process holds open whose name starts with ``path`` (a database, its WAL and
    shared memory; a JSONL log) becomes read-only under it, as after a read-only remount: writes,
    truncation and write locks fail until the block ends. Each descriptor is swapped for a
    read-only one of the same file, then restored."""
    targets = {}
    for name in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            targets[int(name)] = os.readlink(f"/proc/self/fd/{name}")
    saved = []
    for fd, target in targets.items():
        if target.startswith(os.fspath(path)):
            saved.append((fd, os.dup(fd)))
            readonly = os.open(target, os.O_RDONLY)
            os.dup2(readonly, fd)
            os.close(readonly)
    assert saved, f"no open file under {path}"
    try:
        yield
    finally:
        for fd, original in saved:
            os.dup2(original, fd)
            os.close(original)


T = TypeVar("T")

PROMPTLY = 20.0
"""Seconds a fault's whole scenario may take: far below the 60 s one append waiting out SQLite's
busy timeout would take, so a scenario stuck on a wait fails instead of hanging the suite."""


def promptly(scenario: Callable[[], T]) -> T:
    """What ``scenario`` returns, run on a thread; fails the test when it is still running after
    ``PROMPTLY`` seconds (an append waiting for a lock that will not come)."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append((True, scenario()))
        except BaseException as exc:  # noqa: BLE001 - handed back to the test's thread
            outcome.append((False, exc))

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(PROMPTLY)
    assert outcome, f"still blocked after {PROMPTLY} s: an append waited on a lock"
    ok, value = outcome[0]
    if not ok:
        raise value
    return value  # type: ignore[no-any-return]


class TinyFilesystem:
    """A small tmpfs of the test's own, which a filler file can fill up and free again."""

    def __init__(self, where: Path, size: str) -> None:
        self.path = where
        self.path.mkdir()
        result = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
            capture_output=True,
            check=False,
        )
        if result.returncode != 0:
            pytest.skip("mounting a tmpfs needs root (a full disk is simulated with one)")
        self.filler = where / "filler"

    def fill(self) -> None:
        """Take every free block, as a full disk."""
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        try:
            while True:
                os.write(fd, b"\0" * 4096)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
        finally:
            os.close(fd)

    def free(self) -> None:
        self.filler.unlink()

    def unmount(self) -> None:
        subprocess.run(["umount", "-l", str(self.path)], check=False)


@pytest.fixture
def tiny_fs(tmp_path: Path) -> Iterator[TinyFilesystem]:
    """A 4 MB filesystem (skipped where a tmpfs cannot be mounted)."""
    fs = TinyFilesystem(tmp_path / "fs", "4m")
    try:
        yield fs
    finally:
        fs.unmount()


class ErrorsReadOnlyFilesystem:
    """A small ext4 filesystem of the test's own (a loop mount of an image file) that the kernel
    turns read-only on an error (``errors=remount-ro``), as it would after a failing disk."""

    def __init__(self, image: Path, where: Path) -> None:
        self.image = image
        self.path = where
        self.path.mkdir()
        made = subprocess.run(
            ["mkfs.ext4", "-q", "-F", "-O", "^has_journal", str(image), "8M"],
            capture_output=True,
            check=False,
        )
        if made.returncode != 0:
            pytest.skip("mkfs.ext4 is not available")
        self._mount()
        source = subprocess.run(
            ["findmnt", "-n", "-o", "SOURCE", str(where)], capture_output=True, text=True
        ).stdout.strip()
        self.trigger = Path("/sys/fs/ext4") / os.path.basename(source) / "trigger_fs_error"
        if not self.trigger.exists():
            self.unmount()
            pytest.skip("this kernel cannot be asked for an ext4 error")

    def _mount(self) -> None:
        result = subprocess.run(
            ["mount", "-o", "loop,errors=remount-ro", str(self.image), str(self.path)],
            capture_output=True,
            check=False,
        )
        if result.returncode != 0:
            pytest.skip("loop-mounting an ext4 image needs root and a free loop device")

    def fail(self) -> None:
        """Report an error on the filesystem: the kernel makes it read-only at once."""
        self.trigger.write_text("toolaudit fault test\n")

    def remount(self) -> None:
        """Mount the image again, writable (a filesystem made read-only after an error stays so
        until it is unmounted)."""
        self.unmount()
        self._mount()

    def unmount(self) -> None:
        subprocess.run(["umount", "-l", str(self.path)], capture_output=True, check=False)


@pytest.fixture
def errors_ro_fs(tmp_path: Path) -> Iterator[ErrorsReadOnlyFilesystem]:
    """An 8 MB ext4 filesystem the test can make read-only (skipped where it cannot be mounted)."""
    fs = ErrorsReadOnlyFilesystem(tmp_path / "ext4.img", tmp_path / "ext4")
    try:
        yield fs
    finally:
        fs.unmount()
