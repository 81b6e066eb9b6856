# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The receiver's own metrics: records written, spans rejected, refusals, in flight, commit latency."""

from __future__ import annotations

import json

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from opentelemetry_instrumentation_toolaudit.ledger import AuditLog, NoteSigner, open_sink
from opentelemetry_instrumentation_toolaudit.serve import Ingest, OverloadedError
from opentelemetry_instrumentation_toolaudit.serve._metrics import ServeMetrics
from tests.serve.conftest import EMAIL
from tests.serve.otlp_requests import request_protobuf, tool_span


@pytest.fixture
def reader() -> InMemoryMetricReader:
    return InMemoryMetricReader()


@pytest.fixture
def ingest(tmp_path, reader):
    log = AuditLog(open_sink(f"sqlite:///{tmp_path}/audit.db"), signer=NoteSigner.generate("t"))
    ingest = Ingest(log, max_inflight=1, metrics=ServeMetrics(MeterProvider([reader])))
    yield ingest
    ingest.close()


def points(reader: InMemoryMetricReader) -> dict[str, list[tuple[dict[str, object], object]]]:
    out: dict[str, list[tuple[dict[str, object], object]]] = {}
    data = reader.get_metrics_data()
    for resource_metrics in data.resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                out[metric.name] = [
                    (dict(p.attributes or {}), getattr(p, "value", getattr(p, "count", None)))
                    for p in metric.data.data_points
                ]
    return out


def test_metrics_count_records_rejections_and_refusals(ingest, reader):
    """Records, spans, rejected spans, overload refusals, in-flight requests and commit latency are measured, with no span values."""
    request = ExportTraceServiceRequest.FromString(
        request_protobuf([tool_span(), tool_span(), tool_span(trace_id="00" * 16)])
    )
    ingest.admit("http")
    with pytest.raises(OverloadedError):
        ingest.admit("grpc")
    outcome = ingest.export(request, "http")
    ingest.release()
    assert (outcome.spans, outcome.records, outcome.rejected) == (3, 2, 1)
    got = points(reader)
    transport = "toolaudit.serve.transport"
    assert got["toolaudit.serve.records"] == [({}, 2)]
    assert got["toolaudit.serve.spans"] == [({transport: "http"}, 3)]
    assert got["toolaudit.serve.spans.rejected"] == [({transport: "http"}, 1)]
    assert got["toolaudit.serve.requests.refused"] == [
        ({transport: "grpc", "error.type": "overloaded"}, 1)
    ]
    assert got["toolaudit.serve.inflight"] == [({}, 0)]
    assert got["toolaudit.serve.commit.duration"] == [({}, 1)]
    assert EMAIL not in json.dumps(reader.get_metrics_data().to_json())


def test_uncommitted_request_is_not_acknowledged(tmp_path, reader):
    """When the sink does not commit, export raises UnavailableError (the transports answer 503 / UNAVAILABLE)."""
    from opentelemetry_instrumentation_toolaudit.serve import UnavailableError

    log = AuditLog(open_sink(f"sqlite:///{tmp_path}/audit.db"), signer=NoteSigner.generate("t"))
    ingest = Ingest(log, metrics=ServeMetrics(MeterProvider([reader])))
    log.close()
    request = ExportTraceServiceRequest.FromString(request_protobuf([tool_span()]))
    with pytest.raises(UnavailableError):
        ingest.export(request, "grpc")
    assert points(reader)["toolaudit.serve.requests.refused"] == [
        ({"toolaudit.serve.transport": "grpc", "error.type": "unavailable"}, 1)
    ]
    ingest.close()
