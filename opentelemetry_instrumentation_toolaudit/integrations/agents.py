# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""openai-agents: every function tool the ``Runner`` invokes becomes an audited ``execute_tool`` span.

The SDK invokes function tools through ``agents.tool._invoke_function_tool_with_metadata`` (also
imported by name into ``agents.run_internal.tool_execution``, which the runner uses); both names are
wrapped. The ``ToolContext`` gives the tool's name, call id and JSON arguments; the model, provider and
chat span come from the remembered model response with that call id (the openai integration).

By default the SDK turns a tool's exception into a message for the model and the runner goes on:
the exception never reaches the wrapper. The SDK's failure formatter
(``maybe_invoke_function_tool_failure_error_function``) is therefore wrapped too, to tell the span
that the tool failed and with what; a timeout the SDK answers with its default message is recorded
as a ``ToolTimeoutError`` failure.
"""

from __future__ import annotations

import contextvars
from types import ModuleType
from typing import Any

from opentelemetry_instrumentation_toolaudit import attributes as attrs
from opentelemetry_instrumentation_toolaudit._log import internal_error
from opentelemetry_instrumentation_toolaudit._patching import Patcher
from opentelemetry_instrumentation_toolaudit._recorder import ToolCall, begin_call
from opentelemetry_instrumentation_toolaudit.integrations._versions import version_supported

SUPPORTED = ">= 0.20, < 0.25"
INVOKE = "_invoke_function_tool_with_metadata"
ON_FAILURE = "maybe_invoke_function_tool_failure_error_function"
TIMEOUT_ERROR_TYPE = "ToolTimeoutError"

# The exceptions the SDK handled (turned into a message for the model) during the tool call in progress.
_HANDLED: contextvars.ContextVar[list[BaseException] | None] = contextvars.ContextVar(
    "toolaudit_agents_handled_errors", default=None
)


def _describe(kwargs: dict[str, Any]) -> ToolCall:
    tool = kwargs.get("function_tool")
    context = kwargs.get("context")
    name = getattr(context, "tool_name", None) or getattr(tool, "name", None) or "function_tool"
    agent = getattr(context, "agent", None)
    agent_name = getattr(agent, "name", None)
    model = getattr(agent, "model", None)
    return ToolCall(
        name=str(name),
        arguments=kwargs.get("arguments", getattr(context, "tool_arguments", None)),
        call_id=getattr(context, "tool_call_id", None) or None,
        description=getattr(tool, "description", None) or None,
        model=model if isinstance(model, str) and model else None,
        attributes={attrs.GEN_AI_AGENT_NAME: agent_name} if isinstance(agent_name, str) else None,
    )


async def _invoke(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    try:
        call = _describe(kwargs)
    except Exception as exc:  # noqa: BLE001 - telemetry never breaks the app
        internal_error("describing an openai-agents tool call", exc)
        return await wrapped(*args, **kwargs)
    active = begin_call(call, wrapped)
    if active is None:
        return await wrapped(*args, **kwargs)
    handled: list[BaseException] = []
    token = _HANDLED.set(handled)
    try:
        result = await wrapped(*args, **kwargs)
    except BaseException as exc:
        _HANDLED.reset(token)
        active.failed(exc)
        raise
    _HANDLED.reset(token)
    if handled:
        active.failed(handled[-1])
    elif getattr(result, "is_sdk_generated_error", False):
        # Only the SDK's own timeout answer is flagged so without an exception passing by.
        output = getattr(result, "output", None)
        active.succeeded({"error": str(output), "error_type": TIMEOUT_ERROR_TYPE})
    else:
        active.succeeded(getattr(result, "output", result))
    return result


async def _on_failure(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    message = await wrapped(*args, **kwargs)
    if message is not None:
        handled = _HANDLED.get()
        error = kwargs.get("error")
        if handled is not None and isinstance(error, BaseException):
            handled.append(error)
    return message


def patch(patcher: Patcher, module: ModuleType) -> None:
    """Wrap the function-tool invoker (called once ``agents`` is imported)."""
    if not version_supported("agents", "openai-agents", SUPPORTED):
        return
    import agents.tool as tool_module

    owners: list[Any] = [tool_module]
    try:
        import agents.run_internal.tool_execution as tool_execution

        owners.append(tool_execution)
    except ImportError:
        pass
    wrapped = [owner for owner in owners if patcher.wrap(owner, INVOKE, _invoke)]
    if not wrapped or not patcher.wrap(tool_module, ON_FAILURE, _on_failure):
        internal_error(f"finding {INVOKE} in openai-agents")
