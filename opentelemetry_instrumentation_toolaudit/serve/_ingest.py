# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""One OTLP export request in, durably committed audit records out: the part of ``toolaudit serve``
that both transports share.

Each request is admitted only while fewer than ``max_inflight`` are being handled (else
:class:`OverloadedError`: the client keeps the data and retries), decoded, redacted by the policy (span
and resource attributes), turned into record bodies by the in-process exporter's span → record code
(over the OTLP span view) and its content guard, and handed to one committer thread. The committer appends what all waiting requests brought in one
durable write (``AuditLog.append(..., skip_existing=True)``) and only then releases them, so an
acknowledged span is a committed record. Event ids come from the trace and span ids, so a request
retried after a lost response is stored once.

Each committed group is then handed to the alert rules (as the in-process exporter does), which run
on a thread of their own; the ``alert`` records they raise go through the same committer into the
same chain.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Collection, Sequence
from typing import TYPE_CHECKING, Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from opentelemetry_instrumentation_toolaudit._log import internal_error
from opentelemetry_instrumentation_toolaudit.export import (
    ContentGuard,
    OtlpSpanView,
    RetentionPolicy,
    build_record,
    event_type_of,
)
from opentelemetry_instrumentation_toolaudit.export._otlp import key_values
from opentelemetry_instrumentation_toolaudit.ledger import schema as f
from opentelemetry_instrumentation_toolaudit.redaction import (
    RedactingSpanProcessor,
    RedactionPolicy,
)
from opentelemetry_instrumentation_toolaudit.redaction._hashkey import PSEUDONYM_RE
from opentelemetry_instrumentation_toolaudit.serve._metrics import ServeMetrics
from opentelemetry_instrumentation_toolaudit.serve._spans import (
    MalformedSpanError,
    check_span,
    event_id_for,
)

if TYPE_CHECKING:
    from opentelemetry_instrumentation_toolaudit.alerts import AlertEmitter
    from opentelemetry_instrumentation_toolaudit.ledger import AuditLog, StoredRecord

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 1
"""What an overloaded or sink-less receiver asks the client to wait before retrying."""
MAX_GROUP = 20_000
"""At most this many records in one commit; more waiting requests go in the next."""
ALERT_DRAIN_SECONDS = 30.0
"""On close, how long the alert rules may take to finish on what was committed (and to commit
their ``alert`` records) before the final checkpoint."""


class OverloadedError(Exception):
    """Too many requests in flight: refuse this one whole; the client retries it later."""


class UnavailableError(Exception):
    """The sink did not commit the request's records: nothing of it is acknowledged."""


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What became of one request's spans."""

    spans: int
    """Spans in the request."""
    records: int
    """Records committed for it (spans that are not audit events make none)."""
    rejected: int
    """Malformed spans, refused."""
    message: str
    """Why spans were rejected (reasons and counts, never a value); empty when none was."""


@dataclasses.dataclass
class _Job:
    bodies: Sequence[dict[str, Any]]
    done: threading.Event = dataclasses.field(default_factory=threading.Event)
    failed: bool = False


