# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""`toolaudit serve` runs the alert rules on what it commits: alert records in the same chain, the
alert counter on the receiver's MeterProvider, drained before the final checkpoint; off with
--no-alerts or OTEL_PYTHON_TOOLAUDIT_ALERTS=false."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from opentelemetry_instrumentation_toolaudit.ledger import AuditLog, NoteSigner, open_sink
from opentelemetry_instrumentation_toolaudit.redaction import RedactionPolicy
from opentelemetry_instrumentation_toolaudit.serve import Ingest
from opentelemetry_instrumentation_toolaudit.serve._metrics import ServeMetrics
from tests.serve.conftest import records, verify
from tests.serve.otlp_requests import request_json, request_protobuf, tool_span

PATIENT = "P-778812"
HOUR_AGO_NS = (int(time.time()) - 3600) * 1_000_000_000
MINUTE_NS = 60 * 1_000_000_000


def post(url: str, spans: list[dict[str, Any]]) -> None:
    response = httpx.post(f"{url}/v1/traces", json=request_json(spans), timeout=30)
    assert (response.status_code, response.json()) == (200, {})


def break_glass_span() -> dict[str, Any]:
    """A tool call made under break-the-glass, as the recorder writes it."""
    span = tool_span(tool="access_patient_record")
    span["attributes"] += [
        {"key": "toolaudit.break_glass", "value": {"boolValue": True}},
        {"key": "toolaudit.break_glass.reason", "value": {"stringValue": "cardiac arrest, bed 4"}},
        {"key": "toolaudit.purpose", "value": {"stringValue": "ETREAT"}},
    ]
    return span


def access_span(minute: int) -> dict[str, Any]:
    """usr_42 reading PATIENT's chart, ``minute`` minutes after a fixed time an hour ago."""
    span = tool_span(tool="access_patient_record")
    start = HOUR_AGO_NS + minute * MINUTE_NS
    span["startTimeUnixNano"], span["endTimeUnixNano"] = str(start), str(start + 2_000_000)
    span["attributes"].append({"key": "toolaudit.subject", "value": {"stringValue": PATIENT}})
    return span


def alerts_in(sink: str) -> list[dict[str, Any]]:
    return [r for r in records(sink) if r["event_type"] == "alert"]


def test_break_glass_span_raises_an_alert_record_in_the_chain(serve_sink, serve_factory, tmp_path):
    """A break-the-glass span received over OTLP raises a break_glass alert, committed as an
    ``alert`` record in the same chain while serve runs, and the trail verifies."""
    serve = serve_factory(serve_sink).start()
    post(serve.http_url, [break_glass_span()])
    deadline = time.monotonic() + 30
    while not alerts_in(serve_sink) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert serve.stop() == 0
    call, alert = records(serve_sink)
    assert (call["event_type"], call["purpose"]) == ("tool.call", "ETREAT")
    assert (alert["event_type"], alert["seq"]) == ("alert", 1)
    assert alert["details"]["rule"] == "break_glass"
    assert alert["details"]["seqs"] == [0]
    assert alert["details"]["user"] == RedactionPolicy.from_env().pseudonym("usr_42")
    assert "usr_42" not in json.dumps(alert["details"])
    checked = verify(serve_sink, tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_ten_accesses_to_one_subject_in_an_hour_raise_one_alert(
    serve_sink, serve_factory, tmp_path
):
    """Ten accesses by one user to one subject within an hour, sent in two requests, raise one
    repeated_subject_access alert naming the ten records by the subject's pseudonym; it is in the
    chain once serve has stopped (the rules are drained before the final checkpoint)."""
    serve = serve_factory(serve_sink).start()
    post(serve.http_url, [access_span(minute) for minute in range(0, 25, 5)])
    post(serve.http_url, [access_span(minute) for minute in range(25, 50, 5)])
    assert serve.stop() == 0
    stored = records(serve_sink)
    (alert,) = alerts_in(serve_sink)
    pseudonym = RedactionPolicy.from_env().pseudonym
    assert alert["details"]["rule"] == "repeated_subject_access"
    assert alert["details"]["count"] == 10
    assert alert["details"]["seqs"] == [r["seq"] for r in stored if r["event_type"] == "tool.call"]
    assert alert["details"]["subject"] == pseudonym(PATIENT)
    assert alert["details"]["user"] == pseudonym("usr_42")
    assert PATIENT not in json.dumps(stored)
    checked = verify(serve_sink, tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # The final checkpoint was signed after the alert record was committed: it covers it.
    assert "not yet under a checkpoint" not in checked.stdout


@pytest.mark.parametrize(
    ("flags", "env"),
    [(("--no-alerts",), {}), ((), {"OTEL_PYTHON_TOOLAUDIT_ALERTS": "false"})],
    ids=["--no-alerts", "env"],
)
def test_alerts_off_raise_none(flags, env, tmp_path, serve_factory):
    """With --no-alerts, or OTEL_PYTHON_TOOLAUDIT_ALERTS=false, neither break-the-glass nor repeated
    access raises an alert record."""
    sink = f"sqlite:///{tmp_path}/audit.db"
    serve = serve_factory(sink, *flags, env=env).start()
    post(serve.http_url, [break_glass_span(), *(access_span(minute) for minute in range(10))])
    assert serve.stop() == 0
    assert [r["event_type"] for r in records(sink)] == ["tool.call"] * 11


def test_alert_counter_goes_to_the_receivers_meter_provider(tmp_path):
    """The ``toolaudit.alerts`` counter is reported through the MeterProvider the receiver's own
    metrics use, and closing the receiver commits the alert record before the log closes."""
    reader = InMemoryMetricReader()
    url = f"sqlite:///{tmp_path}/audit.db"
    log = AuditLog(open_sink(url), signer=NoteSigner.generate("t"))
    ingest = Ingest(log, metrics=ServeMetrics(MeterProvider([reader])))
    request = ExportTraceServiceRequest.FromString(request_protobuf([break_glass_span()]))
    assert ingest.export(request, "http").records == 1
    ingest.close()
    counts = {
        point.attributes["toolaudit.alert.rule"]: point.value
        for resource in reader.get_metrics_data().resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.name == "toolaudit.alerts"
        for point in metric.data.data_points
    }
    assert counts == {"break_glass": 1}
    assert [r["event_type"] for r in records(url)] == ["tool.call", "alert"]
