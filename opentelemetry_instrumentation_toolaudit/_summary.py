# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The compact result summary recorded instead of a tool's full payload."""

from __future__ import annotations

import fnmatch
import itertools
import re
from collections.abc import Iterable
from typing import Any

from opentelemetry_instrumentation_toolaudit._jsonable import dumps, to_jsonable

DEFAULT_RESULT_KEYS = ("id", "*_id", "status", "count")
"""Identifiers of what the tool acted on, its status and a count: the audit-relevant part of most
results, whatever the app's domain (``order_id``, ``patient_id``, ``ticket_id``...)."""
LARGE_RESULT_BYTES = 1000
MAX_SUMMARY_KEYS = 16
"""A result with many matching keys contributes its first 16: the summary stays compact."""


class ResultKeys:
    """Which top-level keys of a result dict the summary keeps: exact names and ``fnmatch`` patterns
    (``*_id``), compared case-sensitively. Each key's answer is cached, as results repeat their keys."""

    __slots__ = ("_cache", "_names", "_patterns")

    def __init__(self, keys: Iterable[str] = DEFAULT_RESULT_KEYS) -> None:
        keys = [k.strip() for k in keys if k.strip()]
        self._names = frozenset(k for k in keys if not _is_pattern(k))
        self._patterns = tuple(re.compile(fnmatch.translate(k)) for k in keys if _is_pattern(k))
        self._cache: dict[str, bool] = {}

    @classmethod
    def parse(cls, text: str | None) -> ResultKeys:
        """``"id,*_id,status"`` → those keys; None or blank → the defaults."""
        if text is None or not text.strip():
            return cls()
        return cls(text.split(","))

    def wanted(self, key: str) -> bool:
        """Whether the summary keeps ``key``."""
        if key in self._names:
            return True
        if not self._patterns:
            return False
        cached = self._cache.get(key)
        if cached is None:
            cached = any(p.match(key) for p in self._patterns)
            if len(self._cache) >= 4096:
                self._cache.clear()
            self._cache[key] = cached
        return cached


def _is_pattern(key: str) -> bool:
    return any(c in key for c in "*?[")


MEASURED_RESULT_CHARS = 16384
"""How much of a result is looked at to measure its size: a bigger result is reported as bigger
than that (``_result_size`` is then a lower bound), and costs no more than one of that size."""
SUMMARY_FIELD_CHARS = 2048
"""How much of each summary field (``error``, ``id``...) is kept."""
SCANNED_RESULT_KEYS = 1024
"""How many of a result dict's top-level keys are matched against the wanted keys: a result with
more keys costs no more than one with that many."""


def _field(value: Any, already_safe: bool) -> Any:
    # A result that is its own safe copy (a small flat dict) has safe, short values.
    return value if already_safe else to_jsonable(value, SUMMARY_FIELD_CHARS)


def result_failed(result: Any) -> bool:
    """A result dict with an ``error`` key is a failure without an exception (a common tool convention)."""
    return isinstance(result, dict) and "error" in result


def summarize_result(result: Any, keys: ResultKeys | None = None) -> dict[str, Any]:
    """``{"success": …, "error": …, <kept keys>…, "_result_size"/"_truncated" when over 1000 bytes}``.

    The kept keys are the result dict's top-level keys that ``keys`` wants (default
    :data:`DEFAULT_RESULT_KEYS`), in the result's order, at most :data:`MAX_SUMMARY_KEYS` of them,
    looked for among its first :data:`SCANNED_RESULT_KEYS` keys. The fields are taken from the
    result itself and its size is measured on at most :data:`MEASURED_RESULT_CHARS` of it.
    """
    keys = keys if keys is not None else _DEFAULT
    safe = to_jsonable(result, MEASURED_RESULT_CHARS)
    # A plain dict's fields are read from the dict itself (wherever they are in a huge one); a
    # model's, or a dict subclass's (whose methods may do anything), from the JSON-safe copy.
    fields = result if type(result) is dict else safe
    summary: dict[str, Any] = {"success": not (isinstance(fields, dict) and "error" in fields)}
    if isinstance(fields, dict):
        if "error" in fields:
            summary["error"] = _field(fields["error"], safe is result)
        kept = 0
        for key in itertools.islice(fields, SCANNED_RESULT_KEYS):
            if kept >= MAX_SUMMARY_KEYS:
                break
            if type(key) is str and key not in summary and keys.wanted(key):
                summary[key] = _field(fields[key], safe is result)
                kept += 1
    elif isinstance(result, (list, tuple, set, frozenset)):
        summary["count"] = len(result)
    size = len(dumps(safe).encode("utf-8"))
    if size > LARGE_RESULT_BYTES:
        summary["_result_size"] = size
        summary["_truncated"] = True
    return summary


_DEFAULT = ResultKeys()


# error.type is low-cardinality and is not scanned by redaction: only a class-name-like value is taken
# from a result dict (an app may put a whole message there), anything else becomes tool_error.
_ERROR_TYPE = re.compile(r"[A-Za-z_][A-Za-z0-9_.]{0,127}")


def error_type_of(result: Any) -> str:
    """``error.type`` for a failed result dict: its ``error_type`` if it looks like a class name
    (``PolicyViolation``, ``payments.CardDeclined``), else ``tool_error``."""
    value = result.get("error_type") if isinstance(result, dict) else None
    return value if isinstance(value, str) and _ERROR_TYPE.fullmatch(value) else "tool_error"
