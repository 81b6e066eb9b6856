# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""What the framework integrations share: whether an installed framework is a release an
integration supports (said once when it is not), and the wrappers that record a tool's call."""

from __future__ import annotations

import re
import threading
from collections.abc import Awaitable, Callable
from importlib import metadata
from typing import Any

from opentelemetry_instrumentation_toolaudit._log import internal_error, logger
from opentelemetry_instrumentation_toolaudit._recorder import ToolCall, run_async, run_sync

Describe = Callable[[Any, Any, Any], ToolCall | None]
"""Reads the call from a tool instance and the wrapped method's ``args`` and ``kwargs``."""
Wrapper = Callable[[Any, Any, Any, Any], Any]
AsyncWrapper = Callable[[Any, Any, Any, Any], Awaitable[Any]]

_lock = threading.Lock()
_reported: set[tuple[str, str]] = set()


def release(distribution: str) -> tuple[int, ...] | None:
    """``(major, minor, patch)`` of an installed distribution, or None when it is not installed."""
    try:
        text = metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None
    return tuple(int(n) for n in re.findall(r"\d+", text.split("+")[0])[:3])


def supported(
    integration: str, distribution: str, minimum: tuple[int, ...], below: tuple[int, ...]
) -> bool:
    """Whether ``minimum <= version < below``; an unsupported or unknown version is logged once.

    The integration is then skipped: the app runs unpatched rather than against internals this
    package has not been checked against.
    """
    version = release(distribution)
    if version is not None and minimum <= version < below:
        return True
    key = (integration, distribution)
    with _lock:
        first = key not in _reported
        _reported.add(key)
    if first:
        found = ".".join(map(str, version)) if version is not None else "unknown"
        logger.warning(
            "toolaudit: integration %s skipped: %s %s is outside the supported range >=%s,<%s",
            integration,
            distribution,
            found,
            ".".join(map(str, minimum)),
            ".".join(map(str, below)),
        )
    return False


def tool_wrappers(
    describe: Describe, framework: str, outcome: Callable[[Any], Any]
) -> tuple[Wrapper, AsyncWrapper]:
    """A sync and an async wrapt wrapper that record a tool method's call as ``describe`` reads it.

    A ``describe`` that raises is logged as an internal error and the tool runs unrecorded;
    ``outcome`` turns what the tool returned into what is summarised.
    """

    def describe_safely(instance: Any, args: Any, kwargs: Any) -> ToolCall | None:
        try:
            return describe(instance, args, kwargs)
        except Exception as exc:  # noqa: BLE001 - telemetry never breaks the app
            internal_error(f"describing a {framework} tool call", exc)
            return None

    def wrapper(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        call = describe_safely(instance, args, kwargs)
        return run_sync(call, wrapped, args, kwargs, outcome=outcome)

    async def async_wrapper(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        call = describe_safely(instance, args, kwargs)
        return await run_async(call, wrapped, args, kwargs, outcome=outcome)

    return wrapper, async_wrapper
