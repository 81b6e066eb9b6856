# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The witness over HTTP: ``POST /add-checkpoint`` served by Starlette on uvicorn (the ``witness``
extra: ``pip install 'opentelemetry-instrumentation-toolaudit[witness]'``)."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable
from typing import Any

from opentelemetry_instrumentation_toolaudit._exceptions import ToolAuditError
from opentelemetry_instrumentation_toolaudit.witness._witness import (
    MAX_BODY_BYTES,
    Response,
    Witness,
)


def make_app(witness: Witness) -> Any:
    """The ASGI application: ``POST /add-checkpoint`` (bodies over 64 KiB get 413)."""
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse
    from starlette.responses import Response as HTTPResponse
    from starlette.routing import Route

    async def add_checkpoint(request: Request) -> HTTPResponse:
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                return PlainTextResponse("request body too large\n", status_code=413)
        # Verifying and persisting (fsync) block: off the event loop.
        answer: Response = await run_in_threadpool(witness.add_checkpoint, bytes(body))
        # The content type is set as a header: Starlette would add a charset to a text/ media
        # type, and a 409 must say exactly text/x.tlog.size.
        return HTTPResponse(
            answer.body, status_code=answer.status, headers={"content-type": answer.content_type}
        )

    return Starlette(routes=[Route("/add-checkpoint", add_checkpoint, methods=["POST"])])


def bind(listen: str) -> socket.socket:
    """A listening TCP socket for ``HOST:PORT`` (port 0: any free port); OSError when it fails."""
    host, _, port = listen.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, int(port)))
        sock.listen(128)
    except BaseException:
        sock.close()
        raise
    return sock


def check_tls(cert: str, key: str) -> None:
    """ToolAuditError (one line) unless ``cert`` and ``key`` are a readable PEM certificate chain
    and its private key."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(cert, key)
    except ssl.SSLError as exc:
        raise ToolAuditError(
            f"cannot load the TLS certificate {cert} and key {key}: {exc.reason or 'not PEM'}"
        ) from None
    except OSError as exc:
        raise ToolAuditError(
            f"cannot load the TLS certificate {cert} and key {key}: {exc.strerror}"
        ) from None


def serve(
    witness: Witness,
    sock: socket.socket,
    on_ready: Callable[[], None],
    *,
    tls: tuple[str, str] | None = None,
) -> None:
    """Serve until SIGINT/SIGTERM (uvicorn's handlers stop it gracefully); over HTTPS when
    ``tls`` is a ``(certificate chain, private key)`` pair of PEM files."""
    import uvicorn

    class _Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            on_ready()

    options: dict[str, Any] = {}
    if tls is not None:
        check_tls(*tls)
        options = {"ssl_certfile": tls[0], "ssl_keyfile": tls[1]}
    config = uvicorn.Config(make_app(witness), log_level="warning", access_log=False, **options)
    _Server(config).run(sockets=[sock])
