"""Which keys name a secret, whatever their case, separators or camelCase."""

from __future__ import annotations

import functools
import re

REDACTED = "***REDACTED***"

DEFAULT_SECRET_KEYS = frozenset(
    {
        "password",
        "token",
        "apikey",
        "secret",
        "creditcard",
        "ssn",
        "authorization",
    }
)

_NON_ALNUM = re.compile(r"[^0-9a-z]")


@functools.lru_cache(maxsize=4096)
def normalize_key(key: str) -> str:
    """``API-Key``, ``api_key``, ``apiKey`` and ``X_API_KEY`` all compare through this form."""
    return _NON_ALNUM.sub("", key.lower())
