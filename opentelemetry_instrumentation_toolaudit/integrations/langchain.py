# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""LangChain tools: every ``BaseTool.run`` / ``arun`` becomes an audited ``execute_tool`` span.

``tool.invoke(tool_call)`` / ``ainvoke``, LangGraph's ``ToolNode`` and the prebuilt agents all run a
tool through ``BaseTool.run`` or ``BaseTool.arun``, which receive the model's ``tool_call_id``. The
arguments recorded are the tool input without the injected ones (``InjectedToolArg``, LangGraph
state, store and runtime), as LangChain's own callbacks see them.

A tool configured with ``handle_tool_error`` (or ``handle_validation_error``) answers the model with
an error message instead of raising: the span still records the failure, with the exception that
LangChain handled (``_handle_tool_error`` / ``_handle_validation_error`` are wrapped to see it).
A ``ToolMessage`` whose status is ``error`` is a failure too.

No twins with ``opentelemetry-instrumentation-genai-langchain``: its callback handler opens its own
``execute_tool {name}`` span from ``on_tool_start``, inside ``run``, after ours has started. For a
tool that our span already covers, that handler's ``on_tool_start`` is skipped (its
``on_tool_end`` / ``on_tool_error`` then find nothing to end), and the agent name it knows is put on
our span.
"""

from __future__ import annotations

import contextvars
import json
from collections.abc import Mapping
from types import ModuleType
from typing import Any

from opentelemetry_instrumentation_toolaudit import attributes as attrs
from opentelemetry_instrumentation_toolaudit._log import internal_error, logger
from opentelemetry_instrumentation_toolaudit._patching import Patcher
from opentelemetry_instrumentation_toolaudit._recorder import ActiveCall, ToolCall, begin_call
from opentelemetry_instrumentation_toolaudit.integrations import Integration
from opentelemetry_instrumentation_toolaudit.integrations._support import supported

NAME = "langchain"
DISTRIBUTION = "langchain-core"
MINIMUM = (1, 0)
BELOW = (2,)
MAX_PARSED_TEXT = 65536
_HANDLERS = ("_handle_tool_error", "_handle_validation_error")


class _Running:
    """The tool run in progress in this context, and whether a callback span was declined for it."""

    __slots__ = ("active", "name", "twin_declined")

    def __init__(self, name: str, active: ActiveCall) -> None:
        self.name = name
        self.active = active
        self.twin_declined = False


_RUNNING: contextvars.ContextVar[_Running | None] = contextvars.ContextVar(
    "toolaudit_langchain_running", default=None
)
# The exceptions LangChain handled (turned into a message for the model) during the run in progress.
_HANDLED: contextvars.ContextVar[list[BaseException] | None] = contextvars.ContextVar(
    "toolaudit_langchain_handled_errors", default=None
)


def _first_line(text: Any) -> str | None:
    if not isinstance(text, str) or not text.strip():
        return None
    return text.strip().splitlines()[0].strip()


def _describe(instance: Any, args: Any, kwargs: Any) -> ToolCall:
    tool_input = kwargs["tool_input"] if "tool_input" in kwargs else (args[0] if args else None)
    arguments = tool_input
    if isinstance(tool_input, Mapping):
        filtered = getattr(instance, "_filter_injected_args", None)
        arguments = filtered(dict(tool_input)) if callable(filtered) else dict(tool_input)
    call_id = kwargs.get("tool_call_id")
    return ToolCall(
        name=str(getattr(instance, "name", None) or type(instance).__name__),
        arguments=arguments,
        call_id=call_id if isinstance(call_id, str) and call_id else None,
        description=_first_line(getattr(instance, "description", None)),
    )


def _content(content: Any) -> Any:
    """A ``ToolMessage``'s content; a JSON object string (LangChain's rendering of a dict) parsed."""
    if (
        isinstance(content, str)
        and len(content) <= MAX_PARSED_TEXT
        and content.lstrip().startswith("{")
    ):
        try:
            return json.loads(content)
        except ValueError:
            return content
    return content


def tool_outcome(result: Any) -> Any:
    """What to summarise of what ``run`` returned: the message content, or a failure dict."""
    if getattr(result, "type", None) == "tool" and hasattr(result, "tool_call_id"):
        content = getattr(result, "content", None)
        if getattr(result, "status", None) == "error":
            text = content if isinstance(content, str) else json.dumps(content, default=str)
            return {"error": text, "error_type": attrs.ERROR_TYPE_TOOL_ERROR}
        return _content(content)
    return result


def _start(instance: Any, args: Any, kwargs: Any) -> _Running | None:
    try:
        call = _describe(instance, args, kwargs)
    except Exception as exc:  # noqa: BLE001 - telemetry never breaks the app
        internal_error("describing a LangChain tool call", exc)
        return None
    active = begin_call(call)
    return None if active is None else _Running(call.name, active)


class _Scope:
    """The context-local state of one run: handled exceptions and the running tool."""

    __slots__ = ("_active", "_tokens", "handled")

    def __init__(self, running: _Running) -> None:
        self._active = running.active
        self.handled: list[BaseException] = []
        self._tokens = (_HANDLED.set(self.handled), _RUNNING.set(running))

    def _close(self) -> None:
        handled, running = self._tokens
        _RUNNING.reset(running)
        _HANDLED.reset(handled)

    def failed(self, exc: BaseException) -> None:
        """The tool raised: the run's state is dropped and the call recorded as failed."""
        self._close()
        self._active.failed(exc)

    def returned(self, result: Any) -> None:
        """The tool returned: failed if LangChain handled an exception on the way, else succeeded."""
        self._close()
        outcome = tool_outcome(result)
        if self.handled:
            self._active.failed(self.handled[-1])
        else:
            self._active.succeeded(outcome)


