# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""``RedactingLogRecordProcessor``: OpenTelemetry log records are redacted before any log exporter.

Instrumentations also carry prompts in *log* records: the GenAI events ``gen_ai.user.message``,
``gen_ai.choice``... (the official OpenAI instrumentation's default with content capture on), and the
Python ``logging`` bridge turns any log line into a record. The SDK hands processors a mutable
record, so this processor redacts it in place and must come first: the instrumentor puts it at the
front of the logger provider's processors.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import MutableMapping
from typing import Any

from opentelemetry.sdk._logs import LoggerProvider, LogRecordProcessor

try:
    from opentelemetry.sdk._logs import SynchronousMultiLogRecordProcessor
except ImportError:  # exported only since SDK 1.44; defined here since long before
    from opentelemetry.sdk._logs._internal import SynchronousMultiLogRecordProcessor

from opentelemetry_instrumentation_toolaudit import attributes as attrs
from opentelemetry_instrumentation_toolaudit._log import internal_error, logger
from opentelemetry_instrumentation_toolaudit.redaction._attributes import (
    AttributeRedactor,
    add_counts,
)
from opentelemetry_instrumentation_toolaudit.redaction._policy import RedactionPolicy

# GenAI events whose body is a message: the prompt or the response itself.
CONTENT_EVENTS = frozenset(
    {
        "gen_ai.system.message",
        "gen_ai.user.message",
        "gen_ai.assistant.message",
        "gen_ai.tool.message",
        "gen_ai.choice",
    }
)
BODY_HASH = "body" + attrs.CONTENT_HASH_SUFFIX
BODY_SIZE = "body" + attrs.CONTENT_SIZE_SUFFIX


class RedactingLogRecordProcessor(LogRecordProcessor):
    """Redacts each log record in place: body (a message event's body becomes ``{"body_hash",
    "body_size"}``), attributes (as span attributes), with ``toolaudit.redaction.count``/``.kinds``
    added. Register it before the exporting processors. If redaction fails, the body and attributes
    are replaced by ``***REDACTED***`` (fail closed) and the failure counted."""

    def __init__(self, policy: RedactionPolicy | None = None) -> None:
        self.policy = policy if policy is not None else RedactionPolicy.from_env()
        self._attributes = AttributeRedactor(self.policy)

    def on_emit(self, log_record: Any) -> None:
        record = log_record.log_record
        try:
            self.redact_record(record)
        except Exception as exc:  # noqa: BLE001 - never raise into the app; never leak either
            internal_error("redacting a log record", exc)
            record.body = RedactionPolicy.REDACTED
            _replace_attributes(record, {})

    def redact_record(self, record: Any) -> None:
        """Redact an SDK ``LogRecord`` in place."""
        found: dict[str, int] = collections.defaultdict(int)
        body = record.body
        if body is not None:
            if record.event_name in CONTENT_EVENTS and self.policy.content == "hash":
                digest, size = self._attributes.content_hash(body, found)
                record.body = {BODY_HASH: digest, BODY_SIZE: size}
            else:
                new = self.policy.redact_collect(body, found)
                if new is not body:
                    record.body = new
        current = record.attributes
        new_attributes = self._attributes.redact(dict(current), found) if current else None
        if found:
            merged = dict(current or {}) if new_attributes is None else new_attributes
            add_counts(merged, found)
            _replace_attributes(record, merged)

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def _replace_attributes(record: Any, attributes: dict[str, Any]) -> None:
    """Give ``record`` these attributes, in its own attributes object when that is mutable.

    The SDK keeps a record's attributes in a ``BoundedAttributes`` that carries the count of
    attributes dropped by limits; SDKs before 1.39 read that count (``.dropped``) at export and fail
    on a plain dict, and every SDK would otherwise export a dropped count of 0.
    """
    current = record.attributes
    if isinstance(current, MutableMapping):
        # The app's attributes were already held to the limit; our two count attributes must not
        # push any of them out.
        maxlen = getattr(current, "maxlen", None)
        try:
            if maxlen is not None:
                current.maxlen = None  # type: ignore[attr-defined]
            for key in [key for key in current if key not in attributes]:
                del current[key]
            for key, value in attributes.items():
                current[key] = value
            return
        except TypeError:  # an immutable BoundedAttributes: it refuses the first change
            pass
        finally:
            if maxlen is not None:
                current.maxlen = maxlen  # type: ignore[attr-defined]
    record.attributes = attributes


_lock = threading.Lock()


class LogInstallation:
    """A redacting log processor put first in a logger provider; :meth:`remove` takes it out."""

    def __init__(self, multi: Any, processor: RedactingLogRecordProcessor) -> None:
        self.multi = multi
        self.processor = processor

    def remove(self) -> None:
        with _lock, self.multi._lock:
            self.multi._log_record_processors = tuple(
                p for p in self.multi._log_record_processors if p is not self.processor
            )


def install_log_redaction(provider: Any, policy: RedactionPolicy) -> LogInstallation | None:
    """Put a ``RedactingLogRecordProcessor`` first among ``provider``'s processors (those added
    later run after it, so they see redacted records). None if ``provider`` is not an SDK
    ``LoggerProvider`` with sequential processors, or already has one first."""
    if not isinstance(provider, LoggerProvider):
        return None
    multi: Any = getattr(provider, "_multi_log_record_processor", None)
    if not isinstance(multi, SynchronousMultiLogRecordProcessor):
        # Concurrent processors would see the record while it is being redacted.
        logger.warning(
            "toolaudit: log record processors run concurrently (%s); log records are not "
            "redacted by toolaudit",
            type(multi).__name__,
        )
        return None
    with _lock, multi._lock:
        current = multi._log_record_processors
        if current and isinstance(current[0], RedactingLogRecordProcessor):
            return None
        processor = RedactingLogRecordProcessor(policy)
        multi._log_record_processors = (processor, *current)
    return LogInstallation(multi, processor)
