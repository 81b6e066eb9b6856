# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The integration registry: frameworks that are absent, and patch functions that fail."""

from __future__ import annotations

import logging
import sys
import types
from typing import Any

from opentelemetry_instrumentation_toolaudit import (
    ToolAuditInstrumentor,
    _instrumentor,
    error_counts,
)
from opentelemetry_instrumentation_toolaudit.integrations import (
    Integration,
    all_integrations,
    genai,
    mcp,
)


def test_genai_and_mcp_hooks_are_registered():
    """Every google-genai and MCP hook is in the registry the instrumentor runs, under its switch name."""
    registered = {(i.name, i.module) for i in all_integrations()}
    assert {(i.name, i.module) for i in (*genai.INTEGRATIONS, *mcp.INTEGRATIONS)} <= registered
    assert {i.name for i in genai.INTEGRATIONS} == {"genai"}
    assert {i.name for i in mcp.INTEGRATIONS} == {"mcp"}


def test_absent_framework_is_skipped_quietly(tracer_provider, monkeypatch, caplog):
    """A framework that is not installed is never imported, never warned about, and never raises."""
    calls: list[Any] = []
    ghost = Integration("ghost", "no_such_framework_xyz.tools", lambda p, m: calls.append(m))
    monkeypatch.setattr(_instrumentor, "all_integrations", lambda: [ghost])
    caplog.set_level(logging.DEBUG, logger="opentelemetry_instrumentation_toolaudit")
    instrumentor = ToolAuditInstrumentor()
    instrumentor.instrument(tracer_provider=tracer_provider)
    instrumentor.uninstrument()
    assert calls == []
    assert "no_such_framework_xyz" not in sys.modules
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_failing_patch_is_logged_not_raised(tracer_provider, monkeypatch):
    """A patch function that raises leaves the app importing and running; the failure is counted."""
    module = types.ModuleType("toolaudit_fake_framework")
    monkeypatch.setitem(sys.modules, module.__name__, module)

    def broken(patcher: Any, mod: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(
        _instrumentor, "all_integrations", lambda: [Integration("fake", module.__name__, broken)]
    )
    before = error_counts().get(f"patching {module.__name__}", 0)
    instrumentor = ToolAuditInstrumentor()
    instrumentor.instrument(tracer_provider=tracer_provider)
    instrumentor.uninstrument()
    assert error_counts()[f"patching {module.__name__}"] == before + 1
