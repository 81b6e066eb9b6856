# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The demo the README starts with tells the whole story, and can be run again and again."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "examples" / "quickstart.py"


def run_demo(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, str(DEMO), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=cwd,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    folder = tmp_path_factory.mktemp("demo") / "run"
    return run_demo(str(folder), cwd=folder.parent).stdout, folder


def records(path: Path) -> list[tuple[str, str | None, str | None, int | None]]:
    with sqlite3.connect(path) as db:
        return db.execute(
            "SELECT json_extract(canonical, '$.event_type'), user_id, tool_name, success"
            " FROM audit_records ORDER BY seq"
        ).fetchall()


def test_demo_prints_each_call_with_its_outcome(demo):
    """The demo prints every tool call in order: one failing, the fail-closed refund refused, then run."""
    stdout, _ = demo
    calls = re.findall(r"^  tool   (ok|FAILED) +(\w+)\(", stdout, re.MULTILINE)
    assert calls == [
        ("ok", "find_customer"),
        ("ok", "get_order"),
        ("FAILED", "update_order_status"),
        ("ok", "initiate_return"),
        ("FAILED", "issue_refund"),
        ("ok", "issue_refund"),
    ]
    (refused,) = [line for line in stdout.splitlines() if "AuditUnavailableError" in line]
    assert "the tool was not run" in refused
    assert "User usr_98765 (support_agent) → gpt-4.1 → issue_refund [proactive]" in stdout


def test_demo_explains_the_record_count(demo):
    """The verify line's record count is broken down into tool calls, intent records and LLM requests."""
    stdout, folder = demo
    stored = records(folder / "trail.db")
    assert f"OK: {len(stored)} records" in stdout
    assert (
        f"  {len(stored)} records: 6 tool calls (the refused refund included), 1 intent record"
        " (the refund's, durable before it ran) and 5 LLM requests (one model request per turn)"
    ) in stdout


def test_demo_records_carry_the_user(demo):
    """Every record of the demo's trail, LLM requests included, names the user who asked."""
    _, folder = demo
    assert {(event, user) for event, user, _, _ in records(folder / "trail.db")} == {
        ("llm.request", "usr_98765"),
        ("tool.call", "usr_98765"),
        ("tool.intent", "usr_98765"),
    }


def test_demo_pseudonymizes_the_email(demo):
    """The customer's email address is printed and stored only as a keyed pseudonym."""
    stdout, folder = demo
    assert re.search(
        r'find_customer\(\{"email":"hmac-sha256:k[0-9a-f]{8}:[0-9a-f]{32}"\}\)', stdout
    )
    stored = b"".join(path.read_bytes() for path in folder.glob("*.db"))
    assert b"jane.doe@example.com" not in stored
    assert "jane.doe@example.com" not in stdout.split("[turn 1]")[1].split("\n", 1)[1]


def test_demo_catches_the_tampered_record(demo):
    """verify passes the trail and fails the tampered copy, naming the record that was edited."""
    stdout, folder = demo
    (seq,) = re.findall(r"^record #(\d+) edited in a copy", stdout, re.MULTILINE)
    assert (
        f"FAIL: record #{seq}: its stored payload does not match the payload_hash in its "
        "envelope: modified payload"
    ) in stdout
    _, _, tool, success = records(folder / "trail.db")[int(seq)]
    assert (tool, success) == ("issue_refund", 1)
    toolaudit = Path(sys.executable).with_name("toolaudit")
    key = folder / "signing.key.pub"
    verdicts = [
        subprocess.run(
            [str(toolaudit), "verify", str(folder / name), "--public-key", str(key)],
            capture_output=True,
            text=True,
            check=False,
        ).returncode
        for name in ("trail.db", "tampered.db")
    ]
    assert verdicts == [0, 1]


def test_demo_runs_twice_in_one_folder(tmp_path):
    """Run twice from one folder, the demo writes each run to a new trail and both verify."""
    env = os.environ | {"TMPDIR": str(tmp_path)}
    trails = []
    for _ in range(2):
        stdout = run_demo(cwd=tmp_path, env=env).stdout
        (trail,) = re.findall(r"^audit trail: (.+)$", stdout, re.MULTILINE)
        assert re.search(r"^verify .+: OK: 12 records", stdout, re.MULTILINE)
        trails.append(Path(trail))
    assert trails[0] != trails[1]
    assert all(trail.parent.parent == tmp_path for trail in trails)
