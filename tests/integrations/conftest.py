"""Fixtures for the framework integrations: the local fake of the providers' HTTP APIs."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan

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


def linked_span_ids(span: ReadableSpan) -> list[int]:
    """The span ids a span links to."""
    return [link.context.span_id for link in span.links]


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
