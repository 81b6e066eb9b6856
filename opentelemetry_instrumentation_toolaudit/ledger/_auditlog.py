# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The audit log writer: appends sealed records to a sink and signs checkpoints of its Merkle tree.

``AuditLog.append`` returns only when every record of the batch is durably committed (one durable
write per batch). A signed checkpoint is written after ``checkpoint_every`` records, or
``checkpoint_interval`` seconds after new records (a background timer covers an idle writer), and
on ``close``. Checkpoints go to the sink and, when configured, to a checkpoint directory as new files
only: a file is created with ``O_EXCL`` and never rewritten, so that directory can live where the
writer may add files but not change them (e.g. a WORM mount or a directory with the sticky bit).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from opentelemetry_instrumentation_toolaudit._env import read_float, read_int, read_path, read_str
from opentelemetry_instrumentation_toolaudit._exceptions import SinkError, ToolAuditError
from opentelemetry_instrumentation_toolaudit._log import internal_error
from opentelemetry_instrumentation_toolaudit.environment_variables import (
    OTEL_PYTHON_TOOLAUDIT_CHECKPOINT_DIR,
    OTEL_PYTHON_TOOLAUDIT_CHECKPOINT_EVERY,
    OTEL_PYTHON_TOOLAUDIT_CHECKPOINT_INTERVAL,
    OTEL_PYTHON_TOOLAUDIT_SIGNING_KEY_FILE,
    OTEL_PYTHON_TOOLAUDIT_SINK,
)
from opentelemetry_instrumentation_toolaudit.ledger._append import append_batch
from opentelemetry_instrumentation_toolaudit.ledger._chain import StoredRecord
from opentelemetry_instrumentation_toolaudit.ledger._checkpoint import (
    Checkpoint,
    NoteSigner,
    default_key_path,
    readable_checkpoints,
    sign_checkpoint,
)
from opentelemetry_instrumentation_toolaudit.ledger._checkpoint_dir import write_checkpoint_file
from opentelemetry_instrumentation_toolaudit.ledger.stores import (
    DEFAULT_SINK_URL,
    AuditSink,
    TreeHead,
    open_sink,
)
from opentelemetry_instrumentation_toolaudit.ledger.stores._base import (
    reinit_in_forked_child,
)
from opentelemetry_instrumentation_toolaudit.ledger.stores._url import redact_url


