# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Redacting a set of span, event, link or log record attributes, by attribute name.

Each name gets a rule once (cached): structure left alone (``gen_ai.operation.name``...), content
hashed (``gen_ai.input.messages``...), or a value redacted by the key rules of its name (so
``http.request.header.authorization`` is a secret) and by the free-text detectors.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry_instrumentation_toolaudit import attributes as attrs
from opentelemetry_instrumentation_toolaudit._jsonable import dumps
from opentelemetry_instrumentation_toolaudit.redaction._content import (
    CONTENT,
    CONTENT_HASH,
    SAFE,
    SCAN,
    SOURCE_REDACTED_ATTRIBUTES,
    attribute_rule,
    is_our_content_value,
)
from opentelemetry_instrumentation_toolaudit.redaction._keys import (
    ADDRESS,
    PLAIN,
    PSEUDONYM,
    REDACTED,
    SECRET,
    normalize_key,
)
from opentelemetry_instrumentation_toolaudit.redaction._policy import (
    SECRET_KEY_KIND,
    RedactionPolicy,
)

CONTENT_KIND = "message_content"
SOURCE_REDACTED = -1  # an attribute our recorder redacts at the source (skipped on trusted spans)
_CLEAN_MAX = 4096
_CLEAN_LEN = 256


def _cacheable(value: Any) -> bool:
    """Short strings, and short tuples of them: the attribute values that repeat span after span."""
    if type(value) is str:
        return len(value) <= _CLEAN_LEN
    return (
        type(value) is tuple
        and len(value) <= 8
        and all(type(item) is str and len(item) <= _CLEAN_LEN for item in value)
    )


class AttributeRedactor:
    """Applies a policy to attribute mappings, with the per-name rules cached."""

    def __init__(self, policy: RedactionPolicy) -> None:
        self.policy = policy
        # attribute name -> (attribute rule, key rule): names repeat on every span.
        self._rules: dict[str, tuple[int, int]] = {}
        # (name, value) pairs that redaction leaves as they are: attribution and other values
        # repeat on every span, and a set look-up is cheaper than the way to the text cache. Off
        # with the policy's result cache (cache_size=0).
        self._clean: set[tuple[str, Any]] = set()
        self._remember_clean = policy._cache_size > 0

    def redact(
        self,
        attributes: Mapping[str, Any],
        found: dict[str, int],
        *,
        trusted: bool = False,
    ) -> dict[str, Any] | None:
        """A redacted copy of ``attributes``; None when nothing changed. With ``trusted``, the
        attributes our recorder redacted at the source are not scanned again."""
        out: dict[str, Any] | None = None
        rules = self._rules
        clean, remember = self._clean, self._remember_clean
        for name, value in attributes.items():
            entry = rules.get(name)
            if entry is None:
                entry = self._rule_for(name)
            rule, key_rule = entry
            if rule == SAFE or (trusted and rule == SOURCE_REDACTED):
                continue
            if rule == CONTENT:
                replacement = self._content(name, value, found)
                if out is None:
                    out = dict(attributes)
                del out[name]
                out.update(replacement)
                continue
            if rule >= CONTENT_HASH and is_our_content_value(rule, value):
                continue  # a hash and size we made (on this span or one redacted before)
            pair = None
            if remember:
                # The str test inline: this runs for every attribute of every span.
                if type(value) is str:
                    if len(value) <= _CLEAN_LEN:
                        pair = (name, value)
                elif _cacheable(value):
                    pair = (name, value)
                if pair is not None and pair in clean:
                    continue
            new = self._value(key_rule, name, value, found)
            # Redaction returns the very object it was given when it changes nothing.
            if new is value or (type(new) is not str and new == value):
                if pair is not None:
                    if len(clean) >= _CLEAN_MAX:
                        clean.clear()
                    clean.add(pair)
                continue
            if out is None:
                out = dict(attributes)
            out[name] = new
        return out

    def _rule_for(self, name: str) -> tuple[int, int]:
        rule = attribute_rule(name)
        if rule == SCAN and name in SOURCE_REDACTED_ATTRIBUTES:
            rule = SOURCE_REDACTED
        entry = (rule, self.policy._keys.classify(name))
        if len(self._rules) >= 4096:
            self._rules.clear()
        self._rules[name] = entry
        return entry

    def _value(self, key_rule: int, name: str, value: Any, found: dict[str, int]) -> Any:
        policy = self.policy
        if key_rule == PLAIN and type(value) is str:
            # The common case, without redact()'s safety net: a failure here drops the whole span.
            return policy._text(value, found, 0)
        if key_rule == SECRET:
            if value is None or type(value) is bool or value == REDACTED:
                return value
            found[SECRET_KEY_KIND] += 1
            return REDACTED
        if key_rule == PSEUDONYM:
            return policy._pseudonymize_value(value, normalize_key(name), found, 0)
        if key_rule == ADDRESS:
            return policy._address(value, found, 0)
        return policy.redact_collect(value, found)

    def _content(self, name: str, value: Any, found: dict[str, int]) -> dict[str, Any]:
        policy = self.policy
        if policy.content == "redact":
            return {name: policy.redact_collect(value, found)}
        digest, size = self.content_hash(value, found)
        return {name + attrs.CONTENT_HASH_SUFFIX: digest, name + attrs.CONTENT_SIZE_SUFFIX: size}

    def content_hash(self, value: Any, found: dict[str, int]) -> tuple[str, int]:
        """A keyed hash of some content and its size in UTF-8 bytes (non-strings as JSON)."""
        if isinstance(value, str):
            text = value
        else:
            text = dumps(list(value) if isinstance(value, (list, tuple)) else value)
        found[CONTENT_KIND] += 1
        data = text.encode("utf-8", "surrogatepass")
        return self.policy.pseudonym(data), len(data)


def add_counts(attributes: dict[str, Any], found: dict[str, int]) -> None:
    """Add this pass's counts and kinds to any the recorder already put on the span."""
    count = attributes.get(attrs.TOOLAUDIT_REDACTION_COUNT)
    kinds = attributes.get(attrs.TOOLAUDIT_REDACTION_KINDS) or ()
    if isinstance(kinds, str):
        kinds = (kinds,)
    attributes[attrs.TOOLAUDIT_REDACTION_COUNT] = (count if isinstance(count, int) else 0) + sum(
        found.values()
    )
    attributes[attrs.TOOLAUDIT_REDACTION_KINDS] = tuple(sorted({*kinds, *found}))
