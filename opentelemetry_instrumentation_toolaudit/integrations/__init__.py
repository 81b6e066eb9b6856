# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Framework integrations: each patches one library's tool runner when that library is imported.

An integration is a name (what ``OTEL_PYTHON_TOOLAUDIT_DISABLED_INTEGRATIONS`` lists), the modules
whose import triggers it, and a ``patch(patcher, module)`` function. It must check the library's
version itself and log once (not raise) when the version is unsupported.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from types import ModuleType

from opentelemetry_instrumentation_toolaudit._patching import Patcher

PatchFunction = Callable[[Patcher, ModuleType], None]


@dataclasses.dataclass(frozen=True)
class Integration:
    """One framework hook: run ``patch`` once ``module`` is imported."""

    name: str
    module: str
    patch: PatchFunction


def all_integrations() -> list[Integration]:
    """Every integration this package ships; importing this never imports a framework."""
    # Imported here: the integration modules import the recorder, which imports this package.
    from opentelemetry_instrumentation_toolaudit.integrations import (
        agents,
        anthropic,
        crewai,
        genai,
        http,
        langchain,
        llamaindex,
        mcp,
        openai,
        pydantic_ai,
    )

    return [
        Integration("openai", "openai", openai.patch),
        Integration("agents", "agents", agents.patch),
        Integration("anthropic", "anthropic", anthropic.patch),
        *genai.INTEGRATIONS,
        *mcp.INTEGRATIONS,
        *http.INTEGRATIONS,
        *langchain.INTEGRATIONS,
        *pydantic_ai.INTEGRATIONS,
        *llamaindex.INTEGRATIONS,
        *crewai.INTEGRATIONS,
    ]
