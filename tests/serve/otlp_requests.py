# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""OTLP trace export requests built by hand, as JSON (hex ids) or protobuf, for the serve tests."""

from __future__ import annotations

import copy
import json
import os
import time
from typing import Any

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.serve.conftest import EMAIL


def tool_span(
    *, trace_id: str | None = None, span_id: str | None = None, tool: str = "lookup_customer"
) -> dict[str, Any]:
    """An OTLP/JSON ``execute_tool`` span as our recorder writes it, with an e-mail in its arguments."""
    now = time.time_ns()
    return {
        "traceId": trace_id or os.urandom(16).hex(),
        "spanId": span_id or os.urandom(8).hex(),
        "name": f"execute_tool {tool}",
        "kind": 1,
        "startTimeUnixNano": str(now - 2_000_000),
        "endTimeUnixNano": str(now),
        "attributes": [
            {"key": "gen_ai.operation.name", "value": {"stringValue": "execute_tool"}},
            {"key": "gen_ai.tool.name", "value": {"stringValue": tool}},
            {"key": "user.id", "value": {"stringValue": "usr_42"}},
            {
                "key": "gen_ai.tool.call.arguments",
                "value": {"stringValue": json.dumps({"customer_id": "CUS-1", "email": EMAIL})},
            },
        ],
        "status": {"code": 1},
    }


def request_json(spans: list[dict[str, Any]], **resource: str) -> dict[str, Any]:
    """An ExportTraceServiceRequest in OTLP/JSON; ``resource`` attributes default to a service name."""
    attributes = resource or {"service.name": "billing"}
    return {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [
                        {"key": key, "value": {"stringValue": value}}
                        for key, value in attributes.items()
                    ]
                },
                "scopeSpans": [{"scope": {"name": "tests"}, "spans": spans}],
            }
        ]
    }


def request_protobuf(spans: list[dict[str, Any]], **resource: str) -> bytes:
    """The same request as protobuf bytes (ids converted from hex)."""
    document = copy.deepcopy(request_json(spans, **resource))
    for span in document["resourceSpans"][0]["scopeSpans"][0]["spans"]:
        for key in ("traceId", "spanId", "parentSpanId"):
            if key in span:
                span[key] = _base64(span[key])
    message = json_format.ParseDict(document, ExportTraceServiceRequest())
    return message.SerializeToString()


def _base64(hex_id: str) -> str:
    import base64

    return base64.b64encode(bytes.fromhex(hex_id)).decode()
