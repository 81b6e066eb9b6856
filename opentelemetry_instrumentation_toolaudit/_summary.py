"""The compact result summary recorded instead of a tool's full payload."""

from __future__ import annotations

import re
from typing import Any

from opentelemetry_instrumentation_toolaudit._jsonable import dumps, to_jsonable

SUMMARY_KEYS = ("id", "order_id", "customer_id", "status", "count")
LARGE_RESULT_BYTES = 1000


def result_failed(result: Any) -> bool:
    """A result dict with an ``error`` key is a failure without an exception (a common tool convention)."""
    return isinstance(result, dict) and "error" in result


def summarize_result(result: Any) -> dict[str, Any]:
    """``{"success": …, "error": …, <key ids>…, "_result_size"/"_truncated" when over 1000 bytes}``."""
    safe = to_jsonable(result)
    summary: dict[str, Any] = {"success": not (isinstance(safe, dict) and "error" in safe)}
    if isinstance(safe, dict):
        if "error" in safe:
            summary["error"] = safe["error"]
        for key in SUMMARY_KEYS:
            if key in safe:
                summary[key] = safe[key]
    elif isinstance(safe, list):
        summary["count"] = len(safe)
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
