# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""What the statistics indexes (``schema.STATS_INDEXES``) cost appends: the same records appended
to a store that has them and to one whose statistics indexes were dropped, in the same run.

Run from the repository root::

    python bench/stats_indexes.py                       # 100,000 records, SQLite
    python bench/stats_indexes.py --records 200000 --sinks sqlite,postgres

For each sink it appends ``--records`` prebuilt bodies (``bench/query.py``'s year of tool calls)
through ``AuditLog.append`` in batches of ``--batch`` (512, the span processor's default), to a
store without the statistics indexes (the baseline) and to one with them, alternating the two for
``--rounds`` rounds, and prints each one's median records per second and their ratio.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from query import PG_URL, bodies

from opentelemetry_instrumentation_toolaudit.ledger import AuditLog, NoteSigner, open_sink
from opentelemetry_instrumentation_toolaudit.ledger.schema import STATS_INDEXES
from opentelemetry_instrumentation_toolaudit.ledger.stores._columns import index_name


def append_rate(
    url: str,
    records: list[dict[str, Any]],
    batch: int,
    dropped: Sequence[Sequence[str]] = (),
    origin: str = "bench.example/stats",
) -> float:
    """Records per second appended to a new store at ``url`` after dropping the indexes on the
    columns of ``dropped`` (none: the store as a writer makes it)."""
    sink = open_sink(url)  # a writer's opening makes the indexes: drop them after it
    drops = [f"DROP INDEX {index_name(columns)}" for columns in dropped]
    if drops and url.startswith("sqlite:"):
        with sqlite3.connect(url.split(":///", 1)[1]) as db:
            for statement in drops:
                db.execute(statement)
    elif drops:
        import psycopg

        base, schema = url.split("?options=-csearch_path%3D")
        with psycopg.connect(base, autocommit=True) as admin:
            for statement in drops:
                admin.execute(statement.replace("INDEX ", f'INDEX "{schema}".'))
    log = AuditLog(sink, signer=NoteSigner.generate(origin), checkpoint_interval=1e9)
    started = time.perf_counter()
    for i in range(0, len(records), batch):
        log.append(records[i : i + batch])
    took = time.perf_counter() - started
    log.close()
    return len(records) / took


def urls(kind: str, folder: str, n: int) -> tuple[str, str | None]:
    if kind == "sqlite":
        return f"sqlite:///{folder}/trail-{n}-{uuid.uuid4().hex[:6]}.db", None
    import psycopg

    schema = f"toolaudit_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_URL, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    return f"{PG_URL}?options=-csearch_path%3D{schema}", schema


def compare(
    description: str, indexes: Sequence[Sequence[str]], without: str, with_: str, origin: str
) -> None:
    """Parse the command line and print, for each sink, the append rate of stores without
    ``indexes`` (the baseline, labelled ``without``) and with them (labelled ``with_``)."""
    parser = argparse.ArgumentParser(description=description)
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
                    dropped = () if indexed else indexes
                    try:
                        rates[indexed].append(
                            append_rate(url, records, args.batch, dropped, origin)
                        )
                    finally:
                        if schema is not None:
                            import psycopg

                            with psycopg.connect(PG_URL, autocommit=True) as admin:
                                admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
            slow, fast = (statistics.median(rates[k]) for k in (False, True))
            print(
                f"{kind}: {args.records:,} records in batches of {args.batch}, median of "
                f"{args.rounds}: {without} {slow:,.0f} records/s (baseline), "
                f"{with_} {fast:,.0f} records/s ({fast / slow:.2f} x)"
            )


def main() -> None:
    compare(
        __doc__.splitlines()[0],
        STATS_INDEXES,
        "without the statistics indexes",
        "with them",
        "bench.example/stats",
    )


if __name__ == "__main__":
    main()
