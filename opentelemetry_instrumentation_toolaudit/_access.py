# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Access rules a tool declares (``@audited_tool(allowed_roles=..., allowed_purposes=...)``).

A call is allowed when the attribution in effect has one of the allowed roles (if roles are
restricted) and one of the allowed purposes (if purposes are restricted). Otherwise it is refused
with :class:`AccessDeniedError` before the tool runs, and the refusal is the call's span (``error.type``
and ``toolaudit.access.rule``); under break-the-glass (``audit_context(break_glass=...)``) it goes ahead,
marked ``toolaudit.access.decision = break_glass``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from opentelemetry import trace

from opentelemetry_instrumentation_toolaudit import attributes as attrs
from opentelemetry_instrumentation_toolaudit._context import Attribution, current_attribution
from opentelemetry_instrumentation_toolaudit._exceptions import AccessDeniedError
from opentelemetry_instrumentation_toolaudit._log import internal_error


def _names(value: str | Iterable[str] | None) -> frozenset[str] | None:
    if value is None:
        return None
    items = value.split(",") if isinstance(value, str) else value
    names = frozenset(str(item).strip() for item in items if str(item).strip())
    if not names:
        raise ValueError("an access rule needs at least one allowed role or purpose")
    return names


@dataclasses.dataclass(frozen=True)
class AccessRule:
    """The roles and purposes a tool is restricted to (None: not restricted)."""

    roles: frozenset[str] | None = None
    purposes: frozenset[str] | None = None

    @classmethod
    def of(
        cls, roles: str | Iterable[str] | None, purposes: str | Iterable[str] | None
    ) -> AccessRule | None:
        """The rule for these allowed roles and purposes; None when neither is restricted."""
        rule = cls(_names(roles), _names(purposes))
        return None if rule.roles is None and rule.purposes is None else rule

    def describe(self) -> str:
        """``roles=nurse,physician; purposes=TREAT``: the rule, as recorded and in error messages."""
        parts = []
        if self.roles is not None:
            parts.append(f"roles={','.join(sorted(self.roles))}")
        if self.purposes is not None:
            parts.append(f"purposes={','.join(sorted(self.purposes))}")
        return "; ".join(parts)

    def allows(self, attribution: Attribution) -> bool:
        """Whether the attribution satisfies the rule (break-the-glass aside)."""
        if self.roles is not None and not self.roles.intersection(attribution.user_roles):
            return False
        return self.purposes is None or attribution.purpose in self.purposes


def enforce(rule: AccessRule, tool_name: str, span: trace.Span | None) -> AccessDeniedError | None:
    """Decide a call of ``tool_name`` (its span already started and current): None when it may
    run, else the error to raise. The decision and the rule are set on the span."""
    attribution = current_attribution()
    if rule.allows(attribution):
        decision = attrs.ACCESS_ALLOWED
    elif attribution.break_glass is not None:
        decision = attrs.ACCESS_BREAK_GLASS
    else:
        decision = attrs.ACCESS_DENIED
    try:
        if span is not None and span.is_recording():
            span.set_attributes(
                {
                    attrs.TOOLAUDIT_ACCESS_RULE: rule.describe(),
                    attrs.TOOLAUDIT_ACCESS_DECISION: decision,
                }
            )
    except Exception as exc:  # noqa: BLE001 - the decision stands whatever telemetry does
        internal_error("recording an access decision", exc)
    if decision != attrs.ACCESS_DENIED:
        return None
    return AccessDeniedError(
        f"tool {tool_name!r} is restricted to {rule.describe()}: the call was refused and not run "
        "(give the user a matching role and purpose in audit_context, or invoke emergency access "
        "with break_glass=BreakGlass(reason=...))"
    )
