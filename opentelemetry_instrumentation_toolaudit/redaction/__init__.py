"""Redaction: no PII or secret leaves the process.

Usage::

    from opentelemetry_instrumentation_toolaudit.redaction import RedactionPolicy

    policy = RedactionPolicy.from_env()
    policy.redact({"user": "a", "password": "hunter2"})  # {"user": "a", "password": "***REDACTED***"}
"""

from __future__ import annotations

from opentelemetry_instrumentation_toolaudit.redaction._keys import REDACTED
from opentelemetry_instrumentation_toolaudit.redaction._policy import RedactionPolicy

__all__ = ["REDACTED", "RedactionPolicy"]
