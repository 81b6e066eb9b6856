# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""One audit log versus one log per tenant on the same PostgreSQL: records per second committed by
N writer processes.

Run from the repository root (PostgreSQL at ``$TOOLAUDIT_BENCH_PG``, default
``postgresql://postgres@127.0.0.1:5432/test``)::

    python bench/logs.py                       # 4 writers, 5,000 records each, batches of 100
    python bench/logs.py --writers 8 --records 20000 --batch 500

Both set-ups run in this one run, on the same server, with the same writers and records
(``bench/sink.py``'s tool-call records), each batch committed before the next is sent:

* ``1 log``: every writer appends to one chain (one schema), taking turns on its lock;
* ``N logs``: each writer appends to a chain of its own (a schema each), as a log per tenant or
  service does.
"""

from __future__ import annotations

import argparse
import multiprocessing
import multiprocessing.synchronize
import os
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sink import record_body

from opentelemetry_instrumentation_toolaudit.ledger import AuditLog, NoteSigner, open_sink

PG_URL = os.environ.get("TOOLAUDIT_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")


def schema_url(schema: str) -> str:
    return f"{PG_URL}?options=-csearch_path%3D{schema}"


def write(
    url: str, first: int, records: int, batch: int, start: multiprocessing.synchronize.Event
) -> None:
    """One writer: ``records`` records from number ``first`` on, ``batch`` per durable append."""
    bodies = [record_body(i) for i in range(first, first + records)]
    signer = NoteSigner.generate("bench.toolaudit/logs")
    log = AuditLog(open_sink(url), signer=signer, checkpoint_every=10**9, checkpoint_interval=3600)
    start.wait()
    for i in range(0, records, batch):
        log.append(bodies[i : i + batch])
    log.close()


def run(urls: list[str], writers: int, records: int, batch: int) -> float:
    """Seconds for ``writers`` processes to commit ``records`` each; writer k writes ``urls[k]``."""
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    processes = [
        context.Process(target=write, args=(urls[k], k * records, records, batch, start))
        for k in range(writers)
    ]
    for process in processes:
        process.start()
    time.sleep(3)  # every writer has built its records and opened its log
    began = time.perf_counter()
    start.set()
    for process in processes:
        process.join()
        if process.exitcode != 0:
            raise SystemExit(f"a writer failed with exit code {process.exitcode}")
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--records", type=int, default=5_000, help="records per writer")
    parser.add_argument("--batch", type=int, default=100, help="records per append")
    args = parser.parse_args()

    import psycopg

    run_id = uuid.uuid4().hex[:6]
    schemas = [f"toolaudit_bench_logs_{run_id}_{k}" for k in range(args.writers)]
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        for schema in schemas:
            conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        one = run([schema_url(schemas[0])] * args.writers, args.writers, args.records, args.batch)
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schemas[0]}" CASCADE')
            conn.execute(f'CREATE SCHEMA "{schemas[0]}"')
        many = run([schema_url(s) for s in schemas], args.writers, args.records, args.batch)
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            for schema in schemas:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')

    total = args.writers * args.records
    print(
        f"{args.writers} writers x {args.records} records, batches of {args.batch}, "
        f"{os.cpu_count()} cores, PostgreSQL"
    )
    print(f"{'set-up':<10}{'seconds':>10}{'records/s':>12}{'vs 1 log':>10}")
    for name, seconds in (("1 log", one), (f"{args.writers} logs", many)):
        print(f"{name:<10}{seconds:>10.2f}{total / seconds:>12,.0f}{one / seconds:>9.2f}x")


if __name__ == "__main__":
    main()
