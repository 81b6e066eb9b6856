# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Spans per second through the otelcol-toolaudit collectors, beside the same sender posting
straight to a receiver in the same run.

Run from the repository root (builds the collector first when it is out of date)::

    python bench/collector.py                  # 40,000 spans in requests of 500
    python bench/collector.py --spans 100000 --batch 1000

One sender posts prebuilt OTLP/HTTP protobuf requests (half ``execute_tool`` spans whose arguments
hold an email, half plain spans) over one keep-alive connection; local receivers count the spans
they get. Each figure is the number of spans sent divided by the time from the first request to the
moment every expected span has arrived:

* ``direct``: sender → one receiver (the baseline: what the sender and a receiver manage alone);
* ``gateway``: sender → gateway.yaml → tracing receiver (every span) and audit receiver (the
  ``execute_tool`` half, through the queue on disk);
* ``agent + gateway``: sender → agent.yaml → gateway.yaml → both receivers.
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

ROOT = Path(__file__).resolve().parent.parent
BINARY = ROOT / "collector" / "_build" / "otelcol-toolaudit"
HMAC_KEY = "bench-collector-hmac-key-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class CountingReceiver:
    """An OTLP/HTTP receiver that counts the spans it gets and keeps nothing else."""

    def __init__(self) -> None:
        self.count = 0
        lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Encoding") == "gzip":
                    import gzip

                    body = gzip.decompress(body)
                request = ExportTraceServiceRequest.FromString(body)
                spans = sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans)
                with lock:
                    receiver.count += spans
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _kv(key: str, value: str) -> KeyValue:
    return KeyValue(key=key, value=AnyValue(string_value=value))


def requests(spans: int, batch: int) -> list[bytes]:
    """``spans`` spans in requests of ``batch``: even spans are ``execute_tool``, odd ones plain."""
    bodies = []
    for start in range(0, spans, batch):
        out = []
        for i in range(start, min(start + batch, spans)):
            attributes = [_kv("crm.note", f"order {i} for jane.doe@example.com")]
            if i % 2 == 0:
                attributes += [
                    _kv("gen_ai.operation.name", "execute_tool"),
                    _kv("gen_ai.tool.name", "update_contact"),
                    _kv("gen_ai.tool.call.arguments", '{"email": "jane.doe@example.com"}'),
                ]
            out.append(
                Span(
                    trace_id=os.urandom(16),
                    span_id=os.urandom(8),
                    name="execute_tool update_contact" if i % 2 == 0 else "crm.fetch",
                    start_time_unix_nano=time.time_ns(),
                    end_time_unix_nano=time.time_ns() + 1000,
                    attributes=attributes,
                )
            )
        request = ExportTraceServiceRequest(
            resource_spans=[
                ResourceSpans(
                    resource=Resource(attributes=[_kv("service.name", "bench")]),
                    scope_spans=[ScopeSpans(spans=out)],
                )
            ]
        )
        bodies.append(request.SerializeToString())
    return bodies


def send(url: str, bodies: list[bytes]) -> None:
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    for body in bodies:
        connection.request("POST", "/v1/traces", body, {"Content-Type": "application/x-protobuf"})
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            raise SystemExit(f"{url} answered {response.status}")
    connection.close()


def wait_for(receivers: list[tuple[CountingReceiver, int]], timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while any(r.count < n for r, n in receivers):
        if time.monotonic() > deadline:
            raise SystemExit("timed out: " + ", ".join(f"{r.count}/{n}" for r, n in receivers))
        time.sleep(0.01)


class Collector:
    def __init__(self, config: str, workdir: Path, **env: str) -> None:
        self.env = {
            **os.environ,
            "TOOLAUDIT_COLLECTOR_HMAC_KEY": HMAC_KEY,
            "TOOLAUDIT_COLLECTOR_GRPC_ENDPOINT": f"127.0.0.1:{free_port()}",
            "TOOLAUDIT_COLLECTOR_HTTP_ENDPOINT": f"127.0.0.1:{free_port()}",
            "TOOLAUDIT_COLLECTOR_HEALTH_ENDPOINT": f"127.0.0.1:{free_port()}",
            "TOOLAUDIT_COLLECTOR_METRICS_PORT": str(free_port()),
            "TOOLAUDIT_COLLECTOR_STORAGE_DIR": str(workdir / config),
            **env,
        }
        self.process = subprocess.Popen(
            [str(BINARY), "--config", str(ROOT / "collector-config" / config)],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        health = f"http://{self.env['TOOLAUDIT_COLLECTOR_HEALTH_ENDPOINT']}/"
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(health, timeout=1):
                    break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"{config}: the collector did not start") from None
                time.sleep(0.1)

    @property
    def url(self) -> str:
        return f"http://{self.env['TOOLAUDIT_COLLECTOR_HTTP_ENDPOINT']}"

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(30)


def timed(target: str, bodies: list[bytes], expected: list[tuple[CountingReceiver, int]]) -> float:
    start = time.perf_counter()
    send(target, bodies)
    wait_for(expected)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spans", type=int, default=40_000)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    subprocess.run(["bash", str(ROOT / "collector" / "build.sh")], check=True)

    audited = (args.spans + 1) // 2
    rows = []
    workdir = Path(tempfile.mkdtemp(prefix="bench-collector-"))
    try:
        direct = CountingReceiver()
        rows.append(
            ("direct", timed(direct.url, requests(args.spans, args.batch), [(direct, args.spans)]))
        )
        direct.close()

        backend, audit = CountingReceiver(), CountingReceiver()
        gateway = Collector(
            "gateway.yaml",
            workdir,
            TOOLAUDIT_TRACING_ENDPOINT=backend.url,
            TOOLAUDIT_AUDIT_ENDPOINT=audit.url,
        )
        expected = [(backend, args.spans), (audit, audited)]
        rows.append(("gateway", timed(gateway.url, requests(args.spans, args.batch), expected)))

        agent = Collector(
            "agent.yaml",
            workdir,
            TOOLAUDIT_GATEWAY_ENDPOINT=gateway.env["TOOLAUDIT_COLLECTOR_GRPC_ENDPOINT"],
        )
        expected = [(backend, 2 * args.spans), (audit, 2 * audited)]
        rows.append(
            ("agent + gateway", timed(agent.url, requests(args.spans, args.batch), expected))
        )
        agent.close()
        gateway.close()
        backend.close()
        audit.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    print(f"{args.spans} spans in requests of {args.batch}, {os.cpu_count()} cores")
    print(f"{'path':<18}{'seconds':>10}{'spans/s':>12}{'vs direct':>11}")
    for name, seconds in rows:
        print(
            f"{name:<18}{seconds:>10.2f}{args.spans / seconds:>12,.0f}"
            f"{rows[0][1] / seconds:>10.2f}x"
        )


if __name__ == "__main__":
    main()
