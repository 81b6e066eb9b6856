# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Where an alert goes: an OpenTelemetry log record, a counter, and an ``alert`` record body.

The log record (event ``toolaudit.alert``, severity WARN) and the counter (``toolaudit.alerts``) go
through the global LoggerProvider and MeterProvider unless others are given, so the team's existing
alerting (Grafana, Alertmanager, Datadog) picks them up from its usual pipeline.
"""

from __future__ import annotations

from typing import Any

from opentelemetry import metrics
from opentelemetry._logs import LoggerProvider, SeverityNumber, get_logger_provider
from opentelemetry.metrics import MeterProvider

from opentelemetry_instrumentation_toolaudit import attributes as attrs
from opentelemetry_instrumentation_toolaudit.alerts._rules import Alert
from opentelemetry_instrumentation_toolaudit.version import __version__

_SCOPE = "opentelemetry_instrumentation_toolaudit.alerts"


class AlertEmitter:
    """Emits each alert as a log record and counts it."""

    def __init__(
        self,
        logger_provider: LoggerProvider | None = None,
        meter_provider: MeterProvider | None = None,
    ) -> None:
        self._logger = (logger_provider or get_logger_provider()).get_logger(_SCOPE, __version__)
        meter = (meter_provider or metrics.get_meter_provider()).get_meter(_SCOPE, __version__)
        self._counter = meter.create_counter(
            attrs.TOOLAUDIT_ALERTS_METRIC,
            unit="{alert}",
            description="Alerts raised on the audit trail",
        )

    def emit(self, alert: Alert) -> None:
        """One WARN log record and one count for ``alert``."""
        self._logger.emit(
            event_name=attrs.TOOLAUDIT_ALERT_EVENT,
            severity_number=SeverityNumber.WARN,
            severity_text="WARN",
            body=f"{attrs.TOOLAUDIT_ALERT_EVENT}: {alert.rule}: {alert.detail}",
            attributes=alert_attributes(alert),
        )
        self._counter.add(1, {attrs.TOOLAUDIT_ALERT_RULE: alert.rule})


def alert_attributes(alert: Alert) -> dict[str, Any]:
    """The attributes of an alert's log record (pseudonyms, never values)."""
    out: dict[str, Any] = {
        attrs.TOOLAUDIT_ALERT_RULE: alert.rule,
        attrs.TOOLAUDIT_ALERT_SEQS: list(alert.seqs),
        attrs.TOOLAUDIT_ALERT_COUNT: alert.count,
    }
    for key, value in (
        (attrs.TOOLAUDIT_ALERT_USER, alert.user),
        (attrs.TOOLAUDIT_ALERT_SUBJECT, alert.subject),
        (attrs.TOOLAUDIT_ALERT_TOOL, alert.tool),
    ):
        if value is not None:
            out[key] = value
    return out


def alert_body(alert: Alert) -> dict[str, Any]:
    """The body of the ``alert`` record that writes ``alert`` into the chain."""
    from opentelemetry_instrumentation_toolaudit.export._records import new_event_id, now

    body: dict[str, Any] = {
        "event_id": new_event_id(),
        "event_type": "alert",
        "recorded_at": now(),
        "success": True,
        "details": {k: v for k, v in alert.to_json().items() if v is not None},
    }
    if alert.tool is not None:
        body["tool_name"] = alert.tool
    return body
