# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Django requests are attributed from ``request.user`` (opt-in) and the configured headers.

Requests go through Django's own handlers (the test ``Client`` and ``AsyncClient``); a stand-in for
``AuthenticationMiddleware`` sets ``request.user`` / ``request.auser`` so that no database is needed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import django
from django.conf import settings
from django.http import JsonResponse
from django.urls import path

from opentelemetry_instrumentation_toolaudit import audited_tool

from ..conftest import tool_spans

if not settings.configured:
    settings.configure(
        ALLOWED_HOSTS=["*"],
        ROOT_URLCONF=__name__,
        MIDDLEWARE=[f"{__name__}.stand_in_authentication"],
        SECRET_KEY="tests-only-not-a-secret",
        INSTALLED_APPS=[],
        DATABASES={},
    )
    django.setup()

# Imported once the settings exist: the test client reads them on import.
from django.test import AsyncClient, Client


class User:
    """What AuthenticationMiddleware puts on a request, reduced to what is read."""

    def __init__(self, name: str | None) -> None:
        self.name = name
        self.is_authenticated = name is not None

    def get_username(self) -> str:
        return self.name or ""


def stand_in_authentication(get_response: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Logs the request in as its ``x-session-login`` (standing for a session cookie)."""

    def middleware(request: Any) -> Any:
        request.user = User(request.headers.get("x-session-login"))

        async def auser() -> User:
            return request.user

        request.auser = auser
        return get_response(request)

    return middleware


@audited_tool
def read_chart(patient_id: str) -> dict[str, Any]:
    """Read a patient's chart."""
    return {"patient_id": patient_id}


def chart(request: Any) -> JsonResponse:
    return JsonResponse(read_chart("P-1"))


async def chart_async(request: Any) -> JsonResponse:
    return JsonResponse(read_chart("P-1"))


urlpatterns = [path("chart", chart), path("achart", chart_async)]


def picked(span: Any) -> list[Any]:
    keys = ("user.id", "client.address", "toolaudit.attribution.source")
    return [span.attributes.get(k) for k in keys]


def test_request_user_attributes_the_request(instrumented, span_exporter):
    """With OTEL_PYTHON_TOOLAUDIT_DJANGO_USER=true, the authenticated user's username is the user,
    and it wins over the user header; an anonymous request falls back to the header."""
    instrumented(
        OTEL_PYTHON_TOOLAUDIT_DJANGO_USER="true",
        OTEL_PYTHON_TOOLAUDIT_USER_HEADER="x-authenticated-user",
    )
    client = Client()
    client.get("/chart", headers={"x-session-login": "nurse-7", "x-authenticated-user": "other"})
    client.get("/chart", headers={"x-authenticated-user": "gw-user"})
    logged_in, anonymous = tool_spans(span_exporter)
    assert [picked(logged_in), picked(anonymous)] == [
        ["nurse-7", "127.0.0.1", "http"],
        ["gw-user", "127.0.0.1", "http"],
    ]


async def test_async_view_reads_auser(instrumented, span_exporter):
    """Under ASGI the user comes from ``request.auser()``, as Django requires in async code."""
    instrumented(OTEL_PYTHON_TOOLAUDIT_DJANGO_USER="true")
    response = await AsyncClient().get("/achart", headers={"x-session-login": "nurse-9"})
    assert response.status_code == 200
    (span,) = tool_spans(span_exporter)
    assert picked(span) == ["nurse-9", "127.0.0.1", "http"]


def test_request_user_is_not_read_unless_asked(instrumented, span_exporter):
    """Without OTEL_PYTHON_TOOLAUDIT_DJANGO_USER, request.user is left alone."""
    instrumented(OTEL_PYTHON_TOOLAUDIT_USER_HEADER="x-authenticated-user")
    Client().get("/chart", headers={"x-session-login": "nurse-7"})
    (span,) = tool_spans(span_exporter)
    assert picked(span) == [None, "127.0.0.1", None]
