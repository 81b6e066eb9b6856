# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Attribution from the incoming HTTP request, for apps behind a gateway that authenticates users.

The gateway puts the user it authenticated in a header (``x-authenticated-user``...); the headers to
read are named in ``OTEL_PYTHON_TOOLAUDIT_USER_HEADER`` (and ``_ROLE_``, ``_CONVERSATION_``,
``_SESSION_``, ``_PURPOSE_``, ``_BREAK_GLASS_HEADER``). Nothing is read unless at least one is set. The values are taken
as they come: a header any client can send is only as trustworthy as the gateway that sets it and
strips it from what clients send. A header that appears more than once is not used (a gateway that
appends rather than replaces would otherwise let the client's copy through). ``client.address`` (the
peer address, which behind a proxy is the proxy's) and ``user_agent.original`` come with it.

The framework hooks (``integrations/http.py``) call :func:`request_context` with a way to read one
header; the attribution is layered above baggage and below any ``audit_context`` in the app's code.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from opentelemetry import context as otel_context
from opentelemetry.baggage.propagation import W3CBaggagePropagator

from opentelemetry_instrumentation_toolaudit import attributes as attrs
from opentelemetry_instrumentation_toolaudit._call_scope import with_call_scope
from opentelemetry_instrumentation_toolaudit._context import (
    _EMPTY,
    BreakGlass,
    _baggage_mode,
    _from_baggage,
    attach_attribution,
)
from opentelemetry_instrumentation_toolaudit._env import read_str
from opentelemetry_instrumentation_toolaudit.environment_variables import (
    OTEL_PYTHON_TOOLAUDIT_BREAK_GLASS_HEADER,
    OTEL_PYTHON_TOOLAUDIT_CONVERSATION_HEADER,
    OTEL_PYTHON_TOOLAUDIT_PURPOSE_HEADER,
    OTEL_PYTHON_TOOLAUDIT_ROLE_HEADER,
    OTEL_PYTHON_TOOLAUDIT_SESSION_HEADER,
    OTEL_PYTHON_TOOLAUDIT_USER_HEADER,
)

USER_AGENT_HEADER = "user-agent"
BAGGAGE_HEADER = "baggage"
REPEATED = object()
"""What a header reader returns for a header sent more than once."""

HeaderReader = Callable[[str], "str | object | None"]
"""Reads one header by its lower-case name: its value, None when absent, REPEATED when repeated."""

_BAGGAGE = W3CBaggagePropagator()


@dataclasses.dataclass(frozen=True)
class HeaderNames:
    """The lower-case names of the headers that attribute a request (None: not read)."""

    user: str | None = None
    roles: str | None = None
    conversation: str | None = None
    session: str | None = None
    purpose: str | None = None
    break_glass: str | None = None

    @classmethod
    def from_env(cls) -> HeaderNames:
        def name(variable: str) -> str | None:
            return read_str(variable).lower() or None

        return cls(
            user=name(OTEL_PYTHON_TOOLAUDIT_USER_HEADER),
            roles=name(OTEL_PYTHON_TOOLAUDIT_ROLE_HEADER),
            conversation=name(OTEL_PYTHON_TOOLAUDIT_CONVERSATION_HEADER),
            session=name(OTEL_PYTHON_TOOLAUDIT_SESSION_HEADER),
            purpose=name(OTEL_PYTHON_TOOLAUDIT_PURPOSE_HEADER),
            break_glass=name(OTEL_PYTHON_TOOLAUDIT_BREAK_GLASS_HEADER),
        )

    @property
    def enabled(self) -> bool:
        """Whether any header is configured (the HTTP source is off otherwise)."""
        return any(dataclasses.astuple(self))

    def wanted(self) -> frozenset[str]:
        """Every header the hooks need to read."""
        names = {n for n in dataclasses.astuple(self) if n}
        return frozenset({*names, USER_AGENT_HEADER, BAGGAGE_HEADER})


def _text(reader: HeaderReader, name: str | None) -> str | None:
    if name is None:
        return None
    value = reader(name)
    return value.strip() or None if isinstance(value, str) else None


def request_context(
    names: HeaderNames,
    reader: HeaderReader,
    client_address: str | None,
    authenticated_user: str | None = None,
) -> otel_context.Context:
    """The current context with the attribution this request's headers give (source ``http``);
    ``authenticated_user``, the user the framework itself authenticated, wins over the user header."""
    base = _EMPTY
    if _baggage_mode() in ("extract", "both"):
        # The server instrumentation extracts baggage only after this hook runs (it is inside the
        # framework's app): read it here so that baggage still fills what the headers leave unset.
        carried = _text(reader, BAGGAGE_HEADER)
        if carried is not None:
            base = _from_baggage(_BAGGAGE.extract({BAGGAGE_HEADER: carried})) or _EMPTY
    roles = _text(reader, names.roles)
    reason = _text(reader, names.break_glass)
    attribution = base.layered(
        attrs.SOURCE_HTTP,
        user_id=authenticated_user or _text(reader, names.user),
        user_roles=tuple(r.strip() for r in roles.split(",") if r.strip()) if roles else None,
        conversation_id=_text(reader, names.conversation),
        session_id=_text(reader, names.session),
        purpose=attrs.BREAK_GLASS_PURPOSE if reason else _text(reader, names.purpose),
        break_glass=BreakGlass(reason) if reason else None,
        client_address=client_address or None,
        user_agent=_text(reader, USER_AGENT_HEADER),
    )
    # Like an audit_context, the request has a scope of its own for its model's tool calls.
    return with_call_scope(attach_attribution(attribution))
