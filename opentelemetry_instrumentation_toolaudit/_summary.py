"""The compact result summary recorded instead of a tool's full payload."""

from __future__ import annotations

import re
from typing import Any

from opentelemetry_instrumentation_toolaudit._jsonable import dumps, to_jsonable

SUMMARY_KEYS = ("id", "order_id", "customer_id", "status", "count")
LARGE_RESULT_BYTES = 1000
MEASURED_RESULT_CHARS = 16384
"""How much of a result is looked at to measure its size: a bigger result is reported as bigger
than that (``_result_size`` is then a lower bound), and costs no more than one of that size."""
SUMMARY_FIELD_CHARS = 2048
"""How much of each summary field (``error``, ``id``...) is kept."""


def result_failed(result: Any) -> bool:
    """A result dict with an ``error`` key is a failure without an exception (the seeds' convention)."""
    return isinstance(result, dict) and "error" in result


def summarize_result(result: Any) -> dict[str, Any]:
    """``{"success": …, "error": …, <key ids>…, "_result_size"/"_truncated" when over 1000 bytes}``.

    The summary's fields are taken from the result itself (wherever they are in a huge dict) and
    its size is measured on at most MEASURED_RESULT_CHARS of it."""
    safe = to_jsonable(result, MEASURED_RESULT_CHARS)
    # A plain dict's fields are read from the dict itself (wherever they are in a huge one); a
    # model's, or a dict subclass's (whose methods may do anything), from the JSON-safe copy.
    fields = result if type(result) is dict else safe
    summary: dict[str, Any] = {"success": not (isinstance(fields, dict) and "error" in fields)}
    if isinstance(fields, dict):
        for key in ("error", *SUMMARY_KEYS):
            if key in fields:
                value = fields[key]
                # A result that is its own safe copy (a small flat dict) has safe, short values.
                summary[key] = value if safe is result else to_jsonable(value, SUMMARY_FIELD_CHARS)
    elif isinstance(result, (list, tuple, set, frozenset)):
        summary["count"] = len(result)
    size = len(dumps(safe).encode("utf-8"))
    if size > LARGE_RESULT_BYTES:
        summary["_result_size"] = size
        summary["_truncated"] = True
    return summary


# error.type is low-cardinality and is not scanned by redaction: only a class-name-like value is taken
# from a result dict (an app may put a whole message there), anything else becomes tool_error.
_ERROR_TYPE = re.compile(r"[A-Za-z_][A-Za-z0-9_.]{0,127}")


def error_type_of(result: Any) -> str:
    """``error.type`` for a failed result dict: its ``error_type`` if it looks like a class name
    (``PolicyViolation``, ``payments.CardDeclined``), else ``tool_error``."""
    value = result.get("error_type") if isinstance(result, dict) else None
    return value if isinstance(value, str) and _ERROR_TYPE.fullmatch(value) else "tool_error"
