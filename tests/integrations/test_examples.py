# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The Gemini and MCP examples run offline, and Gemini AFC is audited under `opentelemetry-instrument`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from ..test_auto_instrumentation import console_spans
from .mcp_support import MCP2

ROOT = Path(__file__).resolve().parents[2]


def run(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=180, check=False
    )


def test_gemini_example_prints_one_line_per_call():
    """examples/gemini_afc.py audits both calls AFC runs, the failing one included."""
    proc = run([sys.executable, str(ROOT / "examples" / "gemini_afc.py")])
    assert proc.returncode == 0, proc.stderr
    audit = [line for line in proc.stdout.splitlines() if line.startswith("audit: ")]
    assert audit == [
        'audit: get_order({"order_id":"ORD-456"}) call_id=fc-1 model=gemini-2.5-flash'
        " provider=gcp.gemini → ok",
        'audit: cancel_order({"order_id":"ORD-456"}) call_id=fc-2 model=gemini-2.5-flash'
        " provider=gcp.gemini → FAILED (PermissionError)",
    ]
    assert proc.stdout.rstrip().endswith("it can no longer be cancelled.")


def test_mcp_example_joins_client_and_server_over_stdio():
    """examples/mcp_client_server.py: each call is audited on both sides, in one trace per call."""
    proc = run([sys.executable, str(ROOT / "examples" / "mcp_client_server.py")])
    assert proc.returncode == 0, proc.stderr
    line = re.compile(r"^(client|server): (\w+)\(.*\) → (.+?)  trace=([0-9a-f]{32})$")
    found = {
        (m[1], m[2]): (m[3], m[4])
        for text in (proc.stdout, proc.stderr)
        for m in map(line.match, text.splitlines())
        if m
    }
    assert {key: outcome for key, (outcome, _) in found.items()} == {
        ("client", "get_order"): "ok",
        ("client", "cancel_order"): "FAILED (tool_error)",
        ("server", "get_order"): "ok",
        # mcp 2.x's own server span (enriched) reports tool errors as tool_error, per MCP semconv.
        ("server", "cancel_order"): "FAILED (tool_error)" if MCP2 else "FAILED (ToolError)",
    }
    for tool in ("get_order", "cancel_order"):
        assert found[("client", tool)][1] == found[("server", tool)][1]
    server_attribution = [s for s in proc.stderr.splitlines() if s.strip().startswith("User ")]
    assert server_attribution == [
        f"        User usr_98765 (support_agent) → gpt-4.1 → {tool} [user_request] (from baggage)"
        for tool in ("get_order", "cancel_order")
    ]


def test_opentelemetry_instrument_audits_gemini_afc():
    """With environment variables only, a Gemini AFC tool call becomes an attributed execute_tool span."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "PYTHONPATH"))} | {
        "PYTHONPATH": str(ROOT),
        "OTEL_SERVICE_NAME": "gemini-agent",
        "OTEL_TRACES_EXPORTER": "console",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
    }
    instrument = Path(sys.executable).with_name("opentelemetry-instrument")
    proc = run([str(instrument), sys.executable, "-m", "tests.apps.gemini_app"], env)
    assert proc.returncode == 0, proc.stderr
    assert "APP-DONE" in proc.stdout
    (span,) = [s for s in console_spans(proc.stdout) if s["name"] == "execute_tool get_order"]
    assert span["attributes"] == {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "get_order",
        "gen_ai.tool.type": "function",
        "gen_ai.tool.description": "Fetch an order and its status.",
        "gen_ai.tool.call.id": "fc-1",
        "gen_ai.tool.call.arguments": '{"order_id":"ORD-123"}',
        "gen_ai.request.model": "gemini-2.5-flash",
        "gen_ai.response.model": "gemini-2.5-flash-001",
        "gen_ai.provider.name": "gcp.gemini",
        "toolaudit.trigger": "user_request",
        "toolaudit.attribution": "User unknown (unknown) → gemini-2.5-flash → get_order [user_request]",
        "toolaudit.result.summary": '{"success":true,"order_id":"ORD-123","status":"shipped"}',
        "toolaudit.success": True,
    }
