# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""``@audited_tool``: make a function's every call an audited ``execute_tool`` span."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from typing import Any, TypeVar, overload

from opentelemetry_instrumentation_toolaudit._access import AccessRule
from opentelemetry_instrumentation_toolaudit._binding import ArgumentNamer, first_doc_line
from opentelemetry_instrumentation_toolaudit._context import CallTrigger, _trigger
from opentelemetry_instrumentation_toolaudit._log import internal_error
from opentelemetry_instrumentation_toolaudit._recorder import ToolCall, run_async, run_sync
from opentelemetry_instrumentation_toolaudit._state import TOOL_ACTIONS

F = TypeVar("F", bound=Callable[..., Any])


@overload
def audited_tool(fn: F, /) -> F: ...


@overload
def audited_tool(
    *,
    name: str | None = None,
    description: str | None = None,
    trigger: CallTrigger | str | None = None,
    allowed_roles: str | Iterable[str] | None = None,
    allowed_purposes: str | Iterable[str] | None = None,
    action: str | None = None,
) -> Callable[[F], F]: ...


def audited_tool(
    fn: F | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    trigger: CallTrigger | str | None = None,
    allowed_roles: str | Iterable[str] | None = None,
    allowed_purposes: str | Iterable[str] | None = None,
    action: str | None = None,
) -> F | Callable[[F], F]:
    """Record every call of the decorated function (sync or async) as an ``execute_tool`` span.

    ``name`` defaults to the function's name, ``description`` to its docstring's first line. A
    ``trigger`` given here is the tool's own and wins over the one in the audit_context.

    ``allowed_roles`` / ``allowed_purposes`` restrict the tool: a call whose ``audit_context`` has
    none of the roles, or another purpose, raises :class:`AccessDeniedError` before the tool runs
    (the refusal is recorded), unless made under break-the-glass (``audit_context(break_glass=...)``).

    ``action`` declares what the tool does to its subject's data (``create``, ``read``, ``update``,
    ``delete`` or ``execute``), recorded as ``toolaudit.tool.action``; another value is a
    ``ValueError`` when the function is decorated.
    """
    access = AccessRule.of(allowed_roles, allowed_purposes)
    if action is not None and action not in TOOL_ACTIONS:
        raise ValueError(f"audited_tool: action must be one of {', '.join(TOOL_ACTIONS)}")

    def decorate(func: F) -> F:
        tool_name = name or func.__name__
        tool_description = description or first_doc_line(func)
        tool_trigger = _trigger(trigger)
        namer = ArgumentNamer(func)

        def describe(args: tuple[Any, ...], kwargs: dict[str, Any]) -> ToolCall:
            try:
                arguments: Any = namer.name(args, kwargs)
            except Exception as exc:  # noqa: BLE001 - telemetry never breaks the app
                internal_error("naming tool arguments", exc)
                arguments = None
            return ToolCall(
                name=tool_name,
                arguments=arguments,
                description=tool_description,
                trigger=tool_trigger,
                access=access,
                action=action,
            )

        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                return await run_async(describe(args, kwargs), func, args, kwargs)

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return run_sync(describe(args, kwargs), func, args, kwargs)

        return wrapper  # type: ignore[return-value]

    if fn is not None:
        return decorate(fn)
    return decorate