class _Committer:
    """One thread that commits the records of every waiting request in one durable write."""

    def __init__(
        self,
        log: AuditLog,
        metrics: ServeMetrics,
        on_commit: Callable[[Sequence[StoredRecord]], None] | None = None,
    ) -> None:
        self._log = log
        self._metrics = metrics
        self._on_commit = on_commit
        self._jobs: collections.deque[_Job] = collections.deque()
        self._ready = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(
            target=self._run, name="toolaudit-serve-commit", daemon=True
        )
        self._thread.start()

    def commit(self, bodies: Sequence[dict[str, Any]]) -> None:
        """Return once ``bodies`` are durably committed; raise :class:`UnavailableError` if they were not."""
        job = _Job(bodies)
        with self._ready:
            if self._stopping:
                raise UnavailableError("the receiver is stopping")
            self._jobs.append(job)
            self._ready.notify()
        job.done.wait()
        if job.failed:
            raise UnavailableError("the audit sink did not commit the records")

    def stop(self) -> None:
        """Commit what is queued, then end the thread."""
        with self._ready:
            self._stopping = True
            self._ready.notify()
        self._thread.join()

    def _take(self) -> list[_Job] | None:
        with self._ready:
            while not self._jobs:
                if self._stopping:
                    return None
                self._ready.wait()
            group = [self._jobs.popleft()]
            size = len(group[0].bodies)
            while self._jobs and size + len(self._jobs[0].bodies) <= MAX_GROUP:
                job = self._jobs.popleft()
                size += len(job.bodies)
                group.append(job)
            return group

    def _run(self) -> None:
        while (group := self._take()) is not None:
            if not self._append(group) and len(group) > 1:
                # One request's records must not cost the others theirs: commit each alone.
                for job in group:
                    self._append([job])
            for job in group:
                job.done.set()

    def _append(self, group: Sequence[_Job]) -> bool:
        bodies = [body for job in group for body in job.bodies]
        started = time.perf_counter()
        try:
            stored = self._log.append(bodies, skip_existing=True)
        except Exception as exc:  # noqa: BLE001 - the requests are refused; their clients retry
            internal_error("committing received spans", exc)
            for job in group:
                job.failed = True
            return False
        for job in group:
            job.failed = False
        self._metrics.committed(len(stored), time.perf_counter() - started)
        if stored and self._on_commit is not None:
            try:
                self._on_commit(stored)
            except Exception as exc:  # noqa: BLE001 - the records are committed whatever it does
                internal_error("handing committed records to the alert rules", exc)
        return True


