# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The content guard: the last check of a record's content before it becomes permanent.

Redaction runs earlier (at the source for this package's own tool spans, in the redacting
processor for every span); the guard redacts whatever the policy still flags. No content is
scanned twice under one policy:

* the arguments and result summary of a span from a trusted instrumentation scope were redacted
  at the source by the same policy and are taken as they are;
* every other value found clean is remembered (a bounded set), so the user ids, models, roles and
  attribution lines that recur on every record are scanned once.

The ids and times the exporter generates are not content and are left alone: a span id can look
like a card number.
"""

from __future__ import annotations

import threading
from collections.abc import Collection
from typing import Any

from opentelemetry_instrumentation_toolaudit.ledger import schema as f
from opentelemetry_instrumentation_toolaudit.redaction import RedactionPolicy

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
        self._clean: set[Any] = set()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def check(self, body: dict[str, Any], scope_name: str | None = None) -> list[str]:
        """The kinds the policy still finds in ``body``'s content; ``body`` is redacted in place
        when there are any."""
        trusted = scope_name is not None and scope_name in self.trusted_scopes
        clean = self._clean
        findings = self.policy.findings
        dirty: dict[str, Any] = {}
        kinds: set[str] = set()
        remember: list[Any] = []
        for key, value in body.items():
            if key in NOT_CONTENT or (trusted and key in SOURCE_REDACTED):
                continue
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
