# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""What witnessing costs the writer, and what one witness answers, beside a same-run baseline.

Run from the repository root (needs the ``witness`` extra)::

    python bench/witness.py                      # 20k records, a checkpoint every 100
    python bench/witness.py --records 50000 --every 50

Measured in this one run on this machine, on SQLite (``synchronous=FULL``, one record per append):

* appends/s of ``AuditLog`` with no witness (the baseline), then with one local witness process
  (``toolaudit witness`` on loopback) that receives every checkpoint, and then with one witness
  that refuses connections: the submission runs on a background thread, so the three should match;
* how many of the checkpoints came back cosigned, and the failures counted;
* add-checkpoint round trips per second to the witness (consistency proof checked, state fsynced,
  cosignature returned), one client, beside the same number of bare HTTP POSTs answered 404.
"""

from __future__ import annotations

import argparse
import base64
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from opentelemetry_instrumentation_toolaudit.audit._checkpoint import sign_checkpoint
from opentelemetry_instrumentation_toolaudit.audit._merkle import (
    consistency_proof,
    hash_leaf,
    root_from_leaf_hashes,
    subtree_from_leaves,
)

from opentelemetry_instrumentation_toolaudit.audit import (
    AuditLog,
    Checkpoint,
    NoteSigner,
    open_sink,
)
from opentelemetry_instrumentation_toolaudit.witness import Cosigner, parse_witnesses


def body(i: int) -> dict[str, object]:
    return {
        "event_id": f"{i:032x}",
        "event_type": "tool.call",
        "recorded_at": f"2026-11-24T10:{i // 60 % 60:02d}:{i % 60:02d}.000000Z",
        "trace_id": f"{i * 7919:032x}",
        "span_id": f"{i:016x}",
        "tool_name": "lookup_order",
        "user_id": f"usr_{i % 7}",
        "arguments": {"order_id": f"ORD-{i}"},
        "success": True,
    }


def start_witness(directory: Path, log_vkey: Path) -> tuple[subprocess.Popen[str], str, str]:
    stderr = directory / "witness.stderr"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "opentelemetry_instrumentation_toolaudit.cli",
            "witness",
            "--key",
            str(directory / "witness.key"),
            "--state",
            str(directory / "state"),
            "--listen",
            "127.0.0.1:0",
            "--log-key",
            str(log_vkey),
            "--name",
            "bench.witness/w1",
        ],
        stdout=subprocess.PIPE,
        stderr=stderr.open("w"),
        text=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = re.search(r"listening on (http://\S+)", stderr.read_text())
        if found:
            assert process.stdout is not None
            return process, found.group(1), process.stdout.readline().strip()
        time.sleep(0.05)
    process.kill()
    raise SystemExit(f"the witness did not start: {stderr.read_text()}")


def appends(directory: Path, name: str, signer: NoteSigner, records: int, every: int, witnesses):
    log = AuditLog(
        open_sink(f"sqlite:///{directory}/{name}.db"),
        signer=signer,
        checkpoint_every=every,
        checkpoint_interval=3600,
        witnesses=witnesses,
    )
    start = time.perf_counter()
    for i in range(records):
        log.append([body(i)])
    elapsed = time.perf_counter() - start
    log.close()
    return records / elapsed, log


def post(url: str, data: bytes) -> int:
    request = urllib.request.Request(url, data=data, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as error:
        with error:
            return error.code


def round_trips(url: str, signer: NoteSigner, rounds: int) -> tuple[float, float]:
    """add-checkpoint round trips/s (each one a new, consistent checkpoint), and bare 404 POSTs/s."""
    origin = f"{signer.name}/{'ab' * 16}"
    leaves = [hash_leaf(str(i).encode()) for i in range(rounds + 1)]
    subtree = subtree_from_leaves(leaves)
    old = 0
    start = time.perf_counter()
    for size in range(1, rounds + 1):
        note = sign_checkpoint(
            Checkpoint(origin, size, root_from_leaf_hashes(leaves[:size])), signer
        )
        proof = consistency_proof(old, size, subtree) if old else []
        lines = "".join(base64.b64encode(h).decode() + "\n" for h in proof)
        status = post(f"{url}/add-checkpoint", f"old {old}\n{lines}\n{note}".encode())
        assert status == 200, status
        old = size
    cosigned = rounds / (time.perf_counter() - start)
    start = time.perf_counter()
    for _ in range(rounds):
        post(f"{url}/nowhere", b"")
    bare = rounds / (time.perf_counter() - start)
    return cosigned, bare


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--every", type=int, default=100, help="records per checkpoint")
    parser.add_argument("--rounds", type=int, default=300, help="add-checkpoint round trips")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        signer = NoteSigner.generate("bench.example/audit")
        (directory / "log.vkey").write_text(signer.verifier.vkey() + "\n")
        process, url, vkey = start_witness(directory, directory / "log.vkey")
        try:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                closed_port = s.getsockname()[1]
            absent = Cosigner.generate("bench.witness/absent").verifier.vkey()
            print(
                f"{args.records} records on SQLite, one per append, a checkpoint every {args.every}"
            )
            base, _ = appends(directory, "none", signer, args.records, args.every, [])
            print(f"  no witness (baseline)        {base:10,.0f} appends/s")
            rate, log = appends(
                directory, "one", signer, args.records, args.every, parse_witnesses(f"{url}={vkey}")
            )
            assert log.witnesses is not None
            print(
                f"  one local witness            {rate:10,.0f} appends/s ({rate / base:.2f}x); "
                f"{log.witnesses.cosigned} of {args.records // args.every} checkpoints stored "
                f"cosigned, {log.witnesses.failures} failures"
            )
            rate, log = appends(
                directory,
                "down",
                signer,
                args.records,
                args.every,
                parse_witnesses(f"http://127.0.0.1:{closed_port}={absent}"),
            )
            assert log.witnesses is not None
            print(
                f"  one unreachable witness      {rate:10,.0f} appends/s ({rate / base:.2f}x); "
                f"{log.witnesses.failures} failed submissions counted"
            )
            cosigned, bare = round_trips(url, signer, args.rounds)
            print(f"{args.rounds} requests to the witness, one client, loopback")
            print(f"  POST answered 404 (baseline) {bare:10,.0f} requests/s")
            print(
                f"  add-checkpoint, cosigned     {cosigned:10,.0f} requests/s ({cosigned / bare:.2f}x)"
            )
        finally:
            process.terminate()
            process.wait(timeout=15)


if __name__ == "__main__":
    os.environ.pop("OTEL_PYTHON_TOOLAUDIT_WITNESSES", None)
    main()
