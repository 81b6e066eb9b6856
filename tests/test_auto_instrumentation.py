# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""`opentelemetry-instrument python app.py` with environment variables only produces the spans."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def console_spans(stdout: str) -> list[dict[str, Any]]:
    """The JSON objects the console span exporter printed."""
    decoder = json.JSONDecoder()
    spans, index = [], 0
    while True:
        start = stdout.find("{", index)
        if start < 0:
            return spans
        obj, index = decoder.raw_decode(stdout, start)
        if isinstance(obj, dict) and "context" in obj:
            spans.append(obj)


def run_instrumented(extra_env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "PYTHONPATH"))} | {
        "PYTHONPATH": str(ROOT),
        "OTEL_SERVICE_NAME": "support-agent",
        "OTEL_TRACES_EXPORTER": "console",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        **extra_env,
    }
    instrument = Path(sys.executable).with_name("opentelemetry-instrument")
    return subprocess.run(
        [str(instrument), sys.executable, "-m", "tests.apps.instrumented_app"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_opentelemetry_instrument_produces_tool_spans():
    """The decorator and an env-named dispatch target both yield attributed spans on the console."""
    proc = run_instrumented({"OTEL_PYTHON_TOOLAUDIT_TOOLS": "tests.apps.support_tools:dispatch"})
    assert proc.returncode == 0, proc.stderr
    assert "APP-DONE" in proc.stdout
    spans = {s["name"]: s for s in console_spans(proc.stdout)}
    assert set(spans) == {"execute_tool lookup_order", "execute_tool issue_refund"}
    lookup = spans["execute_tool lookup_order"]
    assert lookup["kind"] == "SpanKind.INTERNAL"
    assert lookup["resource"]["attributes"]["service.name"] == "support-agent"
    assert lookup["attributes"]["toolaudit.attribution"] == (
        "User usr_98765 (support_agent) → gpt-4.1 → lookup_order [user_request]"
    )
    assert lookup["attributes"]["gen_ai.conversation.id"] == "conv_abc123"
    assert json.loads(lookup["attributes"]["gen_ai.tool.call.arguments"]) == {"order_id": "ORD-123"}
    refund = spans["execute_tool issue_refund"]
    assert refund["attributes"]["gen_ai.tool.description"] == "Refund an order to the card on file."
    assert refund["attributes"]["toolaudit.success"] is True
    assert lookup["context"]["trace_id"] != refund["context"]["trace_id"]


def test_disabled_instrumentor_leaves_dispatch_alone():
    """OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=toolaudit turns the instrumentor off entirely."""
    proc = run_instrumented(
        {
            "OTEL_PYTHON_TOOLAUDIT_TOOLS": "tests.apps.support_tools:dispatch",
            "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "toolaudit",
        }
    )
    assert proc.returncode == 0, proc.stderr
    names = {s["name"] for s in console_spans(proc.stdout)}
    assert "execute_tool lookup_order" not in names
