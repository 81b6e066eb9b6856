# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""`toolaudit serve` answers OTLP requests as the specification says: JSON, gzip, partial success,
size limit, overload, bearer token, TLS and mutual TLS; it stores no PII."""

from __future__ import annotations

import gzip
import socket
import ssl
import time
from pathlib import Path

import grpc
import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from google.rpc import error_details_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from tests._pki import certificate, pem_key
from tests.serve.conftest import EMAIL, health, records, verify
from tests.serve.otlp_requests import request_json, request_protobuf, tool_span

PROTOBUF = {"Content-Type": "application/x-protobuf"}


def post_json(url: str, document: object, **kwargs: object) -> httpx.Response:
    return httpx.post(f"{url}/v1/traces", json=document, timeout=30, **kwargs)  # type: ignore[arg-type]


def grpc_export(address: str, body: bytes, **kwargs: object) -> ExportTraceServiceResponse:
    channel = kwargs.pop("channel", None) or grpc.insecure_channel(address)
    with channel:
        stub = trace_service_pb2_grpc.TraceServiceStub(channel)
        return stub.Export(ExportTraceServiceRequest.FromString(body), timeout=30, **kwargs)


@pytest.fixture
def sqlite_sink(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/audit.db"


def test_json_request_is_redacted_and_committed(sqlite_sink, serve_factory, tmp_path):
    """An OTLP/JSON request's raw PII (span and resource attributes) is redacted before it is stored."""
    serve = serve_factory(sqlite_sink).start()
    span = tool_span()
    response = post_json(
        serve.http_url,
        request_json(
            [span],
            **{"service.name": "billing", "service.owner": EMAIL, "deployment.environment": "prod"},
        ),
    )
    assert (response.status_code, response.json()) == (200, {})
    (record,) = records(sqlite_sink)
    assert (record["trace_id"], record["span_id"]) == (span["traceId"], span["spanId"])
    assert record["service_name"] == "billing"
    assert record["deployment_environment"] == "prod"
    assert record["arguments"]["customer_id"] == "CUS-1"
    assert str(record["arguments"]["email"]).startswith("hmac-sha256:")
    assert serve.stop() == 0
    assert EMAIL.encode() not in (tmp_path / "audit.db").read_bytes()
    assert EMAIL not in serve.output()


def test_a_subject_named_by_its_value_is_stored_as_its_pseudonym(
    sqlite_sink, serve_factory, tmp_path
):
    """A sender that names a subject by its value (not our recorder's pseudonym) has it stored as
    the keyed pseudonym that queries and erasure look up; the value is nowhere in the trail."""
    serve = serve_factory(sqlite_sink).start()
    span = tool_span()
    span["attributes"].append({"key": "toolaudit.subject", "value": {"stringValue": "P-778812"}})
    assert post_json(serve.http_url, request_json([span])).status_code == 200
    (record,) = records(sqlite_sink)
    assert record["subject"].startswith("hmac-sha256:")
    assert serve.stop() == 0
    assert b"P-778812" not in (tmp_path / "audit.db").read_bytes()


def test_gzip_protobuf_request_and_retry_stored_once(sqlite_sink, serve_factory, tmp_path):
    """A gzip protobuf request is committed; the same request again (a retry) adds nothing."""
    serve = serve_factory(sqlite_sink).start()
    body = gzip.compress(request_protobuf([tool_span(), tool_span()]))
    for _ in range(2):
        response = httpx.post(
            f"{serve.http_url}/v1/traces",
            content=body,
            headers=PROTOBUF | {"Content-Encoding": "gzip"},
            timeout=30,
        )
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/x-protobuf"
        assert (
            ExportTraceServiceResponse.FromString(response.content) == ExportTraceServiceResponse()
        )
    grpc_export(serve.grpc_address, gzip.decompress(body))
    assert len(records(sqlite_sink)) == 2
    assert serve.stop() == 0
    assert verify(sqlite_sink, tmp_path).returncode == 0


