# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Query latency on large trails: each query kind's median time beside a full scan of the trail.

Run from the repository root::

    python bench/query.py                                  # 10^5 and 10^6 records, SQLite
    python bench/query.py --sizes 100000 --sinks sqlite,postgres --repeat 5
    python bench/query.py --sizes 100000 --sinks postgres --vacuum   # as after autovacuum
    python bench/query.py --sizes 1000000 --only "report (proofs)"   # some query kinds only

For each sink and size it builds a trail (prebuilt bodies appended through ``AuditLog.append`` in
batches of ``--batch``: a year of tool calls by 500 users of 40 tools about 5,000 subjects, 5 %
failures), then times, with the backend ``backend_for(sink)`` picks (the store's indexed
``select`` where it has one, else a scan), the median of ``--repeat`` runs of:

* ``scan``: every record read and decoded, the same-run baseline the others are printed beside;
* ``conversation``: one conversation's records; ``tool failures 24h``: one tool's failures in the
  last 24 hours; ``subject 6 months``: one subject's tool calls over six months;
* ``stats by tool 24h`` and ``stats by tool, all``; ``stats by tool, calls``: the same of the
  ``tool.call`` records (what ``toolaudit stats --by tool`` computes); ``stats, all``: not grouped;
* ``report (proofs)`` and ``report (full)``: the whole access report for one subject over six
  months, integrity checked by inclusion proofs or by verifying the trail;
* ``fhir export 1 month``: AuditEvents (NDJSON) of one month of records, in records per second,
  and ``fhir conversion``: the same records already read, turned into AuditEvents (the export's
  own cost, without the query).
