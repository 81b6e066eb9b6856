# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The content guard: the last check of a record's content before it becomes permanent.

Redaction runs earlier (at the source for this package's own tool spans, in the redacting
processor for every span); the guard redacts whatever the policy still flags. No content is
scanned twice under one policy:

* the arguments and result summary of a span from a trusted instrumentation scope were redacted
  at the source by the same policy and are taken as they are;
* the fields made from span attributes that a ``RedactingSpanProcessor`` with equal rules (the same
  :attr:`~RedactionPolicy.rules_id`) has already scanned are taken as they are: the processor marks
  the spans it checked, beside the span rather than in its attributes. A span without that mark
  (exported by another SDK, received over OTLP, built by hand) or with a mark of other rules is
  scanned in full; fields the processor leaves alone (tool and model names, ids) and those from the
  resource are scanned either way;
* every other value found clean is remembered (a bounded set), so the user ids, models, roles and
  attribution lines that recur on every record are scanned once.

The ids and times the exporter generates are not content and are left alone: a span id can look
like a card number.
"""

from __future__ import annotations

import threading
from collections.abc import Collection
from typing import Any

from opentelemetry_instrumentation_toolaudit.export._records import SINGLE_SOURCE_FIELDS
from opentelemetry_instrumentation_toolaudit.ledger import schema as f
from opentelemetry_instrumentation_toolaudit.redaction import RedactionPolicy
from opentelemetry_instrumentation_toolaudit.redaction._checked import CheckMark
from opentelemetry_instrumentation_toolaudit.redaction._content import SCAN, attribute_rule

NOT_CONTENT = f.GENERATED | {f.RETAIN_UNTIL}
"""Fields the exporter makes itself: never scanned."""
SOURCE_REDACTED = frozenset({f.ARGUMENTS, f.RESULT_SUMMARY})
"""Fields a trusted source has redacted with the same policy."""
DEFAULT_CACHE_SIZE = 65_536


class ContentGuard:
    """Redacts what ``policy`` still flags in a record body; counts what it had to redact.

    ``trusted_scopes``: instrumentation scopes whose spans had :data:`SOURCE_REDACTED` fields
    redacted at the source by this same policy.
    """

    def __init__(
        self,
        policy: RedactionPolicy,
        *,
        trusted_scopes: Collection[str] = (),
        cache_size: int = DEFAULT_CACHE_SIZE,
    ) -> None:
        self.policy = policy
        self.trusted_scopes = frozenset(trusted_scopes)
        vouched = _checked_by_processor(policy)
        # Fields left unscanned, by (trusted scope, how a processor of equal rules checked the span).
        self._skip = {
            (trusted, check): NOT_CONTENT
            | (SOURCE_REDACTED if trusted else frozenset())
            | {
                _NOT_CHECKED: frozenset(),
                _CHECKED: vouched,
                _CHECKED_BUT_SOURCE: vouched - SOURCE_REDACTED,
            }[check]
            for trusted in (False, True)
            for check in (_NOT_CHECKED, _CHECKED, _CHECKED_BUT_SOURCE)
        }
        self._clean: set[Any] = set()
        self._same: tuple[Any, ...] | None = None
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def _same_rules(self, rules: tuple[Any, ...]) -> bool:
        """Whether ``rules`` (a processor's ``rules_id``) equal this guard's policy's. Each
        processor hands over one tuple for all its spans: it is compared in full once."""
        if rules is self._same:
            return True
        if rules != self.policy.rules_id:
            return False
        self._same = rules
        return True

    def check(
        self,
        body: dict[str, Any],
        scope_name: str | None = None,
        mark: CheckMark | None = None,
    ) -> list[str]:
        """The kinds the policy still finds in ``body``'s content; ``body`` is redacted in place
        when there are any. ``mark``: how a redacting processor checked the span ``body`` is made
        from (fields it checked under this policy's rules are not scanned again)."""
        trusted = scope_name is not None and scope_name in self.trusted_scopes
        check = _NOT_CHECKED
        if mark is not None and self._same_rules(mark.rules):
            check = _CHECKED_BUT_SOURCE if mark.source_skipped else _CHECKED
        skip = self._skip[trusted, check]
        clean = self._clean
        findings = self.policy.findings
        dirty: dict[str, Any] = {}
        kinds: set[str] = set()
        remember: list[Any] = []
        for key, value in body.items():
            if key in skip:
                continue
            # The str case inline: it is most fields of every record.
            kind = type(value)
            if kind is str and len(value) <= 512:
                token: Any = (key, value)
            else:
                token = _token(key, value)
            if token is not None and token in clean:
                continue
            # Scanned under its field name, as the whole record would be: a key rule may apply.
            found = findings({key: value})
            if found:
                dirty[key] = value
                kinds.update(found)
            elif token is not None:
                remember.append(token)
        if remember:
            with self._lock:
                if len(clean) + len(remember) > self._cache_size:
                    clean.clear()
                clean.update(remember)
        if dirty:
            body.update(self.policy.redact(dirty))
        return sorted(kinds)


_NOT_CHECKED, _CHECKED, _CHECKED_BUT_SOURCE = 0, 1, 2


def _checked_by_processor(policy: RedactionPolicy) -> frozenset[str]:
    """The record fields whose one source attribute a ``RedactingSpanProcessor`` with ``policy``'s
    rules scans as this guard would scan the field: as a value (not left alone as structure, not
    replaced as content), under a name the key rules treat as they treat the field's name."""
    classify = policy._keys.classify
    return frozenset(
        field
        for field, attribute in SINGLE_SOURCE_FIELDS.items()
        if attribute_rule(attribute) == SCAN and classify(attribute) == classify(field)
    )


def _token(key: str, value: Any) -> Any:
    """A hashable stand-in for a field's value (the field name is part of it: a policy may judge
    a value by its key), or None for values not worth remembering."""
    kind = type(value)
    if kind is str:
        return (key, value) if len(value) <= 512 else None
    if kind is list and len(value) <= 16 and all(type(item) is str for item in value):
        return (key, tuple(value))
    if kind is bool or kind is float or kind is int or value is None:
        return (key, kind, value)
    if kind is dict and len(value) <= 8:
        items = tuple(value.items())
        if all(type(v) in _FLAT and (type(v) is not str or len(v) <= 512) for _, v in items):
            return (key, dict, items)
    return None


_FLAT = frozenset({str, bool, float, int, type(None)})
