# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""How the reading commands print results: tables, CSV, JSON and JSON Lines."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from typing import Any, TextIO

from opentelemetry_instrumentation_toolaudit.ledger import schema as f
from opentelemetry_instrumentation_toolaudit.ledger._stats import Stats
from opentelemetry_instrumentation_toolaudit.query import QueryResult, trace_link
from opentelemetry_instrumentation_toolaudit.query._links import trace_url_template
from opentelemetry_instrumentation_toolaudit.query._timeline import printable as text

CSV_FIELDS = (
    "seq",
    "entry_hash",
    f.RECORDED_AT,
    f.EVENT_TYPE,
    f.TOOL_NAME,
    f.TOOL_ACTION,
    f.USER_ID,
    f.USER_ROLES,
    f.CONVERSATION_ID,
    f.TURN_NUMBER,
    f.SUBJECT,
    f.PURPOSE,
    f.MODEL,
    f.SUCCESS,
    f.ERROR_TYPE,
    f.DURATION_MS,
    f.TRACE_ID,
    f.SPAN_ID,
)


def result_json(result: QueryResult) -> dict[str, Any]:
    out: dict[str, Any] = {
        "seq": result.seq,
        "entry_hash": result.entry_hash,
        "trace_id": result.trace_id,
        "span_id": result.span_id,
    }
    link = trace_link(result.trace_id)
    if link:
        out["trace_url"] = link
    out["record"] = result.record
    return out


def csv_value(value: Any) -> Any:
    if isinstance(value, list):
        return ";".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return value


def write_csv(results: Iterable[QueryResult], out: TextIO) -> int:
    template = trace_url_template()
    fields = [*CSV_FIELDS, "trace_url"] if template else list(CSV_FIELDS)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(fields)
    n = 0
    for result in results:
        row = {**result.record, "seq": result.seq, "entry_hash": result.entry_hash}
        if template:
            row["trace_url"] = trace_link(result.trace_id, template)
        writer.writerow([csv_value(row.get(name)) for name in fields])
        n += 1
    return n


def write_jsonl(results: Iterable[QueryResult], out: TextIO, whole: bool) -> int:
    n = 0
    for result in results:
        if whole:
            document = result_json(result)
        else:
            document = {"entry_hash": result.entry_hash, **result.record}
            link = trace_link(result.trace_id)
            if link:
                document["trace_url"] = link
        out.write(json.dumps(document, ensure_ascii=False, separators=(",", ":")) + "\n")
        n += 1
    return n


def write_json_array(results: Iterable[QueryResult], out: TextIO) -> int:
    n = 0
    out.write("[")
    for result in results:
        out.write(",\n" if n else "\n")
        out.write(json.dumps(result_json(result), ensure_ascii=False, indent=2))
        n += 1
    out.write("\n]\n" if n else "]\n")
    return n


def table_line(result: QueryResult) -> str:
    record = {k: text(v) if isinstance(v, str) else v for k, v in result.record.items()}
    roles = record.get(f.USER_ROLES)
    duration = record.get(f.DURATION_MS)
    success = record.get(f.SUCCESS)
    cells = [
        f"{result.seq:>6}",
        str(record.get(f.RECORDED_AT, ""))[:23],
        f"{record.get(f.EVENT_TYPE, '')!s:<15}",
        f"{record.get(f.TOOL_NAME) or '-'!s:<24}",
        f"{record.get(f.USER_ID) or '-'!s:<14}",
        f"{text(','.join(map(str, roles))) if isinstance(roles, list) else '-':<16}",
        "ok  " if success is True else "FAIL" if success is False else "-   ",
        f"{duration:>9.1f}" if isinstance(duration, (int, float)) else f"{'-':>9}",
        text(trace_link(result.trace_id) or result.trace_id or "-"),
    ]
    if record.get(f.PAYLOAD_ERASED) is True:
        # The table shows no arguments or result: say why the record has none to show.
        cells.append(PAYLOAD_ERASED_MARK)
    return "  ".join(cells)


PAYLOAD_ERASED_MARK = "(payload erased)"
"""Ends the table line of a record whose payload (arguments, result) was erased."""


TABLE_HEAD = "  ".join(
    [
        f"{'SEQ':>6}",
        f"{'RECORDED (UTC)':<23}",
        f"{'EVENT':<15}",
        f"{'TOOL':<24}",
        f"{'USER':<14}",
        f"{'ROLES':<16}",
        "OK? ",
        f"{'MS':>9}",
        "TRACE",
    ]
)


def stats_row(name: str, stats: Stats) -> str:
    def ms(value: float | None) -> str:
        return f"{value:>9.1f}" if value is not None else f"{'-':>9}"

    rate = f"{stats.success_rate * 100:>7.1f}%" if stats.success_rate is not None else f"{'-':>8}"
    return (
        f"{name:<28} {stats.calls:>8} {rate} {ms(stats.avg_ms)} {ms(stats.p50_ms)} "
        f"{ms(stats.p95_ms)} {ms(stats.max_ms)} {stats.unique_users:>6}"
    )


def print_report_table(report: dict[str, Any]) -> None:
    period = report["report_period"]
    print(f"Access report for {text(report['subject'])}")
    print(f"Period: {period['from'] or 'start'} .. {period['to'] or 'now'}")
    print(f"Total accesses: {report['total_accesses']}  Unique users: {report['unique_users']}")
    verdict = "yes" if report["integrity_verified"] else f"NO ({report['integrity']['reason']})"
    print(f"Integrity verified: {verdict}")
    print()
    print(
        f"{'TIMESTAMP (UTC)':<27} {'ACCESSED BY':<16} {'ROLE':<18} {'TOOL':<24} "
        f"{'PURPOSE':<12} {'OK?':<4} TRACE"
    )
    for shown in report["accesses"]:
        access = {k: text(v) if isinstance(v, str) else v for k, v in shown.items()}
        ok = "yes" if access["success"] is True else "NO" if access["success"] is False else "-"
        print(
            f"{access['timestamp'] or '-':<27} {access['accessed_by'] or '-':<16} "
            f"{access['role'] or '-':<18} {access['tool'] or '-':<24} "
            f"{access['purpose'] or '-':<12} {ok:<4} "
            f"{access.get('trace_url') or access['trace_id'] or '-'}"
        )
