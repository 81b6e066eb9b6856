# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Spans per second that one ``toolaudit serve`` accepts and commits, over OTLP/HTTP and OTLP/gRPC,
with 1 and 4 concurrent clients, on SQLite and PostgreSQL; beside, in the same run, what the same
clients push to a null receiver (the same HTTP and gRPC servers, decoding each request and dropping
it), which is the most the clients and transports allow on this machine.

Each client is a process sending batches of 512 ``execute_tool`` spans (as a ``BatchSpanProcessor``
does), all built before the clock starts, each span new (a retried span would be skipped, not
written): either through the real ``OTLPSpanExporter`` (``http/protobuf`` or ``grpc``; "exporter"),
or as requests encoded beforehand, posted with httpx or a gRPC stub ("encoded": what the receiver
alone costs, without the exporter's encoding on the same CPUs). ``serve`` runs as a subprocess
(``toolaudit serve``); with PostgreSQL, two ``serve`` processes on one trail are measured too, the
4 clients spread over them. A figure counts only the spans acknowledged, and the run checks that
the sink then holds exactly that many records (never acknowledged-but-missing).

On a shared machine the spans/s depend on what else runs; the last column depends on it much less:
the CPU time ``serve`` spent per committed span (user + system, less what starting and stopping it
costs), so 1e6 / that figure is what one ``serve`` process commits per second of a core it has to
itself. The database server's own CPU is not in it.

Usage: ``python bench/serve.py [--spans-per-client N] [--sinks sqlite,postgres]``
(PostgreSQL at ``$TOOLAUDIT_BENCH_PG``, default ``postgresql://postgres@127.0.0.1:5432/test``).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PG_URL = os.environ.get("TOOLAUDIT_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
BATCH = 512
TOOLAUDIT = str(Path(sys.executable).with_name("toolaudit"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- the null receiver ------------------------------------------------------------------------------
def null_receiver(http_port: int, grpc_port: int) -> None:
    """OTLP/HTTP (Starlette on uvicorn) and OTLP/gRPC (grpcio) that decode each request and drop it."""
    from concurrent import futures

    import grpc
    import uvicorn
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
        ExportTraceServiceResponse,
    )
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    empty = ExportTraceServiceResponse().SerializeToString()

    async def traces(request: Request) -> Response:
        ExportTraceServiceRequest.FromString(await request.body())
        return Response(empty, media_type="application/x-protobuf")

    class Service(trace_service_pb2_grpc.TraceServiceServicer):
        def Export(self, request: Any, context: Any) -> Any:  # noqa: N802
            return ExportTraceServiceResponse()

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Service(), server)
    server.add_insecure_port(f"127.0.0.1:{grpc_port}")
    server.start()
    app = Starlette(routes=[Route("/v1/traces", traces, methods=["POST"])])
    uvicorn.run(app, host="127.0.0.1", port=http_port, log_level="warning", access_log=False)


# --- clients ----------------------------------------------------------------------------------------
def _spans(count: int) -> list[Any]:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope
    from opentelemetry.trace import SpanContext, Status, StatusCode, TraceFlags

    resource = Resource.create(
        {"service.name": "support-agent", "deployment.environment.name": "bench"}
    )
    scope = InstrumentationScope("opentelemetry_instrumentation_toolaudit", "0.1.0")
    now = time.time_ns()
    out = []
    for i in range(count):
        context = SpanContext(
            int.from_bytes(os.urandom(16), "big"),
            int.from_bytes(os.urandom(8), "big"),
            is_remote=False,
            trace_flags=TraceFlags(TraceFlags.SAMPLED),
        )
        out.append(
            ReadableSpan(
                name="execute_tool lookup_order",
                context=context,
                resource=resource,
                attributes={
                    "gen_ai.operation.name": "execute_tool",
                    "gen_ai.tool.name": "lookup_order",
                    "gen_ai.tool.type": "function",
                    "gen_ai.tool.call.id": f"call_{i}",
                    "gen_ai.tool.call.arguments": json.dumps({"order_id": f"ORD-{i}"}),
                    "gen_ai.request.model": "gpt-4.1",
                    "gen_ai.conversation.id": f"conv_{i % 50}",
                    "user.id": f"usr_{i % 97}",
                    "toolaudit.result.summary": json.dumps({"status": "shipped"}),
                    "toolaudit.success": True,
                },
                status=Status(StatusCode.OK),
                start_time=now - 1_500_000,
                end_time=now,
                instrumentation_scope=scope,
            )
        )
    return out


def _exporter_sender(protocol: str, endpoint: str) -> tuple[Any, Any]:
    """The real OTLP exporter: ``send(spans) -> bool`` and ``close()``."""
    from opentelemetry.sdk.trace.export import SpanExportResult

    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        exporter: Any = OTLPSpanExporter(endpoint=endpoint, insecure=True, timeout=60)
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
            OTLPSpanExporter as HTTPExporter,
        )

        exporter = HTTPExporter(endpoint=f"{endpoint}/v1/traces", timeout=60)
    return (lambda batch: exporter.export(batch) == SpanExportResult.SUCCESS), exporter.shutdown


def _encoded_sender(protocol: str, endpoint: str) -> tuple[Any, Any]:
    """Requests encoded before the clock starts, sent with httpx or a gRPC stub: what the receiver
    alone costs, without the exporter's encoding on the same CPUs."""
    if protocol == "grpc":
        import grpc
        from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc

        channel = grpc.insecure_channel(endpoint)
        stub = trace_service_pb2_grpc.TraceServiceStub(channel)

        def send_grpc(request: Any) -> bool:
            try:
                stub.Export(request, timeout=60)
            except grpc.RpcError:
                return False
            return True

        return send_grpc, channel.close
    import httpx

    http = httpx.Client(timeout=60)
    headers = {"Content-Type": "application/x-protobuf"}

    def send_http(request: Any) -> bool:
        body = request.SerializeToString()
        return http.post(f"{endpoint}/v1/traces", content=body, headers=headers).is_success

    return send_http, http.close


def client(
    protocol: str, endpoint: str, spans: int, encoded: bool, ready: Any, start: Any, results: Any
) -> None:
    """Send ``spans`` new spans in batches; report (acknowledged spans, seconds)."""
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    send, close = (_encoded_sender if encoded else _exporter_sender)(protocol, endpoint)
    all_spans = _spans(spans)
    batches = [all_spans[i : i + BATCH] for i in range(0, len(all_spans), BATCH)]
    sized = [(encode_spans(batch) if encoded else batch, len(batch)) for batch in batches]
    ready.wait()
    start.wait()
    began = time.perf_counter()
    acknowledged = 0
    for batch, size in sized:
        if send(batch):
            acknowledged += size
    results.put((acknowledged, time.perf_counter() - began, began))
    close()


def run_clients(
    protocol: str, endpoint: str | list[str], clients: int, spans: int, encoded: bool = False
) -> tuple[int, float]:
    """Acknowledged spans, and seconds from the first client's start to the last one's end.
    With several endpoints the clients are spread over them in turn."""
    endpoints = [endpoint] if isinstance(endpoint, str) else endpoint
    ctx = multiprocessing.get_context("spawn")
    ready, start = ctx.Barrier(clients + 1), ctx.Event()
    results = ctx.Queue()
    procs = [
        ctx.Process(
            target=client,
            args=(protocol, endpoints[i % len(endpoints)], spans, encoded, ready, start, results),
        )
        for i in range(clients)
    ]
    for proc in procs:
        proc.start()
    ready.wait()
    t0 = time.perf_counter()
    start.set()
    got = [results.get(timeout=600) for _ in procs]
    elapsed = time.perf_counter() - t0
    for proc in procs:
        proc.join()
    return sum(acked for acked, _, _ in got), elapsed


# --- servers ----------------------------------------------------------------------------------------
def wait_http(port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on 127.0.0.1:{port}")


def start_serve(sink: str, workdir: Path) -> tuple[subprocess.Popen[bytes], int, int]:
    http_port, grpc_port = free_port(), free_port()
    env = dict(os.environ)
    env["OTEL_PYTHON_TOOLAUDIT_SIGNING_KEY_FILE"] = str(workdir / "signing.key")
    env.setdefault("OTEL_PYTHON_TOOLAUDIT_HASH_KEY", "bench-only-hash-key-0123456789abcdef")
    proc = subprocess.Popen(
        [
            TOOLAUDIT,
            "serve",
            "--sink",
            sink,
            "--http",
            f"127.0.0.1:{http_port}",
            "--grpc",
            f"127.0.0.1:{grpc_port}",
            "--max-inflight",
            "16",
        ],
        env=env,
        stderr=subprocess.DEVNULL,
    )
    wait_http(http_port)
    wait_http(grpc_port)
    return proc, http_port, grpc_port


def stop(proc: subprocess.Popen[bytes]) -> float:
    """SIGTERM ``serve`` and wait for it; the CPU seconds it used (user + system)."""
    proc.send_signal(signal.SIGTERM)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_utime + usage.ru_stime


def new_sink(kind: str, workdir: Path, n: int) -> str:
    if kind == "sqlite":
        return f"sqlite:///{workdir}/serve-{n}.db"
    import psycopg

    schema = f"toolaudit_bench_serve_{os.getpid()}_{n}"
    with psycopg.connect(PG_URL, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        conn.execute(f'CREATE SCHEMA "{schema}"')
    return f"{PG_URL}?options=-csearch_path%3D{schema}"


def drop_sink(url: str) -> None:
    if url.startswith("postgresql"):
        import psycopg

        schema = url.rsplit("%3D", 1)[1]
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def stored(url: str) -> int:
    from opentelemetry_instrumentation_toolaudit.ledger import open_sink

    sink = open_sink(url, create=False)
    try:
        return sink.size()
    finally:
        sink.close()


def row(
    receiver: str,
    transport: str,
    clients: int,
    acked: int,
    seconds: float,
    count: str,
    cpu_us: str = "-",
) -> None:
    print(
        f"{receiver:40} {transport:9} {clients:>7} {acked / seconds:>9,.0f} {acked:>7} "
        f"{count:>7} {cpu_us:>12}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spans-per-client", type=int, default=10_240)
    parser.add_argument("--sinks", default="sqlite,postgres")
    args = parser.parse_args()
    spans = args.spans_per_client
    print(
        f"toolaudit serve: spans/s, {spans} spans per client in batches of {BATCH}, "
        f"{os.cpu_count()} CPUs; clients: the OTLP exporter, or requests encoded beforehand"
    )
    print(
        f"{'receiver (clients)':40} {'transport':9} {'clients':>7} {'spans/s':>9} {'acked':>7} {'stored':>7} {'CPU µs/span':>12}"
    )
    modes = {"exporter": False, "encoded": True}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        http_port, grpc_port = free_port(), free_port()
        ctx = multiprocessing.get_context("spawn")
        null = ctx.Process(target=null_receiver, args=(http_port, grpc_port), daemon=True)
        null.start()
        wait_http(http_port)
        wait_http(grpc_port)
        endpoints = {"http": f"http://127.0.0.1:{http_port}", "grpc": f"127.0.0.1:{grpc_port}"}
        for mode, encoded in modes.items():
            for transport, endpoint in endpoints.items():
                for clients in (1, 4):
                    acked, seconds = run_clients(transport, endpoint, clients, spans, encoded)
                    row(f"null receiver ({mode})", transport, clients, acked, seconds, "-")
        null.terminate()
        null.join()
        n = 0
        for kind in args.sinks.split(","):
            # What starting and stopping costs serve with no spans, taken off each run's CPU time.
            try:
                idle_sink = new_sink(kind, workdir, 0)
            except Exception as exc:  # noqa: BLE001 - a bench reports and goes on
                print(f"serve → {kind}: skipped: {type(exc).__name__}")
                continue
            try:
                idle_cpu = stop(start_serve(idle_sink, workdir)[0])
            finally:
                drop_sink(idle_sink)
            for mode, encoded in modes.items():
                for transport in ("http", "grpc"):
                    for clients in (1, 4):
                        n += 1
                        try:
                            sink = new_sink(kind, workdir, n)
                        except Exception as exc:  # noqa: BLE001 - a bench reports and goes on
                            print(f"serve → {kind}: skipped: {type(exc).__name__}")
                            break
                        try:
                            proc, http, grpc_ = start_serve(sink, workdir)
                            endpoint = (
                                f"http://127.0.0.1:{http}"
                                if transport == "http"
                                else f"127.0.0.1:{grpc_}"
                            )
                            acked, seconds = run_clients(
                                transport, endpoint, clients, spans, encoded
                            )
                            cpu = stop(proc) - idle_cpu
                            count = stored(sink)
                        finally:
                            drop_sink(sink)
                        verdict = "" if count == acked else "  ACKNOWLEDGED != STORED"
                        row(
                            f"serve → {kind} ({mode})",
                            transport,
                            clients,
                            acked,
                            seconds,
                            f"{count}{verdict}",
                            f"{cpu / max(count, 1) * 1e6:,.0f}",
                        )

        if "postgres" in args.sinks.split(","):
            two_writers(workdir, spans, modes)


def two_writers(workdir: Path, spans: int, modes: dict[str, bool]) -> None:
    """Two ``serve`` processes on one PostgreSQL trail, 4 clients spread over them: the way past
    one process's CPU."""
    try:
        idle_sink = new_sink("postgres", workdir, 100)
    except Exception as exc:  # noqa: BLE001 - a bench reports and goes on
        print(f"2 x serve → postgres: skipped: {type(exc).__name__}")
        return
    try:
        idle_cpu = stop(start_serve(idle_sink, workdir)[0])
    finally:
        drop_sink(idle_sink)
    n = 100
    for mode, encoded in modes.items():
        for transport in ("http", "grpc"):
            n += 1
            sink = new_sink("postgres", workdir, n)
            try:
                servers = [start_serve(sink, workdir) for _ in range(2)]
                endpoints = [
                    f"http://127.0.0.1:{http}" if transport == "http" else f"127.0.0.1:{grpc_}"
                    for _, http, grpc_ in servers
                ]
                acked, seconds = run_clients(transport, endpoints, 4, spans, encoded)
                cpu = sum(stop(proc) for proc, _, _ in servers) - 2 * idle_cpu
                count = stored(sink)
            finally:
                drop_sink(sink)
            verdict = "" if count == acked else "  ACKNOWLEDGED != STORED"
            row(
                f"2 x serve → postgres ({mode})",
                transport,
                4,
                acked,
                seconds,
                f"{count}{verdict}",
                f"{cpu / max(count, 1) * 1e6:,.0f}",
            )


if __name__ == "__main__":
    main()
