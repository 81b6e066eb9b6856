# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""``toolaudit serve``: a central audit service that receives spans over OTLP and keeps the trail.

Install with ``pip install 'opentelemetry-instrumentation-toolaudit[serve]'`` (add ``postgres`` for a
PostgreSQL sink). Point an OpenTelemetry SDK or Collector at it: OTLP/HTTP on 127.0.0.1:4318
(``OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318``, ``OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf``)
or OTLP/gRPC on 127.0.0.1:4317.

Usage
-----

.. code-block:: shell

    toolaudit serve --sink postgresql://audit_writer@db/audit

.. code-block:: python

    from opentelemetry_instrumentation_toolaudit.ledger import AuditLog
    from opentelemetry_instrumentation_toolaudit.serve import Ingest, ServeOptions, run

    run(Ingest(AuditLog.from_env("sqlite:///audit.db")), ServeOptions(grpc=""))

Each request is redacted by the policy (``OTEL_PYTHON_TOOLAUDIT_*``, as in-process), turned into
records by the same code as the in-process exporter, and committed before the answer says success;
see docs/serve.md for the guarantees, overload behaviour, TLS, authentication and metrics.
"""

from __future__ import annotations

from opentelemetry_instrumentation_toolaudit.serve._ingest import (
    Ingest,
    Outcome,
    OverloadedError,
    UnavailableError,
)
from opentelemetry_instrumentation_toolaudit.serve._server import ServeOptions, run
from opentelemetry_instrumentation_toolaudit.serve._spans import event_id_for

__all__ = [
    "Ingest",
    "Outcome",
    "OverloadedError",
    "ServeOptions",
    "UnavailableError",
    "event_id_for",
    "run",
]
