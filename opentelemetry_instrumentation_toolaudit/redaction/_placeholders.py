# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Placeholders and pseudonym inputs for findings, and when replacing them needs a rescan."""

from __future__ import annotations

import functools

from opentelemetry_instrumentation_toolaudit.redaction._detectors import Finding

_LABELS = {"secret_assignment": "SECRET", "url_password": "PASSWORD"}


@functools.lru_cache(maxsize=256)
def placeholder_label(kind: str) -> str:
    """The placeholder label for a kind: ``credit_card`` → ``CREDIT_CARD``."""
    name = _LABELS.get(kind) or "".join(c if c.isalnum() else "_" for c in kind.upper())
    name = name[:40]
    return name if len(name) >= 2 and name[0].isalpha() and name.isascii() else "SENSITIVE"


def normalize_for(kind: str, text: str) -> str:
    """The form a value is pseudonymized in, so the same address or number links across formats."""
    if kind == "email":
        return text.strip().lower()
    if kind == "phone":
        digits = "".join(ch for ch in text if ch.isdigit())
        return digits[1:] if len(digits) == 11 and digits[0] == "1" else digits
    if kind == "ip_address":
        return text.strip().lower()
    return text.strip()


_SAFE_BEFORE = frozenset(" \t\r\n\"'([{<,;=@/")
_SAFE_AFTER = frozenset(" \t\r\n\"')]}>,;!?")
_SENTENCE_END = frozenset(" \t\r\n\"')")


def findings_isolated(text: str, findings: list[Finding]) -> bool:
    """Whether every finding is set apart by whitespace or punctuation, so that replacing it cannot
    turn a neighbour into a new finding.

    The built-in patterns look at most one character before a match (the international phone
    pattern two: a digit and a separator), at most two after it (``.`` then a digit), and the email
    and IPv6 detectors walk back over adjacent local-part or hex characters; none of that can see
    through a space or bracket to a replaced finding, except a phone starting with ``+``/``0`` right
    after one space.
    """
    n = len(text)
    for finding in findings:
        start, end = finding.start, finding.end
        if start > 0 and text[start - 1] not in _SAFE_BEFORE:
            return False
        if end < n:
            after = text[end]
            if after == ".":
                if end + 1 < n and text[end + 1] not in _SENTENCE_END:
                    return False
            elif after not in _SAFE_AFTER or (end + 1 < n and text[end + 1] in "+0"):
                return False
    return True
