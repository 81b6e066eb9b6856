# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The scope in which a model's tool calls wait for the app's dispatch, carried in the OTel context.

A scope is a small mutable mailbox stored under one key of the OpenTelemetry context. Whatever
carries the context carries the scope: nested ``with`` blocks, asyncio tasks (``create_task``,
``wait_for``, task groups), ``asyncio.to_thread``, ``contextvars.copy_context().run`` and threads
started by ``opentelemetry-instrumentation-threading``. A call remembered in a child task or a worker
thread lands in the same mailbox the parent reads, because the mailbox existed before the child
started. :class:`~opentelemetry_instrumentation_toolaudit.audit_context` opens one per block (an inner
block shares its outer block's scope).
"""

from __future__ import annotations

import collections
from typing import Any

from opentelemetry import context as otel_context

MAX_PER_SCOPE = 64
"""Unclaimed calls kept per scope (a model asks for a handful at a time)."""

_SCOPE_KEY = otel_context.create_key("toolaudit-call-scope")


class CallScope:
    """The calls remembered in one scope, oldest first, and the response they came from.

    Only the latest response's calls wait here: a newer response retires the older unclaimed ones,
    so a call the app declined is never handed to a later dispatch of the same tool.
    """

    __slots__ = ("calls", "response")

    def __init__(self) -> None:
        self.calls: collections.deque[Any] = collections.deque(maxlen=MAX_PER_SCOPE)
        self.response: object = None
        """The key of the response whose calls wait here (its id, or its batch of calls)."""

    def add(self, calls: list[Any], response: object) -> None:
        """Hold ``calls`` from ``response``; calls of any other response are retired."""
        if response != self.response:
            self.response = response
            self.calls.clear()
        self.calls.extend(calls)


def call_scope(ctx: otel_context.Context | None = None) -> CallScope | None:
    """The scope carried in ``ctx`` (default: the current context), if any."""
    scope = otel_context.get_value(_SCOPE_KEY, ctx)
    return scope if isinstance(scope, CallScope) else None


def with_call_scope(ctx: otel_context.Context) -> otel_context.Context:
    """``ctx`` with a scope of its own, unless it already carries one (nested blocks share it)."""
    if isinstance(otel_context.get_value(_SCOPE_KEY, ctx), CallScope):
        return ctx
    return otel_context.set_value(_SCOPE_KEY, CallScope(), ctx)
