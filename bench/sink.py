# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Audit sink throughput: durable append and full verify on each sink, beside the seeds' naive chain.

Run from the repository root::

    python bench/sink.py                 # 50k records per sink, proofs at 10^4, 10^5, 10^6
    python bench/sink.py --records 20000 --proof-sizes 10000 100000

Everything is measured in this one run on this machine:

* ``seed``: ``bench/seed_chain.py``'s ``ImmutableAuditLog`` (in memory, lost on exit) appending the
  seed's ``AuditEntry`` and verifying its chain;
* each sink through ``AuditLog.append`` in batches (``--batch``, as an exporter hands them over),
  every batch durably committed before the call returns (SQLite ``synchronous=FULL``, JSONL fsync,
  PostgreSQL commit), then ``verify`` of the whole trail (hashes, links, sequence numbers, columns
  against the canonical bytes, Merkle root against the signed checkpoints);
* inclusion proofs on SQLite for logs of growing size: proof generation (stored subtree hashes) and
  its offline check, averaged over random records.

Records carry the same tool call as the seed's entries plus what an audit record holds besides
(event id and type, trace and span ids, roles, trigger, service): they are larger than the seed's.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from seed_chain import AuditEntry, ImmutableAuditLog

from opentelemetry_instrumentation_toolaudit.export import new_event_id
from opentelemetry_instrumentation_toolaudit.ledger import (
    AuditLog,
    NoteSigner,
    check_proof,
    open_sink,
    prove,
    verify,
)

PG_URL = os.environ.get("TOOLAUDIT_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")


def seed_entry(i: int) -> AuditEntry:
    return AuditEntry(
        timestamp=f"2026-11-24T10:{i // 60 % 60:02d}:{i % 60:02d}.123456Z",
        conversation_id=f"conv_{i % 500}",
        turn_number=i % 20,
        user_id=f"usr_{i % 1000}",
        tool_name=("lookup_order", "issue_refund", "get_customer")[i % 3],
        arguments={"order_id": f"ORD-{i}", "reason": "damaged in transit"},
        result_summary={"success": True, "order_id": f"ORD-{i}", "status": "refunded"},
        duration_ms=12.5 + i % 100,
        model="gpt-4.1",
        success=i % 10 != 0,
        session_metadata={"client_address": "10.0.1.5", "user_agent": "SupportDashboard/2.1"},
    )


def record_body(i: int) -> dict[str, Any]:
    e = seed_entry(i)
    return {
        "event_id": new_event_id(),  # time-ordered, as the exporter makes them
        "event_type": "tool.call",
        "recorded_at": e.timestamp,
        "start_time": e.timestamp,
        "end_time": e.timestamp,
        "duration_ms": e.duration_ms,
        "trace_id": f"{i * 2654435761 % 2**128:032x}",
        "span_id": f"{i * 40503 % 2**64:016x}",
        "tool_name": e.tool_name,
        "call_id": f"call_{i}",
        "user_id": e.user_id,
        "user_roles": ["support_agent"],
        "conversation_id": e.conversation_id,
        "turn_number": e.turn_number,
        "model": e.model,
        "provider": "openai",
        "trigger": "user_request",
        "arguments": e.arguments,
        "result_summary": e.result_summary,
        "success": e.success,
        "client_address": "10.0.1.5",
        "user_agent": "SupportDashboard/2.1",
        "service_name": "support-agent",
        "service_version": "1.4.2",
        "deployment_environment": "production",
    }


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds:>10,.0f} rec/s"


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench_seed(n: int) -> tuple[float, float]:
    entries = [seed_entry(i) for i in range(n)]
    log = ImmutableAuditLog()
    append = timed(lambda: [log.append(e) for e in entries])
    ok: list[bool] = []
    check = timed(lambda: ok.append(log.verify_integrity()))
    assert ok == [True]
    return n / append, n / check


def pg_available() -> str | None:
    try:
        import psycopg

        conn = psycopg.connect(PG_URL, autocommit=True, connect_timeout=3)
    except Exception:  # noqa: BLE001 - any failure just means no PostgreSQL row
        return None
    schema = f"toolaudit_bench_{os.getpid()}"
    conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    conn.execute(f'CREATE SCHEMA "{schema}"')
    conn.close()
    return f"{PG_URL}?options=-csearch_path%3D{schema}"


