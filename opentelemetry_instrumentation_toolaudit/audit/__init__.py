"""The audit trail: spans become append-only, hash-chained, signed, verifiable records."""

from __future__ import annotations
