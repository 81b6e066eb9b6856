# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""What the orphan payload check adds to verify, beside the whole verify in the same run.

Run from the repository root::

    python bench/verify_orphans.py                     # 10^5 records, SQLite and PostgreSQL
    python bench/verify_orphans.py --records 20000

It writes ``--records`` record format 2 bodies to a fresh SQLite trail (and a PostgreSQL one when a
server answers, see ``bench/sink.py``), then prints the median time of ``verify`` over the whole
trail and of the check for payloads without a record that it includes (on a clean trail: one count
of the payloads against those the scan read), and the check's share of verify.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sink import drop_pg, pg_available, record_body

from opentelemetry_instrumentation_toolaudit.ledger import AuditLog, NoteSigner, open_sink, verify


def fill(url: str, n: int, signer: NoteSigner) -> None:
    log = AuditLog(open_sink(url), signer=signer, checkpoint_every=10_000, checkpoint_interval=3600)
    for i in range(0, n, 512):
        log.append([record_body(j) for j in range(i, min(n, i + 512))])
    log.close()


def measure(name: str, url: str, n: int, signer: NoteSigner, rounds: int) -> None:
    fill(url, n, signer)
    with open_sink(url, create=False) as sink:
        whole, check = [], []
        for _ in range(rounds):
            start = time.perf_counter()
            result = verify(sink, public_key=signer.verifier)
            whole.append(time.perf_counter() - start)
            assert result.ok, result.summary()
            start = time.perf_counter()
            assert sink.orphan_payloads(100, joined=result.size) == []
            check.append(time.perf_counter() - start)
    verify_s, check_s = statistics.median(whole), statistics.median(check)
    print(
        f"{name} ({n:,} records): verify {verify_s:.3f} s; the orphan payload check in it (timed "
        f"alone) {check_s * 1000:.1f} ms = {check_s / verify_s:.1%} of verify"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    signer = NoteSigner.generate("bench.example/audit")
    with tempfile.TemporaryDirectory() as tmp:
        measure("SQLite", f"sqlite:///{tmp}/audit.db", args.records, signer, args.rounds)
    pg = pg_available()
    if pg is None:
        print("PostgreSQL: no server answered (set TOOLAUDIT_BENCH_PG)")
        return
    try:
        measure("PostgreSQL", pg, args.records, signer, args.rounds)
    finally:
        drop_pg(pg)


if __name__ == "__main__":
    main()