def test_malformed_spans_are_rejected_with_partial_success(sqlite_sink, serve_factory):
    """Malformed spans are counted in partial_success with their reasons; the others are committed."""
    serve = serve_factory(sqlite_sink).start()
    good = tool_span()
    bad_trace = tool_span(trace_id="zz")
    zero_span = tool_span(span_id="0" * 16)
    backwards = tool_span()
    backwards["endTimeUnixNano"] = str(int(backwards["startTimeUnixNano"]) - 1)
    plain = tool_span()
    plain["attributes"] = [{"key": "http.route", "value": {"stringValue": "/orders"}}]
    spans = [good, bad_trace, zero_span, backwards, plain]
    response = post_json(serve.http_url, request_json(spans))
    assert response.status_code == 200
    partial = response.json()["partialSuccess"]
    assert partial["rejectedSpans"] == "3"
    assert partial["errorMessage"] == (
        "3 span(s) rejected: invalid span id (1), invalid trace id (1), span ends before it starts (1)"
    )
    grpc_response = grpc_export(serve.grpc_address, request_protobuf([good, zero_span]))
    assert grpc_response.partial_success.rejected_spans == 1
    assert [(r["trace_id"], r["span_id"]) for r in records(sqlite_sink)] == [
        (good["traceId"], good["spanId"])
    ]


def test_requests_over_the_size_limit_are_refused(sqlite_sink, serve_factory):
    """A body, or a gzip body's content, over --max-request-bytes is answered 413 and not stored."""
    serve = serve_factory(sqlite_sink, "--max-request-bytes", "4000").start()
    big = request_protobuf([tool_span() for _ in range(20)])
    assert len(big) > 4000
    response = httpx.post(f"{serve.http_url}/v1/traces", content=big, headers=PROTOBUF, timeout=30)
    assert response.status_code == 413
    bomb = gzip.compress(request_protobuf([tool_span()]) + b"\0" * 100_000)
    assert len(bomb) < 4000
    response = httpx.post(
        f"{serve.http_url}/v1/traces",
        content=bomb,
        headers=PROTOBUF | {"Content-Encoding": "gzip"},
        timeout=30,
    )
    assert response.status_code == 413
    with pytest.raises(grpc.RpcError) as refused:
        grpc_export(serve.grpc_address, big)
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert health(serve.http_url).status_code == 200
    assert records(sqlite_sink) == []


def test_overload_answers_429_and_resource_exhausted_with_retry_after(sqlite_sink, serve_factory):
    """With --max-inflight requests in flight, HTTP gets 429 and gRPC RESOURCE_EXHAUSTED, both with a retry delay."""
    serve = serve_factory(sqlite_sink, "--max-inflight", "1").start()
    body = request_protobuf([tool_span()])
    # A client that sent its headers but not all of its body holds the one slot.
    slow = socket.create_connection(("127.0.0.1", serve.http_port))
    slow.sendall(
        b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body[:10]
    )
    deadline = time.monotonic() + 30
    while health(serve.http_url).json()["inflight"] != 1:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    response = httpx.post(f"{serve.http_url}/v1/traces", content=body, headers=PROTOBUF, timeout=30)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "1"
    with pytest.raises(grpc.RpcError) as refused:
        grpc_export(serve.grpc_address, body)
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    retry = error_details_pb2.RetryInfo.FromString(
        dict(refused.value.trailing_metadata())["google.rpc.retryinfo-bin"]
    )
    assert retry.retry_delay.seconds == 1
    slow.sendall(body[10:])
    reply = slow.recv(4096)
    slow.close()
    assert reply.startswith(b"HTTP/1.1 200")
    assert len(records(sqlite_sink)) == 1


def test_bearer_token_is_required(sqlite_sink, serve_factory, tmp_path):
    """With --bearer-token-file, requests without the token are refused (401, UNAUTHENTICATED)."""
    token = "s3cret-token-0123456789"
    (tmp_path / "token").write_text(token + "\n")
    serve = serve_factory(sqlite_sink, "--bearer-token-file", str(tmp_path / "token")).start()
    body = request_protobuf([tool_span()])
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": token}):
        response = httpx.post(
            f"{serve.http_url}/v1/traces", content=body, headers=PROTOBUF | headers, timeout=30
        )
        assert response.status_code == 401
    with pytest.raises(grpc.RpcError) as refused:
        grpc_export(serve.grpc_address, body)
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert records(sqlite_sink) == []
    good = {"Authorization": f"Bearer {token}"}
    response = httpx.post(
        f"{serve.http_url}/v1/traces", content=body, headers=PROTOBUF | good, timeout=30
    )
    assert response.status_code == 200
    grpc_export(
        serve.grpc_address,
        request_protobuf([tool_span()]),
        metadata=(("authorization", f"Bearer {token}"),),
    )
    assert len(records(sqlite_sink)) == 2
    assert serve.stop() == 0
    assert token not in serve.output()


