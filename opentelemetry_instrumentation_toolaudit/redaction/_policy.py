"""The redaction policy: what is removed from tool arguments and results before they are recorded."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from opentelemetry_instrumentation_toolaudit.redaction._keys import (
    DEFAULT_SECRET_KEYS,
    REDACTED,
    normalize_key,
)


class RedactionPolicy:
    """Replaces values under sensitive keys, at any depth, with ``***REDACTED***``."""

    def __init__(self, *, secret_keys: Iterable[str] | None = None) -> None:
        keys = DEFAULT_SECRET_KEYS if secret_keys is None else secret_keys
        self._secret_keys = frozenset(normalize_key(k) for k in keys)

    @classmethod
    def from_env(cls) -> RedactionPolicy:
        """The policy configured by environment variables."""
        return cls()

    def is_secret_key(self, key: str) -> bool:
        """Whether values under ``key`` are secrets."""
        return normalize_key(key) in self._secret_keys

    def redact(self, value: Any) -> Any:
        """A redacted copy of a JSON-safe value, same shape. Never raises."""
        if isinstance(value, dict):
            return {
                k: REDACTED if self.is_secret_key(k) else self.redact(v) for k, v in value.items()
            }
        if isinstance(value, list):
            return [self.redact(v) for v in value]
        return value

    def redact_text(self, text: str) -> str:
        """Free text with what the policy detects replaced (key-based policies leave it as is)."""
        return text
