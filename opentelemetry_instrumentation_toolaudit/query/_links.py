# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Trace ids as links into a tracing backend (Jaeger, Grafana Tempo...)."""

from __future__ import annotations

import os
from urllib.parse import quote

from opentelemetry_instrumentation_toolaudit.environment_variables import (
    OTEL_PYTHON_TOOLAUDIT_TRACE_URL,
)

PLACEHOLDER = "{trace_id}"


def trace_url_template() -> str | None:
    """``OTEL_PYTHON_TOOLAUDIT_TRACE_URL`` when it is set and holds ``{trace_id}``, else None."""
    template = os.environ.get(OTEL_PYTHON_TOOLAUDIT_TRACE_URL, "").strip()
    return template if PLACEHOLDER in template else None


def trace_link(trace_id: str | None, template: str | None = None) -> str | None:
    """The URL of ``trace_id`` in the tracing backend ``template`` names (default: the
    environment's), or None when there is no trace id or no template."""
    template = template if template is not None else trace_url_template()
    if not trace_id or not template:
        return None
    return template.replace(PLACEHOLDER, quote(trace_id, safe=""))
