# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Alerts on unusual access to the audit trail.

Rules over records (as ``StoredRecord.record`` gives them), run on demand over a whole trail or as
the audit exporter (or ``toolaudit serve``) commits records:

* ``repeated_subject_access``: one user accessed one subject ``threshold`` times (default 10) within
  ``window_minutes`` (60);
* ``many_subjects``: one user accessed ``threshold`` distinct subjects (50) within 60 minutes;
* ``unusual_hours``: an access at an hour of the day (UTC) the user has rarely been active at,
  learned from the user's own earlier records;
* ``failure_spike``: one tool failed ``threshold`` times (10) within 5 minutes;
* ``break_glass``: every break-the-glass use.

Usage::

    from opentelemetry_instrumentation_toolaudit.alerts import AlertThresholds, evaluate

    alerts = evaluate((r.record for r in sink.read()), AlertThresholds.from_env(),
                      pseudonym=RedactionPolicy.from_env().pseudonym)

Thresholds come from the ``[alerts]`` table of the file ``OTEL_PYTHON_TOOLAUDIT_RETENTION_FILE``
names; see docs/alerts.md.
"""

from __future__ import annotations

from opentelemetry_instrumentation_toolaudit.alerts._config import (
    RULES,
    AlertThresholds,
    HoursRule,
    WindowRule,
)
from opentelemetry_instrumentation_toolaudit.alerts._emit import AlertEmitter, alert_body
from opentelemetry_instrumentation_toolaudit.alerts._online import AlertMonitor
from opentelemetry_instrumentation_toolaudit.alerts._rules import (
    Alert,
    AlertEvaluator,
    evaluate,
    is_break_glass,
)

__all__ = [
    "RULES",
    "Alert",
    "AlertEmitter",
    "AlertEvaluator",
    "AlertMonitor",
    "AlertThresholds",
    "HoursRule",
    "WindowRule",
    "alert_body",
    "evaluate",
    "is_break_glass",
]
