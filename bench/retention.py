# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""What applying retention costs, beside verifying the same trail in the same run.

A SQLite trail of ``--records`` tool calls (a third of them financial, kept 7 years, the rest
general, kept 1 year) is written once and copied for each case:

* ``verify`` (the baseline): ``toolaudit verify`` of the whole trail;
* ``retention apply --dry-run``: finding the expired records;
* ``retention apply``: finding them, the admin event, removing their payloads, the checkpoint;
* ``retention apply --archive``: the same, after writing the archive;
* ``verify`` after the removal, which also checks the payloads left.

Usage: ``python bench/retention.py [--records N]``
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from opentelemetry_instrumentation_toolaudit import cli
from opentelemetry_instrumentation_toolaudit.ledger import AuditLog, NoteSigner, open_sink

TOOLS = ("lookup_order", "charge_payment", "get_customer")


def bodies(n: int) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        out.append(
            {
                "event_id": uuid.uuid4().hex,
                "event_type": "tool.call",
                "recorded_at": f"2026-11-{1 + i % 28:02d}T10:{i // 60 % 60:02d}:{i % 60:02d}.000000Z",
                "tool_name": TOOLS[i % 3],
                "user_id": f"usr_{i % 40}",
                "subject": f"hmac-sha256:kb:{(i * 7919) % 5000:032x}",
                "retain_until": "2034-01-01" if i % 3 == 1 else "2027-12-01",
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


if __name__ == "__main__":
    main()
