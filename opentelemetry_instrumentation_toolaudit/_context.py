# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Attribution: who asked, which model chose the call, which tool ran, and why.

The attribution in effect lives in the OpenTelemetry context, so it follows the context wherever
the context goes: nested ``with`` blocks, asyncio tasks, and threads started with the context copied.
Each :class:`audit_context` stores one merged :class:`Attribution`; inner values override outer ones.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable, Mapping
from typing import Any

from opentelemetry import baggage
from opentelemetry import context as otel_context

from opentelemetry_instrumentation_toolaudit import attributes as attrs
from opentelemetry_instrumentation_toolaudit._call_scope import with_call_scope
from opentelemetry_instrumentation_toolaudit._env import read_choice
from opentelemetry_instrumentation_toolaudit._log import internal_error
from opentelemetry_instrumentation_toolaudit.environment_variables import (
    OTEL_PYTHON_TOOLAUDIT_BAGGAGE,
)

_ATTRIBUTION_KEY = otel_context.create_key("toolaudit-attribution")


class CallTrigger(str, enum.Enum):
    """Why a tool was called."""

    USER_REQUEST = "user_request"
    """The user explicitly asked for it."""
    PROACTIVE = "proactive"
    """The model decided on its own."""
    RETRY = "retry"
    """A retry of a failed call."""
    FOLLOW_UP = "follow_up"
    """A step completing a multi-step workflow."""
    SYSTEM = "system"
    """Scheduled or automated, no human in the loop."""

    def __str__(self) -> str:
        return self.value


@dataclasses.dataclass(frozen=True)
class BreakGlass:
    """Emergency access ("break the glass"): calls a tool's access rule would refuse go ahead,
    recorded with this reason and urgency and the purpose ``ETREAT``, and raise an alert.

    ``reason`` is the user's own words (``"cardiac arrest, bed 4"``); it is redacted like any free
    text before it is recorded.
    """

    reason: str
    urgency: str = "emergency"


@dataclasses.dataclass(frozen=True)
class Attribution:
    """The attribution chain in effect: user → model → tool, with the trigger and context."""

    user_id: str | None = None
    user_roles: tuple[str, ...] = ()
    conversation_id: str | None = None
    session_id: str | None = None
    turn_number: int | None = None
    model: str | None = None
    provider: str | None = None
    client_address: str | None = None
    user_agent: str | None = None
    purpose: str | None = None
    trigger: CallTrigger | None = None
    tool_name: str | None = None
    break_glass: BreakGlass | None = None
    """Emergency access in effect, if any (the purpose is then ``ETREAT``)."""
    source: str | None = None
    """Which source supplied the user (or, with no user, the conversation): ``context`` (an
    audit_context), ``http`` (the incoming request), ``request`` (the model request) or ``baggage``."""
    # Per-tool derived values (the recorder's span attributes), computed once per context and tool.
    _derived: dict[Any, Any] = dataclasses.field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )

    @property
    def user_role(self) -> str | None:
        """The first role, as a single ``user_role`` value."""
        return self.user_roles[0] if self.user_roles else None

    def summary(self) -> str:
        """``User usr_98765 (support_agent) → gpt-4.1 → update_order_status [user_request]``."""
        role = ", ".join(self.user_roles) or "unknown"
        parts = [f"User {self.user_id or 'unknown'} ({role})", self.model or "unknown"]
        if self.tool_name:
            parts.append(self.tool_name)
        trigger = (self.trigger or CallTrigger.USER_REQUEST).value
        return f"{' → '.join(parts)} [{trigger}]"

    def merged(self, **overrides: Any) -> Attribution:
        """A copy with every override that is not None applied."""
        changes = {k: v for k, v in overrides.items() if v is not None and getattr(self, k) != v}
        return self._copy(changes) if changes else self

    def _copy(self, changes: Mapping[str, Any]) -> Attribution:
        # dataclasses.replace runs __init__ field by field; every request pays for this copy, so the
        # fields are copied at once (there is no __post_init__ to run) with a fresh derived cache.
        copy = object.__new__(Attribution)
        state = copy.__dict__
        state.update(self.__dict__)
        state.update(changes)
        state["_derived"] = {}
        return copy

    def span_attributes(self) -> dict[str, Any]:
        """The span attributes this attribution contributes (tool fields excluded)."""
        out: dict[str, Any] = {}
        if self.user_id is not None:
            out[attrs.USER_ID] = self.user_id
        if self.user_roles:
            out[attrs.USER_ROLES] = list(self.user_roles)
        if self.session_id is not None:
            out[attrs.SESSION_ID] = self.session_id
        if self.conversation_id is not None:
            out[attrs.GEN_AI_CONVERSATION_ID] = self.conversation_id
        if self.model is not None:
            out[attrs.GEN_AI_REQUEST_MODEL] = self.model
        if self.provider is not None:
            out[attrs.GEN_AI_PROVIDER_NAME] = self.provider
        if self.client_address is not None:
            out[attrs.CLIENT_ADDRESS] = self.client_address
        if self.user_agent is not None:
            out[attrs.USER_AGENT_ORIGINAL] = self.user_agent
        if self.turn_number is not None:
            out[attrs.TOOLAUDIT_TURN_NUMBER] = self.turn_number
        if self.purpose is not None:
            out[attrs.TOOLAUDIT_PURPOSE] = self.purpose
        if self.break_glass is not None:
            out[attrs.TOOLAUDIT_PURPOSE] = attrs.BREAK_GLASS_PURPOSE
            out[attrs.TOOLAUDIT_BREAK_GLASS] = True
            out[attrs.TOOLAUDIT_BREAK_GLASS_REASON] = self.break_glass.reason
            out[attrs.TOOLAUDIT_BREAK_GLASS_URGENCY] = self.break_glass.urgency
        if self.source is not None and (
            self.user_id is not None or self.conversation_id is not None
        ):
            out[attrs.TOOLAUDIT_ATTRIBUTION_SOURCE] = self.source
        return out

    def layered(self, source: str, **values: Any) -> Attribution:
        """A copy with ``values`` (those not None) laid over this one by a higher-precedence
        ``source``; :attr:`source` then names whichever of the two supplied the user."""
        attribution = self.merged(**values)
        who: str | None
        if values.get("user_id") is not None:
            who = source
        elif self.user_id is not None:
            who = self.source
        elif values.get("conversation_id") is not None or self.conversation_id is None:
            who = source
        else:
            who = self.source
        return attribution if attribution.source == who else attribution._copy({"source": who})

    def requested(self, user_id: str | None, conversation_id: str | None) -> Attribution:
        """This attribution completed with the user and conversation a model request named.

        The model request ranks below an audit_context and the HTTP request, and above baggage:
        it fills what those leave unset, and replaces what baggage supplied.
        """
        if self.source in _ABOVE_REQUEST:
            values = {
                "user_id": user_id if self.user_id is None else None,
                "conversation_id": conversation_id if self.conversation_id is None else None,
            }
            if not any(values.values()):
                return self
            if values["user_id"] is None and self.user_id is not None:
                return self.merged(**values)
            return self.layered(attrs.SOURCE_REQUEST, **values)
        return self.layered(attrs.SOURCE_REQUEST, user_id=user_id, conversation_id=conversation_id)


