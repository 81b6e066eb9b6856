# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""OpenTelemetry instrumentation that audits LLM agents' tool calls.

Every tool call becomes an ``execute_tool`` span that says who asked (the user), which model chose the
call, which tool ran, why (the trigger), with what arguments (redacted) and what outcome.

Usage
-----

.. code-block:: python

    from opentelemetry_instrumentation_toolaudit import (
        ToolAuditInstrumentor, audit_context, audited_tool, CallTrigger,
    )

    ToolAuditInstrumentor().instrument(tracer_provider=tracer_provider)

    @audited_tool
    def update_order_status(order_id: str, status: str) -> dict:
        \"\"\"Change an order's status.\"\"\"
        ...

    with audit_context(user_id="usr_98765", user_role="support_agent",
                       conversation_id="conv_abc123", turn_number=7, model="gpt-4.1",
                       trigger=CallTrigger.USER_REQUEST):
        update_order_status("ORD-123", "shipped")

Or with no code change: ``opentelemetry-instrument python app.py`` loads the instrumentor, and
``OTEL_PYTHON_TOOLAUDIT_TOOLS=myapp.tools:dispatch`` names the app's dispatch functions to wrap.

Configuration
-------------

* ``OTEL_PYTHON_TOOLAUDIT_TOOLS``: comma-separated ``module:qualname`` dispatch functions to wrap.
* ``OTEL_PYTHON_TOOLAUDIT_BAGGAGE``: ``off`` (default), ``inject``, ``extract`` or ``both``: carry
  attribution to downstream services as W3C baggage, and/or accept it from upstream.
* ``OTEL_PYTHON_TOOLAUDIT_USER_HEADER`` (and ``_ROLE_``, ``_CONVERSATION_``, ``_SESSION_``,
  ``_PURPOSE_HEADER``): attribute each Starlette/FastAPI, Flask or Django request from the headers
  an authenticating gateway sets (``OTEL_PYTHON_TOOLAUDIT_DJANGO_USER=true``: Django's ``request.user``). With no code at all, a model request's ``user``, ``safety_identifier``
  or ``metadata`` (keys ``OTEL_PYTHON_TOOLAUDIT_METADATA_USER_KEY``, ``_CONVERSATION_KEY``) attribute
  the tool calls its response asks for. Precedence and trust: ``docs/attribution.md``.
* ``OTEL_PYTHON_TOOLAUDIT_RESULT_KEYS``: result keys kept in the summary (default ``id,*_id,status,count``).
* ``OTEL_PYTHON_TOOLAUDIT_MAX_ARGUMENT_BYTES``: bound on recorded argument JSON (default 8192).
* Redaction (``OTEL_PYTHON_TOOLAUDIT_HASH_KEY``, ``_HASH_KEY_FILE``, ``_CONTENT``, ...): see
  :mod:`opentelemetry_instrumentation_toolaudit.redaction`. ``instrument()`` puts a redacting
  processor in front of every span and log exporter.
"""

from __future__ import annotations

import importlib
import typing

from opentelemetry_instrumentation_toolaudit._context import (
    Attribution,
    BreakGlass,
    CallTrigger,
    audit_context,
    current_attribution,
)
from opentelemetry_instrumentation_toolaudit._decorator import audited_tool
from opentelemetry_instrumentation_toolaudit._events import record_event
from opentelemetry_instrumentation_toolaudit._exceptions import (
    AccessDeniedError,
    AuditUnavailableError,
    CanonicalizationError,
    SinkError,
    ToolAuditError,
    VerificationError,
)
from opentelemetry_instrumentation_toolaudit._instrumentor import ToolAuditInstrumentor
from opentelemetry_instrumentation_toolaudit._log import error_counts
from opentelemetry_instrumentation_toolaudit._recorder import ToolCall
from opentelemetry_instrumentation_toolaudit.version import __version__

if typing.TYPE_CHECKING:
    from opentelemetry_instrumentation_toolaudit.export import AuditLogExporter

# Importing the package (as opentelemetry-instrument does for every app) must not load the audit
# trail's cryptography, verifier and prover: these names are imported when first used.
_LAZY = {"AuditLogExporter": "opentelemetry_instrumentation_toolaudit.export"}

__all__ = [
    "AccessDeniedError",
    "Attribution",
    "AuditLogExporter",
    "AuditUnavailableError",
    "BreakGlass",
    "CallTrigger",
    "CanonicalizationError",
    "SinkError",
    "ToolAuditError",
    "ToolAuditInstrumentor",
    "ToolCall",
    "VerificationError",
    "__version__",
    "audit_context",
    "audited_tool",
    "current_attribution",
    "error_counts",
    "record_event",
]


def __getattr__(name: str) -> typing.Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