def _run(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    running = _start(instance, args, kwargs)
    if running is None:
        return wrapped(*args, **kwargs)
    scope = _Scope(running)
    try:
        result = wrapped(*args, **kwargs)
    except BaseException as exc:
        scope.failed(exc)
        raise
    scope.returned(result)
    return result


async def _arun(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    running = _start(instance, args, kwargs)
    if running is None:
        return await wrapped(*args, **kwargs)
    scope = _Scope(running)
    try:
        result = await wrapped(*args, **kwargs)
    except BaseException as exc:
        scope.failed(exc)
        raise
    scope.returned(result)
    return result


def _on_handled(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    """Wraps LangChain's error handlers: note the exception they turn into a message."""
    content = wrapped(*args, **kwargs)
    handled = _HANDLED.get()
    error = args[0] if args else kwargs.get("e")
    if handled is not None and isinstance(error, BaseException):
        handled.append(error)
    return content


def _official_on_tool_start(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    """Wraps the official handler's ``on_tool_start``: no second span for a tool ours covers."""
    try:
        running = _RUNNING.get()
        serialized = kwargs.get("serialized", args[0] if args else None)
        name = serialized.get("name") if isinstance(serialized, Mapping) else None
        if running is not None and not running.twin_declined and running.name == name:
            running.twin_declined = True
            _adopt_agent_name(instance, running.active, kwargs.get("parent_run_id"))
            return None
    except Exception as exc:  # noqa: BLE001
        internal_error("checking a LangChain callback tool span", exc)
    return wrapped(*args, **kwargs)


def _adopt_agent_name(handler: Any, active: ActiveCall, parent_run_id: Any) -> None:
    find = getattr(handler, "_find_agent_context", None)
    if not callable(find):
        return
    agent_name, _ = find(parent_run_id)
    span = active.span
    if isinstance(agent_name, str) and agent_name and span.is_recording():
        span.set_attribute(attrs.GEN_AI_AGENT_NAME, agent_name)


def _patch_official(patcher: Patcher, module: ModuleType) -> None:
    handler = getattr(module, "OpenTelemetryLangChainCallbackHandler", None)
    if handler is None or not patcher.wrap(handler, "on_tool_start", _official_on_tool_start):
        logger.warning(
            "toolaudit: langchain: this opentelemetry-instrumentation-genai-langchain has no "
            "on_tool_start; its tool spans and ours will both be recorded"
        )


def _patch(patcher: Patcher, module: ModuleType) -> None:
    if not supported(NAME, DISTRIBUTION, MINIMUM, BELOW):
        return
    tool = getattr(module, "BaseTool", None)
    if tool is None or not (patcher.wrap(tool, "run", _run) and patcher.wrap(tool, "arun", _arun)):
        logger.warning("toolaudit: langchain: BaseTool has no run/arun; not patched")
        return
    for handler in _HANDLERS:
        if not patcher.wrap(module, handler, _on_handled):
            logger.warning(
                "toolaudit: langchain: %s not found; a handled tool error is recorded as tool_error",
                handler,
            )


INTEGRATIONS = (
    Integration(NAME, "langchain_core.tools.base", _patch),
    Integration(
        NAME, "opentelemetry.instrumentation.genai.langchain.callback_handler", _patch_official
    ),
)
"""The LangChain integration's hooks (LangGraph's ``ToolNode`` runs tools through them)."""
