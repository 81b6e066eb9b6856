# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""One line per tool call: ``[Turn 3] ✗ update_order_status({...}) → {...} [38 ms]  trace …``."""

from __future__ import annotations

import json
from typing import Any

from opentelemetry_instrumentation_toolaudit.ledger import schema as f
from opentelemetry_instrumentation_toolaudit.query._links import trace_link
from opentelemetry_instrumentation_toolaudit.query._query import QueryResult

_CONTROL = {c: f"\\x{c:02x}" for c in (*range(32), 127)}
MAX_VALUE_CHARS = 120
"""Arguments and result summaries longer than this are cut (``…``): one call stays one line."""


def printable(value: Any) -> str:
    """``value`` as text a terminal shows as it is: control characters (an escape sequence, a
    newline in a user id) become ``\\xNN``."""
    return str(value).translate(_CONTROL)


def compact(value: Any, limit: int = MAX_VALUE_CHARS) -> str:
    """``value`` as one line of JSON, cut at ``limit`` characters."""
    text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "), default=str)
    text = text.replace("\n", " ").replace("\r", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def mark(record: dict[str, Any]) -> str:
    """``✓`` for a call that succeeded, ``✗`` for one that failed, ``·`` when not known."""
    success = record.get(f.SUCCESS)
    return "✓" if success is True else "✗" if success is False else "·"


def timeline_line(result: QueryResult, template: str | None = None) -> str:
    """The timeline line of one call, ending with its trace id (a link when a trace URL is set)."""
    record = result.record
    turn = record.get(f.TURN_NUMBER)
    head = f"[Turn {turn}]" if turn is not None else f"[#{result.seq}]"
    erased = record.get(f.PAYLOAD_ERASED) is True
    arguments = "(payload erased)" if erased else compact(record.get(f.ARGUMENTS, {}))
    summary = record.get(f.RESULT_SUMMARY)
    if summary is None and record.get(f.ERROR_TYPE):
        summary = {"error_type": record[f.ERROR_TYPE]}
    outcome = f" → {compact(summary)}" if summary is not None else ""
    duration = record.get(f.DURATION_MS)
    took = f" [{duration:.0f} ms]" if isinstance(duration, (int, float)) else ""
    trace = trace_link(result.trace_id, template) or result.trace_id or "-"
    name = str(record.get(f.TOOL_NAME, "?"))
    line = f"{head} {mark(record)} {name}({arguments}){outcome}{took}  trace {trace}"
    # One call, one line, shown as it is: no control character (a terminal escape) gets through.
    return printable(line)
