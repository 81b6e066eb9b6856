# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""MCP (Model Context Protocol): tool calls an MCP client makes, and tool calls an MCP server runs.

* Client: ``mcp.client.session.ClientSession.call_tool`` becomes an ``execute_tool`` span (or
  enriches the one already current for the same tool, e.g. Gemini AFC running an MCP tool).
* Server: the tool manager of the high-level server, ``ToolManager.call_tool`` (``FastMCP`` in mcp 1.x,
  ``MCPServer`` in 2.x). mcp 2.x opens its own ``tools/call {name}`` SERVER span, marked
  ``gen_ai.operation.name = execute_tool``: that span is enriched rather than nested.

Trace context: mcp 2.x injects W3C trace context (and baggage, with the default propagators) into the
request ``_meta`` and extracts it on the server. For mcp 1.x this integration does both: the client
injects with the configured propagators, and the server joins the caller's trace. Attribution in
that baggage is used only with ``OTEL_PYTHON_TOOLAUDIT_BAGGAGE=extract|both`` and no local
``audit_context``, and is marked ``toolaudit.attribution.source = baggage``.

A result with ``isError`` is a failure (``error.type = tool_error``); an exception is a failure whose
``error.type`` is the tool's own exception class (the ``__cause__`` of the SDK's ``ToolError``).
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Mapping
from types import ModuleType
from typing import Any

from opentelemetry import baggage, propagate, trace
from opentelemetry import context as otel_context
from opentelemetry.baggage.propagation import W3CBaggagePropagator

from opentelemetry_instrumentation_toolaudit import attributes as attrs
from opentelemetry_instrumentation_toolaudit._context import _baggage_mode
from opentelemetry_instrumentation_toolaudit._log import internal_error, logger
from opentelemetry_instrumentation_toolaudit._patching import Patcher
from opentelemetry_instrumentation_toolaudit._recorder import ToolCall, run_async
from opentelemetry_instrumentation_toolaudit._state import STATE
from opentelemetry_instrumentation_toolaudit.integrations import Integration
from opentelemetry_instrumentation_toolaudit.integrations._support import release, supported

NAME = "mcp"
DISTRIBUTION = "mcp"
MINIMUM = (1, 10)
BELOW = (3,)
MAX_ERROR_TEXT = 512
# Larger text results are summarised by size alone rather than parsed for their ids.
MAX_PARSED_TEXT = 65536

_TOOL_ERRORS = ("ToolError", "UnexpectedToolError")


def call_tool_outcome(result: Any) -> Any:
    """What to summarise of an MCP tool result: a failure dict for ``isError``, else its data.

    Structured content is preferred, so ids such as ``order_id`` reach the result summary.
    """
    is_error = getattr(result, "is_error", None)  # mcp 2.x
    if is_error is None:
        is_error = getattr(result, "isError", None)  # mcp 1.x
    if is_error is not None:
        if is_error:
            return {"error": _error_text(result), "error_type": attrs.ERROR_TYPE_TOOL_ERROR}
        structured = getattr(result, "structured_content", None)
        if structured is None:
            structured = getattr(result, "structuredContent", None)
        if isinstance(structured, Mapping):
            return structured
        content = list(getattr(result, "content", None) or ())
        data = _json_object(content)
        return content if data is None else data
    if isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], Mapping):
        return result[1]  # mcp 1.x converted result: (content, structured)
    return result


def _json_object(content: list[Any]) -> dict[str, Any] | None:
    """The object a tool's dict return became: MCP sends it as one JSON text block."""
    if len(content) != 1:
        return None
    text = getattr(content[0], "text", None)
    if (
        not isinstance(text, str)
        or len(text) > MAX_PARSED_TEXT
        or not text.lstrip().startswith("{")
    ):
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _error_text(result: Any) -> str:
    for block in getattr(result, "content", None) or ():
        text = getattr(block, "text", None)
        if isinstance(text, str):
            return STATE.policy.redact_text(text)[:MAX_ERROR_TEXT]
    return "tool_error"


def _tool_exception(exc: BaseException) -> BaseException:
    """The tool's own exception inside the ``ToolError`` the server's tool manager raises."""
    if type(exc).__name__ in _TOOL_ERRORS and exc.__cause__ is not None:
        return exc.__cause__
    return exc


async def _run(call: ToolCall | None, wrapped: Any, args: Any, kwargs: Any) -> Any:
    return await run_async(
        call, wrapped, args, kwargs, exception=_tool_exception, outcome=call_tool_outcome
    )


def _bound(
    args: tuple[Any, ...], kwargs: Mapping[str, Any], names: tuple[str, ...]
) -> dict[str, Any]:
    named = dict(zip(names, args, strict=False))
    named.update(kwargs)
    return named


# --- client ----------------------------------------------------------------------------------


def _with_trace_meta(kwargs: dict[str, Any]) -> dict[str, Any]:
    """``kwargs`` with the current trace context (and baggage) added to the request ``_meta``."""
    try:
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        if not carrier:
            return kwargs
        meta = kwargs.get("meta")
        # The caller's own _meta keys win; their dict is copied, never changed.
        return {**kwargs, "meta": {**carrier, **(dict(meta) if meta else {})}}
    except Exception as exc:  # noqa: BLE001
        internal_error("injecting trace context into MCP _meta", exc)
        return kwargs


