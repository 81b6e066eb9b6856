# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Properties (hypothesis): redact never raises, keeps the shape, is idempotent, leaves no secret."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opentelemetry_instrumentation_toolaudit.redaction import RedactionPolicy, _checks
from opentelemetry_instrumentation_toolaudit.redaction._keys import (
    ADDRESS,
    DEFAULT_PSEUDONYM_KEYS,
    DEFAULT_SECRET_KEYS,
    PLAIN,
    KeyRules,
)

POLICY = RedactionPolicy(hash_key=b"property-test-key-0123456789ab")
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Sensitive values the detectors must always remove, whatever surrounds them.
SECRETS = [
    "jane.doe@example.com",
    "4111 1111 1111 1111",
    "5500-0000-0000-0004",
    "378282246310005",
    "219-09-9998",
    "GB82 WEST 1234 5698 7654 32",
    "DE89370400440532013000",
    "+44 20 7946 0958",
    "(415) 555-2671",
    "203.0.113.195",
    "2001:db8:85a3::8a2e:370:7334",
    "AKIAIOSFODNN7EXAMPLE",
    "ghp_0123456789abcdefABCDEF0123456789abcd",
    "sk-proj-Ab3dEfGh1jKlMnOpQrStUvWx12",
    "sk-proj-" + "a" * 40,  # a distinctive prefix needs no entropy after it
    "sk-svcacct-" + "abcdef0123" * 4,
    "xoxb-123456789012-abcdefGHIJKL",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV",
]
SEPARATORS = [" ", ", ", "; ", "\n", " (", ") ", ": ", ' "', '" ', " [", "] ", " - ", "\t"]

words = st.text(
    alphabet=st.characters(codec="utf-8", categories=["L", "N", "P", "Zs"]), max_size=12
).filter(lambda w: not any(c.isalnum() for c in w[-1:] + w[:1]))
json_scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30)
)
json_values = st.recursive(
    json_scalars | st.sampled_from(SECRETS),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.text(max_size=12)
            | st.sampled_from(["password", "email", "apiKey", "note", "client.address"]),
            children,
            max_size=4,
        )
    ),
    max_leaves=12,
)


KEY_RULES = KeyRules(DEFAULT_SECRET_KEYS, DEFAULT_PSEUDONYM_KEYS)


def address_values(value: Any) -> list[str]:
    """The strings directly under network-address keys ("client.address", "HTTPCLIENTIP"...), in
    order, outside the values that secret and personal-data keys replace whole."""
    return [item for _, item in address_items(value) if isinstance(item, str)]


def address_items(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], Any]]:
    """``(path, value)`` of every value directly under a network-address key, as
    :func:`address_values` walks them (a number there may come back as a placeholder string)."""
    if isinstance(value, list):
        return [found for i, item in enumerate(value) for found in address_items(item, (*path, i))]
    if not isinstance(value, dict):
        return []
    found: list[tuple[tuple[Any, ...], Any]] = []
    for key, item in value.items():
        rule = KEY_RULES.classify(key)
        if rule == ADDRESS and not isinstance(item, (dict, list)):
            found.append(((*path, key), item))
        elif rule in (PLAIN, ADDRESS):
            found += address_items(item, (*path, key))
    return found


def is_address(value: Any) -> bool:
    text = value.strip() if isinstance(value, str) else ""
    return _checks.ipv4_ok(text) or (":" in text and _checks.ipv6_ok(text))


def kept_by_design(value: Any) -> set[str]:
    """IP addresses under network-address keys: they attribute a call, and the default policy
    (``attribution_addresses="keep"``) keeps them as they are."""
    return {v for v in address_values(value) if is_address(v)}


def shape(value: Any) -> Any:
    if isinstance(value, dict):
        return {"dict": len(value)}
    if isinstance(value, list):
        return [shape(v) for v in value]
    return "scalar"


@SETTINGS
@given(st.text(max_size=200))
def test_redact_text_never_raises_and_is_idempotent(text):
    """Any string: no exception, a string back, idempotent, and no findings left."""
    once = POLICY.redact(text)
    assert isinstance(once, str)
    assert POLICY.redact(once) == once
    assert POLICY.findings(once) == []


@SETTINGS
@given(json_values)
def test_redact_json_values_keeps_shape(value):
    """Any JSON value: same shape, idempotent, no findings left, none of the secrets survive but
    the IP addresses under network-address keys, which are kept as they were."""
    once = POLICY.redact(value)
    assert shape(once) == shape(value)
    assert POLICY.redact(once) == once
    assert POLICY.findings(once) == []
    kept = kept_by_design(value)
    dumped = json.dumps(once)
    assert [s for s in SECRETS if s in dumped and s not in kept] == []
    after = dict(address_items(once))
    assert [
        (before, after[path])
        for path, before in address_items(value)
        if is_address(before) and before != after[path]
    ] == []


@SETTINGS
@given(
    st.lists(
        st.tuples(words, st.sampled_from(SECRETS), st.sampled_from(SEPARATORS)),
        min_size=1,
        max_size=6,
    )
)
def test_secrets_in_random_text_never_survive(parts):
    """Secrets embedded between random words and separators never appear in the output."""
    text = "".join(f"{word}{sep}{secret}{sep}" for word, secret, sep in parts)
    out = POLICY.redact(text)
    assert [s for _, s, _ in parts if s in out] == []
    assert POLICY.findings(out) == []
    assert POLICY.redact(out) == out


@SETTINGS
@given(json_values)
def test_secrets_inside_json_strings_never_survive(value):
    """The same holds when the value travels as a JSON string (tool arguments often do)."""
    text = json.dumps(value)
    out = POLICY.redact(text)
    kept = kept_by_design(value)
    assert [s for s in SECRETS if s in out and s not in kept] == []
    assert POLICY.findings(out) == []
