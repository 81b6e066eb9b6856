# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""A minimal OTLP/HTTP receiver for subprocess tests: the real OTLP exporters post protobuf to it.

It keeps each request's decompressed body with its path, so tests can check the raw bytes that
arrived (no PII) as well as the decoded spans.
"""

from __future__ import annotations

import gzip
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)


@dataclass
class Received:
    """What one receiver got: ``(path, body)`` pairs in arrival order."""

    url: str
    requests: list[tuple[str, bytes]] = field(default_factory=list)

    @property
    def paths(self) -> list[str]:
        return [path for path, _ in self.requests]

    @property
    def bodies(self) -> list[bytes]:
        return [body for _, body in self.requests]

    def spans(self) -> list[Any]:
        """Every span of every ``/v1/traces`` request, as protobuf messages."""
        return [
            span
            for path, body in self.requests
            if path.endswith("/v1/traces")
            for resource_spans in ExportTraceServiceRequest.FromString(body).resource_spans
            for scope_spans in resource_spans.scope_spans
            for span in scope_spans.spans
        ]


def attributes(key_values: Any) -> dict[str, Any]:
    """OTLP ``KeyValue`` list → plain dict (string arrays become tuples)."""
    out: dict[str, Any] = {}
    for kv in key_values:
        kind = kv.value.WhichOneof("value")
        value = getattr(kv.value, kind)
        out[kv.key] = (
            tuple(v.string_value for v in value.values) if kind == "array_value" else value
        )
    return out


def serve(port: int = 0) -> Iterator[Received]:
    """Run a receiver on ``port`` (default: a free local port) until the generator is closed (a
    fixture body)."""
    received = Received(url="")
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            encoding = self.headers.get("Content-Encoding", "")
            if encoding == "gzip":
                body = gzip.decompress(body)
            elif encoding == "deflate":
                body = zlib.decompress(body)
            with lock:
                received.requests.append((self.path, body))
            payload = ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    received.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield received
    finally:
        httpd.shutdown()
        httpd.server_close()
