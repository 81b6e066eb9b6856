# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""OTLP/gRPC: ``opentelemetry.proto.collector.trace.v1.TraceService/Export`` on ``grpcio``.

The answer is OK with an ``ExportTraceServiceResponse`` (its ``partial_success`` names rejected
spans) once the records are committed. Overload is ``RESOURCE_EXHAUSTED`` and an unavailable sink
``UNAVAILABLE``, both with a ``google.rpc.RetryInfo`` (in ``grpc-status-details-bin`` and
``google.rpc.retryinfo-bin``), which OTLP exporters and the Collector retry after the delay given.
"""

from __future__ import annotations

import hmac
from concurrent import futures
from typing import TYPE_CHECKING, Any, NoReturn

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from opentelemetry_instrumentation_toolaudit._log import internal_error
from opentelemetry_instrumentation_toolaudit.serve._ingest import (
    RETRY_AFTER_SECONDS,
    OverloadedError,
    UnavailableError,
)

if TYPE_CHECKING:
    from opentelemetry_instrumentation_toolaudit.serve._ingest import Ingest

TRANSPORT = "grpc"


class TraceService(trace_service_pb2_grpc.TraceServiceServicer):
    """The OTLP trace service, committing each request through ``ingest``."""

    def __init__(self, ingest: Ingest, *, token: str | None = None) -> None:
        self._ingest = ingest
        self._expected = f"Bearer {token}".encode() if token else None

    def Export(  # noqa: N802 - the generated servicer's method name
        self, request: ExportTraceServiceRequest, context: grpc.ServicerContext
    ) -> ExportTraceServiceResponse:
        if self._expected is not None and not self._authorized(context):
            self._ingest.metrics.refused(TRANSPORT, "unauthenticated")
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "a valid bearer token is required")
        try:
            self._ingest.admit(TRANSPORT)
        except OverloadedError:
            _retry_later(
                context,
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                "the audit service is at its limit of requests in flight",
            )
        try:
            outcome = self._ingest.export(request, TRANSPORT)
        except UnavailableError:
            _retry_later(context, grpc.StatusCode.UNAVAILABLE, "the audit sink is unavailable")
        except Exception as exc:  # noqa: BLE001 - answered, logged once by type, never raised
            internal_error("receiving spans over OTLP/gRPC", exc)
            context.abort(
                grpc.StatusCode.INTERNAL, "the audit service failed to handle the request"
            )
            raise AssertionError("grpc's abort returned") from None
        finally:
            self._ingest.release()
        response = ExportTraceServiceResponse()
        if outcome.rejected:
            response.partial_success.CopyFrom(
                ExportTracePartialSuccess(
                    rejected_spans=outcome.rejected, error_message=outcome.message
                )
            )
        return response

    def _authorized(self, context: grpc.ServicerContext) -> bool:
        assert self._expected is not None
        for key, value in context.invocation_metadata():
            if key == "authorization":
                given = value.encode() if isinstance(value, str) else bytes(value)
                return hmac.compare_digest(given, self._expected)
        return False


def _retry_later(context: grpc.ServicerContext, code: grpc.StatusCode, message: str) -> NoReturn:
    retry = error_details_pb2.RetryInfo(
        retry_delay=duration_pb2.Duration(seconds=RETRY_AFTER_SECONDS)
    )
    detail = any_pb2.Any()
    detail.Pack(retry)
    rpc_code = (
        code_pb2.RESOURCE_EXHAUSTED
        if code == grpc.StatusCode.RESOURCE_EXHAUSTED
        else code_pb2.UNAVAILABLE
    )
    status = status_pb2.Status(code=rpc_code, message=message, details=[detail])
    context.set_trailing_metadata(
        (
            ("grpc-status-details-bin", status.SerializeToString()),
            ("google.rpc.retryinfo-bin", retry.SerializeToString()),
        )
    )
    context.abort(code, message)
    # abort() raises to end the call; its stub says it returns.
    raise AssertionError("grpc's abort returned")


def grpc_server(
    ingest: Ingest,
    address: str,
    *,
    token: str | None = None,
    credentials: grpc.ServerCredentials | None = None,
    max_request_bytes: int,
) -> tuple[grpc.Server, int]:
    """A started gRPC server on ``address`` (``host:port``) and the port it listens on."""
    workers = ingest.max_inflight + 4
    options: list[tuple[str, Any]] = [
        ("grpc.max_receive_message_length", max_request_bytes),
        ("grpc.so_reuseport", 0),
    ]
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="toolaudit-grpc"),
        options=options,
        # Beyond this many calls grpcio itself answers RESOURCE_EXHAUSTED: memory stays bounded.
        maximum_concurrent_rpcs=workers * 4,
    )
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(
        TraceService(ingest, token=token), server
    )
    if credentials is not None:
        port = server.add_secure_port(address, credentials)
    else:
        port = server.add_insecure_port(address)
    server.start()
    return server, port
