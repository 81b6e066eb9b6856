"""The tool calls a model asked for, remembered until the app dispatches them.

The openai and anthropic SDKs run no tools: the app reads the model's tool calls and calls its own
handlers. Their integrations only *remember* each call here (id, name, arguments, model, provider,
response id, and the span current around the API call); when an audited dispatch then starts an
``execute_tool`` span, the recorder *claims* the matching call and the span gets the call id, the model,
the provider and a link to the chat span.

Matching, in order:

1. by call id, when the dispatcher passes one: ids are unique, so any remembered call may match;
2. by name and arguments, among the calls remembered in this context (thread, or asyncio task and the
   tasks it starts) and the same trace;
3. by name alone, the oldest first, under the same restriction.

Name matching is confined to the context, the trace and the audit_context's user, session and
conversation, so that one request's tool call is never attributed to another user's model response. Each remembered call is claimed once. The store is bounded: at most
``MAX_REMEMBERED`` calls in the process (oldest dropped) and ``MAX_PER_CONTEXT`` per context.
"""

from __future__ import annotations

import collections
import contextlib
import contextvars
import dataclasses
import hashlib
import json
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Link, SpanContext

from opentelemetry_instrumentation_toolaudit import attributes as attrs
from opentelemetry_instrumentation_toolaudit._context import current_attribution
from opentelemetry_instrumentation_toolaudit._jsonable import to_jsonable

MAX_REMEMBERED = 1024
MAX_PER_CONTEXT = 64


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

    def __post_init__(self, arguments: Any) -> None:
        ctx = self.chat_context
        self.trace_id = ctx.trace_id if ctx is not None and ctx.is_valid else 0
        self.arguments_digest = arguments_digest(arguments)
        self.owner = _owner()


_NOBODY: tuple[str | None, ...] = (None, None, None)


def _owner() -> tuple[str | None, ...]:
    attribution = current_attribution()
    return (attribution.user_id, attribution.session_id, attribution.conversation_id)


def current_chat_context() -> SpanContext | None:
    """The context of the span current now, when there is one (the span a remembered call links to)."""
    ctx = trace.get_current_span().get_span_context()
    return ctx if ctx.is_valid else None


class _ContextCalls:
    """The calls remembered in one context, oldest first."""

    __slots__ = ("calls", "trace_id")

    def __init__(self) -> None:
        self.calls: collections.deque[RememberedCall] = collections.deque(maxlen=MAX_PER_CONTEXT)
        self.trace_id = 0
        """The trace of the calls last remembered here with one."""


_CONTEXT_CALLS: contextvars.ContextVar[_ContextCalls | None] = contextvars.ContextVar(
    "toolaudit_remembered_calls", default=None
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


class _Registry:
    """Every unclaimed remembered call in the process, by call id."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_id: collections.OrderedDict[str, RememberedCall] = collections.OrderedDict()
        self.pending = 0
        """How many calls wait to be claimed: read without the lock, as the recorder's fast path."""

    def remember(self, calls: Iterable[RememberedCall]) -> None:
        """Remember ``calls`` in the current context (a call id seen before is ignored)."""
        calls = list(calls)
        if not calls:
            return
        local = _CONTEXT_CALLS.get()
        if local is None:
            local = _ContextCalls()
            _CONTEXT_CALLS.set(local)
        with self._lock:
            for call in calls:
                if call.call_id in self._by_id:
                    continue
                self._drop_other_traces(local, call.trace_id)
                self._by_id[call.call_id] = call
                local.calls.append(call)
                while len(self._by_id) > MAX_REMEMBERED:
                    _, oldest = self._by_id.popitem(last=False)
                    oldest.claimed = True
            self.pending = len(self._by_id)

    @staticmethod
    def _drop_other_traces(local: _ContextCalls, trace_id: int) -> None:
        # A context reused for another trace (a server thread taking the next request) must not
        # offer the previous request's calls to name matching; call-id matching still finds them.
        if not trace_id or trace_id == local.trace_id:
            return
        local.trace_id = trace_id
        kept = [c for c in local.calls if c.trace_id in (0, trace_id)]
        if len(kept) != len(local.calls):
            local.calls.clear()
            local.calls.extend(kept)

    def claim(self, name: str, call_id: str | None, arguments: Any) -> RememberedCall | None:
        """The remembered call matching a dispatch of tool ``name``, marked claimed; None if none."""
        with self._lock:
            if call_id:
                found = self._by_id.pop(call_id, None)
            else:
                found = self._match_in_context(name, arguments)
                if found is not None:
                    del self._by_id[found.call_id]
            if found is not None:
                found.claimed = True
                self.pending = len(self._by_id)
            return found

    @staticmethod
    def _match_in_context(name: str, arguments: Any) -> RememberedCall | None:
        local = _CONTEXT_CALLS.get()
        if local is None:
            return None
        while local.calls and local.calls[0].claimed:
            local.calls.popleft()
        current = trace.get_current_span().get_span_context()
        trace_id = current.trace_id if current.is_valid else 0
        owner = _owner()
        candidates = [
            c
            for c in local.calls
            if not c.claimed
            and c.name == name
            and c.owner in (owner, _NOBODY)
            and (not trace_id or c.trace_id in (0, trace_id))
        ]
        if len(candidates) > 1 and arguments is not None:
            wanted = arguments_digest(arguments)
            for candidate in candidates:
                if wanted is not None and candidate.arguments_digest == wanted:
                    return candidate
        return candidates[0] if candidates else None

    def clear(self) -> None:
        """Forget every remembered call (on uninstrument)."""
        with self._lock:
            for call in self._by_id.values():
                call.claimed = True
            self._by_id.clear()
            self.pending = 0


REGISTRY = _Registry()


def remembered_attributes(call: RememberedCall) -> Mapping[str, Any]:
    """The span attributes a claimed call adds beyond the call id, model and provider."""
    return {attrs.GEN_AI_RESPONSE_ID: call.response_id} if call.response_id else {}


def remembered_links(call: RememberedCall) -> tuple[Link, ...]:
    """The link from the tool's span to the span current around the model's API call."""
    return (Link(call.chat_context),) if call.chat_context is not None else ()