_EMPTY = Attribution()
_ABOVE_REQUEST = frozenset({attrs.SOURCE_CONTEXT, attrs.SOURCE_HTTP})


BAGGAGE_MODES = ("off", "inject", "extract", "both")


def _baggage_mode() -> str:
    return read_choice(OTEL_PYTHON_TOOLAUDIT_BAGGAGE, "off", BAGGAGE_MODES)


def _roles(value: str | Iterable[str] | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return tuple(r.strip() for r in value.split(",") if r.strip())
    return tuple(str(r) for r in value)


def _trigger(value: CallTrigger | str | None) -> CallTrigger | None:
    if value is None or isinstance(value, CallTrigger):
        return value
    return CallTrigger(value)


def _from_baggage(ctx: otel_context.Context | None) -> Attribution | None:
    """Attribution asserted by an upstream service in W3C baggage, if any."""
    entries = baggage.get_all(ctx)
    if not entries or (
        attrs.USER_ID not in entries and attrs.GEN_AI_CONVERSATION_ID not in entries
    ):
        return None

    def text(key: str) -> str | None:
        value = entries.get(key)
        return str(value) if value is not None else None

    turn = text(attrs.TOOLAUDIT_TURN_NUMBER)
    trigger = text(attrs.TOOLAUDIT_TRIGGER)
    reason = text(attrs.TOOLAUDIT_BREAK_GLASS_REASON)
    return Attribution(
        user_id=text(attrs.USER_ID),
        user_roles=_roles(text(attrs.USER_ROLES)) or (),
        session_id=text(attrs.SESSION_ID),
        conversation_id=text(attrs.GEN_AI_CONVERSATION_ID),
        model=text(attrs.GEN_AI_REQUEST_MODEL),
        # isascii: str.isdigit() accepts "²", which int() refuses. Baggage is caller-controlled input.
        turn_number=int(turn) if turn and turn.isascii() and turn.isdigit() else None,
        trigger=CallTrigger(trigger) if trigger in CallTrigger._value2member_map_ else None,
        purpose=text(attrs.TOOLAUDIT_PURPOSE),
        break_glass=BreakGlass(reason) if reason else None,
        source=attrs.SOURCE_BAGGAGE,
    )


def current_attribution(ctx: otel_context.Context | None = None) -> Attribution:
    """The attribution chain in effect in ``ctx`` (default: the current context).

    Attribution from W3C baggage is used only when ``OTEL_PYTHON_TOOLAUDIT_BAGGAGE`` is ``extract`` or
    ``both``, and below every other source: an :class:`audit_context` (or the HTTP request's
    attribution) opened over it overrides it field by field. Baggage is asserted by the caller: a user
    it supplied is marked ``toolaudit.attribution.source = baggage`` on the span.
    """
    value = otel_context.get_value(_ATTRIBUTION_KEY, ctx)
    if isinstance(value, Attribution):
        return value
    # The environment is read only when there is baggage to read: a new audit_context asks here.
    if baggage.get_all(ctx) and _baggage_mode() in ("extract", "both"):
        try:
            return _from_baggage(ctx) or _EMPTY
        except Exception as exc:  # noqa: BLE001 - a caller's malformed baggage must not break the app
            internal_error("reading attribution from baggage", exc)
    return _EMPTY


def attach_attribution(
    attribution: Attribution, ctx: otel_context.Context | None = None
) -> otel_context.Context:
    """Return ``ctx`` with ``attribution`` stored in it (used by the tool wrapper)."""
    return otel_context.set_value(_ATTRIBUTION_KEY, attribution, ctx)


class audit_context:  # noqa: N801 - used like contextlib helpers, as a lower-case context manager
    """Attribute every tool call made inside the block.

    Contexts nest, and inner values override outer ones; a value left as None is inherited.
    ``propagate=True`` (or ``OTEL_PYTHON_TOOLAUDIT_BAGGAGE=inject|both``) also puts the attribution in
    W3C baggage, so the configured propagators carry it to downstream services. Baggage travels in
    plain text on the wire: opt in only where the downstream services are yours.

    ``break_glass=BreakGlass(reason=...)`` invokes emergency access for the block: tools whose access
    rule would refuse the call run anyway, and every call is recorded with the reason, the urgency
    and the purpose ``ETREAT`` (see docs/compliance.md). A fail-closed tool stays fail-closed.
    """

    __slots__ = ("_attribution", "_propagate", "_tokens")

    def __init__(
        self,
        *,
        user_id: str | None = None,
        user_role: str | Iterable[str] | None = None,
        conversation_id: str | None = None,
        session_id: str | None = None,
        turn_number: int | None = None,
        model: str | None = None,
        provider: str | None = None,
        client_address: str | None = None,
        user_agent: str | None = None,
        purpose: str | None = None,
        trigger: CallTrigger | str | None = None,
        break_glass: BreakGlass | None = None,
        propagate: bool | None = None,
    ) -> None:
        if break_glass is not None and not isinstance(break_glass, BreakGlass):
            raise TypeError("break_glass must be a BreakGlass(reason=...)")
        if break_glass is not None:
            purpose = attrs.BREAK_GLASS_PURPOSE
        self._attribution: Mapping[str, Any] = {
            "user_id": user_id,
            "user_roles": _roles(user_role),
            "conversation_id": conversation_id,
            "session_id": session_id,
            "turn_number": turn_number,
            "model": model,
            "provider": provider,
            "client_address": client_address,
            "user_agent": user_agent,
            "purpose": purpose,
            "trigger": _trigger(trigger),
            "break_glass": break_glass,
        }
        self._propagate = propagate
        self._tokens: list[object] = []

    def __enter__(self) -> Attribution:
        attribution = current_attribution().layered(attrs.SOURCE_CONTEXT, **self._attribution)
        # The block's own scope for the tool calls its model responses ask for (see _call_scope).
        ctx = with_call_scope(attach_attribution(attribution))
        propagate = self._propagate
        if propagate is None:
            propagate = _baggage_mode() in ("inject", "both")
        if propagate:
            ctx = _set_baggage(attribution, ctx)
        self._tokens.append(otel_context.attach(ctx))
        return attribution

    def __exit__(self, *exc_info: object) -> None:
        otel_context.detach(self._tokens.pop())  # type: ignore[arg-type]


def _set_baggage(attribution: Attribution, ctx: otel_context.Context) -> otel_context.Context:
    values: dict[str, Any] = {
        attrs.USER_ID: attribution.user_id,
        attrs.USER_ROLES: ",".join(attribution.user_roles) or None,
        attrs.SESSION_ID: attribution.session_id,
        attrs.GEN_AI_CONVERSATION_ID: attribution.conversation_id,
        attrs.GEN_AI_REQUEST_MODEL: attribution.model,
        attrs.TOOLAUDIT_TURN_NUMBER: attribution.turn_number,
        attrs.TOOLAUDIT_TRIGGER: attribution.trigger.value if attribution.trigger else None,
        attrs.TOOLAUDIT_PURPOSE: attribution.purpose,
        attrs.TOOLAUDIT_BREAK_GLASS_REASON: (
            attribution.break_glass.reason if attribution.break_glass else None
        ),
    }
    for key in attrs.BAGGAGE_KEYS:
        value = values[key]
        if value is not None:
            ctx = baggage.set_baggage(key, str(value), ctx)
    return ctx