def _write_pair(
    directory: Path, name: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey
) -> tuple[Path, Path]:
    cert_path, key_path = directory / f"{name}.crt", directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(pem_key(key))
    return cert_path, key_path


@pytest.fixture
def pki(tmp_path: Path) -> dict[str, Path]:
    """A self-made CA, a server certificate for 127.0.0.1 and a client certificate, all issued by it."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = certificate("toolaudit test CA", ca_key, None)
    paths = {"ca": _write_pair(tmp_path, "ca", ca, ca_key)[0]}
    for name in ("server", "client"):
        key = ec.generate_private_key(ec.SECP256R1())
        paths[f"{name}_cert"], paths[f"{name}_key"] = _write_pair(
            tmp_path, name, certificate(name, key, (ca, ca_key)), key
        )
    return paths


def test_tls_and_mutual_tls(sqlite_sink, serve_factory, pki):
    """With --tls-cert/--tls-key both transports speak TLS; with --client-ca a client certificate is required."""
    tls = ("--tls-cert", str(pki["server_cert"]), "--tls-key", str(pki["server_key"]))
    serve = serve_factory(sqlite_sink, *tls, "--client-ca", str(pki["ca"])).start()
    body = request_protobuf([tool_span()])
    with pytest.raises(httpx.HTTPError):
        httpx.post(
            f"{serve.http_url}/v1/traces",
            content=body,
            headers=PROTOBUF,
            verify=ssl.create_default_context(cafile=str(pki["ca"])),
            timeout=30,
        )
    context = ssl.create_default_context(cafile=str(pki["ca"]))
    context.load_cert_chain(str(pki["client_cert"]), str(pki["client_key"]))
    response = httpx.post(
        f"{serve.http_url}/v1/traces", content=body, headers=PROTOBUF, verify=context, timeout=30
    )
    assert response.status_code == 200
    root = pki["ca"].read_bytes()
    with pytest.raises(grpc.RpcError):
        grpc_export(
            serve.grpc_address,
            body,
            channel=grpc.secure_channel(serve.grpc_address, grpc.ssl_channel_credentials(root)),
        )
    credentials = grpc.ssl_channel_credentials(
        root, pki["client_key"].read_bytes(), pki["client_cert"].read_bytes()
    )
    grpc_export(
        serve.grpc_address,
        request_protobuf([tool_span()]),
        channel=grpc.secure_channel(serve.grpc_address, credentials),
    )
    assert len(records(sqlite_sink)) == 2
    assert serve.stop() == 0

    plain_tls = serve_factory(sqlite_sink, *tls).start()
    assert (
        health(plain_tls.http_url, verify=ssl.create_default_context(cafile=str(pki["ca"]))).json()[
            "status"
        ]
        == "ok"
    )
    with pytest.raises(httpx.HTTPError):
        health(plain_tls.http_url.replace("https:", "http:"))


def test_undecodable_and_unsupported_requests_are_refused(sqlite_sink, serve_factory):
    """A body that is not an OTLP request is answered 400 and an unknown Content-Type 415, both with a google.rpc.Status."""
    from google.rpc import code_pb2, status_pb2

    serve = serve_factory(sqlite_sink).start()
    response = httpx.post(
        f"{serve.http_url}/v1/traces", content=b"\xff\xff\xff", headers=PROTOBUF, timeout=30
    )
    assert response.status_code == 400
    status = status_pb2.Status.FromString(response.content)
    assert (status.code, status.message) == (
        code_pb2.INVALID_ARGUMENT,
        "the body is not an OTLP protobuf trace export request",
    )
    response = httpx.post(
        f"{serve.http_url}/v1/traces",
        content=b"{",
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 400
    assert response.json()["message"] == "the body is not an OTLP/JSON trace export request"
    response = httpx.post(
        f"{serve.http_url}/v1/traces",
        content=b"x",
        headers={"Content-Type": "text/plain"},
        timeout=30,
    )
    assert response.status_code == 415
    assert records(sqlite_sink) == []
