# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""What applying retention costs, beside verifying the same trail in the same run.

A SQLite trail of ``--records`` tool calls (a third of them financial, kept 7 years, the rest
general, kept 1 year) is written once and copied for each case:

* ``verify`` (the baseline): ``toolaudit verify`` of the whole trail;
* ``retention apply --dry-run``: finding the expired records;
* ``retention apply``: finding them, the admin event, removing their payloads, the checkpoint;
* ``retention apply --archive``: the same, after writing the archive;
* ``verify`` after the removal, which also checks the payloads left;
* ``retention apply --prune-prefix`` on a trail whose first two thirds are general calls (the
  last third financial): the run (which verifies the whole trail first) beside ``verify`` of the
  same trail before pruning, the records pruned a second, ``verify`` of the remaining trail, and the file's size before, after, and after
  ``VACUUM`` (SQLite reuses the freed pages; only VACUUM gives them back to the file system).

Usage: ``python bench/retention.py [--records N]``
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import sqlite3
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from opentelemetry_instrumentation_toolaudit import cli
from opentelemetry_instrumentation_toolaudit.ledger import AuditLog, NoteSigner, open_sink

TOOLS = ("lookup_order", "charge_payment", "get_customer")


def bodies(n: int, *, prefix: bool = False) -> list[dict[str, Any]]:
    """``n`` calls, one in three financial; with ``prefix`` the financial ones come last."""
    out = []
    for i in range(n):
        financial = i >= n - n // 3 if prefix else i % 3 == 1
        out.append(
            {
                "event_id": uuid.uuid4().hex,
                "event_type": "tool.call",
                "recorded_at": f"2026-11-{1 + i % 28:02d}T10:{i // 60 % 60:02d}:{i % 60:02d}.000000Z",
                "tool_name": TOOLS[1] if financial else TOOLS[0 if i % 3 == 0 else 2],
                "user_id": f"usr_{i % 40}",
                "subject": f"hmac-sha256:kb:{(i * 7919) % 5000:032x}",
                "retain_until": "2034-01-01" if financial else "2027-12-01",
                "arguments": {"order_id": f"ORD-{i}", "note": "x" * 120},
                "result_summary": {"ok": True, "total": i * 1.25},
                "success": True,
            }
        )
    return out


def timed(*argv: str) -> float:
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        code = cli.main(list(argv))
    elapsed = time.perf_counter() - start
    if code != 0:
        raise SystemExit(f"toolaudit {' '.join(argv[:2])} exited {code}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        os.environ["OTEL_PYTHON_TOOLAUDIT_SIGNING_KEY_FILE"] = str(work / "signing.key")
        signer = NoteSigner.from_file(work / "signing.key")
        master = work / "master.db"
        with AuditLog(open_sink(f"sqlite:///{master}"), signer=signer) as log:
            batch = bodies(args.records)
            for i in range(0, len(batch), 1000):
                log.append(batch[i : i + 1000])
        key = str(work / "signing.key.pub")

        def fresh(name: str) -> str:
            shutil.copy(master, work / name)
            return f"sqlite:///{work / name}"

        n = args.records
        rows = [
            ("verify (baseline)", timed("verify", fresh("a.db"), "--public-key", key)),
            (
                "retention apply --dry-run",
                timed("retention", "apply", fresh("b.db"), "--as-of", "2029-01-01", "--dry-run"),
            ),
        ]
        url = fresh("c.db")
        rows.append(("retention apply", timed("retention", "apply", url, "--as-of", "2029-01-01")))
        rows.append(("verify after removal", timed("verify", url, "--public-key", key)))
        rows.append(
            (
                "retention apply --archive",
                timed(
                    "retention",
                    "apply",
                    fresh("d.db"),
                    "--as-of",
                    "2029-01-01",
                    "--archive",
                    str(work / "archive"),
                ),
            )
        )
        base = rows[0][1]
        print(f"retention over a SQLite trail of {n} records ({n - n // 3} expired), one run:")
        for name, seconds in rows:
            print(
                f"  {name:<28} {seconds:8.2f} s  {seconds / n * 1e6:7.1f} us/record  "
                f"{seconds / base:5.2f}x verify"
            )
        prune(work, signer, key, n)


def prune(work: Path, signer: NoteSigner, key: str, n: int) -> None:
    path = work / "prefix.db"
    with AuditLog(open_sink(f"sqlite:///{path}"), signer=signer) as log:
        batch = bodies(n, prefix=True)
        for i in range(0, len(batch), 1000):
            log.append(batch[i : i + 1000])
    url = f"sqlite:///{path}"
    before = path.stat().st_size
    whole = timed("verify", url, "--public-key", key)
    seconds = timed("retention", "apply", url, "--as-of", "2029-01-01", "--prune-prefix")
    rest = timed("verify", url, "--public-key", key)
    after = path.stat().st_size
    with sqlite3.connect(path) as db:
        db.execute("VACUUM")
    vacuumed = path.stat().st_size
    pruned = n - n // 3
    print(f"pruning the expired prefix ({pruned} of {n} records) of a SQLite trail, one run:")
    print(f"  {f'verify before pruning ({n} records)':<40} {whole:8.2f} s  (baseline)")
    print(
        f"  {'retention apply --prune-prefix':<40} {seconds:8.2f} s  "
        f"{seconds / whole:5.2f}x verify before  {pruned / seconds:9.0f} records/s"
    )
    print(
        f"  {f'verify after pruning ({n - pruned} records)':<40} {rest:8.2f} s  "
        f"{rest / whole:5.2f}x verify before"
    )
    print(
        f"  file size {before / 2**20:.1f} MiB before, {after / 2**20:.1f} MiB after, "
        f"{vacuumed / 2**20:.1f} MiB after VACUUM"
    )


if __name__ == "__main__":
    main()
