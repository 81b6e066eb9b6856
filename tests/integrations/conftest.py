# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Fixtures for the framework integrations: the local fake of the providers' HTTP APIs, and helpers
the integrations' tests share."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from opentelemetry_instrumentation_toolaudit import ToolAuditInstrumentor

from ..conftest import tool_spans

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _load_fake_api() -> ModuleType:
    """examples/fake_llm_api.py, the fake the examples use too (examples/ is not a package)."""
    name = "fake_llm_api"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / "fake_llm_api.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


fake_api = _load_fake_api()


@pytest.fixture
def instrumented(tracer_provider: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """instrument() after setting the given environment variables."""

    def start(**env: str) -> None:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        ToolAuditInstrumentor().instrument(tracer_provider=tracer_provider)

    yield start
    ToolAuditInstrumentor().uninstrument()


def patched_and_restored(
    tracer_provider: TracerProvider, targets: Sequence[tuple[Any, str]]
) -> tuple[list[bool], list[bool]]:
    """Instrument, then uninstrument: for each ``(owner, name)``, whether instrument() replaced it,
    and whether uninstrument() put back the very object that was there before."""
    before = [vars(owner)[name] for owner, name in targets]
    instrumentor = ToolAuditInstrumentor()
    instrumentor.instrument(tracer_provider=tracer_provider)
    patched = [vars(owner)[name] for owner, name in targets]
    instrumentor.uninstrument()
    after = [vars(owner)[name] for owner, name in targets]
    replaced = [a is not b for a, b in zip(before, patched, strict=True)]
    return replaced, [a is b for a, b in zip(before, after, strict=True)]


def calls_seen(exporter: InMemorySpanExporter) -> set[tuple[Any, Any, Any]]:
    """The (call id, user id, arguments) of each execute_tool span."""
    return {
        (
            (s.attributes or {}).get("gen_ai.tool.call.id"),
            (s.attributes or {}).get("user.id"),
            (s.attributes or {}).get("gen_ai.tool.call.arguments"),
        )
        for s in tool_spans(exporter)
    }


def linked_span_ids(span: ReadableSpan) -> list[int]:
    """The span ids a span links to."""
    return [link.context.span_id for link in span.links]


def context_attributes(
    tool_name: str,
    call_id: str,
    arguments: str,
    summary: str,
    description: str,
    *,
    model: str = "unknown",
    failed: str | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The whole attribute dict of a framework tool's span run under audit_context(user_id=usr_1)."""
    expected: dict[str, Any] = {
        "user.id": "usr_1",
        "toolaudit.attribution.source": "context",
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": tool_name,
        "gen_ai.tool.type": "function",
        "gen_ai.tool.description": description,
        "gen_ai.tool.call.id": call_id,
        "gen_ai.tool.call.arguments": arguments,
        "toolaudit.trigger": "user_request",
        "toolaudit.attribution": f"User usr_1 (unknown) → {model} → {tool_name} [user_request]",
        "toolaudit.result.summary": summary,
        "toolaudit.success": failed is None,
    }
    if failed is not None:
        expected["error.type"] = failed
    expected.update(extra or {})
    return expected


def dispatch_attributes(
    tool: str,
    *,
    call_id: str,
    arguments: str,
    provider: str,
    model: str,
    response_id: str,
    summary: str,
    user: str = "usr_1",
    source: str = "context",
    description: str | None = None,
    failed: str | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The whole attribute dict of the execute_tool span of a dispatched, remembered call."""
    expected: dict[str, Any] = {
        "user.id": user,
        "toolaudit.attribution.source": source,
        "gen_ai.request.model": model,
        "gen_ai.provider.name": provider,
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": tool,
        "gen_ai.tool.type": "function",
        "gen_ai.tool.call.id": call_id,
        "gen_ai.tool.call.arguments": arguments,
        "gen_ai.response.id": response_id,
        "toolaudit.trigger": "user_request",
        "toolaudit.attribution": f"User {user} (unknown) → {model} → {tool} [user_request]",
        "toolaudit.result.summary": summary,
        "toolaudit.success": failed is None,
    }
    if description is not None:
        expected["gen_ai.tool.description"] = description
    if failed is not None:
        expected["error.type"] = failed
    expected.update(extra or {})
    return expected