def drop_pg(url: str) -> None:
    import psycopg

    schema = url.rsplit("%3D", 1)[1]
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def bench_sink(url: str, n: int, batch: int, signer: NoteSigner) -> tuple[float, float, str]:
    bodies = [record_body(i) for i in range(n)]
    log = AuditLog(open_sink(url), signer=signer, checkpoint_every=10_000, checkpoint_interval=3600)

    def append_all() -> None:
        for i in range(0, n, batch):
            log.append(bodies[i : i + batch])

    append = timed(append_all)
    log.close()
    results = []
    with open_sink(url, create=False) as sink:
        check = timed(lambda: results.append(verify(sink, public_key=signer.verifier)))
    assert results[0].ok, results[0].summary()
    return n / append, n / check, results[0].summary()


def bench_proofs(
    directory: str, sizes: list[int], batch: int, signer: NoteSigner
) -> list[tuple[int, float, float, int]]:
    url = f"sqlite:///{directory}/proofs.db"
    log = AuditLog(open_sink(url), signer=signer, checkpoint_every=10**9, checkpoint_interval=3600)
    rng = random.Random(7)
    out = []
    done = 0
    for size in sorted(sizes):
        while done < size:
            step = min(batch * 4, size - done)
            log.append([record_body(i) for i in range(done, done + step)])
            done += step
        note = log.checkpoint()
        prove_times, check_times, path_len = [], [], 0
        for seq in rng.sample(range(size), 200):
            start = time.perf_counter()
            proof = prove(log.sink, seq, checkpoint=note)
            prove_times.append(time.perf_counter() - start)
            start = time.perf_counter()
            check_proof(proof, signer.verifier)
            check_times.append(time.perf_counter() - start)
            path_len = max(path_len, len(proof.path))
        out.append((size, statistics.median(prove_times), statistics.median(check_times), path_len))
    log.close()
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument(
        "--batch", type=int, default=512, help="records per append (exporter batch)"
    )
    parser.add_argument("--proof-sizes", type=int, nargs="*", default=[10**4, 10**5, 10**6])
    parser.add_argument("--sinks", nargs="*", default=["sqlite", "jsonl", "postgres"])
    args = parser.parse_args(argv)
    signer = NoteSigner.generate("bench.toolaudit/log")
    n = args.records
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {n:,} records, batches of {args.batch}"
    )
    seed_append, seed_verify = bench_seed(n)
    print(
        f"{'seed (in memory, lost on exit)':34} append {rate(n, n / seed_append)}   verify {rate(n, n / seed_verify)}"
    )
    with tempfile.TemporaryDirectory() as directory:
        for kind in args.sinks:
            if kind == "postgres":
                url = pg_available()
                if url is None:
                    print(f"{'postgresql':34} skipped: not reachable at {PG_URL}")
                    continue
            else:
                url = f"{kind}:///{directory}/bench.{kind}"
            try:
                app, ver, _ = bench_sink(url, n, args.batch, signer)
            finally:
                if kind == "postgres":
                    drop_pg(url)
            label = {
                "sqlite": "sqlite (synchronous=FULL)",
                "jsonl": "jsonl (fsync)",
                "postgres": "postgresql (commit)",
            }[kind]
            print(
                f"{label:34} append {rate(n, n / app)} ({app / seed_append:.2f}x seed)"
                f"   verify {rate(n, n / ver)} ({ver / seed_verify:.2f}x seed)"
            )
        if args.proof_sizes:
            print("inclusion proofs (sqlite, median of 200 random records):")
            for size, prove_s, check_s, path_len in bench_proofs(
                directory, args.proof_sizes, args.batch, signer
            ):
                print(
                    f"  {size:>10,} records: prove {prove_s * 1e3:7.3f} ms, check {check_s * 1e3:6.3f} ms,"
                    f" path {path_len} hashes"
                )


if __name__ == "__main__":
    main()
