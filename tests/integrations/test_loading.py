# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The framework integrations load lazily and are skipped, logged once, when a version is unsupported."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap

import pytest
from openai import _base_client

from opentelemetry_instrumentation_toolaudit import ToolAuditInstrumentor
from opentelemetry_instrumentation_toolaudit.integrations import _versions, openai


def test_unsupported_version_is_skipped_and_logged_once(tracer_provider, monkeypatch, caplog):
    """An openai outside the supported range is left unpatched, with one warning however often instrumented."""
    monkeypatch.setattr(openai, "SUPPORTED", "< 1")
    monkeypatch.setattr(_versions, "_reported", set())
    original = vars(_base_client.SyncAPIClient)["_process_response"]
    instrumentor = ToolAuditInstrumentor()
    with caplog.at_level(logging.WARNING, logger="opentelemetry_instrumentation_toolaudit"):
        for _ in range(2):
            instrumentor.instrument(tracer_provider=tracer_provider)
            try:
                assert vars(_base_client.SyncAPIClient)["_process_response"] is original
            finally:
                instrumentor.uninstrument()
    warnings = [
        r.getMessage() for r in caplog.records if "integration openai skipped" in r.getMessage()
    ]
    assert len(warnings) == 1
    assert "is not in the supported range < 1" in warnings[0]


def test_absent_distribution_is_not_supported(monkeypatch, caplog):
    """A module of the watched name from another distribution is not patched, and not warned about."""
    monkeypatch.setattr(_versions, "_reported", set())
    with caplog.at_level(logging.INFO, logger="opentelemetry_instrumentation_toolaudit"):
        assert _versions.version_supported("agents", "no-such-distribution-xyz", ">= 0.20") is False
        assert _versions.version_supported("agents", "no-such-distribution-xyz", ">= 0.20") is False
    assert [(r.levelname, "(not installed)" in r.getMessage()) for r in caplog.records] == [
        ("INFO", True)
    ]


@pytest.mark.parametrize("framework", ["openai", "agents", "anthropic"])
def test_instrumenting_imports_no_framework(framework):
    """instrument() imports no framework; the patch runs when the app imports it (post-import hook)."""
    code = textwrap.dedent(
        f"""
        import sys
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry_instrumentation_toolaudit import ToolAuditInstrumentor
        instrumentor = ToolAuditInstrumentor()
        instrumentor.instrument(tracer_provider=TracerProvider())
        before = {framework!r} in sys.modules, len(instrumentor.patcher)
        import {framework}
        print(before, len(instrumentor.patcher) > 0)
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "(False, 0) True"
