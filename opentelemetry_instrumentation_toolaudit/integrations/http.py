# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""HTTP frameworks: each incoming request opens the attribution its configured headers give.

* ASGI: ``starlette.applications.Starlette.__call__`` (FastAPI's ``__call__`` ends in it), for
  ``http`` and ``websocket`` scopes;
* WSGI: ``flask.app.Flask.wsgi_app``;
* Django (WSGI and ASGI): ``BaseHandler._get_response`` (and ``_async``), which runs the view once the
  middleware has run, so that ``request.user`` is known (read only with
  ``OTEL_PYTHON_TOOLAUDIT_DJANGO_USER=true``: the username of an authenticated user, which wins over
  the user header).

The hooks wrap the framework's own entry point, so they work with or without the contrib ASGI,
FastAPI, Starlette or Flask instrumentations (whose server spans then start inside the attribution).
They are installed only when a header is configured (see ``_http``); the request's outcome and
exceptions pass through unchanged.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping
from types import ModuleType
from typing import Any

from opentelemetry import context as otel_context

from opentelemetry_instrumentation_toolaudit._env import read_bool
from opentelemetry_instrumentation_toolaudit._http import REPEATED, HeaderNames, request_context
from opentelemetry_instrumentation_toolaudit._log import internal_error
from opentelemetry_instrumentation_toolaudit._patching import Patcher
from opentelemetry_instrumentation_toolaudit.environment_variables import (
    OTEL_PYTHON_TOOLAUDIT_DJANGO_USER,
)
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


def _wsgi_attach(names: HeaderNames, environ: Any, user: str | None = None) -> object | None:
    try:
        if not isinstance(environ, Mapping):
            return None
        address = environ.get("REMOTE_ADDR")
        ctx = request_context(
            names, _wsgi_reader(environ), address if isinstance(address, str) else None, user
        )
        return otel_context.attach(ctx)
    except Exception as exc:  # noqa: BLE001 - telemetry never breaks the app
        internal_error("reading attribution from a WSGI request", exc)
        return None


@contextlib.contextmanager
def _attached(token: object | None) -> Iterator[None]:
    """Detaches the request's attribution context, when one was attached, as the handler ends."""
    try:
        yield
    finally:
        if token is not None:
            otel_context.detach(token)  # type: ignore[arg-type]


def _username(user: Any) -> str | None:
    """The username of an authenticated Django user, else None."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    name = user.get_username()
    return name if isinstance(name, str) and name else None


def _django_user(request: Any) -> str | None:
    try:
        return _username(getattr(request, "user", None))
    except Exception as exc:  # noqa: BLE001 - telemetry never breaks the app
        internal_error("reading a Django request's user", exc)
        return None


async def _django_user_async(request: Any) -> str | None:
    try:
        auser = getattr(request, "auser", None)
        # request.user is lazy and loads synchronously: an async view must use auser() (Django 5).
        return _username(await auser() if auser is not None else None)
    except Exception as exc:  # noqa: BLE001 - telemetry never breaks the app
        internal_error("reading a Django request's user", exc)
        return None


def _patch_starlette(patcher: Patcher, module: ModuleType) -> None:
    names = HeaderNames.from_env()
    if not names.enabled:
        return
    wanted = names.wanted()

    async def call(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        token = _asgi_attach(names, wanted, args[0] if args else kwargs.get("scope"))
        with _attached(token):
            return await wrapped(*args, **kwargs)

    patcher.wrap(module.Starlette, "__call__", call)


def _patch_flask(patcher: Patcher, module: ModuleType) -> None:
    names = HeaderNames.from_env()
    if not names.enabled:
        return

    def wsgi_app(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        token = _wsgi_attach(names, args[0] if args else kwargs.get("environ"))
        with _attached(token):
            return wrapped(*args, **kwargs)

    patcher.wrap(module.Flask, "wsgi_app", wsgi_app)


def _patch_django(patcher: Patcher, module: ModuleType) -> None:
    names = HeaderNames.from_env()
    use_user = read_bool(OTEL_PYTHON_TOOLAUDIT_DJANGO_USER, False)
    if not (names.enabled or use_user):
        return

    def get_response(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        request = args[0] if args else kwargs.get("request")
        user = _django_user(request) if use_user else None
        token = _wsgi_attach(names, getattr(request, "META", None), user)
        with _attached(token):
            return wrapped(*args, **kwargs)

    async def get_response_async(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        request = args[0] if args else kwargs.get("request")
        user = await _django_user_async(request) if use_user else None
        token = _wsgi_attach(names, getattr(request, "META", None), user)
        with _attached(token):
            return await wrapped(*args, **kwargs)

    patcher.wrap(module.BaseHandler, "_get_response", get_response)
    patcher.wrap(module.BaseHandler, "_get_response_async", get_response_async)


INTEGRATIONS = (
    Integration(NAME, "starlette.applications", _patch_starlette),
    Integration(NAME, "flask.app", _patch_flask),
    Integration(NAME, "django.core.handlers.base", _patch_django),
)
"""The HTTP hooks, all named ``http``."""
