# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Redaction: no PII or secret leaves the process, prompts travel only as keyed hashes.

Usage::

    from opentelemetry_instrumentation_toolaudit.redaction import (
        RedactingSpanProcessor, RedactionPolicy,
    )

    policy = RedactionPolicy.from_env()   # persistent hash key from the environment or its key file
    policy.redact({"user": "a", "password": "hunter2", "email": "jane@example.com",
                   "note": "card 4111 1111 1111 1111"})
    # {"user": "a", "password": "***REDACTED***", "email": "hmac-sha256:k…:…",
    #  "note": "card <CREDIT_CARD>"}
    policy.pseudonym("jane@example.com")  # "hmac-sha256:k1a2b3c4d:…", stable under one key
    policy.findings("mail jane@example.com")   # ["email"]: kinds only, never values

    provider.add_span_processor(RedactingSpanProcessor(BatchSpanProcessor(exporter), policy=policy))

``ToolAuditInstrumentor().instrument()`` puts a ``RedactingSpanProcessor`` in front of every processor
of the tracer provider (the one ``opentelemetry-instrument`` configured, or the one passed in), so
every exporter receives redacted spans, and a ``RedactingLogRecordProcessor`` first among the logger
provider's processors, for OpenTelemetry log records. Configuration is by environment variables; see
:meth:`RedactionPolicy.from_env` and docs/redaction.md.
"""

from __future__ import annotations

from opentelemetry_instrumentation_toolaudit.redaction._builtin import builtin_detectors
from opentelemetry_instrumentation_toolaudit.redaction._detectors import (
    Detector,
    Finding,
    PatternDetector,
)
from opentelemetry_instrumentation_toolaudit.redaction._hashkey import HashKey
from opentelemetry_instrumentation_toolaudit.redaction._install import (
    Installation,
    install_redaction,
)
from opentelemetry_instrumentation_toolaudit.redaction._logs import (
    LogInstallation,
    RedactingLogRecordProcessor,
    install_log_redaction,
)
from opentelemetry_instrumentation_toolaudit.redaction._policy import RedactionPolicy
from opentelemetry_instrumentation_toolaudit.redaction._presidio import PresidioDetector
from opentelemetry_instrumentation_toolaudit.redaction._processor import RedactingSpanProcessor

__all__ = [
    "Detector",
    "Finding",
    "HashKey",
    "Installation",
    "LogInstallation",
    "PatternDetector",
    "PresidioDetector",
    "RedactingLogRecordProcessor",
    "RedactingSpanProcessor",
    "RedactionPolicy",
    "builtin_detectors",
    "install_log_redaction",
    "install_redaction",
]
