# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The LangChain, pydantic-ai and LlamaIndex integrations load lazily, honour the switch, and are
skipped (logged once) outside their supported versions."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap

import pytest
from langchain_core.tools import BaseTool
from llama_index.core.tools import FunctionTool
from pydantic_ai.tool_manager import ToolManager

from opentelemetry_instrumentation_toolaudit import ToolAuditInstrumentor
from opentelemetry_instrumentation_toolaudit.integrations import (
    _support,
    all_integrations,
    crewai,
    langchain,
    llamaindex,
    pydantic_ai,
)

# (switch name, integration module, the app's import, patched owner, patched attribute)
FRAMEWORKS = [
    ("langchain", langchain, "from langchain_core.tools import tool", BaseTool, "run"),
    ("pydantic-ai", pydantic_ai, "from pydantic_ai import Agent", ToolManager, "_raw_execute"),
    (
        "llamaindex",
        llamaindex,
        "from llama_index.core.tools import FunctionTool",
        FunctionTool,
        "call",
    ),
]
IDS = [f[0] for f in FRAMEWORKS]


def test_framework_hooks_are_registered():
    """Each framework's hooks are in the registry the instrumentor runs, under its switch name."""
    registered = {(i.name, i.module) for i in all_integrations()}
    for name, module in [(f[0], f[1]) for f in FRAMEWORKS] + [("crewai", crewai)]:
        assert {(i.name, i.module) for i in module.INTEGRATIONS} <= registered
        assert {i.name for i in module.INTEGRATIONS} == {name}


@pytest.mark.parametrize(("name", "module", "imported", "owner", "attr"), FRAMEWORKS, ids=IDS)
def test_instrumenting_imports_no_framework(name, module, imported, owner, attr):
    """instrument() imports no framework; the patch runs when the app imports it (post-import hook)."""
    code = textwrap.dedent(
        f"""
        import sys
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry_instrumentation_toolaudit import ToolAuditInstrumentor
        instrumentor = ToolAuditInstrumentor()
        instrumentor.instrument(tracer_provider=TracerProvider())
        before = {imported.split()[1]!r} in sys.modules, len(instrumentor.patcher)
        {imported}
        print(before, len(instrumentor.patcher) > 0)
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "(False, 0) True"


@pytest.mark.parametrize(("name", "module", "imported", "owner", "attr"), FRAMEWORKS, ids=IDS)
def test_disabled_integration_is_not_patched(
    tracer_provider, monkeypatch, name, module, imported, owner, attr
):
    """A framework named in OTEL_PYTHON_TOOLAUDIT_DISABLED_INTEGRATIONS is left alone."""
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_DISABLED_INTEGRATIONS", f"mcp, {name.upper()}")
    original = vars(owner)[attr]
    instrumentor = ToolAuditInstrumentor()
    instrumentor.instrument(tracer_provider=tracer_provider)
    try:
        assert vars(owner)[attr] is original
    finally:
        instrumentor.uninstrument()


@pytest.mark.parametrize(("name", "module", "imported", "owner", "attr"), FRAMEWORKS, ids=IDS)
def test_unsupported_version_is_skipped_and_logged_once(
    tracer_provider, monkeypatch, caplog, name, module, imported, owner, attr
):
    """Outside its supported range a framework is left unpatched, with one warning however often
    instrumented."""
    monkeypatch.setattr(module, "MINIMUM", (0,))
    monkeypatch.setattr(module, "BELOW", (0, 0, 1))
    monkeypatch.setattr(_support, "_reported", set())
    original = vars(owner)[attr]
    instrumentor = ToolAuditInstrumentor()
    with caplog.at_level(logging.WARNING, logger="opentelemetry_instrumentation_toolaudit"):
        for _ in range(2):
            instrumentor.instrument(tracer_provider=tracer_provider)
            try:
                assert vars(owner)[attr] is original
            finally:
                instrumentor.uninstrument()
    warnings = [
        r.getMessage() for r in caplog.records if f"integration {name} skipped" in r.getMessage()
    ]
    assert len(warnings) == 1
    assert f"{module.DISTRIBUTION} " in warnings[0]
