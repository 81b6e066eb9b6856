# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""CrewAI: every tool an agent runs becomes an audited ``execute_tool`` span.

CrewAI tools (``@tool`` functions, ``BaseTool`` subclasses) run through ``BaseTool.run`` / ``arun``
(``Tool.run`` / ``arun`` for ``@tool`` functions, which override them) with native function calling,
and through ``CrewStructuredTool.invoke`` / ``ainvoke`` (which call the tool's function directly) in
CrewAI's text (ReAct) tool mode; all of them are wrapped. With
native function calling, an agent executes each tool call of the model through
``AgentExecutor._execute_single_native_tool_call`` (the crew's agents) or the
``execute_single_native_tool_call`` helper (step executors): those are wrapped to hand the model's
call id to the tool's span.

Agents catch a tool's exception and send its text to the model; the span has already recorded the
failure by then, with the tool's own exception. A ``ToolFailure`` a tool returns (or the usage limit
CrewAI answers with) is a failure too.
"""

from __future__ import annotations

import contextvars
from types import ModuleType
from typing import Any

from opentelemetry_instrumentation_toolaudit import attributes as attrs
from opentelemetry_instrumentation_toolaudit._log import internal_error, logger
from opentelemetry_instrumentation_toolaudit._patching import Patcher
from opentelemetry_instrumentation_toolaudit._recorder import ToolCall
from opentelemetry_instrumentation_toolaudit.integrations import Integration
from opentelemetry_instrumentation_toolaudit.integrations._support import supported, tool_wrappers

NAME = "crewai"
DISTRIBUTION = "crewai"
MINIMUM = (1, 15)
BELOW = (2,)
EXECUTOR_STEP = "_execute_single_native_tool_call"
HELPER = "execute_single_native_tool_call"


class _Pending:
    """The model's tool call an executor is running: the (sanitized) tool name and its call id."""

    __slots__ = ("call_id", "name")

    def __init__(self, name: str, call_id: str) -> None:
        self.name = name
        self.call_id = call_id


_PENDING: contextvars.ContextVar[_Pending | None] = contextvars.ContextVar(
    "toolaudit_crewai_tool_call", default=None
)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _sanitized(name: str) -> str:
    try:
        from crewai.utilities.string_utils import sanitize_tool_name
    except ImportError:
        return name
    return str(sanitize_tool_name(name))


def _description(tool: Any) -> str | None:
    """The first docstring line of the app's tool function (a structured tool's original tool's)."""
    original = getattr(tool, "_original_tool", None) or tool
    text = _text(getattr(getattr(original, "func", None), "__doc__", None))
    return text.strip().splitlines()[0] if text and text.strip() else None


def _describe(instance: Any, args: Any, kwargs: Any) -> ToolCall:
    name = str(getattr(instance, "name", None) or type(instance).__name__)
    pending = _PENDING.get()
    call_id = None
    if pending is not None and pending.name in (name, _sanitized(name)):
        call_id = pending.call_id
        _PENDING.set(None)  # a tool the tool runs is another call
    arguments: Any = dict(kwargs)
    if args:
        arguments = {"args": list(args), **kwargs} if kwargs else list(args)
    return ToolCall(
        name=name, arguments=arguments, call_id=call_id, description=_description(instance)
    )


def tool_outcome(result: Any) -> Any:
    """What to summarise of a tool's result: a ``ToolFailure`` becomes a failure dict."""
    if type(result).__name__ == "ToolFailure":
        reason = getattr(result, "reason", None)
        return {
            "error": str(getattr(result, "message", result)),
            "error_type": getattr(reason, "value", None) or attrs.ERROR_TYPE_TOOL_ERROR,
        }
    return result


_run, _arun = tool_wrappers(_describe, "CrewAI", tool_outcome)


def _describe_invoke(instance: Any, args: Any, kwargs: Any) -> ToolCall:
    """``CrewStructuredTool.invoke(input, config=None, **kwargs)``: ``input`` holds the arguments."""
    arguments = kwargs["input"] if "input" in kwargs else (args[0] if args else None)
    return ToolCall(
        name=str(getattr(instance, "name", None) or type(instance).__name__),
        arguments=arguments,
        description=_description(instance),
    )


_invoke, _ainvoke = tool_wrappers(_describe_invoke, "CrewAI", tool_outcome)


def _pending_token(tool_call: Any) -> contextvars.Token[_Pending | None] | None:
    try:
        from crewai.utilities.agent_utils import extract_tool_call_info

        info = extract_tool_call_info(tool_call)
        if info:
            call_id, name, _ = info
            if isinstance(call_id, str) and call_id and isinstance(name, str):
                return _PENDING.set(_Pending(name, call_id))
    except Exception as exc:  # noqa: BLE001
        internal_error("reading a CrewAI tool call", exc)
    return None


def _with_call_id(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    """Wraps the executors' single-tool-call runners: their ``tool_call`` carries the call id."""
    tool_call = kwargs["tool_call"] if "tool_call" in kwargs else (args[0] if args else None)
    token = _pending_token(tool_call)
    try:
        return wrapped(*args, **kwargs)
    finally:
        if token is not None:
            _PENDING.reset(token)


def _wrap_all(patcher: Patcher, owner: Any, wrappers: dict[str, Any], where: str) -> None:
    missing = [a for a, w in wrappers.items() if a in vars(owner) and not patcher.wrap(owner, a, w)]
    missing += [a for a in wrappers if a not in vars(owner)]
    if missing:
        logger.warning("toolaudit: crewai: %s has no %s; not patched", where, ", ".join(missing))


def _patch_tools(patcher: Patcher, module: ModuleType) -> None:
    if not supported(NAME, DISTRIBUTION, MINIMUM, BELOW):
        return
    for owner in ("BaseTool", "Tool"):
        _wrap_all(patcher, getattr(module, owner), {"run": _run, "arun": _arun}, owner)


def _patch_structured(patcher: Patcher, module: ModuleType) -> None:
    if not supported(NAME, DISTRIBUTION, MINIMUM, BELOW):
        return
    wrappers = {"invoke": _invoke, "ainvoke": _ainvoke}
    _wrap_all(patcher, module.CrewStructuredTool, wrappers, "CrewStructuredTool")


def _patch_executor(patcher: Patcher, module: ModuleType) -> None:
    if not supported(NAME, DISTRIBUTION, MINIMUM, BELOW):
        return
    _wrap_all(patcher, module.AgentExecutor, {EXECUTOR_STEP: _with_call_id}, "AgentExecutor")


def _patch_helper(patcher: Patcher, module: ModuleType) -> None:
    if not supported(NAME, DISTRIBUTION, MINIMUM, BELOW):
        return
    _wrap_all(patcher, module, {HELPER: _with_call_id}, module.__name__)


INTEGRATIONS = (
    Integration(NAME, "crewai.tools.base_tool", _patch_tools),
    Integration(NAME, "crewai.tools.structured_tool", _patch_structured),
    Integration(NAME, "crewai.agents.agent_executor", _patch_executor),
    Integration(NAME, "crewai.utilities.agent_utils", _patch_helper),
    # The step executor imports the helper by name.
    Integration(NAME, "crewai.agents.step_executor", _patch_helper),
)
"""The CrewAI integration's hooks, all named ``crewai``."""
