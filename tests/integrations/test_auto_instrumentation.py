# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""`opentelemetry-instrument` with environment variables alone audits an LLM app's tool calls."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ..test_auto_instrumentation import console_spans

ROOT = Path(__file__).resolve().parents[2]


def test_llm_app_under_opentelemetry_instrument():
    """A dispatch target and an openai-agents tool both get the model's call id, model and provider."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "PYTHONPATH"))} | {
        "PYTHONPATH": str(ROOT),
        "OTEL_SERVICE_NAME": "support-agent",
        "OTEL_TRACES_EXPORTER": "console",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        "OTEL_PYTHON_TOOLAUDIT_TOOLS": "tests.apps.llm_tools:dispatch",
        # The agents SDK's own trace exporter posts to the OpenAI backend: not in a test.
        "OPENAI_AGENTS_DISABLE_TRACING": "1",
    }
    instrument = Path(sys.executable).with_name("opentelemetry-instrument")
    proc = subprocess.run(
        [str(instrument), sys.executable, "-m", "tests.apps.llm_app"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "APP-DONE" in proc.stdout
    tools = {
        s["name"]: s["attributes"]
        for s in console_spans(proc.stdout)
        if s["attributes"].get("gen_ai.operation.name") == "execute_tool"
    }
    assert sorted(tools) == ["execute_tool get_order", "execute_tool lookup_order"]
    picked = ("gen_ai.tool.call.id", "gen_ai.request.model", "gen_ai.provider.name", "user.id")
    assert {name: [a.get(k) for k in picked] for name, a in tools.items()} == {
        "execute_tool lookup_order": ["call_dispatch", "gpt-4.1-mini", "openai", "usr_98765"],
        "execute_tool get_order": ["call_agent", "gpt-4.1", "openai", "usr_98765"],
    }
