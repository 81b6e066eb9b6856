# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The incoming HTTP request's configured headers attribute the tool calls it runs (source ``http``).

Real Starlette and Flask apps, driven in process by httpx's ASGI transport and Werkzeug's test client
(tests/integrations/test_zero_code.py drives real servers in subprocesses).
"""

from __future__ import annotations

from typing import Any

import httpx
from flask import Flask
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from opentelemetry_instrumentation_toolaudit import (
    audit_context,
    audited_tool,
)

from ..conftest import tool_spans

HEADERS = {
    "OTEL_PYTHON_TOOLAUDIT_USER_HEADER": "x-authenticated-user",
    "OTEL_PYTHON_TOOLAUDIT_ROLE_HEADER": "x-roles",
    "OTEL_PYTHON_TOOLAUDIT_PURPOSE_HEADER": "x-purpose",
}


@audited_tool
def read_chart(patient_id: str) -> dict[str, Any]:
    """Read a patient's chart."""
    return {"patient_id": patient_id}


async def chart(request: Any) -> JSONResponse:
    if request.query_params.get("context"):
        with audit_context(user_id="usr_code"):
            return JSONResponse(read_chart("P-1"))
    return JSONResponse(read_chart("P-1"))


STARLETTE = Starlette(routes=[Route("/chart", chart)])
FLASK = Flask(__name__)
FLASK.get("/chart")(lambda: read_chart("P-1"))


async def get_starlette(headers: list[tuple[str, str]], params: str = "") -> None:
    transport = httpx.ASGITransport(app=STARLETTE, client=("10.0.0.9", 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
        response = await client.get(f"/chart{params}", headers=headers)
    assert response.json() == {"patient_id": "P-1"}


def picked(span: Any) -> list[Any]:
    keys = (
        "user.id",
        "user.roles",
        "toolaudit.purpose",
        "client.address",
        "user_agent.original",
        "toolaudit.attribution.source",
    )
    return [span.attributes.get(k) for k in keys]


async def test_starlette_headers_attribute_the_request(instrumented, span_exporter):
    """The configured headers give the user, roles and purpose; the peer and User-Agent come along."""
    instrumented(**HEADERS)
    await get_starlette(
        [
            ("X-Authenticated-User", "nurse-7"),
            ("x-roles", "nurse, triage"),
            ("x-purpose", "treatment"),
            ("user-agent", "ward-tablet/3"),
        ]
    )
    (span,) = tool_spans(span_exporter)
    assert picked(span) == [
        "nurse-7",
        ("nurse", "triage"),
        "treatment",
        "10.0.0.9",
        "ward-tablet/3",
        "http",
    ]


async def test_unconfigured_headers_are_not_read(instrumented, span_exporter):
    """With no header variable set, a client's x-authenticated-user is ignored and nothing is hooked."""
    instrumented()
    await get_starlette([("x-authenticated-user", "admin")])
    (span,) = tool_spans(span_exporter)
    assert picked(span) == [None] * 6


async def test_repeated_user_header_is_not_trusted(instrumented, span_exporter):
    """A user header sent twice (a client's copy the gateway appended to) names no user."""
    instrumented(**HEADERS)
    await get_starlette([("x-authenticated-user", "admin"), ("x-authenticated-user", "nurse-7")])
    (span,) = tool_spans(span_exporter)
    assert span.attributes.get("user.id") is None


async def test_audit_context_wins_and_baggage_fills_in(instrumented, span_exporter):
    """An audit_context's user wins over the header's; baggage fills only what the headers leave unset."""
    instrumented(OTEL_PYTHON_TOOLAUDIT_BAGGAGE="extract", **HEADERS)
    baggage = ("baggage", "user.id=usr_up,toolaudit.purpose=billing,session.id=s-1")
    await get_starlette([("x-authenticated-user", "nurse-7"), baggage])
    await get_starlette([("x-authenticated-user", "nurse-7"), baggage], "?context=1")
    from_header, from_code = tool_spans(span_exporter)
    keys = ("user.id", "session.id", "toolaudit.purpose", "toolaudit.attribution.source")
    assert [[s.attributes.get(k) for k in keys] for s in (from_header, from_code)] == [
        ["nurse-7", "s-1", "billing", "http"],
        ["usr_code", "s-1", "billing", "context"],
    ]


def test_flask_headers_attribute_the_request(instrumented, span_exporter):
    """Flask requests are attributed from the same headers (WSGI environ)."""
    instrumented(**HEADERS)
    response = FLASK.test_client().get(
        "/chart",
        headers={"X-Authenticated-User": "nurse-7", "User-Agent": "ward-tablet/3"},
        environ_base={"REMOTE_ADDR": "10.0.0.8"},
    )
    assert response.json == {"patient_id": "P-1"}
    (span,) = tool_spans(span_exporter)
    assert picked(span) == ["nurse-7", None, None, "10.0.0.8", "ward-tablet/3", "http"]
