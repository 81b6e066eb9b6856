# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The tool calls a model asked for, remembered until the app dispatches them.

The openai and anthropic SDKs run no tools: the app reads the model's tool calls and calls its own
handlers. Their integrations only *remember* each call here (id, name, arguments, model, provider,
response id, and the span current around the API call); when an audited dispatch then starts an
``execute_tool`` span, the recorder *claims* the matching call and the span gets the call id, the model,
the provider and a link to the chat span.

Matching, in order:

1. by call id, when the dispatcher passes one: ids are unique, so any remembered call may match, in
   any thread or task;
2. by name and arguments, among the calls of the latest model response in this scope (below);
3. by name alone, the oldest first, under the same restriction.

Where a call waits for a match by name (its *scopes*; a dispatch looks in them in this order):

* the scope carried in the OpenTelemetry context, which every ``audit_context`` opens: it follows
  the context into asyncio child tasks (``create_task``, ``wait_for``, task groups), ``to_thread``
  and threads started by ``opentelemetry-instrumentation-threading``, so a call remembered in any of
  them is found by a dispatch in any other;
* the trace of the span current around the API call, for a dispatch under a span of the same trace
  (wherever the context carried that span);
* the thread or asyncio task that made the API call (and the tasks it starts afterwards).

A thread started without the context (a bare ``ThreadPoolExecutor``) carries nothing: neither the
attribution nor the scope, so a dispatch there is matched by call id only.

Name matching is also confined to the trace and to the audit_context's user, session and
conversation, so that one request's tool call is never attributed to another user's model response.
A newer model response in a scope retires the older response's unclaimed calls from name matching
(a call the app declined is not handed to a later dispatch of the same tool); they stay claimable by
id. Each remembered call is claimed once, and expires after ``MAX_AGE_SECONDS``. The store is
bounded: at most ``MAX_REMEMBERED`` calls in the process (oldest dropped), ``MAX_PER_SCOPE`` per
scope and ``MAX_TRACES`` traces.
"""

from __future__ import annotations

import collections
import contextlib
import contextvars
import dataclasses
import hashlib
import json
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Link, SpanContext

from opentelemetry_instrumentation_toolaudit import attributes as attrs
from opentelemetry_instrumentation_toolaudit._call_scope import CallScope, call_scope
from opentelemetry_instrumentation_toolaudit._context import current_attribution
from opentelemetry_instrumentation_toolaudit._jsonable import to_jsonable

MAX_REMEMBERED = 1024
MAX_TRACES = 256
MAX_AGE_SECONDS = 600.0
"""How long a remembered call waits for its dispatch before it expires."""

_clock = time.monotonic


@dataclasses.dataclass(eq=False)
class RememberedCall:
    """One tool call a model asked for."""

    call_id: str
    name: str
    arguments: dataclasses.InitVar[Any]
    """The model's arguments: a JSON string (openai) or a mapping (anthropic). Only their digest
    is kept, for matching: arguments can be large, and up to ``MAX_REMEMBERED`` calls wait."""
    provider: str
    model: str | None = None
    response_id: str | None = None
    chat_context: SpanContext | None = None
    """The span current around the API call (the chat span of an LLM instrumentation, if any)."""
    user_id: str | None = None
    """The user the model request named (openai ``user``, ``metadata``...), if any."""
    conversation_id: str | None = None
    """The conversation the model request named, if any."""
    claimed: bool = dataclasses.field(default=False, init=False)
    trace_id: int = dataclasses.field(default=0, init=False)
    """The chat span's trace id, 0 when there was no span."""
    arguments_digest: bytes | None = dataclasses.field(default=None, init=False, repr=False)
    owner: tuple[str | None, ...] = dataclasses.field(default=(), init=False, repr=False)
    """Who was being served when the model asked for it (the audit_context's user, session and
    conversation): name matching never hands one user's call to another's dispatch, even with no
    span to tell the requests apart. A call asked for outside any audit_context may be claimed by a
    dispatch inside one (apps often enter the context only around their tool dispatch)."""
    remembered_at: float = dataclasses.field(default=0.0, init=False, repr=False)

    def __post_init__(self, arguments: Any) -> None:
        ctx = self.chat_context
        self.trace_id = ctx.trace_id if ctx is not None and ctx.is_valid else 0
        self.arguments_digest = arguments_digest(arguments)
        self.owner = _owner()
        self.remembered_at = _clock()


_NOBODY: tuple[str | None, ...] = (None, None, None)


def _owner() -> tuple[str | None, ...]:
    attribution = current_attribution()
    return (attribution.user_id, attribution.session_id, attribution.conversation_id)


def current_chat_context() -> SpanContext | None:
    """The context of the span current now, when there is one (the span a remembered call links to)."""
    ctx = trace.get_current_span().get_span_context()
    return ctx if ctx.is_valid else None


# The scope of a thread or asyncio task whose OpenTelemetry context carries none (no audit_context).
_TASK_SCOPE: contextvars.ContextVar[CallScope | None] = contextvars.ContextVar(
    "toolaudit_task_call_scope", default=None
)