"""

from __future__ import annotations

import argparse
import datetime
import io
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from opentelemetry_instrumentation_toolaudit.ledger import AuditLog, NoteSigner, open_sink
from opentelemetry_instrumentation_toolaudit.query import (
    AuditQuery,
    Filter,
    ScanBackend,
    Selection,
    access_report,
    backend_for,
    fhir_ndjson,
)

START = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
YEAR_SECONDS = 365 * 86400
TOOLS = [f"tool_{i:02d}" for i in range(40)]
PG_URL = os.environ.get("TOOLAUDIT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def stamp(moment: datetime.datetime) -> str:
    return f"{moment:%Y-%m-%dT%H:%M:%S.%f}Z"


def bodies(n: int) -> Iterator[dict[str, Any]]:
    """``n`` tool-call bodies spread evenly over a year."""
    step = YEAR_SECONDS / n
    for i in range(n):
        moment = START + datetime.timedelta(seconds=i * step)
        text = stamp(moment)
        yield {
            "event_id": uuid.UUID(int=i + 1).hex,
            "event_type": "tool.call",
            "recorded_at": text,
            "start_time": text,
            "trace_id": f"{(i * 2654435761) % (1 << 128):032x}",
            "span_id": f"{i + 1:016x}",
            "tool_name": TOOLS[i % len(TOOLS)],
            "tool_action": "read",
            "user_id": f"usr_{i % 500}",
            "user_roles": ["physician" if i % 3 else "nurse"],
            "conversation_id": f"conv_{i % 20000}",
            "turn_number": i // 20000 + 1,
            "model": "gpt-4.1" if i % 2 else "claude-sonnet-4",
            "purpose": "treatment",
            "subject": f"hmac-sha256:kbench:{i % 5000:032x}",
            "arguments": {"patient_id": f"hmac-sha256:kbench:{i % 5000:032x}", "fields": ["a"]},
            "result_summary": {"status": "ok"},
            "success": i % 20 != 7,
            "duration_ms": float(5 + i % 200),
            "service_name": "records-assistant",
        }


def build(url: str, n: int, batch: int, signer: NoteSigner) -> float:
    """Write ``n`` records to ``url``; seconds taken."""
    started = time.perf_counter()
    log = AuditLog(open_sink(url), signer=signer, checkpoint_every=batch, checkpoint_interval=1e9)
    pending: list[dict[str, Any]] = []
    for body in bodies(n):
        pending.append(body)
        if len(pending) >= batch:
            log.append(pending)
            pending = []
    if pending:
        log.append(pending)
    log.close()
    return time.perf_counter() - started


def median_ms(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def run(url: str, n: int, repeat: int, signer: NoteSigner, only: set[str] | None = None) -> None:
    end = START + datetime.timedelta(seconds=YEAR_SECONDS)
    day_ago = stamp(end - datetime.timedelta(days=1))
    half_year = (stamp(START), stamp(START + datetime.timedelta(days=182)))
    subject = f"hmac-sha256:kbench:{42:032x}"
    month = (stamp(START), stamp(START + datetime.timedelta(days=31)))
    with open_sink(url, create=False) as sink:
        query = AuditQuery(sink)
        backend = type(backend_for(sink)).__name__
        print(f"\n{url.split('?')[0]}: {n:,} records, backend {backend}")

        def count(where: Filter) -> int:
            return sum(1 for _ in query.search(where))

        # One full read is the baseline (at 10^6 records it is the slowest figure here).
        scan = median_ms(lambda: sum(1 for _ in ScanBackend(sink).select(Selection())), 1)
        cases: list[tuple[str, Callable[[], Any]]] = [
            ("conversation", lambda: count(Filter(conversation="conv_4242"))),
            ("tool failures 24h", lambda: count(Filter(tool="tool_07", success=False, since=day_ago))),
            ("subject 6 months", lambda: count(Filter(subject=subject, since=half_year[0], until=half_year[1]))),
            ("stats by tool 24h", lambda: query.stats(Filter(since=day_ago), by="tool")),
            ("stats by tool, all", lambda: query.stats(Filter(), by="tool")),
            ("stats by tool, calls", lambda: query.stats(Filter(event_type="tool.call"), by="tool")),
            ("stats, all", lambda: query.stats(Filter())),
            ("report (proofs)", lambda: access_report(query, subject, *half_year, [signer.verifier], integrity_method="proofs")),
            ("report (full)", lambda: access_report(query, subject, *half_year, [signer.verifier], integrity_method="full")),
        ]  # fmt: skip
        print(f"  {'scan (baseline)':<22} {scan:>10.1f} ms")
        for name, fn in cases:
            if only is not None and name not in only:
                continue
            took = median_ms(fn, repeat)
            print(f"  {name:<22} {took:>10.1f} ms   ({took / scan:.2f} x scan)")
        if only is not None and not only & {"fhir export 1 month", "fhir conversion"}:
            return
        exported = [0]

        def export() -> None:
            out = io.StringIO()
            exported[0] = 0
            for line in fhir_ndjson(query.search(Filter(since=month[0], until=month[1]))):
                out.write(line)
                exported[0] += 1

        took = median_ms(export, repeat)
        rate = exported[0] / (took / 1000) if took else 0.0
        print(
            f"  {'fhir export 1 month':<22} {took:>10.1f} ms   {exported[0]:,} records, {rate:,.0f} records/s"
        )
        month_results = list(query.search(Filter(since=month[0], until=month[1])))

        def convert() -> None:
            out = io.StringIO()
            for line in fhir_ndjson(month_results):
                out.write(line)

        took = median_ms(convert, repeat)
        rate = len(month_results) / (took / 1000) if took else 0.0
        print(f"  {'fhir conversion':<22} {took:>10.1f} ms   {rate:,.0f} records/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--sinks", default="sqlite", help="comma-separated: sqlite, postgres")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--batch", type=int, default=10000)
    parser.add_argument(
        "--vacuum",
        action="store_true",
        help="PostgreSQL: VACUUM (ANALYZE) the records table once built, as autovacuum does to a "
        "table once it has grown (index-only scans need its visibility map)",
    )
    parser.add_argument(
        "--only",
        help="comma-separated query kinds to time (as printed, e.g. 'report (proofs)'); "
        "default: all",
    )
    args = parser.parse_args()
    only = None if args.only is None else {name.strip() for name in args.only.split(",")}
    signer = NoteSigner.generate("bench.example/query")
    with tempfile.TemporaryDirectory() as folder:
        for size in (int(s) for s in args.sizes.split(",")):
            for kind in args.sinks.split(","):
                schema = None
                if kind == "sqlite":
                    url = f"sqlite:///{folder}/trail-{size}.db"
                else:
                    import psycopg

                    schema = f"toolaudit_bench_{uuid.uuid4().hex[:8]}"
                    with psycopg.connect(PG_URL, autocommit=True) as admin:
                        admin.execute(f'CREATE SCHEMA "{schema}"')
                    url = f"{PG_URL}?options=-csearch_path%3D{schema}"
                try:
                    took = build(url, size, args.batch, signer)
                    print(f"\nbuilt {kind} trail of {size:,} records in {took:.1f} s")
                    if schema is not None and args.vacuum:
                        import psycopg

                        started = time.perf_counter()
                        with psycopg.connect(PG_URL, autocommit=True) as admin:
                            admin.execute(f'VACUUM (ANALYZE) "{schema}".audit_records')
                        took = time.perf_counter() - started
                        print(f"VACUUM (ANALYZE) of the records table: {took:.1f} s")
                    run(url, size, args.repeat, signer, only)
                finally:
                    if schema is not None:
                        import psycopg

                        with psycopg.connect(PG_URL, autocommit=True) as admin:
                            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


if __name__ == "__main__":
    main()
