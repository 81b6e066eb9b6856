# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""What the SQLite sink's sliced wait for the write lock costs an uncontended append.

Run from the repository root::

    python bench/sqlite_lock_wait.py
    python bench/sqlite_lock_wait.py --number 50000 --repeat 7

Both figures come from this one run, on one WAL database in a temporary directory: a plain
``BEGIN IMMEDIATE`` (the baseline, waiting on SQLite's busy timeout alone) and the sink's
``begin_immediate`` (short busy-timeout slices, so that a lock nobody holds fails an append at
once), each followed by ``ROLLBACK``. An append adds this difference to its durable commit.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from opentelemetry_instrumentation_toolaudit.ledger.stores._sqlite_lock import (
    BUSY_TIMEOUT,
    begin_immediate,
)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--number", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as directory:
        path = str(Path(directory) / "audit.db")
        conn = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("CREATE TABLE t (x)")

        def plain() -> None:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")

        def sliced() -> None:
            begin_immediate(conn, path)
            conn.execute("ROLLBACK")

        figures = {}
        for name, step in (("plain BEGIN IMMEDIATE (baseline)", plain), ("sliced wait", sliced)):
            best = min(timeit.repeat(step, number=args.number, repeat=args.repeat))
            figures[name] = best / args.number * 1e6
        conn.close()
    for name, micros in figures.items():
        print(f"{name:34s} {micros:7.2f} µs per lock taken and released")
    baseline, sliced_cost = figures.values()
    print(f"{'added per append':34s} {sliced_cost - baseline:7.2f} µs")


if __name__ == "__main__":
    main()
