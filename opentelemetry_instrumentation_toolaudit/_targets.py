# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""No-code patching of the app's own dispatch functions named in ``OTEL_PYTHON_TOOLAUDIT_TOOLS``.

``myapp.tools:dispatch`` wraps a function, ``myapp.tools:Registry.call`` a method. The tool's name is
the call's ``tool_name`` or ``name`` argument when it is a string, else the function's own name.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Mapping
from typing import Any

from opentelemetry_instrumentation_toolaudit._binding import ArgumentNamer, first_doc_line
from opentelemetry_instrumentation_toolaudit._log import internal_error
from opentelemetry_instrumentation_toolaudit._recorder import ToolCall, run_async, run_sync

NAME_PARAMETERS = ("tool_name", "name")
CALL_ID_PARAMETERS = ("tool_call_id", "call_id")


def parse_targets(spec: str | None) -> list[tuple[str, str]]:
    """``"a.b:f, a.b:C.m"`` → ``[("a.b", "f"), ("a.b", "C.m")]``; malformed entries are logged and skipped."""
    targets: list[tuple[str, str]] = []
    for item in (spec or "").split(","):
        item = item.strip()
        if not item:
            continue
        module, sep, qualname = item.partition(":")
        if not sep or not module or not qualname:
            internal_error(f"parsing tool target {item!r} (expected module:function)")
            continue
        targets.append((module.strip(), qualname.strip()))
    return targets


def _unwrap_arguments(named: dict[str, Any]) -> Any:
    """A dispatcher's one remaining argument, when it is the tool's argument mapping or JSON string."""
    if len(named) != 1:
        return named
    (value,) = named.values()
    if isinstance(value, Mapping):
        return value
    if isinstance(value, str) and value.lstrip().startswith("{"):
        try:
            return json.loads(value)
        except ValueError:
            return named
    return named


def dispatch_call(
    namer: ArgumentNamer,
    fallback_name: str,
    description: str | None,
    args: Any,
    kwargs: Any,
    bound: bool,
) -> ToolCall:
    """Describe one call of a dispatch function as a ToolCall."""
    named = namer.name(args, kwargs, bound=bound)
    name = fallback_name
    used_name = False
    for key in NAME_PARAMETERS:
        value = named.get(key)
        if isinstance(value, str) and value:
            name = value
            del named[key]
            used_name = True
            break
    call_id = None
    for key in CALL_ID_PARAMETERS:
        value = named.get(key)
        if isinstance(value, str) and value:
            call_id = value
            del named[key]
            break
    return ToolCall(
        name=name,
        arguments=_unwrap_arguments(named),
        call_id=call_id,
        description=None if used_name else description,
    )


def make_dispatch_wrapper(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A wrapt wrapper recording each call of dispatch function ``fn``."""
    namer = ArgumentNamer(fn)
    fallback = getattr(fn, "__name__", "tool")
    description = first_doc_line(fn)
    is_async = inspect.iscoroutinefunction(fn)

    def describe(instance: Any, args: Any, kwargs: Any) -> ToolCall:
        try:
            return dispatch_call(
                namer, fallback, description, args, kwargs, bound=instance is not None
            )
        except Exception as exc:  # noqa: BLE001 - telemetry never breaks the app
            internal_error("describing a dispatch call", exc)
            return ToolCall(name=fallback)

    if is_async:

        async def async_wrapper(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
            return await run_async(describe(instance, args, kwargs), wrapped, args, kwargs)

        return async_wrapper

    def wrapper(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        return run_sync(describe(instance, args, kwargs), wrapped, args, kwargs)

    return wrapper
