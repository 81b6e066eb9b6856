# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""SQLite append cost as the trail grows, and verify speed, beside the seeds' chain in the same run.

Run from the repository root::

    python bench/sink_growth.py                       # 10^6 records, the curve from 10^4 to 10^6
    python bench/sink_growth.py --records 200000 --pg-records 50000

It appends ``--records`` prebuilt record bodies to a fresh SQLite trail through ``AuditLog.append``
in batches of ``--batch`` (each durably committed, a checkpoint every 10^4 records) and prints, at
each point of the curve, the cost per record over the last ``--window`` records and the file size
per record. The target is the cost at the last point within 1.25x of the cost over the first 10^5
records. Then it verifies the whole trail, and a PostgreSQL trail of ``--pg-records`` records when
a server answers, and prints records verified per second beside the seeds' ``verify_integrity``
over the same number of entries (targets: 3x on SQLite, 1.5x on PostgreSQL). With matplotlib
installed, the curve is drawn to ``docs/img/sink-growth.png``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from seed_chain import ImmutableAuditLog
from sink import drop_pg, pg_available, record_body, seed_entry

from opentelemetry_instrumentation_toolaudit.ledger import AuditLog, NoteSigner, open_sink, verify

IMAGE = Path(__file__).resolve().parent.parent / "docs" / "img" / "sink-growth.png"


def seed_verify_rate(n: int) -> tuple[float, float]:
    """The seeds' chain: records appended and verified per second over ``n`` entries."""
    entries = [seed_entry(i) for i in range(n)]
    log = ImmutableAuditLog()
    start = time.perf_counter()
    for entry in entries:
        log.append(entry)
    appended = time.perf_counter() - start
    start = time.perf_counter()
    assert log.verify_integrity()
    return n / appended, n / (time.perf_counter() - start)


def sink_files_size(path: str) -> int:
    return sum(os.path.getsize(p) for p in (path, f"{path}-wal") if os.path.exists(p))


def grow(
    url: str, path: str, n: int, batch: int, window: int, signer: NoteSigner
) -> list[tuple[int, float, float, float]]:
    """``(records, µs per record over the last window, CPU µs of this process per record over it,
    bytes per record)`` every ``window`` records."""
    log = AuditLog(open_sink(url), signer=signer, checkpoint_every=10_000, checkpoint_interval=3600)
    points = []
    done = 0
    while done < n:
        bodies = [record_body(i) for i in range(done, min(n, done + window))]
        start, cpu = time.perf_counter(), time.process_time()
        for i in range(0, len(bodies), batch):
            log.append(bodies[i : i + batch])
        spent, cpu = time.perf_counter() - start, time.process_time() - cpu
        done += len(bodies)
        points.append(
            (done, spent / len(bodies) * 1e6, cpu / len(bodies) * 1e6, sink_files_size(path) / done)
        )
    log.close()
    return points


def verify_rate(url: str, signer: NoteSigner) -> tuple[int, float]:
    with open_sink(url, create=False) as sink:
        start = time.perf_counter()
        result = verify(sink, public_key=signer.verifier)
        spent = time.perf_counter() - start
    assert result.ok, result.summary()
    return result.size, result.size / spent


def fill_pg(url: str, n: int, batch: int, signer: NoteSigner) -> None:
    log = AuditLog(open_sink(url), signer=signer, checkpoint_every=10_000, checkpoint_interval=3600)
    for i in range(0, n, batch):
        log.append([record_body(j) for j in range(i, min(n, i + batch))])
    log.close()


def plot(points: list[tuple[int, float, float, float]], baseline: float) -> str:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "(matplotlib not installed: no plot)"
    fig, ax = plt.subplots(figsize=(7, 3.6))
    ax.plot([p[0] for p in points], [p[1] for p in points], label="SQLite append, µs/record")
    ax.plot([p[0] for p in points], [p[2] for p in points], label="of which CPU in this process")
    ax.axhline(baseline, color="grey", linestyle=":", label="first 10^5 records")
    ax.axhline(baseline * 1.25, color="red", linestyle="--", label="1.25x that")
    ax.set_xscale("log")
    ax.set_xlabel("records in the trail")
    ax.set_ylabel("µs per record (last window)")
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper left", fontsize="small")
    fig.tight_layout()
    IMAGE.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(IMAGE, dpi=110)
    return str(IMAGE)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--window", type=int, default=10_000)
    parser.add_argument("--pg-records", type=int, default=100_000)
    parser.add_argument("--no-plot", action="store_true")
    args = parser.parse_args(argv)
    signer = NoteSigner.generate("bench.example/audit")

    with tempfile.TemporaryDirectory() as tmp:
        path = f"{tmp}/growth.db"
        points = grow(f"sqlite:///{path}", path, args.records, args.batch, args.window, signer)
        first = [p for p in points if p[0] <= 100_000]
        baseline = sum(p[1] for p in first) / len(first)
        print(
            f"SQLite append, batches of {args.batch}, cost per record over each last {args.window:,}:"
        )
        print(
            f"{'records':>10}  {'µs/record':>9}  {'x first 10^5':>12}  {'CPU µs':>7}  "
            f"{'bytes/record':>12}"
        )
        shown = {10**4, 10**5, 2 * 10**5, 5 * 10**5, 10**6, points[-1][0]}
        for n, cost, cpu, size in points:
            if n in shown or n % (args.records // 10 or 1) == 0:
                print(
                    f"{n:>10,}  {cost:>9.1f}  {cost / baseline:>11.2f}x  {cpu:>7.1f}  {size:>12,.0f}"
                )
        # The last three windows: one window's figure swings with other work on a shared machine.
        last = sum(p[1] for p in points[-3:]) / len(points[-3:])
        verdict = "met" if last <= 1.25 * baseline else "NOT met"
        print(
            f"first 10^5: {baseline:.1f} µs/record; last {3 * args.window:,} before "
            f"{points[-1][0]:,}: {last:.1f} µs/record "
            f"= {last / baseline:.2f}x (target <= 1.25x: {verdict})"
        )
        size, sqlite_rate = verify_rate(f"sqlite:///{path}", signer)
        seed_append, seed_verify = seed_verify_rate(min(size, 200_000))
        print(
            f"seeds' chain (in memory): append {seed_append:,.0f} rec/s, verify {seed_verify:,.0f} rec/s"
        )
        print(
            f"verify SQLite ({size:,} records): {sqlite_rate:,.0f} rec/s = "
            f"{sqlite_rate / seed_verify:.2f}x the seed (target >= 3x)"
        )
    pg = pg_available() if args.pg_records else None
    if pg is None:
        print("verify PostgreSQL: no server answered (set TOOLAUDIT_BENCH_PG)")
    else:
        try:
            fill_pg(pg, args.pg_records, args.batch, signer)
            size, pg_rate = verify_rate(pg, signer)
            print(
                f"verify PostgreSQL ({size:,} records): {pg_rate:,.0f} rec/s = "
                f"{pg_rate / seed_verify:.2f}x the seed (target >= 1.5x)"
            )
        finally:
            drop_pg(pg)
    if not args.no_plot:
        print(f"plot: {plot(points, baseline)}")


if __name__ == "__main__":
    main()
