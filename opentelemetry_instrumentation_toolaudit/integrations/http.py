"""HTTP frameworks: each incoming request opens the attribution its configured headers give.

* ASGI: ``starlette.applications.Starlette.__call__`` (FastAPI's ``__call__`` ends in it), for
  ``http`` and ``websocket`` scopes;
* WSGI: ``flask.app.Flask.wsgi_app``.

The hooks wrap the framework's own entry point, so they work with or without the contrib ASGI,
FastAPI, Starlette or Flask instrumentations (whose server spans then start inside the attribution).
They are installed only when a header is configured (see ``_http``); the request's outcome and
exceptions pass through unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import ModuleType
from typing import Any

from opentelemetry import context as otel_context

from opentelemetry_instrumentation_toolaudit._http import REPEATED, HeaderNames, request_context
from opentelemetry_instrumentation_toolaudit._log import internal_error
from opentelemetry_instrumentation_toolaudit._patching import Patcher
from opentelemetry_instrumentation_toolaudit.integrations import Integration

NAME = "http"
ASGI_SCOPES = ("http", "websocket")


def _asgi_reader(raw: Iterable[tuple[bytes, bytes]], wanted: frozenset[str]) -> Any:
    found: dict[str, object] = {}
    for key, value in raw:
        name = key.decode("latin-1").lower()
        if name in wanted:
            found[name] = REPEATED if name in found else value.decode("latin-1")
    return found.get


def _asgi_attach(names: HeaderNames, wanted: frozenset[str], scope: Any) -> object | None:
    try:
        if not isinstance(scope, Mapping) or scope.get("type") not in ASGI_SCOPES:
            return None
        client = scope.get("client")
        address = str(client[0]) if isinstance(client, (list, tuple)) and client else None
        reader = _asgi_reader(scope.get("headers") or (), wanted)
        return otel_context.attach(request_context(names, reader, address))
    except Exception as exc:  # noqa: BLE001 - telemetry never breaks the app
        internal_error("reading attribution from an ASGI request", exc)
        return None


def _wsgi_reader(environ: Mapping[str, Any]) -> Any:
    def read(name: str) -> str | None:
        value = environ.get("HTTP_" + name.upper().replace("-", "_"))
        return value if isinstance(value, str) else None

    return read


def _wsgi_attach(names: HeaderNames, environ: Any) -> object | None:
    try:
        if not isinstance(environ, Mapping):
            return None
        address = environ.get("REMOTE_ADDR")
        ctx = request_context(
            names, _wsgi_reader(environ), address if isinstance(address, str) else None
        )
        return otel_context.attach(ctx)
    except Exception as exc:  # noqa: BLE001 - telemetry never breaks the app
        internal_error("reading attribution from a WSGI request", exc)
        return None


def _patch_starlette(patcher: Patcher, module: ModuleType) -> None:
    names = HeaderNames.from_env()
    if not names.enabled:
        return
    wanted = names.wanted()

    async def call(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        token = _asgi_attach(names, wanted, args[0] if args else kwargs.get("scope"))
        try:
            return await wrapped(*args, **kwargs)
        finally:
            if token is not None:
                otel_context.detach(token)  # type: ignore[arg-type]

    patcher.wrap(module.Starlette, "__call__", call)


def _patch_flask(patcher: Patcher, module: ModuleType) -> None:
    names = HeaderNames.from_env()
    if not names.enabled:
        return

    def wsgi_app(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        token = _wsgi_attach(names, args[0] if args else kwargs.get("environ"))
        try:
            return wrapped(*args, **kwargs)
        finally:
            if token is not None:
                otel_context.detach(token)  # type: ignore[arg-type]

    patcher.wrap(module.Flask, "wsgi_app", wsgi_app)


INTEGRATIONS = (
    Integration(NAME, "starlette.applications", _patch_starlette),
    Integration(NAME, "flask.app", _patch_flask),
)
"""The HTTP hooks, all named ``http``."""
