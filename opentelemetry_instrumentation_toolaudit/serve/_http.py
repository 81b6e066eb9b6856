# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""OTLP/HTTP: ``POST /v1/traces`` (protobuf or JSON, optionally gzip) and ``GET /healthz``, as a
Starlette app.

Answers follow the OTLP/HTTP specification: 200 with an ``ExportTraceServiceResponse`` (its
``partial_success`` names rejected spans) once the records are committed; 429 (overloaded) and 503
(sink unavailable) with ``Retry-After``, which OTLP exporters and the Collector retry; 400, 401, 413
and 415 for a request that would fail again.
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING

import anyio.to_thread
from google.protobuf import json_format
from google.rpc import code_pb2, status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceResponse,
)
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from opentelemetry_instrumentation_toolaudit._log import internal_error
from opentelemetry_instrumentation_toolaudit.serve._decode import (
    JSON,
    PROTOBUF,
    TooLargeError,
    UndecodableError,
    decode,
    decompress,
)
from opentelemetry_instrumentation_toolaudit.serve._ingest import (
    RETRY_AFTER_SECONDS,
    OverloadedError,
    UnavailableError,
)

if TYPE_CHECKING:
    from opentelemetry_instrumentation_toolaudit.serve._ingest import Ingest, Outcome

TRANSPORT = "http"
# The google.rpc.Code each HTTP answer corresponds to, for the Status in its body.
_RPC_CODES = {
    400: code_pb2.INVALID_ARGUMENT,
    401: code_pb2.UNAUTHENTICATED,
    413: code_pb2.RESOURCE_EXHAUSTED,
    415: code_pb2.INVALID_ARGUMENT,
    429: code_pb2.RESOURCE_EXHAUSTED,
    500: code_pb2.INTERNAL,
    503: code_pb2.UNAVAILABLE,
}
TRACES_PATH = "/v1/traces"
HEALTH_PATH = "/healthz"


def http_app(ingest: Ingest, *, token: str | None = None, max_request_bytes: int) -> Starlette:
    """The Starlette app serving ``ingest``; ``token``, when set, is the bearer token required."""
    expected = f"Bearer {token}".encode() if token else None

    async def traces(request: Request) -> Response:
        as_json = request.headers.get("content-type", "").split(";")[0].strip().lower() == JSON
        if expected is not None and not hmac.compare_digest(
            request.headers.get("authorization", "").encode(), expected
        ):
            ingest.metrics.refused(TRANSPORT, "unauthenticated")
            return _error(
                401, "a valid bearer token is required", as_json, {"WWW-Authenticate": "Bearer"}
            )
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind not in (PROTOBUF, JSON):
            ingest.metrics.refused(TRANSPORT, "unsupported_media_type")
            return _error(415, f"Content-Type must be {PROTOBUF} or {JSON}", as_json)
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_request_bytes:
            return _too_large(ingest, max_request_bytes, as_json)
        try:
            ingest.admit(TRANSPORT)
        except OverloadedError:
            return _retry_later(
                429, "the audit service is at its limit of requests in flight", as_json
            )
        try:
            body = bytearray()
            async for chunk in request.stream():
                body += chunk
                if len(body) > max_request_bytes:
                    return _too_large(ingest, max_request_bytes, as_json)
            encoding = request.headers.get("content-encoding", "")
            outcome = await anyio.to_thread.run_sync(
                _handle, ingest, bytes(body), encoding, kind, max_request_bytes
            )
            return _success(outcome, as_json)
        except TooLargeError:
            return _too_large(ingest, max_request_bytes, as_json)
        except UndecodableError as exc:
            ingest.metrics.refused(TRANSPORT, "undecodable")
            return _error(400, str(exc), as_json)
        except UnavailableError:
            return _retry_later(503, "the audit sink is unavailable", as_json)
        except ClientDisconnect:
            return Response(status_code=400)  # nobody is left to read it
        except Exception as exc:  # noqa: BLE001 - answered, logged once by type, never raised
            internal_error("receiving spans over OTLP/HTTP", exc)
            return _error(500, "the audit service failed to handle the request", as_json)
        finally:
            ingest.release()

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok", "inflight": ingest.inflight})

    return Starlette(
        routes=[
            Route(TRACES_PATH, traces, methods=["POST"]),
            Route(HEALTH_PATH, health, methods=["GET"]),
        ]
    )


def _handle(ingest: Ingest, body: bytes, encoding: str, kind: str, limit: int) -> Outcome:
    return ingest.export(decode(decompress(body, encoding, limit), kind), TRANSPORT)


def _success(outcome: Outcome, as_json: bool) -> Response:
    response = ExportTraceServiceResponse()
    if outcome.rejected:
        response.partial_success.CopyFrom(
            ExportTracePartialSuccess(
                rejected_spans=outcome.rejected, error_message=outcome.message
            )
        )
    if as_json:
        return JSONResponse(json_format.MessageToDict(response))
    return Response(response.SerializeToString(), media_type=PROTOBUF)


def _error(
    code: int, message: str, as_json: bool, headers: dict[str, str] | None = None
) -> Response:
    """An OTLP error answer: a ``google.rpc.Status`` in the request's encoding."""
    status = status_pb2.Status(code=_RPC_CODES.get(code, code_pb2.UNKNOWN), message=message)
    if as_json:
        return JSONResponse(json_format.MessageToDict(status), code, headers)
    return Response(status.SerializeToString(), code, headers, media_type=PROTOBUF)


def _retry_later(code: int, message: str, as_json: bool) -> Response:
    return _error(code, message, as_json, {"Retry-After": str(RETRY_AFTER_SECONDS)})


def _too_large(ingest: Ingest, limit: int, as_json: bool) -> Response:
    ingest.metrics.refused(TRANSPORT, "too_large")
    return _error(413, f"the request is over the limit of {limit} bytes", as_json)