def _client_wrapper(inject: bool) -> Any:
    async def call_tool(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        try:
            named = _bound(args, kwargs, ("name", "arguments"))
            call: ToolCall | None = ToolCall(
                name=str(named["name"]),
                arguments=named.get("arguments"),
                attributes={attrs.MCP_METHOD_NAME: attrs.MCP_METHOD_TOOLS_CALL},
            )
        except Exception as exc:  # noqa: BLE001
            internal_error("describing an MCP client tool call", exc)
            call = None

        async def send(*call_args: Any, **call_kwargs: Any) -> Any:
            # Runs inside our span, so the server's span becomes its child.
            return await wrapped(
                *call_args, **(_with_trace_meta(call_kwargs) if inject else call_kwargs)
            )

        return await run_async(call, send, args, kwargs, outcome=call_tool_outcome)

    return call_tool


def _patch_client(patcher: Patcher, module: ModuleType) -> None:
    if not supported(NAME, DISTRIBUTION, MINIMUM, BELOW):
        return
    session = module.ClientSession
    # mcp 2.x injects trace context itself; before 1.19 call_tool has no ``meta`` to carry it.
    version = release(DISTRIBUTION) or ()
    inject = version < (2,) and "meta" in inspect.signature(session.call_tool).parameters
    if not patcher.wrap(session, "call_tool", _client_wrapper(inject)):
        logger.warning("toolaudit: mcp: ClientSession has no call_tool; not patched")


# --- server ----------------------------------------------------------------------------------


def _carrier(meta: Any) -> dict[str, str]:
    """The string entries of a request ``_meta`` (a dict in mcp 2.x, a pydantic model in 1.x)."""
    if meta is None:
        return {}
    if not isinstance(meta, Mapping):
        dump = getattr(meta, "model_dump", None)
        meta = dump(by_alias=True) if callable(dump) else {}
    return {k: v for k, v in meta.items() if isinstance(k, str) and isinstance(v, str)}


def _remote_context(request: Any) -> otel_context.Context | None:
    """The context to run the tool in, when the request ``_meta`` carries trace context or baggage."""
    carrier = _carrier(getattr(request, "meta", None))
    if not carrier:
        return None
    ctx = otel_context.get_current()
    extracted = propagate.extract(carrier, context=ctx)
    remote = trace.get_current_span(extracted).get_span_context()
    current = trace.get_current_span(ctx).get_span_context()
    changed = False
    # mcp 2.x already runs the handler in the caller's trace; mcp 1.x does not.
    if remote.is_valid and remote.trace_id != current.trace_id:
        ctx, changed = extracted, True
    if _baggage_mode() in ("extract", "both") and not baggage.get_all(ctx):
        # Attribution was asked for even if the configured propagators leave baggage out.
        with_baggage = W3CBaggagePropagator().extract(carrier, context=ctx)
        if baggage.get_all(with_baggage):
            ctx, changed = with_baggage, True
    return ctx if changed else None


def _describe_server(instance: Any, args: Any, kwargs: Any) -> tuple[ToolCall, Any]:
    named = _bound(args, kwargs, ("name", "arguments", "context"))
    name = str(named["name"])
    request = None
    context = named.get("context")
    if context is not None:
        try:
            request = context.request_context
        except Exception:  # noqa: BLE001 - raises ValueError outside a request
            request = None
    values: dict[str, Any] = {attrs.MCP_METHOD_NAME: attrs.MCP_METHOD_TOOLS_CALL}
    request_id = getattr(request, "request_id", None)
    if request_id is not None:
        values[attrs.JSONRPC_REQUEST_ID] = str(request_id)
    tool = instance.get_tool(name)
    text = getattr(tool, "description", None)
    description = (
        text.strip().splitlines()[0].strip() if isinstance(text, str) and text.strip() else None
    )
    call = ToolCall(
        name=name, arguments=named.get("arguments"), description=description, attributes=values
    )
    return call, request


async def _server_call_tool(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    token = None
    try:
        call: ToolCall | None
        call, request = _describe_server(instance, args, kwargs)
        ctx = _remote_context(request)
        if ctx is not None:
            token = otel_context.attach(ctx)
    except Exception as exc:  # noqa: BLE001
        internal_error("describing an MCP server tool call", exc)
        call = None
    try:
        return await _run(call, wrapped, args, kwargs)
    finally:
        if token is not None:
            otel_context.detach(token)


def _patch_server(patcher: Patcher, module: ModuleType) -> None:
    if not supported(NAME, DISTRIBUTION, MINIMUM, BELOW):
        return
    if not patcher.wrap(module.ToolManager, "call_tool", _server_call_tool):
        logger.warning(
            "toolaudit: mcp: %s.ToolManager has no call_tool; not patched", module.__name__
        )


INTEGRATIONS = (
    Integration(NAME, "mcp.client.session", _patch_client),
    Integration(NAME, "mcp.server.fastmcp.tools.tool_manager", _patch_server),  # mcp 1.x
    Integration(NAME, "mcp.server.mcpserver.tools.tool_manager", _patch_server),  # mcp 2.x
)
"""The MCP integration's hooks, all named ``mcp``."""