class AuditLog:
    """Appends audit records to ``sink`` and signs checkpoints with ``signer``.

    ``signer`` defaults to the key in ``OTEL_PYTHON_TOOLAUDIT_SIGNING_KEY_FILE`` (or
    ``~/.config/toolaudit/signing.key``), generated when absent. The checkpoint's origin (its first
    line) is ``<origin>/<log id>``: ``origin`` defaults to the key's name, and the log id is the
    sink's identity (:meth:`AuditSink.log_id`), so a checkpoint names the one log it belongs to. Thread-safe; several processes may each hold an AuditLog on the
    same sink and still build one chain. The cadence is counted per AuditLog: each process checkpoints
    once the log has grown by ``checkpoint_every`` records since its own last checkpoint (so with k
    writers, checkpoints come about k times as often), and each checkpoint signs the sink's head at
    that moment, whoever wrote the records.

    ``witnesses`` (default: those in ``OTEL_PYTHON_TOOLAUDIT_WITNESSES``) are sent each new checkpoint
    on a background thread; their cosignatures are stored with it (see
    :mod:`opentelemetry_instrumentation_toolaudit.witness`).
    """

    def __init__(
        self,
        sink: AuditSink,
        *,
        signer: NoteSigner | None = None,
        origin: str | None = None,
        checkpoint_every: int = 1000,
        checkpoint_interval: float = 60.0,
        checkpoint_dir: str | os.PathLike[str] | None = None,
        witnesses: Sequence[Any] | None = None,
    ) -> None:
        self.sink = sink
        self.signer = signer if signer is not None else NoteSigner.from_file(default_key_path())
        log_id = sink.log_id()
        self.origin = (
            f"{origin or self.signer.name}/{log_id}" if log_id else origin or self.signer.name
        )
        self.checkpoint_every = max(1, int(checkpoint_every))
        self.checkpoint_interval = float(checkpoint_interval)
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None
        if self.checkpoint_dir is not None:
            self.checkpoint_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._closed = False
        self._checkpointed_size = _latest_checkpoint_size(sink)
        self._checkpointed_at = time.monotonic()
        self._stop = threading.Event()
        self._timer: threading.Thread | None = None
        self._due_note: str | None = None
        reinit_in_forked_child(self, "_after_fork")
        # --- witness hook: checkpoints go to OTEL_PYTHON_TOOLAUDIT_WITNESSES (or ``witnesses``) ---
        from opentelemetry_instrumentation_toolaudit.witness._client import submitter_for

        self.witnesses = submitter_for(sink, witnesses)
        """The :class:`~opentelemetry_instrumentation_toolaudit.witness.WitnessSubmitter` sending
        each checkpoint to the witnesses, or None when none is configured."""

    def _after_fork(self) -> None:
        # Threads do not survive a fork and a lock may have been held by one: start afresh.
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._timer = None

    @classmethod
    def from_env(
        cls,
        sink_url: str | None = None,
        *,
        checkpoint_every: int | None = None,
        checkpoint_interval: float | None = None,
        checkpoint_dir: str | os.PathLike[str] | None = None,
    ) -> AuditLog:
        """An AuditLog configured by ``OTEL_PYTHON_TOOLAUDIT_*`` variables (see docs/configuration.md),
        except for the settings given here. An invalid cadence variable is logged once, by name,
        and its default used, as every variable of the package.

        Raises :class:`ToolAuditError` (:class:`SinkError` for the sink) naming what to fix: the
        variable, or the ``sink_url`` given in code."""
        url = read_str(OTEL_PYTHON_TOOLAUDIT_SINK) if sink_url is None else sink_url
        url = url or DEFAULT_SINK_URL
        every = (
            read_int(OTEL_PYTHON_TOOLAUDIT_CHECKPOINT_EVERY, 1000, minimum=1)
            if checkpoint_every is None
            else checkpoint_every
        )
        interval = (
            read_float(OTEL_PYTHON_TOOLAUDIT_CHECKPOINT_INTERVAL, 60.0, minimum=0.0)
            if checkpoint_interval is None
            else checkpoint_interval
        )
        directory = (
            read_path(OTEL_PYTHON_TOOLAUDIT_CHECKPOINT_DIR)
            if checkpoint_dir is None
            else checkpoint_dir
        )
        try:
            signer = NoteSigner.from_file(default_key_path())
        except ToolAuditError as exc:
            raise ToolAuditError(
                f"{exc} (check {OTEL_PYTHON_TOOLAUDIT_SIGNING_KEY_FILE})"
            ) from None
        try:
            sink = open_sink(url)
        except SinkError as exc:
            source = "the sink URL given in code" if sink_url else OTEL_PYTHON_TOOLAUDIT_SINK
            raise SinkError(f"{exc} (check {source})") from None
        try:
            return cls(
                sink,
                signer=signer,
                checkpoint_every=int(every),
                checkpoint_interval=float(interval),
                checkpoint_dir=directory,
            )
        except OSError as exc:
            sink.close()
            raise ToolAuditError(
                f"cannot create the checkpoint directory {directory}: {exc.strerror} "
                f"(check {OTEL_PYTHON_TOOLAUDIT_CHECKPOINT_DIR})"
            ) from None
        except BaseException:
            sink.close()
            raise

    def append(
        self, bodies: Sequence[Mapping[str, Any]], *, skip_existing: bool = False
    ) -> list[StoredRecord]:
        """Seal and durably commit ``bodies`` in order (one durable write); returns the stored records.

        ``event_id`` is unique: a body whose event id is stored already raises SinkError, or, with
        ``skip_existing`` (the retry of a batch that may have been committed), is left out.

        Raises SinkError when the batch could not be committed (nothing of it is then acknowledged).
        A failing checkpoint after a committed batch is logged and counted, not raised: the records
        are safe, and the next checkpoint covers them."""
        with self._lock:
            if self._closed:
                raise SinkError(f"{redact_url(self.sink.url)}: the audit log is closed")
            self._due_note = None
            records, head = append_batch(
                self.sink, bodies, skip_existing=skip_existing, checkpoint=self._checkpoint_if_due
            )
            note, self._due_note = self._due_note, None
            if head is not None:
                self.sink.last_head = head
            if note is not None and head is not None:
                self._checkpointed(note, head.size)
            if self._timer is None and self.checkpoint_interval > 0:
                self._timer = threading.Thread(
                    target=self._run_timer, name="toolaudit-checkpoint", daemon=True
                )
                self._timer.start()
        return records

    def _checkpoint_if_due(self, head: TreeHead) -> str | None:
        """The signed note for ``head`` when a checkpoint is due, written in the batch's own
        transaction (no commit of its own); None when none is due or signing failed (logged: the
        batch still commits, and the next checkpoint covers it)."""
        if (
            head.size - self._checkpointed_size < self.checkpoint_every
            and time.monotonic() - self._checkpointed_at < self.checkpoint_interval
        ):
            return None
        try:
            self._due_note = sign_checkpoint(
                Checkpoint(self.origin, head.size, head.root), self.signer
            )
        except Exception as exc:  # noqa: BLE001 - the batch commits; the next checkpoint covers it
            internal_error("audit checkpoint", exc)
        return self._due_note

    def _checkpointed(self, note: str, size: int) -> None:
        """After a checkpoint is stored: copy it to the checkpoint directory, restart the cadence."""
        self._checkpointed_size = size
        self._checkpointed_at = time.monotonic()
        if self.checkpoint_dir is not None:
            try:
                write_checkpoint_file(self.checkpoint_dir, note)
            except Exception as exc:  # noqa: BLE001 - the records and the stored note are committed
                internal_error("audit checkpoint", exc)
        if self.witnesses is not None:  # witness hook: returns at once
            self.witnesses.submit(note)

    def checkpoint(self) -> str:
        """Sign and store a checkpoint for the sink's current size now; returns the signed note."""
        with self._lock:
            head = self.sink.head()
            note = sign_checkpoint(Checkpoint(self.origin, head.size, head.root), self.signer)
            self.sink.write_checkpoint(note, head.size)
            if self.checkpoint_dir is not None:
                write_checkpoint_file(self.checkpoint_dir, note)
            self._checkpointed_size = head.size
            self._checkpointed_at = time.monotonic()
            if self.witnesses is not None:  # witness hook: returns at once
                self.witnesses.submit(note)
            return note

    def close(self) -> None:
        """Write a final checkpoint and close the sink; idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._stop.set()
            try:
                if self.sink.size() != self._checkpointed_size:
                    self.checkpoint()
            finally:
                if self.witnesses is not None:  # witness hook: bounded wait for the last one
                    self.witnesses.close()
                self.sink.close()
        if self._timer is not None and self._timer is not threading.current_thread():
            self._timer.join(timeout=5)

    def _run_timer(self) -> None:
        while not self._stop.wait(self.checkpoint_interval):
            try:
                with self._lock:
                    if self._closed:
                        return
                    due = time.monotonic() - self._checkpointed_at >= self.checkpoint_interval
                    if due and self.sink.size() != self._checkpointed_size:
                        self.checkpoint()
            except Exception as exc:  # noqa: BLE001 - a timer thread must survive a failing sink
                internal_error("audit checkpoint", exc)

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _latest_checkpoint_size(sink: AuditSink) -> int:
    readable, unreadable = readable_checkpoints(sink.checkpoints()[-16:], None)
    if unreadable:
        # Logged once; the writer starts anyway (verify reports the row).
        internal_error(
            "reading the sink's checkpoints",
            SinkError(f"the sink holds {unreadable} unreadable checkpoint(s); ignored"),
        )
    return max((checkpoint.size for checkpoint, _ in readable), default=0)
