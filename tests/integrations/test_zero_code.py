# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Apps with no telemetry code, run under `opentelemetry-instrument` with environment variables only,
write an audit trail whose records say who: from the model request, or from the gateway's header.

Each app is a real subprocess; the model is the local fake API (in this process); the web apps are
real servers (uvicorn, Werkzeug) driven by a real HTTP client.
"""

from __future__ import annotations

import itertools
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from opentelemetry_instrumentation_toolaudit.ledger import open_sink, public_key_path, verify
from tests._ports import free_port

from ..exporter.test_crash_and_auto import clean_env
from ..test_auto_instrumentation import ROOT
from .conftest import fake_api

INSTRUMENT = str(Path(sys.executable).with_name("opentelemetry-instrument"))
ORD1 = {"order_id": "ORD-1"}


def fake_model() -> fake_api.FakeLLMAPI:
    """A model that asks for one lookup_order call per request, each with a new call id."""
    ids = itertools.count(1)
    return fake_api.FakeLLMAPI(
        lambda path, body: fake_api.chat_completion([(f"call_{next(ids)}", "lookup_order", ORD1)])
    )


def trail_env(tmp_path: Path, server: fake_api.FakeLLMAPI, **extra: str) -> dict[str, str]:
    return clean_env(
        tmp_path,
        OTEL_TRACES_EXPORTER="toolaudit",
        OTEL_PYTHON_TOOLAUDIT_SINK=f"sqlite:///{tmp_path / 'audit.db'}",
        OTEL_PYTHON_TOOLAUDIT_TOOLS="tests.apps.zero_code_tools:dispatch",
        FAKE_OPENAI_URL=server.openai_url,
        **extra,
    )


def tool_records(tmp_path: Path) -> list[dict[str, Any]]:
    """The tool.call records of the verified trail, in order."""
    with open_sink(f"sqlite:///{tmp_path / 'audit.db'}", create=False) as sink:
        records = [r.record for r in sink.read()]
        result = verify(sink, public_key=str(public_key_path(tmp_path / "signing.key")))
    assert result.ok, result.summary()
    return [r for r in records if r["event_type"] == "tool.call"]


def who(record: dict[str, Any]) -> dict[str, Any]:
    keys = ("user_id", "user_roles", "client_address", "user_agent", "model", "call_id")
    picked = {k: record[k] for k in keys if k in record}
    picked["source"] = record.get("details", {}).get("attribution_source")
    return picked


def test_openai_app_with_user_in_the_request(tmp_path: Path) -> None:
    """An openai app that passes ``user=`` writes records carrying that user (source ``request``)."""
    with fake_model() as server:
        proc = subprocess.run(
            [INSTRUMENT, sys.executable, "-m", "tests.apps.zero_code_openai_app"],
            cwd=ROOT,
            env=trail_env(tmp_path, server),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert proc.returncode == 0, proc.stderr
    assert "APP-DONE" in proc.stdout
    assert [who(r) for r in tool_records(tmp_path)] == [
        {"user_id": "usr_alice", "model": "gpt-4.1", "call_id": "call_1", "source": "request"},
        {"user_id": "usr_bob", "model": "gpt-4.1", "call_id": "call_2", "source": "request"},
    ]


def wait_until_serving(url: str, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[1]
        try:
            httpx.get(f"{url}/health", timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError("the app did not start serving")


@pytest.mark.parametrize("framework", ["fastapi", "flask"])
def test_web_app_behind_a_gateway_header(tmp_path: Path, framework: str) -> None:
    """A FastAPI or Flask app with OTEL_PYTHON_TOOLAUDIT_USER_HEADER set records the header's user,
    roles, the client address and user agent (source ``http``); a request without the header falls
    back to the model request's ``safety_identifier``."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with fake_model() as server:
        env = trail_env(
            tmp_path,
            server,
            OTEL_PYTHON_TOOLAUDIT_USER_HEADER="X-Authenticated-User",
            OTEL_PYTHON_TOOLAUDIT_ROLE_HEADER="x-user-roles",
            WEB_FRAMEWORK=framework,
            PORT=str(port),
        )
        proc = subprocess.Popen(
            [INSTRUMENT, sys.executable, "-m", "tests.apps.zero_code_web"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            wait_until_serving(url, proc)
            gateway = {
                "x-authenticated-user": "nurse-7",
                "x-user-roles": "nurse, triage",
                "user-agent": "ward-tablet/3",
            }
            with httpx.Client(base_url=url, timeout=30) as client:
                first = client.post("/chat", headers=gateway)
                second = client.post("/chat", headers={"user-agent": "ward-tablet/3"})
            assert (first.status_code, second.status_code) == (200, 200)
            assert first.json() == {"results": [{"order_id": "ORD-1", "status": "shipped"}]}
        finally:
            proc.send_signal(signal.SIGINT)
            _, stderr = proc.communicate(timeout=60)
    assert proc.returncode in (0, -signal.SIGINT), stderr
    assert [who(r) for r in tool_records(tmp_path)] == [
        {
            "user_id": "nurse-7",
            "user_roles": ["nurse", "triage"],
            "client_address": "127.0.0.1",
            "user_agent": "ward-tablet/3",
            "model": "gpt-4.1",
            "call_id": "call_1",
            "source": "http",
        },
        {
            "user_id": "sid-from-the-app",
            "client_address": "127.0.0.1",
            "user_agent": "ward-tablet/3",
            "model": "gpt-4.1",
            "call_id": "call_2",
            "source": "request",
        },
    ]
