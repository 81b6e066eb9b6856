"""The one canonical byte form of an audit record: RFC 8785 (JSON Canonicalization Scheme).

``json.dumps(sort_keys=True)`` is not canonical: it sorts keys by code point rather than UTF-16 units,
prints ``-0.0`` and ``NaN``, and formats floats differently across versions. Records are hashed and
signed, so their bytes must be reproducible by any verifier in any language.
"""

from __future__ import annotations

import math
from typing import Any

import rfc8785

from opentelemetry_instrumentation_toolaudit._exceptions import CanonicalizationError

MAX_SAFE_INTEGER = 2**53 - 1


def prepare(value: Any) -> Any:
    """A copy of ``value`` that RFC 8785 accepts: NaN/±Infinity become strings, -0.0 becomes 0,
    integers beyond 2^53 become strings, tuples become lists, non-string keys become strings."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER else str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return 0 if value == 0 else value
    if isinstance(value, dict):
        return {str(k): prepare(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [prepare(v) for v in value]
    raise CanonicalizationError(f"type {type(value).__qualname__} has no canonical JSON form")


def canonical_bytes(record: dict[str, Any]) -> bytes:
    """RFC 8785 bytes of ``record`` (after :func:`prepare`)."""
    try:
        return rfc8785.dumps(prepare(record))
    except rfc8785.CanonicalizationError as exc:
        raise CanonicalizationError(str(exc)) from exc
