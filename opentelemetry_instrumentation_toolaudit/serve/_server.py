# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Running ``toolaudit serve``: the OTLP/HTTP app on uvicorn and the OTLP/gRPC server on grpcio,
both feeding one :class:`Ingest`, until SIGTERM or SIGINT; then in-flight requests finish, what is
queued is committed and the audit log is closed with a final checkpoint."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import signal
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opentelemetry_instrumentation_toolaudit._exceptions import ToolAuditError

if TYPE_CHECKING:
    from opentelemetry_instrumentation_toolaudit.serve._ingest import Ingest

DEFAULT_HTTP = "127.0.0.1:4318"
DEFAULT_GRPC = "127.0.0.1:4317"
DEFAULT_MAX_REQUEST_BYTES = 8 * 1024 * 1024
DEFAULT_MAX_INFLIGHT = 16


@dataclasses.dataclass(frozen=True)
class ServeOptions:
    """Where and how ``toolaudit serve`` listens (the CLI's flags)."""

    http: str = DEFAULT_HTTP
    """``host:port`` for OTLP/HTTP; empty to disable."""
    grpc: str = DEFAULT_GRPC
    """``host:port`` for OTLP/gRPC; empty to disable."""
    tls_cert: str | None = None
    tls_key: str | None = None
    client_ca: str | None = None
    """CA bundle that client certificates must chain to (mutual TLS); needs ``tls_cert``."""
    token: str | None = None
    """Bearer token every request must carry, when set."""
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    max_inflight: int = DEFAULT_MAX_INFLIGHT


def split_address(text: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:4318`` for IPv6) as ``(host, port)``; raises ToolAuditError."""
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ToolAuditError(f"not a host:port address: {text!r}")
    return host, int(port)


def _listen(address: str) -> socket.socket:
    host, port = split_address(address)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ToolAuditError(f"cannot listen on {address}: {exc.strerror}") from None
    sock.listen(2048)
    return sock


def _read(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ToolAuditError(f"{path}: cannot read the {what}: {exc.strerror}") from None


def _grpc_credentials(options: ServeOptions) -> Any:
    import grpc

    if options.tls_cert is None or options.tls_key is None:
        return None
    ca = _read(options.client_ca, "client CA bundle") if options.client_ca else None
    return grpc.ssl_server_credentials(
        [(_read(options.tls_key, "TLS key"), _read(options.tls_cert, "TLS certificate"))],
        root_certificates=ca,
        require_client_auth=ca is not None,
    )


def _uvicorn_server(app: Any, options: ServeOptions) -> Any:
    import uvicorn

    class _Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            # The signals are ours to handle (run() below): uvicorn would re-raise SIGTERM after
            # its shutdown and end the process before the audit log is closed.
            yield

    tls: dict[str, Any] = {}
    if options.tls_cert and options.tls_key:
        _read(options.tls_cert, "TLS certificate")
        _read(options.tls_key, "TLS key")
        tls = {"ssl_certfile": options.tls_cert, "ssl_keyfile": options.tls_key}
        if options.client_ca:
            _read(options.client_ca, "client CA bundle")
            tls |= {"ssl_ca_certs": options.client_ca, "ssl_cert_reqs": ssl.CERT_REQUIRED}
    config = uvicorn.Config(
        app,
        log_config=None,
        log_level="warning",
        access_log=False,
        lifespan="off",
        server_header=False,
        timeout_graceful_shutdown=30,
        **tls,
    )
    return _Server(config)


def run(
    ingest: Ingest,
    options: ServeOptions,
    *,
    on_ready: Callable[[list[str]], None] | None = None,
) -> None:
    """Serve ``ingest`` as ``options`` say until SIGTERM/SIGINT; closes ``ingest`` on the way out.

    ``on_ready`` receives the listening URLs once both servers accept connections."""
    from opentelemetry_instrumentation_toolaudit.serve._grpc import grpc_server
    from opentelemetry_instrumentation_toolaudit.serve._http import http_app

    stop = threading.Event()
    grpc_srv = None
    http_srv = None
    sock = None
    try:
        scheme = "https" if options.tls_cert else "http"
        urls = []
        if options.http:
            sock = _listen(options.http)
            host, port = sock.getsockname()[:2]
            app = http_app(ingest, token=options.token, max_request_bytes=options.max_request_bytes)
            http_srv = _uvicorn_server(app, options)
            urls.append(f"{scheme}://{_host(host)}:{port} (OTLP/HTTP)")
        if options.grpc:
            split_address(options.grpc)
            try:
                grpc_srv, port = grpc_server(
                    ingest,
                    options.grpc,
                    token=options.token,
                    credentials=_grpc_credentials(options),
                    max_request_bytes=options.max_request_bytes,
                )
            except RuntimeError:
                raise ToolAuditError(f"cannot listen on {options.grpc}") from None
            host = split_address(options.grpc)[0]
            urls.append(f"{scheme}://{_host(host)}:{port} (OTLP/gRPC)")

        def _stop(signum: int, frame: Any) -> None:
            stop.set()
            if http_srv is not None:
                http_srv.should_exit = True

        previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            if on_ready is not None:
                on_ready(urls)
            if http_srv is not None:
                asyncio.run(http_srv.serve(sockets=[sock]))
            else:
                while not stop.wait(0.5):
                    pass
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    finally:
        if grpc_srv is not None:
            grpc_srv.stop(grace=30).wait()
        if sock is not None:
            sock.close()
        ingest.close()


def _host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
