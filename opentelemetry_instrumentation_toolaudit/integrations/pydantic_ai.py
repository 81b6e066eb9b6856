# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""pydantic-ai: every tool an agent run executes becomes an audited ``execute_tool`` span.

An agent runs a validated tool call through ``ToolManager._raw_execute``, below the capability
hooks (and below pydantic-ai's own ``execute_tool {name}`` span when the agent is instrumented, which
is then enriched rather than nested). The ``ToolCallPart`` gives the tool's name, the model's call
id and its arguments; the ``RunContext`` gives the model, its provider and the agent's name.
Output tools (the structured final answer) are not tool calls and are left alone.

``ModelRetry`` and ``ToolFailed`` raised by a tool reach the wrapper wrapped in pydantic-ai's
``ToolRetryError`` / ``ToolFailedError``: the span records the tool's own exception, and what was
raised reaches the agent unchanged.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from opentelemetry_instrumentation_toolaudit import attributes as attrs
from opentelemetry_instrumentation_toolaudit._log import internal_error, logger
from opentelemetry_instrumentation_toolaudit._patching import Patcher
from opentelemetry_instrumentation_toolaudit._recorder import ToolCall, run_async
from opentelemetry_instrumentation_toolaudit.integrations import Integration
from opentelemetry_instrumentation_toolaudit.integrations._support import supported

NAME = "pydantic-ai"
DISTRIBUTION = "pydantic-ai-slim"
MINIMUM = (2, 0)
BELOW = (3,)
EXECUTE = "_raw_execute"
_WRAPPERS = ("ToolRetryError", "ToolFailedError")
_NOT_TOOL_CALLS = ("output",)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _describe(args: Any, kwargs: Any) -> ToolCall | None:
    validated = kwargs["validated"] if "validated" in kwargs else args[0]
    part = validated.call
    tool = validated.tool
    tool_def = getattr(tool, "tool_def", None)
    if getattr(tool_def, "kind", None) in _NOT_TOOL_CALLS:
        return None
    ctx = validated.ctx
    model = getattr(ctx, "model", None)
    agent_name = _text(getattr(getattr(ctx, "agent", None), "name", None))
    description = _text(getattr(tool_def, "description", None))
    return ToolCall(
        name=str(part.tool_name),
        arguments=part.args,
        call_id=_text(getattr(part, "tool_call_id", None)),
        description=description.strip().splitlines()[0] if description else None,
        model=_text(getattr(model, "model_name", None)),
        provider=_text(getattr(model, "system", None)),
        attributes={attrs.GEN_AI_AGENT_NAME: agent_name} if agent_name else None,
    )


def _tool_exception(exc: BaseException) -> BaseException:
    """The tool's own ``ModelRetry`` / ``ToolFailed`` inside pydantic-ai's wrapper around it."""
    if type(exc).__name__ in _WRAPPERS and exc.__cause__ is not None:
        return exc.__cause__
    return exc


def _outcome(result: Any) -> Any:
    """A ``ToolReturn``'s value; any other result as it is."""
    if type(result).__name__ == "ToolReturn":
        return getattr(result, "return_value", result)
    return result


async def _execute(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    try:
        call = _describe(args, kwargs)
    except Exception as exc:  # noqa: BLE001 - telemetry never breaks the app
        internal_error("describing a pydantic-ai tool call", exc)
        call = None
    return await run_async(call, wrapped, args, kwargs, exception=_tool_exception, outcome=_outcome)


def _patch(patcher: Patcher, module: ModuleType) -> None:
    if not supported(NAME, DISTRIBUTION, MINIMUM, BELOW):
        return
    manager = getattr(module, "ToolManager", None)
    if manager is None or not patcher.wrap(manager, EXECUTE, _execute):
        logger.warning("toolaudit: pydantic-ai: ToolManager has no %s; not patched", EXECUTE)


INTEGRATIONS = (Integration(NAME, "pydantic_ai.tool_manager", _patch),)
"""The pydantic-ai integration's hook."""
