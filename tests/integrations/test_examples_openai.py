# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The framework examples run offline (local fake API, no key) and print what the audit captured."""

from __future__ import annotations

import subprocess
import sys

from .conftest import EXAMPLES


def run_example(name: str) -> str:
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        cwd=EXAMPLES.parent,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_openai_dispatch_example():
    """examples/openai_dispatch.py links each dispatched tool call to the chat span that asked for it."""
    out = run_example("openai_dispatch.py")
    chat = out.splitlines()[0].removeprefix("chat span ")
    tool_lines = [line for line in out.splitlines() if line.startswith(("ok", "FAIL"))]
    assert tool_lines == [
        f"ok   get_order call_id=call_get_1 model=gpt-4.1 provider=openai response=chatcmpl-demo linked_to={chat}",
        f"FAIL cancel_order call_id=call_cancel_2 model=gpt-4.1 provider=openai response=chatcmpl-demo linked_to={chat}",
    ]
    assert "User usr_98765 (support_agent) → gpt-4.1 → cancel_order [user_request]" in out
    assert out.rstrip().endswith("assistant: ORD-456 has shipped, so it cannot be cancelled.")


def test_openai_agents_example():
    """examples/openai_agents.py audits the Runner's function tools, the SDK-handled failure included."""
    out = run_example("openai_agents.py")
    tool_lines = sorted(line for line in out.splitlines() if line.startswith(("ok", "FAIL")))
    assert tool_lines == [
        'FAIL PermissionError issue_refund({"order_id":"ORD-456","amount":59.9})'
        " call_id=call_refund_2 agent=support provider=openai response=resp_demo",
        'ok   get_order({"order_id":"ORD-456"}) call_id=call_order_1 agent=support'
        " provider=openai response=resp_demo",
    ]
    assert "User usr_98765 (support_agent) → gpt-4.1 → issue_refund [user_request]" in out
