# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The quickstart's refund call carries a card number: it must not be printed in clear."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_quickstart_prints_no_card_number(tmp_path):
    """examples/quickstart.py prints the refund's arguments with the card number redacted."""
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "quickstart.py"), str(tmp_path / "demo")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    refunds = [line for line in proc.stdout.splitlines() if "issue_refund(" in line]
    # The card's digits in any grouping; "4111" alone turns up by chance in random trace ids.
    card = ("4111 1111 1111 1111", "4111111111111111", "4111-1111-1111-1111")
    stored = b"".join(path.read_bytes() for path in sorted((tmp_path / "demo").glob("*.db")))
    assert [c for c in card if c in proc.stdout or c.encode() in stored] == []
    assert len(refunds) == 2
    assert all('"card_number":"***REDACTED***"' in line for line in refunds)
