# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""``RecordWriter``: record bodies in, durably appended audit records out. No OpenTelemetry here.

The in-process exporter and an OTLP receiver both write through it. ``write()`` returns True only
once the batch is durably committed (one durable write per batch). When the log is down the bodies
wait in a bounded buffer that a background thread keeps retrying, with growing waits; what
overflows is counted, logged and reported by :meth:`RecordWriter.stats`, never raised.

Deferred records (intent records queued from the app's thread) are built by the writer, so the
caller only pays for a snapshot.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

from opentelemetry_instrumentation_toolaudit._log import internal_error

logger = logging.getLogger(__name__)

DEFAULT_BUFFER_SIZE = 10_000
MAX_RETRY_WAIT = 30.0


class AppendLog(Protocol):
    """What the writer appends to: an ``AuditLog`` (or anything with its append protocol)."""

    def append(self, bodies: Sequence[Mapping[str, Any]], *, skip_existing: bool = False) -> Any:
        """Durably commit ``bodies`` in order; with ``skip_existing``, stored event ids are left out."""
        ...

    def close(self) -> None:
        """Write the final checkpoint and release the store."""
        ...


Body = dict[str, Any]
Deferred = Callable[[], Body | None]


@contextlib.contextmanager
def _nothing() -> Iterator[None]:
    yield


class RecordWriter:
    """Appends record bodies to the log ``open_log()`` returns (opened on first use, again after a
    failure to open), buffering up to ``max_buffer`` bodies while it is down.

    ``quiet`` is entered around every write, on whichever thread: the OpenTelemetry adapter passes
    ``suppress_instrumentation`` so that the writer's own database calls are not traced.
    ``on_commit``, when given, is called with what each append returned (the stored records) once
    they are committed; it must not raise.
    """

    def __init__(
        self,
        open_log: Callable[[], AppendLog],
        *,
        log: AppendLog | None = None,
        max_buffer: int = DEFAULT_BUFFER_SIZE,
        retry_interval: float = 1.0,
        quiet: Callable[[], AbstractContextManager[Any]] = _nothing,
        thread_name: str = "toolaudit-audit-writer",
        on_commit: Callable[[Sequence[Any]], None] | None = None,
    ) -> None:
        self._open = open_log
        # Called with the stored records after each commit (the alert rules queue them there).
        self._on_commit = on_commit
        self._log = log
        self.max_buffer = max(1, max_buffer)
        self._retry_interval = retry_interval
        self._quiet = quiet
        self._thread_name = thread_name
        self._write_lock = threading.Lock()
        self._pending: collections.deque[Body] = collections.deque()
        self._deferred: list[Deferred] = []
        self._pending_lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._closed = False
        self._counts: collections.Counter[str] = collections.Counter()
        self._worker: threading.Thread | None = None

    # --- writing ------------------------------------------------------------------------------------
    def log(self) -> AppendLog:
        """The open log (opening it now if it is not)."""
        if self._log is None:
            self._log = self._open()
        return self._log

    def write(
        self,
        bodies: Sequence[Body],
        *,
        buffer_on_failure: bool = True,
        timeout: float = -1,
    ) -> bool:
        """Append what is waiting, then ``bodies``, in one durable write. False when the log failed
        (``bodies`` then wait in the buffer, unless ``buffer_on_failure`` is False)."""
        self._build_deferred()
        if not self._write_lock.acquire(timeout=timeout):
            if buffer_on_failure:
                self._buffer(bodies, wake=False)
            return False
        try:
            # The waiting records stay in the buffer until they are committed (only this lock's
            # holder removes from its front; other threads only add at its back).
            with self._pending_lock:
                waiting = list(self._pending)
            batch = [*waiting, *bodies]
            if not batch:
                return True
            try:
                with self._quiet():
                    # The waiting records are a retry: their earlier append may have committed (a
                    # timeout after the commit), so what is stored already is skipped, not doubled.
                    stored = self.log().append(batch, skip_existing=bool(waiting))
            except Exception as exc:  # noqa: BLE001 - the log is down: keep, retry, count
                internal_error("writing to the audit sink", exc)
                self.count("write_failures")
                if buffer_on_failure:
                    self._buffer(bodies, wake=False)
                return False
            with self._pending_lock:
                for _ in waiting:
                    self._pending.popleft()
            self.count("records", len(batch))
            if self._on_commit is not None:
                self._on_commit(stored)
            return True
        finally:
            self._write_lock.release()

    def enqueue(self, bodies: Sequence[Body]) -> None:
        """Have the background writer commit ``bodies`` promptly (bounded like every buffered body)."""
        self._buffer(bodies)

    def defer(self, build: Deferred) -> None:
        """Have the background writer build a body with ``build()`` and commit it promptly."""
        with self._pending_lock:
            self._deferred.append(build)
        self._ensure_worker()
        self._wake.set()

    def flush(self, timeout: float = 30.0) -> bool:
        """Retry the buffered bodies now; True when nothing is left waiting."""
        if self._closed:
            return True
        try:
            self.write([], timeout=timeout)
        except Exception as exc:  # noqa: BLE001
            internal_error("audit flush", exc)
        with self._pending_lock:
            return not self._pending

    def close(self) -> None:
        """Flush, stop the background writer, count what is still waiting as lost and close the log.
        Idempotent."""
        if self._closed:
            return
        self.flush()
        self._closed = True
        self._stopping.set()
        self._wake.set()
        worker = self._worker
        if worker is not None and worker is not threading.current_thread():
            worker.join(timeout=5)
        with self._pending_lock:
            lost = len(self._pending)
            self._pending.clear()
        if lost:
            self.count("dropped", lost)
        counts = self.stats()
        if counts.get("dropped"):
            logger.error(
                "toolaudit: %d audit records could not be written to the sink and are lost "
                "(see AuditLogExporter.stats())",
                counts["dropped"],
            )
        # A writer still inside append (the worker, past its join timeout) finishes before the close.
        locked = self._write_lock.acquire(timeout=30)
        log = self._log
        self._log = None
        if locked:
            self._write_lock.release()
        if log is not None:
            try:
                with self._quiet():
                    log.close()
            except Exception as exc:  # noqa: BLE001
                internal_error("closing the audit log", exc)

    # --- introspection ------------------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        return self._closed

    def count(self, key: str, n: int = 1) -> None:
        """Add ``n`` to counter ``key`` (reported by :meth:`stats`)."""
        with self._pending_lock:
            self._counts[key] += n

    def stats(self) -> dict[str, int]:
        """Counters: ``records`` written, ``buffered`` now, ``dropped`` (lost), ``write_failures``..."""
        with self._pending_lock:
            counts = dict(self._counts)
            counts["buffered"] = len(self._pending)
        return counts

    # --- internals ----------------------------------------------------------------------------------
    def _buffer(self, bodies: Sequence[Body], *, wake: bool = True) -> None:
        """Keep ``bodies`` for the background writer; beyond the bound the newest are dropped.

        ``wake`` asks the writer to commit them now; after a failed write it is left to its backoff.
        """
        with self._pending_lock:
            room = max(0, self.max_buffer - len(self._pending))
            kept = list(bodies[:room])
            self._pending.extend(kept)
            dropped = len(bodies) - len(kept)
            if dropped:
                self._counts["dropped"] += dropped
        if dropped:
            internal_error("audit buffer overflow: records dropped")
        self._ensure_worker()
        if wake:
            self._wake.set()

    def _build_deferred(self) -> None:
        """Turn the deferred builders into bodies waiting to be written."""
        with self._pending_lock:
            builders, self._deferred = self._deferred, []
        if not builders:
            return
        bodies = []
        for build in builders:
            try:
                body = build()
            except Exception as exc:  # noqa: BLE001
                internal_error("building an intent record", exc)
                continue
            if body is not None:
                bodies.append(body)
        self.count("intents", len(bodies))
        self._buffer(bodies, wake=False)

    def _ensure_worker(self) -> None:
        if self._worker is not None or self._stopping.is_set():
            return
        with self._pending_lock:
            if self._worker is not None:
                return
            self._worker = threading.Thread(
                target=self._run_worker, name=self._thread_name, daemon=True
            )
        self._worker.start()

    def _run_worker(self) -> None:
        """Commit deferred records promptly and retry a failed log with growing waits."""
        delay = self._retry_interval
        while not self._stopping.is_set():
            self._wake.wait(timeout=delay)
            self._wake.clear()
            try:
                with self._quiet():
                    self._build_deferred()
            except Exception as exc:  # noqa: BLE001
                internal_error("audit retry", exc)
            with self._pending_lock:
                waiting = bool(self._pending)
            if not waiting or self._stopping.is_set():
                continue
            try:
                ok = self.write([])
            except Exception as exc:  # noqa: BLE001
                internal_error("audit retry", exc)
                ok = False
            delay = self._retry_interval if ok else min(delay * 2, MAX_RETRY_WAIT)
