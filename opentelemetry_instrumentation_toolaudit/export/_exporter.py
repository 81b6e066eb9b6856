# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""``AuditLogExporter``: an OpenTelemetry ``SpanExporter`` over a :class:`RecordWriter`.

The configurator wraps every exporter named in ``OTEL_TRACES_EXPORTER`` in a ``BatchSpanProcessor``,
so ``export()`` runs on the processor's worker thread, never the app's. It returns ``SUCCESS`` only
once the batch is durably committed. The one path that blocks the app's thread is deliberate: a
fail-closed tool's intent record (:meth:`AuditLogExporter.write_intent`) must be durable before the
tool may run.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Any

from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from opentelemetry_instrumentation_toolaudit._exceptions import (
    AuditUnavailableError,
    ToolAuditError,
)
from opentelemetry_instrumentation_toolaudit._log import internal_error
from opentelemetry_instrumentation_toolaudit._state import SCOPE_NAME
from opentelemetry_instrumentation_toolaudit.environment_variables import (
    OTEL_PYTHON_TOOLAUDIT_REQUIRE_SINK,
)
from opentelemetry_instrumentation_toolaudit.export import _record_logs
from opentelemetry_instrumentation_toolaudit.export._config import ExporterConfig
from opentelemetry_instrumentation_toolaudit.export._guard import ContentGuard
from opentelemetry_instrumentation_toolaudit.export._records import build_record, event_type_of
from opentelemetry_instrumentation_toolaudit.export._retention import RetentionPolicy
from opentelemetry_instrumentation_toolaudit.export._sdk import SdkSpanView
from opentelemetry_instrumentation_toolaudit.export._view import SpanView
from opentelemetry_instrumentation_toolaudit.export._writer import RecordWriter
from opentelemetry_instrumentation_toolaudit.ledger import AuditLog, sink_url_for
from opentelemetry_instrumentation_toolaudit.ledger import schema as f
from opentelemetry_instrumentation_toolaudit.ledger.stores._url import redact_url
from opentelemetry_instrumentation_toolaudit.redaction import RedactionPolicy
from opentelemetry_instrumentation_toolaudit.redaction._checked import CheckMark, check_mark

if TYPE_CHECKING:
    from opentelemetry_instrumentation_toolaudit.alerts import AlertEmitter
    from opentelemetry_instrumentation_toolaudit.export._writer import AppendLog

logger = logging.getLogger(__name__)


