# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Alert rules run as records are committed, on a thread of their own.

The audit exporter (and ``toolaudit serve``'s committer) hands every committed batch to
:meth:`AlertMonitor.submit`, which only queues it (the commit may have been on the app's thread, for
a fail-closed tool's intent record). The monitor's thread parses the records, runs the rules, emits
each alert and gives the ``alert`` record bodies to ``write`` (the exporter's buffer, or serve's
committer), so that they are committed like any record. A full queue drops the
batch, logs once and counts it (``dropped_batches``): the records themselves are already committed
and ``toolaudit alerts`` still finds what the online rules missed.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry_instrumentation_toolaudit._log import internal_error
from opentelemetry_instrumentation_toolaudit.alerts._emit import AlertEmitter, alert_body
from opentelemetry_instrumentation_toolaudit.alerts._rules import AlertEvaluator

MAX_QUEUED_BATCHES = 1024


class AlertMonitor:
    """Evaluates the alert rules on committed records, away from the thread that committed them."""

    def __init__(
        self,
        evaluator: AlertEvaluator,
        write: Callable[[list[dict[str, Any]]], None],
        emitter: AlertEmitter | None = None,
    ) -> None:
        self._evaluator = evaluator
        self._write = write
        self._emitter = emitter or AlertEmitter()
        self._queue: collections.deque[Sequence[Any]] = collections.deque()
        self._lock = threading.Condition()
        self._busy = False
        self._closed = False
        self._thread: threading.Thread | None = None
        self.counts: collections.Counter[str] = collections.Counter()

    def submit(self, stored: Sequence[Any]) -> None:
        """Queue committed ``StoredRecord``s for evaluation. Never raises, never blocks on I/O."""
        try:
            with self._lock:
                if self._closed:
                    return
                if len(self._queue) >= MAX_QUEUED_BATCHES:
                    self.counts["dropped_batches"] += 1
                    internal_error("alert queue full: a batch was not evaluated online")
                    return
                self._queue.append(stored)
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="toolaudit-alerts", daemon=True
                    )
                    self._thread.start()
                self._lock.notify()
        except Exception as exc:  # noqa: BLE001 - alerting never breaks the writer
            internal_error("queueing records for alert rules", exc)

    def drain(self, timeout: float = 5.0) -> bool:
        """Wait until every queued batch is evaluated; True when none is left."""
        with self._lock:
            return self._lock.wait_for(lambda: not self._queue and not self._busy, timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Evaluate what is queued, then stop the thread."""
        self.drain(timeout)
        with self._lock:
            self._closed = True
            self._lock.notify_all()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._lock:
                self._lock.wait_for(lambda: self._queue or self._closed)
                if not self._queue:
                    return
                batch = self._queue.popleft()
                self._busy = True
            try:
                self._evaluate(batch)
            except Exception as exc:  # noqa: BLE001
                internal_error("evaluating alert rules", exc)
            finally:
                with self._lock:
                    self._busy = False
                    self._lock.notify_all()

    def _evaluate(self, batch: Sequence[Any]) -> None:
        alerts = self._evaluator.feed(stored.record for stored in batch)
        if not alerts:
            return
        for alert in alerts:
            try:
                self._emitter.emit(alert)
            except Exception as exc:  # noqa: BLE001
                internal_error("emitting an alert", exc)
        self.counts["alerts"] += len(alerts)
        self._write([alert_body(alert) for alert in alerts])


def monitor_from_env(
    write: Callable[[list[dict[str, Any]]], None],
    pseudonym: Callable[[str], str],
    *,
    enabled: bool | None = None,
    emitter: AlertEmitter | None = None,
) -> AlertMonitor | None:
    """The monitor an audit exporter runs: None when ``enabled`` is False (or, when None,
    ``OTEL_PYTHON_TOOLAUDIT_ALERTS`` is ``false``). Thresholds from the retention file; when it
    cannot be read, the problem is logged and the defaults are used."""
    import os

    from opentelemetry_instrumentation_toolaudit._log import logger
    from opentelemetry_instrumentation_toolaudit.alerts._config import AlertThresholds
    from opentelemetry_instrumentation_toolaudit.environment_variables import (
        OTEL_PYTHON_TOOLAUDIT_ALERTS,
    )

    if enabled is None:
        value = os.environ.get(OTEL_PYTHON_TOOLAUDIT_ALERTS, "").strip().lower()
        enabled = value not in ("false", "0", "no", "off")
    if not enabled:
        return None
    try:
        thresholds = AlertThresholds.from_env()
    except (OSError, ValueError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else str(exc)
        logger.error("toolaudit: alert thresholds not read (%s); using the defaults", why)
        thresholds = AlertThresholds()
    return AlertMonitor(AlertEvaluator(thresholds, pseudonym=pseudonym), write, emitter)
