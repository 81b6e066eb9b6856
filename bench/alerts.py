# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""What the alert rules cost: the rules over a trail, and the audit exporter with them on and off.

Measured in one run, on one machine:

* ``rules``: ``evaluate`` over a synthetic trail of clinicians' accesses (every rule enabled),
  beside the baseline of walking the same records and parsing their times only;
* ``exporter``: audited tool calls through a ``BatchSpanProcessor`` into a SQLite sink, with online
  alerts off (the baseline) and on: the app thread's cost per call, and the wall time until every
  record (and every alert record) is committed at shutdown.

Usage: ``python bench/alerts.py [--records N] [--calls N]``
"""

from __future__ import annotations

import argparse
import datetime
import tempfile
import time
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from opentelemetry_instrumentation_toolaudit import (
    AuditLogExporter,
    ToolAuditInstrumentor,
    audit_context,
    audited_tool,
)
from opentelemetry_instrumentation_toolaudit.alerts import evaluate
from opentelemetry_instrumentation_toolaudit.ledger import AuditLog, NoteSigner, open_sink

START = datetime.datetime(2026, 11, 2, 9, 0, tzinfo=datetime.timezone.utc)


def trail(n: int) -> list[dict[str, Any]]:
    """``n`` accesses by 30 users to 2000 subjects over working hours."""
    records = []
    for seq in range(n):
        moment = START + datetime.timedelta(days=seq // 4000, minutes=(seq % 4000) * 480 / 4000)
        records.append(
            {
                "seq": seq,
                "event_type": "tool.call",
                "start_time": f"{moment:%Y-%m-%dT%H:%M:%S.%f}Z",
                "user_id": f"usr_{seq % 30}",
                "subject": f"hmac-sha256:kb:{(seq * 7919) % 2000:032x}",
                "tool_name": ("access_patient_record", "update_treatment")[seq % 2],
                "success": seq % 97 != 0,
                "purpose": "TREAT",
            }
        )
    return records


def times_only(records: list[dict[str, Any]]) -> None:
    for record in records:
        datetime.datetime.fromisoformat(record["start_time"].replace("Z", "+00:00"))


def per_record(fn: Any, records: list[dict[str, Any]]) -> float:
    start = time.perf_counter()
    fn(records)
    return (time.perf_counter() - start) / len(records) * 1e6


def update_order_status(order_id: str, status: str) -> dict[str, Any]:
    """Change an order's status."""
    return {"order_id": order_id, "status": status}


def exporter_case(
    calls: int, workdir: Path, signer: NoteSigner, alerts: bool
) -> tuple[float, float, int]:
    url = f"sqlite:///{workdir / f'alerts-{alerts}.db'}"
    exporter = AuditLogExporter(AuditLog(open_sink(url), signer=signer), alerts=alerts)
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(exporter, max_queue_size=1 << 17))
    instrumentor = ToolAuditInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    audited = audited_tool(update_order_status)
    started = time.perf_counter()
    try:
        with audit_context(user_id="usr_98765", user_role="support_agent", model="gpt-4.1"):
            for _ in range(calls):
                audited("ORD-123", "shipped")
        app = (time.perf_counter() - started) / calls * 1e6
    finally:
        instrumentor.uninstrument()
        provider.shutdown()
    total = time.perf_counter() - started
    with open_sink(url, create=False) as sink:
        return app, total, sink.size()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=5000)
    args = parser.parse_args(argv)
    records = trail(args.records)
    baseline = per_record(times_only, records)
    rules = per_record(lambda r: evaluate(r, pseudonym=str), records)
    print(f"records={args.records}, 30 users, 2000 subjects, every rule enabled")
    print(f"  parse times only (baseline)  {baseline:8.2f} µs/record")
    print(
        f"  alert rules                  {rules:8.2f} µs/record  {rules / baseline:6.2f}x baseline"
    )
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        signer = NoteSigner.from_file(workdir / "signing.key")
        (workdir / "warm-up").mkdir()
        exporter_case(min(args.calls, 500), workdir / "warm-up", signer, False)
        rows = [(name, *exporter_case(args.calls, workdir, signer, on)) for name, on in (("alerts off (baseline)", False), ("alerts on", True))]  # fmt: skip
    print(f"calls={args.calls}, BatchSpanProcessor, SQLite sink")
    base_app, base_total = rows[0][1], rows[0][2]
    for name, app, total, size in rows:
        print(
            f"  {name:<22} app thread {app:8.2f} µs/call ({app / base_app:5.2f}x)  "
            f"all committed in {total:6.2f} s ({total / base_total:5.2f}x)  {size} records"
        )


if __name__ == "__main__":
    main()