class AuditLogExporter(SpanExporter):
    """Writes the audited spans (tool calls, LLM requests, retrievals, declared events) to an audit log.

    With no arguments everything comes from the environment (``OTEL_PYTHON_TOOLAUDIT_SINK``...), which
    is how ``OTEL_TRACES_EXPORTER=otlp,toolaudit`` creates it. The first argument is a sink URL
    (``AuditLogExporter("sqlite:///audit.db")``), a file path (``audit.db``, ``audit.jsonl``, read
    as the CLI reads it) or an already opened
    :class:`~opentelemetry_instrumentation_toolaudit.ledger.AuditLog` (the exporter then owns it and
    closes it on shutdown); anything else is a ``TypeError``.

    ``policy`` is the redaction policy of the last check before a record is written; by default
    the one the environment configures (``RedactionPolicy.from_env()``), which is also the
    recorder's, so the arguments and result summaries this package's recorder redacted at the
    source are not scanned again. ``retention`` sets each record's ``retain_until`` (default:
    ``OTEL_PYTHON_TOOLAUDIT_RETENTION_FILE``).

    The sink is opened when the exporter is built. When it cannot be, the problem is logged once, as
    an error naming what to fix, and the records wait in the buffer while the exporter keeps retrying;
    with ``require_sink`` (``OTEL_PYTHON_TOOLAUDIT_REQUIRE_SINK=true``) the exporter raises
    ``SystemExit`` instead, so that the process does not start unaudited even where start-up code
    catches every ``Exception`` (as ``opentelemetry-instrument`` does).

    ``alerts`` (default: ``OTEL_PYTHON_TOOLAUDIT_ALERTS``, on) runs the alert rules on every committed
    batch, on a thread of their own (see docs/alerts.md); ``alert_emitter`` replaces the global
    LoggerProvider and MeterProvider they emit to.
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
        retention: RetentionPolicy | None = None,
        alerts: bool | None = None,
        alert_emitter: AlertEmitter | None = None,
    ) -> None:
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
        self._config = config
        self._sink_url = sink_url or None
        self._event_types = (
            frozenset(event_types) if event_types is not None else config.event_types
        )
        self._guard = ContentGuard(
            policy if policy is not None else RedactionPolicy.from_env(),
            # The recorder redacts its spans' arguments and results with the configured policy.
            trusted_scopes=frozenset({SCOPE_NAME}) if policy is None else frozenset(),
        )
        self._retention = retention if retention is not None else RetentionPolicy.from_env()
        self._writer = RecordWriter(
            self._open_log,
            log=log,
            max_buffer=max_buffer if max_buffer is not None else config.max_buffer,
            retry_interval=retry_interval,
            quiet=suppress_instrumentation,
            on_commit=self._after_commit,
        )
        self._emit_logs = _record_logs.emit_logs_enabled()
        # --- alert rules on committed records (see _after_commit) ---
        from opentelemetry_instrumentation_toolaudit.alerts._online import monitor_from_env

        self._alerts = monitor_from_env(
            self._writer.enqueue,
            lambda value: self._guard.policy.pseudonym(value),
            enabled=alerts,
            emitter=alert_emitter,
        )
        if log is None:
            self._check_sink(config.require_sink if require_sink is None else require_sink)

    @property
    def writer(self) -> RecordWriter:
        """The :class:`RecordWriter` this exporter appends through."""
        return self._writer

    @property
    def policy(self) -> RedactionPolicy:
        """The redaction policy of the last check before a record is written."""
        return self._guard.policy

    def _check_sink(self, required: bool) -> None:
        """Open the sink now, so that a misconfiguration shows at start rather than as lost records."""
        try:
            with suppress_instrumentation():
                log: Any = self._writer.log()
                log.sink.check_writable()
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
            self._writer.max_buffer,
            OTEL_PYTHON_TOOLAUDIT_REQUIRE_SINK,
        )

    # --- SpanExporter ------------------------------------------------------------------------------
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Durably append a record for each audited span; SUCCESS only once they are committed."""
        if self._writer.closed:
            return SpanExportResult.FAILURE
        try:
            bodies = []
            for span in spans:
                # One span that cannot become a record must not cost the others theirs.
                try:
                    body = self._body(SdkSpanView(span), check_mark(span))
                except Exception as exc:  # noqa: BLE001
                    internal_error("building an audit record", exc)
                    self._writer.count("unrecordable")
                    continue
                if body is not None:
                    bodies.append(body)
            if not bodies:
                return SpanExportResult.SUCCESS
            with suppress_instrumentation():
                ok = self._writer.write(bodies)
            return SpanExportResult.SUCCESS if ok else SpanExportResult.FAILURE
        except Exception as exc:  # noqa: BLE001 - an exporter never raises into the SDK
            internal_error("audit export", exc)
            self._writer.count("failed_exports")
            return SpanExportResult.FAILURE

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Retry the buffered records now, then let the alert rules finish on what was committed
        and write their ``alert`` records; True when nothing is left waiting."""
        deadline = time.monotonic() + timeout_millis / 1000
        with suppress_instrumentation():
            flushed = self._writer.flush(timeout_millis / 1000)
            if self._alerts is None or not flushed:
                return flushed
            if not self._alerts.drain(max(0.0, deadline - time.monotonic())):
                return False
            return self._writer.flush(max(0.0, deadline - time.monotonic()))

    def shutdown(self) -> None:
        """Flush what is buffered, write the final checkpoint and close the sink. Idempotent."""
        with suppress_instrumentation():
            if self._alerts is not None and not self._writer.closed:
                # The alerts on what was just committed are written before the sink closes.
                self._writer.flush()
                self._alerts.close()
            self._writer.close()

    def _after_commit(self, stored: Sequence[Any]) -> None:
        """Emit committed records as OpenTelemetry log records when configured, and hand them to
        the alert rules (queued: they run on their own thread)."""
        if self._emit_logs:
            _record_logs.emit_records(stored)
        alerts = getattr(self, "_alerts", None)
        if alerts is not None:
            alerts.submit(stored)

    # --- intent records (the IntentSink protocol) ----------------------------------------------------
    def write_intent(self, span: ReadableSpan) -> None:
        """Durably write the ``tool.intent`` record of a started tool span, on the caller's thread.

        Raises :class:`AuditUnavailableError` when it cannot; the fail-closed tool then does not run.
        """
        if self._writer.closed:
            raise AuditUnavailableError("the audit exporter is shut down")
        try:
            body = self._intent_body(SdkSpanView(span))
            with suppress_instrumentation():
                written = self._writer.write([body], buffer_on_failure=False)
        except Exception as exc:  # noqa: BLE001 - turned into the documented error below
            internal_error("writing an intent record", exc)
            written = False
        if not written:
            self._writer.count("refused_intents")
            raise AuditUnavailableError(
                "the audit sink could not durably record this call's intent; the tool was not run"
            )
        self._writer.count("intents")

    def enqueue_intent(self, span: ReadableSpan) -> None:
        """Queue the ``tool.intent`` record of a started tool span; the background writer commits it.

        Only a snapshot of the span is taken on the app's thread; the record is built by the writer.
        """
        try:
            view = SdkSpanView(span)
            self._writer.defer(lambda: self._intent_body(view))
        except Exception as exc:  # noqa: BLE001
            internal_error("queueing an intent record", exc)

    # --- introspection -----------------------------------------------------------------------------
    @property
    def is_shut_down(self) -> bool:
        return self._writer.closed

    def stats(self) -> dict[str, int]:
        """Counters: ``records`` written, ``buffered`` now, ``dropped`` (lost), ``write_failures``,
        ``guarded`` (records the policy still flagged and this exporter redacted), ``intents``..."""
        return self._writer.stats()

    # --- span → record ---------------------------------------------------------------------------
    def body_of(self, span: SpanView) -> dict[str, Any] | None:
        """The guarded record body of ``span``, or None when it is not an audited event."""
        return self._body(span, None)

    def _body(self, span: SpanView, mark: CheckMark | None) -> dict[str, Any] | None:
        event_type = event_type_of(span.attributes, span.status_error, self._event_types)
        if event_type is None:
            return None
        return self._checked(
            build_record(span, event_type, retention=self._retention), span.scope_name, mark
        )

    def _intent_body(self, span: SpanView) -> dict[str, Any]:
        body = build_record(span, f.EVENT_TOOL_CALL, phase_intent=True, retention=self._retention)
        return self._checked(body, span.scope_name)

    def _checked(
        self, body: dict[str, Any], scope_name: str | None, mark: CheckMark | None = None
    ) -> dict[str, Any]:
        """Redact whatever the policy still flags (the last line before the permanent record)."""
        kinds = self._guard.check(body, scope_name, mark)
        if kinds:
            self._writer.count("guarded")
            internal_error(f"audit guard: a record still held {', '.join(kinds)}")
        return body

    def _open_log(self) -> AppendLog:
        """The AuditLog of the configured sink, signing key and checkpoint settings."""
        from opentelemetry_instrumentation_toolaudit.ledger import AuditLog

        config = self._config
        return AuditLog.from_env(
            self._sink_url,
            checkpoint_every=config.checkpoint_every,
            checkpoint_interval=config.checkpoint_interval,
            checkpoint_dir=config.checkpoint_dir,
        )
