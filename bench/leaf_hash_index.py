# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""What the entry-hash index (``schema.LEAF_HASH_INDEX``) costs appends: the same records appended
to a store that has it and to one whose index was dropped, in the same run.

Run from the repository root::

    python bench/leaf_hash_index.py                       # 100,000 records, SQLite
    python bench/leaf_hash_index.py --records 200000 --sinks sqlite,postgres

For each sink it appends ``--records`` prebuilt bodies (``bench/query.py``'s year of tool calls)
through ``AuditLog.append`` in batches of ``--batch`` (512, the span processor's default), to a
store without the index (the baseline) and to one with it, alternating the two for ``--rounds``
rounds, and prints each one's median records per second and their ratio. What the index saves the
access report's proofs check is printed by ``bench/query.py`` (``report (proofs)``).
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from query import PG_URL, bodies
from stats_indexes import urls

from opentelemetry_instrumentation_toolaudit.ledger import AuditLog, NoteSigner, open_sink
from opentelemetry_instrumentation_toolaudit.ledger.schema import LEAF_HASH_INDEX
from opentelemetry_instrumentation_toolaudit.ledger.stores._columns import index_name


def append_rate(url: str, records: list[dict[str, Any]], batch: int, indexed: bool) -> float:
    """Records per second appended to a new store at ``url``, with or without the index."""
    sink = open_sink(url)  # a writer's opening makes the index: drop it after it
    if not indexed:
        drop = f"DROP INDEX {index_name(LEAF_HASH_INDEX)}"
        if url.startswith("sqlite:"):
            with sqlite3.connect(url.split(":///", 1)[1]) as db:
                db.execute(drop)
        else:
            import psycopg

            base, schema = url.split("?options=-csearch_path%3D")
            with psycopg.connect(base, autocommit=True) as admin:
                admin.execute(drop.replace("INDEX ", f'INDEX "{schema}".'))
    log = AuditLog(sink, signer=NoteSigner.generate("bench.example/leaf"), checkpoint_interval=1e9)
    started = time.perf_counter()
    for i in range(0, len(records), batch):
        log.append(records[i : i + batch])
    took = time.perf_counter() - started
    log.close()
    return len(records) / took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--sinks", default="sqlite", help="comma-separated: sqlite, postgres")
    args = parser.parse_args()
    records = list(bodies(args.records))
    with tempfile.TemporaryDirectory() as folder:
        for kind in args.sinks.split(","):
            rates: dict[bool, list[float]] = {False: [], True: []}
            for n in range(args.rounds):
                for indexed in (False, True):
                    url, schema = urls(kind, folder, n)
                    try:
                        rates[indexed].append(append_rate(url, records, args.batch, indexed))
                    finally:
                        if schema is not None:
                            import psycopg

                            with psycopg.connect(PG_URL, autocommit=True) as admin:
                                admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
            without, with_ = (statistics.median(rates[k]) for k in (False, True))
            print(
                f"{kind}: {args.records:,} records in batches of {args.batch}, median of "
                f"{args.rounds}: without the entry-hash index {without:,.0f} records/s "
                f"(baseline), with it {with_:,.0f} records/s ({with_ / without:.2f} x)"
            )


if __name__ == "__main__":
    main()
