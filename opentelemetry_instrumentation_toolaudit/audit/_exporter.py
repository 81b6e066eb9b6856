# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""``AuditLogExporter``: spans in, durable hash-chained audit records out.

The configurator wraps every exporter named in ``OTEL_TRACES_EXPORTER`` in a ``BatchSpanProcessor``,
so ``export()`` runs on the processor's worker thread, never the app's. It returns ``SUCCESS`` only
once the batch is durably committed (one durable write per batch). When the sink is down the records
wait in a bounded buffer that a background thread keeps retrying; what overflows is counted, logged
and reported by :meth:`AuditLogExporter.stats`, never raised.

The one path that blocks the app's thread is deliberate: a fail-closed tool's intent record
(:meth:`AuditLogExporter.write_intent`) must be durable before the tool may run.
"""

from __future__ import annotations

import collections
import logging
import os
import threading
import weakref
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Any

from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from opentelemetry_instrumentation_toolaudit import _record_logs  # query: records as OTel logs
from opentelemetry_instrumentation_toolaudit._exceptions import (
    AuditUnavailableError,
    ToolAuditError,
)
from opentelemetry_instrumentation_toolaudit._log import internal_error
from opentelemetry_instrumentation_toolaudit.audit import _records
from opentelemetry_instrumentation_toolaudit.audit import _schema as f
from opentelemetry_instrumentation_toolaudit.audit._config import ExporterConfig
from opentelemetry_instrumentation_toolaudit.audit.sinks import sink_url_for
from opentelemetry_instrumentation_toolaudit.audit.sinks._url import redact_url
from opentelemetry_instrumentation_toolaudit.environment_variables import (
    OTEL_PYTHON_TOOLAUDIT_REQUIRE_SINK,
)

if TYPE_CHECKING:
    from opentelemetry_instrumentation_toolaudit.audit._log import AuditLog
    from opentelemetry_instrumentation_toolaudit.redaction import RedactionPolicy

logger = logging.getLogger(__name__)

_exporters: list[weakref.ReferenceType[AuditLogExporter]] = []
_exporters_lock = threading.Lock()


def active_exporter() -> AuditLogExporter | None:
    """The most recently created audit exporter that is not shut down, if any."""
    with _exporters_lock:
        for ref in reversed(_exporters):
            exporter = ref()
            if exporter is not None and not exporter.is_shut_down:
                return exporter
    return None


class AuditLogExporter(SpanExporter):
    """Writes the audited spans (tool calls, LLM requests, retrievals, declared events) to an audit log.

    With no arguments everything comes from the environment (``OTEL_PYTHON_TOOLAUDIT_SINK``...), which
    is how ``OTEL_TRACES_EXPORTER=otlp,toolaudit`` creates it. The first argument is a sink URL
    (``AuditLogExporter("sqlite:///audit.db")``), a file path (``audit.db``, ``audit.jsonl``, read
    as the CLI reads it) or an already opened
    :class:`~opentelemetry_instrumentation_toolaudit.audit.AuditLog` (the exporter then owns it and
    closes it on shutdown); anything else is a ``TypeError``.

    The sink is opened when the exporter is built. When it cannot be, the problem is logged once, as
    an error naming what to fix, and the records wait in the buffer while the exporter keeps retrying;
    with ``require_sink`` (``OTEL_PYTHON_TOOLAUDIT_REQUIRE_SINK=true``) the exporter raises
    ``SystemExit`` instead, so that the process does not start unaudited even where start-up code
    catches every ``Exception`` (as ``opentelemetry-instrument`` does).
    """

    def __init__(
        self,
        log: AuditLog | str | os.PathLike[str] | None = None,
        *,
        sink_url: str | None = None,
        policy: RedactionPolicy | None = None,
        event_types: Collection[str] | None = None,
        max_buffer: int | None = None,
        retry_interval: float = 1.0,
        require_sink: bool | None = None,
    ) -> None:
        from opentelemetry_instrumentation_toolaudit.audit._log import AuditLog

        if isinstance(log, (str, os.PathLike)):
            if sink_url is not None:
                raise TypeError("AuditLogExporter: give the sink URL once, not also as sink_url")
            sink_url = os.fspath(log)
            log = None
        elif log is not None and not isinstance(log, AuditLog):
            raise TypeError(
                f"AuditLogExporter takes a sink URL (str), a path or an AuditLog, not {type(log).__name__}"
            )
        if sink_url is not None and not isinstance(sink_url, str):
            raise TypeError(f"sink_url must be a str, not {type(sink_url).__name__}")
        if sink_url is not None and sink_url.strip():
            # A bare path is a file sink, as the CLI reads it: audit.db, audit.jsonl.
            sink_url = sink_url_for(sink_url)
        config = ExporterConfig.from_env()
        self._sink_url = sink_url
        self._event_types = (
            frozenset(event_types) if event_types is not None else config.event_types
        )
        self._max_buffer = max_buffer if max_buffer is not None else config.max_buffer
        self._retry_interval = retry_interval
        self._policy = policy
        self._log: AuditLog | None = log
        self._write_lock = threading.Lock()
        self._pending: collections.deque[dict[str, Any]] = collections.deque()
        self._intents: list[ReadableSpan] = []
        self._pending_lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._shut_down = False
        self._counts: collections.Counter[str] = collections.Counter()
        self._worker: threading.Thread | None = None
        self._emit_logs = _record_logs.emit_logs_enabled()  # query: records as OTel logs
        if log is None:
            self._check_sink(config.require_sink if require_sink is None else require_sink)
        with _exporters_lock:
            _exporters[:] = [r for r in _exporters if r() is not None]
            _exporters.append(weakref.ref(self))

    def _check_sink(self, required: bool) -> None:
        """Open the sink now, so that a misconfiguration shows at start rather than as lost records."""
        try:
            with suppress_instrumentation():
                self._open_log().sink.check_writable()
            return
        except Exception as exc:  # noqa: BLE001 - reported below; the exporter keeps retrying
            # Only this package's own errors are quoted: they name a place, never a value.
            why = str(exc) if isinstance(exc, ToolAuditError) else type(exc).__name__
        why = redact_url(why)
        if required:
            message = (
                f"toolaudit: refusing to start: the audit sink cannot be used: {why}; "
                f"{OTEL_PYTHON_TOOLAUDIT_REQUIRE_SINK} is set (run `toolaudit doctor` to check "
                "the configuration)"
            )
            logger.critical("%s", message)
            raise SystemExit(message)
        logger.error(
            "toolaudit: the audit sink cannot be used: %s. Audit records wait in a buffer of %d "
            "and are retried; beyond that they are lost (see AuditLogExporter.stats()). Run "
            "`toolaudit doctor` to check the configuration, or set %s=true to refuse to start "
            "without a working sink.",
            why,
            self._max_buffer,
            OTEL_PYTHON_TOOLAUDIT_REQUIRE_SINK,
        )

    # --- SpanExporter ------------------------------------------------------------------------------
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Durably append a record for each audited span; SUCCESS only once they are committed."""
        if self._shut_down:
            return SpanExportResult.FAILURE
        try:
            bodies = []
            for span in spans:
                # One span that cannot become a record must not cost the others theirs.
                try:
                    body = self._body_of(span)
                except Exception as exc:  # noqa: BLE001
                    internal_error("building an audit record", exc)
                    self._count("unrecordable")
                    continue
                if body is not None:
                    bodies.append(body)
            if not bodies:
                return SpanExportResult.SUCCESS
            with suppress_instrumentation():
                return SpanExportResult.SUCCESS if self._write(bodies) else SpanExportResult.FAILURE
        except Exception as exc:  # noqa: BLE001 - an exporter never raises into the SDK
            internal_error("audit export", exc)
            self._count("failed_exports")
            return SpanExportResult.FAILURE

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Retry the buffered records now; True when nothing is left waiting."""
        if self._shut_down:
            return True
        try:
            with suppress_instrumentation():
                self._write([], timeout=timeout_millis / 1000)
        except Exception as exc:  # noqa: BLE001
            internal_error("audit flush", exc)
        with self._pending_lock:
            return not self._pending

    def shutdown(self) -> None:
        """Flush what is buffered, write the final checkpoint and close the sink. Idempotent."""
        if self._shut_down:
            return
        self.force_flush()
        self._shut_down = True
        self._stopping.set()
        self._wake.set()
        worker = self._worker
        if worker is not None and worker is not threading.current_thread():
            worker.join(timeout=5)
        with self._pending_lock:
            lost = len(self._pending)
            self._pending.clear()
        if lost:
            self._count("dropped", lost)
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
                with suppress_instrumentation():
                    log.close()
            except Exception as exc:  # noqa: BLE001
                internal_error("closing the audit log", exc)

    # --- intent records ------------------------------------------------------------------------------
    def write_intent(self, span: ReadableSpan) -> None:
        """Durably write the ``tool.intent`` record of a started tool span, on the caller's thread.

        Raises :class:`AuditUnavailableError` when it cannot; the fail-closed tool then does not run.
        """
        if self._shut_down:
            raise AuditUnavailableError("the audit exporter is shut down")
        try:
            body = self._guard(_records.build_record(span, f.EVENT_TOOL_CALL, phase_intent=True))
            with suppress_instrumentation():
                written = self._write([body], buffer_on_failure=False)
        except Exception as exc:  # noqa: BLE001 - turned into the documented error below
            internal_error("writing an intent record", exc)
            written = False
        if not written:
            self._count("refused_intents")
            raise AuditUnavailableError(
                "the audit sink could not durably record this call's intent; the tool was not run"
            )
        self._count("intents")

    def enqueue_intent(self, span: ReadableSpan) -> None:
        """Queue the ``tool.intent`` record of a started tool span; the background writer commits it.

        Only a snapshot of the span is taken on the app's thread; the record is built by the writer.
        """
        try:
            snapshot = ReadableSpan(
                name=span.name,
                context=span.get_span_context(),
                parent=span.parent,
                resource=span.resource,
                attributes=dict(span.attributes or {}),
                start_time=span.start_time,
            )
            with self._pending_lock:
                self._intents.append(snapshot)
            self._ensure_worker()
            self._wake.set()
        except Exception as exc:  # noqa: BLE001
            internal_error("queueing an intent record", exc)

    # --- introspection -----------------------------------------------------------------------------
    @property
    def is_shut_down(self) -> bool:
        return self._shut_down

    def stats(self) -> dict[str, int]:
        """Counters: ``records`` written, ``buffered`` now, ``dropped`` (lost), ``write_failures``,
        ``guarded`` (values the policy flagged and this exporter redacted), ``intents``..."""
        with self._pending_lock:
            counts = dict(self._counts)
            counts["buffered"] = len(self._pending)
        return counts

    # --- internals ---------------------------------------------------------------------------------
    def _count(self, key: str, n: int = 1) -> None:
        with self._pending_lock:
            self._counts[key] += n

    def _body_of(self, span: ReadableSpan) -> dict[str, Any] | None:
        event_type = _records.event_type_of(span, self._event_types)
        if event_type is None:
            return None
        return self._guard(_records.build_record(span, event_type))

    def _guard(self, body: dict[str, Any]) -> dict[str, Any]:
        """Redact whatever the policy still flags in the record's content (redaction runs earlier;
        this is the last line before the permanent record). The ids and times the exporter
        generates (``_schema.GENERATED``) are not content and are kept as they are: a span id can
        look like a card number. Attribution addresses follow the policy's rule, as on the span."""
        policy = self._current_policy()
        content = {k: v for k, v in body.items() if k not in f.GENERATED}
        kinds = policy.findings(content)
        if not kinds:
            return body
        self._count("guarded")
        internal_error(f"audit guard: a record still held {', '.join(sorted(set(kinds)))}")
        redacted: dict[str, Any] = policy.redact(content)
        return body | redacted

    def _current_policy(self) -> RedactionPolicy:
        if self._policy is None:
            from opentelemetry_instrumentation_toolaudit._state import STATE

            return STATE.policy
        return self._policy

    def _open_log(self) -> AuditLog:
        if self._log is None:
            from opentelemetry_instrumentation_toolaudit.audit._log import AuditLog

            self._log = AuditLog.from_env(self._sink_url)
        return self._log

    def _buffer(self, bodies: Sequence[dict[str, Any]], *, wake: bool = True) -> None:
        """Keep ``bodies`` for the background writer; beyond the bound the newest are dropped.

        ``wake`` asks the writer to commit them now; after a failed write it is left to its backoff.
        """
        with self._pending_lock:
            room = max(0, self._max_buffer - len(self._pending))
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

    def _write(
        self,
        bodies: Sequence[dict[str, Any]],
        *,
        buffer_on_failure: bool = True,
        timeout: float = -1,
    ) -> bool:
        """Append what is waiting, then ``bodies``, in one durable write. False when the sink failed."""
        self._build_intents()
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
                # The waiting records are a retry: their earlier append may have committed (a
                # timeout after the commit), so what is stored already is skipped, not doubled.
                stored = self._open_log().append(batch, skip_existing=bool(waiting))
            except Exception as exc:  # noqa: BLE001 - the sink is down: keep, retry, count
                internal_error("writing to the audit sink", exc)
                self._count("write_failures")
                if buffer_on_failure:
                    self._buffer(bodies, wake=False)
                return False
            with self._pending_lock:
                for _ in waiting:
                    self._pending.popleft()
            self._count("records", len(batch))
            if self._emit_logs:  # query: committed records as OTel log records
                _record_logs.emit_records(stored)
            return True
        finally:
            self._write_lock.release()

    def _build_intents(self) -> None:
        """Turn the queued intent snapshots into records waiting to be written."""
        with self._pending_lock:
            snapshots, self._intents = self._intents, []
        if not snapshots:
            return
        bodies = []
        for snapshot in snapshots:
            try:
                bodies.append(
                    self._guard(
                        _records.build_record(snapshot, f.EVENT_TOOL_CALL, phase_intent=True)
                    )
                )
            except Exception as exc:  # noqa: BLE001
                internal_error("building an intent record", exc)
        self._count("intents", len(bodies))
        self._buffer(bodies, wake=False)

    def _ensure_worker(self) -> None:
        if self._worker is not None or self._stopping.is_set():
            return
        with self._pending_lock:
            if self._worker is not None:
                return
            self._worker = threading.Thread(
                target=self._run_worker, name="toolaudit-audit-writer", daemon=True
            )
        self._worker.start()

    def _run_worker(self) -> None:
        """Commit queued intents promptly and retry a failed sink with growing waits."""
        delay = self._retry_interval
        while not self._stopping.is_set():
            self._wake.wait(timeout=delay)
            self._wake.clear()
            self._build_intents()
            with self._pending_lock:
                waiting = bool(self._pending)
            if not waiting or self._stopping.is_set():
                continue
            try:
                with suppress_instrumentation():
                    ok = self._write([])
            except Exception as exc:  # noqa: BLE001
                internal_error("audit retry", exc)
                ok = False
            delay = self._retry_interval if ok else min(delay * 2, 30.0)