class Ingest:
    """Turns decoded OTLP export requests into committed audit records (thread-safe).

    ``alerts`` (default: ``OTEL_PYTHON_TOOLAUDIT_ALERTS``, on) runs the alert rules on every
    committed group, on a thread of their own; ``alert_emitter`` replaces where their log records
    and counter go (default: the global LoggerProvider and ``metrics``' MeterProvider).
    """

    def __init__(
        self,
        log: AuditLog,
        *,
        policy: RedactionPolicy | None = None,
        event_types: Collection[str] | None = None,
        retention: RetentionPolicy | None = None,
        max_inflight: int = 16,
        metrics: ServeMetrics | None = None,
        alerts: bool | None = None,
        alert_emitter: AlertEmitter | None = None,
    ) -> None:
        self.log = log
        self.policy = policy if policy is not None else RedactionPolicy.from_env()
        self._redactor = RedactingSpanProcessor(policy=self.policy)
        # No scope is trusted: every received span is scanned, whoever says they redacted it.
        self._guard = ContentGuard(self.policy)
        self._retention = retention if retention is not None else RetentionPolicy.from_env()
        self._event_types = frozenset(event_types if event_types is not None else f.EVENT_TYPES)
        self.max_inflight = max(1, int(max_inflight))
        self.metrics = metrics if metrics is not None else ServeMetrics()
        self._inflight = 0
        self._lock = threading.Lock()
        self._closing = threading.Event()
        # --- alert rules on committed records, as in the in-process exporter ---
        from opentelemetry_instrumentation_toolaudit.alerts import AlertEmitter
        from opentelemetry_instrumentation_toolaudit.alerts._online import monitor_from_env

        self.alerts = monitor_from_env(
            self._write_alerts,
            self.policy.pseudonym,
            enabled=alerts,
            # The counter goes to the receiver's own MeterProvider, the log records to the global
            # LoggerProvider (the receiver has none of its own).
            emitter=alert_emitter or AlertEmitter(meter_provider=self.metrics.meter_provider),
        )
        """The alert rules run on committed records (None when alerts are off)."""
        self._committer = _Committer(
            log, self.metrics, self.alerts.submit if self.alerts is not None else None
        )

    @property
    def inflight(self) -> int:
        """Requests admitted and not yet answered."""
        return self._inflight

    def admit(self, transport: str) -> None:
        """Take a request slot; raise :class:`OverloadedError` when all ``max_inflight`` are taken."""
        with self._lock:
            if self._inflight >= self.max_inflight:
                full = True
            else:
                full = False
                self._inflight += 1
        if full:
            self.metrics.refused(transport, "overloaded")
            raise OverloadedError(f"more than {self.max_inflight} requests in flight")
        self.metrics.inflight(1)

    def release(self) -> None:
        """Give back the slot :meth:`admit` took."""
        with self._lock:
            self._inflight -= 1
        self.metrics.inflight(-1)

    def export(self, request: ExportTraceServiceRequest, transport: str) -> Outcome:
        """Commit the audit records of ``request``'s spans; raise :class:`UnavailableError` when the sink
        did not (then none of them is acknowledged)."""
        bodies, spans, reasons = self._bodies(request)
        if bodies:
            try:
                self._committer.commit(bodies)
            except UnavailableError:
                self.metrics.refused(transport, "unavailable")
                raise
        rejected = sum(reasons.values())
        self.metrics.received(transport, spans, rejected)
        message = ""
        if rejected:
            message = f"{rejected} span(s) rejected: " + ", ".join(
                f"{reason} ({count})" for reason, count in sorted(reasons.items())
            )
        return Outcome(spans, len(bodies), rejected, message)

    def close(self) -> None:
        """Commit what is queued, let the alert rules finish on it and commit their ``alert``
        records, then close the audit log (final checkpoint)."""
        if self.alerts is not None:
            self.alerts.drain(ALERT_DRAIN_SECONDS)
            # Past the drain, alert records that still cannot be committed are given up on.
            self._closing.set()
            self.alerts.close()
        self._committer.stop()
        self.log.close()

    def _write_alerts(self, bodies: list[dict[str, Any]]) -> None:
        """Commit the ``alert`` records the rules raised (on the rules' thread), retrying while the
        sink is unavailable; given up only when the receiver is closing and the sink is still
        unavailable after ``ALERT_DRAIN_SECONDS``, and then logged and counted
        (``AlertMonitor.counts["lost_alert_records"]``)."""
        while not self._closing.is_set():
            try:
                self._committer.commit(bodies)
                return
            except UnavailableError:
                self._closing.wait(RETRY_AFTER_SECONDS)
        if self.alerts is not None:
            self.alerts.counts["lost_alert_records"] += len(bodies)
        internal_error("committing alert records (the receiver stopped first)")

    def _bodies(
        self, request: ExportTraceServiceRequest
    ) -> tuple[list[dict[str, Any]], int, collections.Counter[str]]:
        bodies: list[dict[str, Any]] = []
        reasons: collections.Counter[str] = collections.Counter()
        spans = 0
        redact = self._redactor.redact_attributes
        for resource_spans in request.resource_spans:
            resource = key_values(resource_spans.resource.attributes)
            resource = redact(resource, collections.defaultdict(int)) or resource
            for scope_spans in resource_spans.scope_spans:
                scope = scope_spans.scope.name or None
                for span in scope_spans.spans:
                    spans += 1
                    try:
                        check_span(span)
                        body = self._body_of(OtlpSpanView(span, resource, scope))
                    except MalformedSpanError as exc:
                        reasons[str(exc)] += 1
                        continue
                    except Exception as exc:  # noqa: BLE001 - one span must not cost the others
                        internal_error("building an audit record from a received span", exc)
                        reasons["span cannot be recorded"] += 1
                        continue
                    if body is not None:
                        body[f.EVENT_ID] = event_id_for(span.trace_id, span.span_id)
                        bodies.append(body)
        return bodies, spans, reasons

    def _body_of(self, view: OtlpSpanView) -> dict[str, Any] | None:
        """The guarded record body of a received span, or None when it is not an audit event.

        Span → record reads only the span's attributes, ids, times, status and resource
        attributes; the attributes are redacted here (the resource's once per request)."""
        if event_type_of(view.attributes, view.status_error, self._event_types) is None:
            return None
        redacted = self._redactor.redact_attributes(view.attributes, collections.defaultdict(int))
        if redacted is not None:
            view.attributes = redacted
        event_type = event_type_of(view.attributes, view.status_error, self._event_types)
        if event_type is None:
            return None
        body = build_record(view, event_type, retention=self._retention)
        subject = body.get(f.SUBJECT)
        if subject is not None and not (
            isinstance(subject, str) and PSEUDONYM_RE.fullmatch(subject)
        ):
            # A sender other than this package's recorder may name a subject by its value: the
            # trail keeps only its keyed pseudonym, which is what queries and erasure look up.
            body[f.SUBJECT] = self.policy.pseudonym(str(subject))
        if self._guard.check(body):
            internal_error("audit guard: a received span's record still held a flagged value")
        return body
