# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""google-genai automatic function calling (AFC): every function the SDK runs for the model is audited.

Given Python functions as tools, ``generate_content`` (and ``Chat.send_message``, sync, async and
streaming) runs the functions the model asks for and sends their results back, in a loop. This
integration wraps the points of that loop:

* ``_extra_utils.get_function_response_parts`` (and ``_async``) to read the model's ``FunctionCall``
  parts, so each execution gets its ``gen_ai.tool.call.id``;
* ``_extra_utils.invoke_function_from_dict_args`` (and ``_async``): one ``execute_tool`` span per
  function run. AFC turns a tool's exception into ``{"error": ...}`` for the model; the span still
  records the failure, with the tool's own exception class as ``error.type``;
* ``_adapters.McpToGenAiToolAdapter.call_tool``: MCP session tools run by AFC;
* ``Models._generate_content`` / ``_generate_content_stream`` (and ``AsyncModels``') to remember
  the requested model and the backend (``gen_ai.request.model``, ``gen_ai.provider.name``). The public
  ``generate_content`` is left alone: the official instrumentation wraps it and restores it by
  assignment, which would silently drop a wrapper of ours (or resurrect theirs).

No duplicates with ``opentelemetry-instrumentation-google-genai``: it wraps each tool function in
its own ``execute_tool {name}`` span, inside the function AFC invokes, where our span would be its
parent. So when that instrumentation is active, the tool function it wraps is first wrapped by us
(``tool_call_wrapper._wrap_tool_function``); our wrapper runs inside its span and enriches that span
with the attribution instead of opening a second one.
"""

from __future__ import annotations

import contextvars
import dataclasses
import functools
import inspect
from collections.abc import Callable
from types import ModuleType
from typing import Any

from opentelemetry_instrumentation_toolaudit import attributes as attrs
from opentelemetry_instrumentation_toolaudit._binding import ArgumentNamer, first_doc_line
from opentelemetry_instrumentation_toolaudit._log import internal_error, logger
from opentelemetry_instrumentation_toolaudit._patching import Patcher
from opentelemetry_instrumentation_toolaudit._recorder import (
    ToolCall,
    run_async,
    run_sync,
)
from opentelemetry_instrumentation_toolaudit._state import STATE
from opentelemetry_instrumentation_toolaudit.integrations import Integration
from opentelemetry_instrumentation_toolaudit.integrations._support import supported
from opentelemetry_instrumentation_toolaudit.integrations.mcp import call_tool_outcome

NAME = "genai"
DISTRIBUTION = "google-genai"
MINIMUM = (1, 20)
BELOW = (4,)

# Marks our wrapper around a tool function; functools.wraps copies it onto wrappers made around ours.
_MARK = "__toolaudit_audited__"


@dataclasses.dataclass(frozen=True)
class _Request:
    model: str | None
    provider: str


@dataclasses.dataclass
class _FunctionCall:
    name: str
    call_id: str | None
    args: Any


@dataclasses.dataclass
class _Batch:
    """The function calls of one model response, consumed as AFC runs them."""

    calls: list[_FunctionCall]
    response_model: str | None

    def take(self, name: str, args: Any) -> _FunctionCall | None:
        """The first call of this tool with these arguments, else the first call of this tool."""
        for match_args in (True, False):
            for i, found in enumerate(self.calls):
                if found.name == name and (not match_args or found.args == args):
                    return self.calls.pop(i)
        return None


# The latest generate_content request of this context. It is set, not reset: AFC reads it between
# the model request that returned the function calls and the next one, in the same context.
_REQUEST: contextvars.ContextVar[_Request | None] = contextvars.ContextVar(
    "toolaudit_genai_request", default=None
)
_BATCH: contextvars.ContextVar[_Batch | None] = contextvars.ContextVar(
    "toolaudit_genai_batch", default=None
)
# The call AFC is invoking, handed to our wrapper inside the official instrumentation's tool span.
_HANDOFF: contextvars.ContextVar[ToolCall | None] = contextvars.ContextVar(
    "toolaudit_genai_handoff", default=None
)


def _provider(models: Any) -> str:
    """``gcp.vertex_ai`` or ``gcp.gemini`` (the client's ``vertexai`` unset means the Gemini API)."""
    client = getattr(models, "_api_client", None)
    if client is None or not hasattr(client, "vertexai"):
        return attrs.PROVIDER_GCP_GEN_AI
    return attrs.PROVIDER_GCP_VERTEX_AI if client.vertexai else attrs.PROVIDER_GCP_GEMINI


def _remember_request(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    """Wraps ``Models._generate_content*``: set before the call, so async methods need no await."""
    try:
        model = kwargs.get("model", args[0] if args else None)
        _REQUEST.set(_Request(model if isinstance(model, str) else None, _provider(instance)))
    except Exception as exc:  # noqa: BLE001 - telemetry never breaks the app
        internal_error("reading a genai request", exc)
    return wrapped(*args, **kwargs)


def _open_batch(args: Any, kwargs: Any) -> contextvars.Token[_Batch | None] | None:
    try:
        response = kwargs.get("response", args[0] if args else None)
        candidates = getattr(response, "candidates", None) or ()
        content = getattr(candidates[0], "content", None) if candidates else None
        calls = []
        for part in getattr(content, "parts", None) or ():
            function_call = getattr(part, "function_call", None)
            name = getattr(function_call, "name", None)
            if name:
                call_id = getattr(function_call, "id", None)
                arguments = getattr(function_call, "args", None) or {}
                calls.append(_FunctionCall(name, call_id, arguments))
        model_version = getattr(response, "model_version", None)
        return _BATCH.set(_Batch(calls, model_version if isinstance(model_version, str) else None))
    except Exception as exc:  # noqa: BLE001
        internal_error("reading genai function calls", exc)
        return None


def _close_batch(token: contextvars.Token[_Batch | None] | None) -> None:
    if token is not None:
        _BATCH.reset(token)


def _response_parts(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    token = _open_batch(args, kwargs)
    try:
        return wrapped(*args, **kwargs)
    finally:
        _close_batch(token)


async def _response_parts_async(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    token = _open_batch(args, kwargs)
    try:
        return await wrapped(*args, **kwargs)
    finally:
        _close_batch(token)


def _describe(name: str, arguments: Any, description: str | None) -> ToolCall:
    """The ToolCall for one function AFC runs: call id, model and backend from the loop."""
    batch = _BATCH.get()
    found = batch.take(name, arguments) if batch is not None else None
    request = _REQUEST.get()
    response_model = batch.response_model if batch is not None else None
    return ToolCall(
        name=name,
        arguments=arguments,
        call_id=found.call_id if found is not None else None,
        description=description,
        provider=request.provider if request is not None else attrs.PROVIDER_GCP_GEN_AI,
        model=(request.model if request is not None else None) or response_model,
        attributes={attrs.GEN_AI_RESPONSE_MODEL: response_model} if response_model else None,
    )


def _plan(args: Any, kwargs: Any) -> tuple[ToolCall, bool] | None:
    """``(call, audited_inside)`` for ``invoke_function_from_dict_args(args, function_to_invoke)``."""
    try:
        arguments = kwargs.get("args", args[0] if args else None)
        function = kwargs.get("function_to_invoke", args[1] if len(args) > 1 else None)
        name = getattr(function, "__name__", None) or type(function).__name__
        call = _describe(name, arguments, first_doc_line(function))
        return call, bool(getattr(function, _MARK, False))
    except Exception as exc:  # noqa: BLE001
        internal_error("describing a genai function call", exc)
        return None


def _tool_exception(exc: BaseException) -> BaseException:
    """The tool's own exception inside the ``FunctionInvocationError`` AFC raises for it."""
    if type(exc).__name__ == "FunctionInvocationError" and exc.__context__ is not None:
        return exc.__context__
    return exc


def _invoke(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    plan = _plan(args, kwargs)
    if plan is None:
        return wrapped(*args, **kwargs)
    call, audited_inside = plan
    if audited_inside:
        token = _HANDOFF.set(call)
        try:
            return wrapped(*args, **kwargs)
        finally:
            _HANDOFF.reset(token)
    return run_sync(call, wrapped, args, kwargs, exception=_tool_exception)


async def _invoke_async(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    plan = _plan(args, kwargs)
    if plan is None:
        return await wrapped(*args, **kwargs)
    call, audited_inside = plan
    if audited_inside:
        token = _HANDOFF.set(call)
        try:
            return await wrapped(*args, **kwargs)
        finally:
            _HANDOFF.reset(token)
    return await run_async(call, wrapped, args, kwargs, exception=_tool_exception)


async def _adapter_call_tool(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    """An MCP session tool run by AFC: the MCP client span inside enriches this one."""
    try:
        function_call = kwargs.get("function_call", args[0] if args else None)
        call: ToolCall | None = _describe(
            function_call.name or "", dict(function_call.args or {}), None
        )
    except Exception as exc:  # noqa: BLE001
        internal_error("describing a genai MCP tool call", exc)
        call = None
    return await run_async(call, wrapped, args, kwargs, outcome=call_tool_outcome)


def audited_tool_function(tool_function: Callable[..., Any]) -> Callable[..., Any]:
    """``tool_function`` wrapped so that its body runs inside an ``execute_tool`` span of ours.

    Used inside the official instrumentation's wrapper: there our span start finds its span current
    and enriches it. The call AFC is invoking (call id, model) is handed over through the context.
    """
    if getattr(tool_function, _MARK, False):
        return tool_function
    name = getattr(tool_function, "__name__", None) or type(tool_function).__name__
    description = first_doc_line(tool_function)
    namer = ArgumentNamer(tool_function)

    def describe(args: Any, kwargs: Any) -> ToolCall:
        call = _HANDOFF.get()
        if call is not None and call.name == name:
            _HANDOFF.set(None)  # a nested call of the same tool is another call
            return call
        return ToolCall(name=name, arguments=namer.name(args, kwargs), description=description)

    if inspect.iscoroutinefunction(tool_function):

        @functools.wraps(tool_function)
        async def audited_async(*args: Any, **kwargs: Any) -> Any:
            if STATE.tracer is None:  # uninstrumented since the official wrapper was made
                return await tool_function(*args, **kwargs)
            return await run_async(describe(args, kwargs), tool_function, args, kwargs)

        wrapper: Callable[..., Any] = audited_async
    else:

        @functools.wraps(tool_function)
        def audited(*args: Any, **kwargs: Any) -> Any:
            if STATE.tracer is None:
                return tool_function(*args, **kwargs)
            return run_sync(describe(args, kwargs), tool_function, args, kwargs)

        wrapper = audited
    setattr(wrapper, _MARK, True)
    return wrapper


def _official_wrap_tool_function(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    try:
        if args:
            args = (audited_tool_function(args[0]), *args[1:])
        elif "tool_function" in kwargs:
            kwargs = {**kwargs, "tool_function": audited_tool_function(kwargs["tool_function"])}
    except Exception as exc:  # noqa: BLE001
        internal_error("wrapping a genai tool function", exc)
    return wrapped(*args, **kwargs)


def _wrap_all(patcher: Patcher, owner: Any, wrappers: dict[str, Any], where: str) -> None:
    missing = [attr for attr, wrapper in wrappers.items() if not patcher.wrap(owner, attr, wrapper)]
    if missing:
        logger.warning("toolaudit: genai: %s has no %s; not patched", where, ", ".join(missing))


def _patch_afc(patcher: Patcher, module: ModuleType) -> None:
    if not supported(NAME, DISTRIBUTION, MINIMUM, BELOW):
        return
    wrappers = {
        "get_function_response_parts": _response_parts,
        "get_function_response_parts_async": _response_parts_async,
        "invoke_function_from_dict_args": _invoke,
        "invoke_function_from_dict_args_async": _invoke_async,
    }
    _wrap_all(patcher, module, wrappers, module.__name__)


def _patch_models(patcher: Patcher, module: ModuleType) -> None:
    if not supported(NAME, DISTRIBUTION, MINIMUM, BELOW):
        return
    wrappers = {
        "_generate_content": _remember_request,
        "_generate_content_stream": _remember_request,
    }
    for owner in ("Models", "AsyncModels"):
        _wrap_all(patcher, getattr(module, owner), wrappers, f"{module.__name__}.{owner}")


def _patch_adapters(patcher: Patcher, module: ModuleType) -> None:
    if not supported(NAME, DISTRIBUTION, MINIMUM, BELOW):
        return
    adapter = getattr(module, "McpToGenAiToolAdapter", None)
    if adapter is not None:
        _wrap_all(patcher, adapter, {"call_tool": _adapter_call_tool}, module.__name__)


def _patch_official_tools(patcher: Patcher, module: ModuleType) -> None:
    if not patcher.wrap(module, "_wrap_tool_function", _official_wrap_tool_function):
        logger.warning(
            "toolaudit: genai: this opentelemetry-instrumentation-google-genai has no "
            "_wrap_tool_function; its tool spans and ours will both be recorded"
        )


INTEGRATIONS = (
    Integration(NAME, "google.genai._extra_utils", _patch_afc),
    Integration(NAME, "google.genai.models", _patch_models),
    Integration(NAME, "google.genai._adapters", _patch_adapters),
    Integration(
        NAME, "opentelemetry.instrumentation.google_genai.tool_call_wrapper", _patch_official_tools
    ),
)
"""The google-genai integration's hooks, all named ``genai``."""
