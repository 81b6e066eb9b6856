# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""LlamaIndex: every ``FunctionTool`` call becomes an audited ``execute_tool`` span.

``FunctionTool.call`` and ``acall`` run the tool's function (directly, through ``call_tool`` /
``acall_tool``, or from an agent workflow such as ``FunctionAgent`` / ``AgentWorkflow``). The
``call_tool`` step of the workflow agents receives the model's ``ToolCall`` event, whose
``tool_id`` is the call id: that step is wrapped to hand the id to the tool's span.

The agents catch a tool's exception and send its text to the model; the span has already recorded
the failure by then, with the tool's own exception. A ``ToolOutput`` with ``is_error`` (a callback's
answer) is a failure too.
"""

from __future__ import annotations

import contextvars
import weakref
from types import ModuleType
from typing import Any

from opentelemetry_instrumentation_toolaudit import attributes as attrs
from opentelemetry_instrumentation_toolaudit._binding import ArgumentNamer, first_doc_line
from opentelemetry_instrumentation_toolaudit._log import internal_error, logger
from opentelemetry_instrumentation_toolaudit._patching import Patcher
from opentelemetry_instrumentation_toolaudit._recorder import ToolCall
from opentelemetry_instrumentation_toolaudit.integrations import Integration
from opentelemetry_instrumentation_toolaudit.integrations._support import supported, tool_wrappers

NAME = "llamaindex"
DISTRIBUTION = "llama-index-core"
MINIMUM = (0, 14)
BELOW = (0, 15)
STEP = "call_tool"


class _Pending:
    """The tool call a ``call_tool`` step is running: the tool, the model's call id, and the agent
    (with its model) when the step belongs to one agent."""

    __slots__ = ("agent", "call_id", "model", "name")

    def __init__(self, name: str, call_id: str, agent: str | None, model: str | None) -> None:
        self.name = name
        self.call_id = call_id
        self.agent = agent
        self.model = model


_STEP_CALL: contextvars.ContextVar[_Pending | None] = contextvars.ContextVar(
    "toolaudit_llamaindex_tool_call", default=None
)
# One ArgumentNamer per tool function, made on its first positional call.
_NAMERS: weakref.WeakKeyDictionary[Any, ArgumentNamer] = weakref.WeakKeyDictionary()


def _named(fn: Any, args: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    if not args:
        return kwargs
    try:
        namer = _NAMERS.get(fn)
        if namer is None:
            namer = _NAMERS[fn] = ArgumentNamer(fn)
    except TypeError:  # not weakly referenceable
        namer = ArgumentNamer(fn)
    return namer.name(args, kwargs)


def _describe(instance: Any, args: Any, kwargs: Any) -> ToolCall:
    metadata = instance.metadata
    name = str(metadata.get_name() if hasattr(metadata, "get_name") else metadata.name)
    fn = getattr(instance, "real_fn", None)
    context_param = getattr(instance, "ctx_param_name", None)
    partial = getattr(instance, "partial_params", None) or {}
    arguments = {k: v for k, v in {**partial, **kwargs}.items() if k != context_param}
    arguments = _named(fn, args, arguments) if fn is not None else arguments
    pending = _STEP_CALL.get()
    if pending is None or pending.name != name:
        pending = None
    else:
        _STEP_CALL.set(None)  # a tool the tool calls is another call
    agent = pending.agent if pending is not None else None
    return ToolCall(
        name=name,
        arguments=arguments,
        call_id=pending.call_id if pending is not None else None,
        description=first_doc_line(fn) if fn is not None else None,
        model=pending.model if pending is not None else None,
        attributes={attrs.GEN_AI_AGENT_NAME: agent} if agent else None,
    )


def tool_outcome(output: Any) -> Any:
    """What to summarise of a ``ToolOutput``: its raw output, or a failure dict."""
    if getattr(output, "is_error", False):
        exception = getattr(output, "exception", None)
        error_type = (
            type(exception).__qualname__ if exception is not None else attrs.ERROR_TYPE_TOOL_ERROR
        )
        return {"error": str(getattr(output, "content", "")), "error_type": error_type}
    if hasattr(output, "raw_output"):
        return output.raw_output
    return output


_call, _acall = tool_wrappers(_describe, "LlamaIndex", tool_outcome)


def _agent_and_model(workflow: Any) -> tuple[str | None, str | None]:
    """The name of a single agent running the step, and its LLM's model name when it says one."""
    agent = getattr(workflow, "name", None)
    llm = getattr(workflow, "llm", None)
    model = getattr(getattr(llm, "metadata", None), "model_name", None)
    return (
        agent if isinstance(agent, str) and agent and llm is not None else None,
        model if isinstance(model, str) and model and model != "unknown" else None,
    )


async def _step(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    """Wraps the agents' ``call_tool(ctx, ev)`` step: the event's ``tool_id`` is the call id."""
    token = None
    try:
        event = kwargs["ev"] if "ev" in kwargs else args[1]
        name, call_id = getattr(event, "tool_name", None), getattr(event, "tool_id", None)
        if isinstance(name, str) and isinstance(call_id, str) and call_id:
            token = _STEP_CALL.set(_Pending(name, call_id, *_agent_and_model(instance)))
    except Exception as exc:  # noqa: BLE001
        internal_error("reading a LlamaIndex tool call event", exc)
    try:
        return await wrapped(*args, **kwargs)
    finally:
        if token is not None:
            _STEP_CALL.reset(token)


def _patch_tool(patcher: Patcher, module: ModuleType) -> None:
    if not supported(NAME, DISTRIBUTION, MINIMUM, BELOW):
        return
    tool = getattr(module, "FunctionTool", None)
    if tool is None or not (
        patcher.wrap(tool, "call", _call) and patcher.wrap(tool, "acall", _acall)
    ):
        logger.warning("toolaudit: llamaindex: FunctionTool has no call/acall; not patched")


def _step_patcher(owner_name: str) -> Any:
    def patch(patcher: Patcher, module: ModuleType) -> None:
        if not supported(NAME, DISTRIBUTION, MINIMUM, BELOW):
            return
        owner = getattr(module, owner_name, None)
        if owner is None or STEP not in vars(owner) or not patcher.wrap(owner, STEP, _step):
            logger.warning(
                "toolaudit: llamaindex: %s has no %s step; its tool spans have no call id",
                owner_name,
                STEP,
            )

    return patch


INTEGRATIONS = (
    Integration(NAME, "llama_index.core.tools.function_tool", _patch_tool),
    Integration(
        NAME, "llama_index.core.agent.workflow.base_agent", _step_patcher("BaseWorkflowAgent")
    ),
    Integration(
        NAME,
        "llama_index.core.agent.workflow.multi_agent_workflow",
        _step_patcher("AgentWorkflow"),
    ),
)
"""The LlamaIndex integration's hooks, all named ``llamaindex``."""