def arguments_digest(arguments: Any) -> bytes | None:
    """A digest of tool arguments that is equal whether they come as a JSON string or a mapping."""
    if isinstance(arguments, str):
        with contextlib.suppress(ValueError):
            arguments = json.loads(arguments)
    if arguments is None:
        return None
    try:
        text = json.dumps(to_jsonable(arguments), sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError):
        return None
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def _current_trace_id() -> int:
    current = trace.get_current_span().get_span_context()
    return current.trace_id if current.is_valid else 0


class _Registry:
    """Every unclaimed remembered call in the process, by call id, and the scopes they wait in."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_id: collections.OrderedDict[str, RememberedCall] = collections.OrderedDict()
        self._by_trace: collections.OrderedDict[int, CallScope] = collections.OrderedDict()
        self.pending = 0
        """How many calls wait to be claimed: read without the lock, as the recorder's fast path."""

    def remember(self, calls: Iterable[RememberedCall]) -> None:
        """Remember ``calls``, all from one model response, in the current scope (a call id seen
        before is ignored)."""
        calls = list(calls)
        if not calls:
            return
        scopes = self._scopes_for_remember()
        # Calls of one response share its id; a response without one is its own batch.
        response: object = calls[0].response_id or object()
        with self._lock:
            self._expire(_clock())
            fresh = [call for call in calls if call.call_id not in self._by_id]
            for call in fresh:
                self._by_id[call.call_id] = call
            while len(self._by_id) > MAX_REMEMBERED:
                _, oldest = self._by_id.popitem(last=False)
                oldest.claimed = True
            trace_id = calls[0].trace_id
            if trace_id:
                scopes.append(self._trace_scope(trace_id))
            for scope in scopes:
                scope.add(fresh, response)
            self.pending = len(self._by_id)

    @staticmethod
    def _scopes_for_remember() -> list[CallScope]:
        # The thread's or task's own scope holds them too, for a dispatch in a later audit_context
        # of the same task (one opened for the model call, another for the dispatch).
        task_scope = _TASK_SCOPE.get()
        if task_scope is None:
            task_scope = CallScope()
            _TASK_SCOPE.set(task_scope)
        scope = call_scope()
        return [task_scope] if scope is None else [task_scope, scope]

    def _trace_scope(self, trace_id: int) -> CallScope:
        """The scope of the calls asked for under ``trace_id``, made the newest (under the lock)."""
        by_trace = self._by_trace
        scope = by_trace.get(trace_id)
        if scope is None:
            scope = by_trace[trace_id] = CallScope()
            while len(by_trace) > MAX_TRACES:
                by_trace.popitem(last=False)
        else:
            by_trace.move_to_end(trace_id)
        return scope

    def _expire(self, now: float) -> None:
        by_id = self._by_id
        while by_id:
            oldest = next(iter(by_id.values()))
            if now - oldest.remembered_at <= MAX_AGE_SECONDS:
                return
            by_id.popitem(last=False)
            oldest.claimed = True

    def claim(self, name: str, call_id: str | None, arguments: Any) -> RememberedCall | None:
        """The remembered call matching a dispatch of tool ``name``, marked claimed; None if none."""
        with self._lock:
            self._expire(_clock())
            if call_id:
                found = self._by_id.pop(call_id, None)
            else:
                trace_id = _current_trace_id()
                found = self._match(self._scopes_for_claim(trace_id), trace_id, name, arguments)
                if found is not None:
                    del self._by_id[found.call_id]
            if found is not None:
                found.claimed = True
            self.pending = len(self._by_id)
            return found

    def _scopes_for_claim(self, trace_id: int) -> list[CallScope]:
        """The scopes a dispatch here may claim from, the most specific first (under the lock)."""
        trace_scope = self._by_trace.get(trace_id) if trace_id else None
        scopes = (call_scope(), trace_scope, _TASK_SCOPE.get())
        return [scope for scope in scopes if scope is not None]

    @staticmethod
    def _match(
        scopes: list[CallScope], trace_id: int, name: str, arguments: Any
    ) -> RememberedCall | None:
        owner = _owner()
        for scope in scopes:
            candidates = [
                c
                for c in scope.calls
                if not c.claimed
                and c.name == name
                and c.owner in (owner, _NOBODY)
                and (not trace_id or c.trace_id in (0, trace_id))
            ]
            if not candidates:
                continue
            if len(candidates) > 1 and arguments is not None:
                wanted = arguments_digest(arguments)
                for candidate in candidates:
                    if wanted is not None and candidate.arguments_digest == wanted:
                        return candidate
            return candidates[0]
        return None

    def clear(self) -> None:
        """Forget every remembered call (on uninstrument)."""
        with self._lock:
            for call in self._by_id.values():
                call.claimed = True
            self._by_id.clear()
            self._by_trace.clear()
            self.pending = 0


REGISTRY = _Registry()


def remembered_attributes(call: RememberedCall) -> Mapping[str, Any]:
    """The span attributes a claimed call adds beyond the call id, model and provider."""
    return {attrs.GEN_AI_RESPONSE_ID: call.response_id} if call.response_id else {}


def remembered_links(call: RememberedCall) -> tuple[Link, ...]:
    """The link from the tool's span to the span current around the model's API call."""
    return (Link(call.chat_context),) if call.chat_context is not None else ()
