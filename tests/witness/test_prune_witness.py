# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Witnessing across a pruning: `toolaudit retention apply --prune-prefix` has the configured
witnesses cosign a checkpoint past the cut before it removes anything, and a witness left below a
cut is a logged, counted failure of the writer, never a blocked append."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from opentelemetry_instrumentation_toolaudit._log import error_counts
from opentelemetry_instrumentation_toolaudit.environment_variables import (
    OTEL_PYTHON_TOOLAUDIT_SIGNING_KEY_FILE,
    OTEL_PYTHON_TOOLAUDIT_SINK,
    OTEL_PYTHON_TOOLAUDIT_WITNESS_TIMEOUT,
    OTEL_PYTHON_TOOLAUDIT_WITNESSES,
)
from opentelemetry_instrumentation_toolaudit.export._retention import RetentionPolicy
from opentelemetry_instrumentation_toolaudit.ledger import AuditLog, NoteSigner, open_sink
from opentelemetry_instrumentation_toolaudit.ledger._checkpoint import open_checkpoint
from opentelemetry_instrumentation_toolaudit.witness import cosignatures
from tests.audit._tamper import read_checkpoints, read_rows
from tests.interop._cli import toolaudit

from .conftest import WitnessProcess

TWO_YEARS = "2028-11-24"


def body(i: int) -> dict[str, object]:
    """The i-th call of 2026-11-24: records 0-7 general (1 year), the rest financial (7 years)."""
    tool = "lookup_order" if i < 8 else "charge_payment"
    recorded_at = f"2026-11-24T10:00:{i:02d}.000000Z"
    return {
        "event_id": f"{i:032x}",
        "event_type": "tool.call",
        "recorded_at": recorded_at,
        "tool_name": tool,
        "user_id": f"usr_{i % 3}",
        "arguments": {"order_id": f"ORD-{i}"},
        "success": True,
        "retain_until": RetentionPolicy().retain_until(tool, recorded_at).isoformat(),
    }


def append(url: str, signer: NoteSigner, start: int, stop: int) -> AuditLog:
    with AuditLog(open_sink(url), signer=signer, checkpoint_every=5) as log:
        for i in range(start, stop):
            log.append([body(i)])
    return log


@pytest.fixture
def behind_the_cut(
    tmp_path: Path, log_signer: NoteSigner, witness: WitnessProcess, monkeypatch: pytest.MonkeyPatch
) -> str:
    """A SQLite trail of 12 records (0-7 expire first) whose witness last cosigned size 5: records
    5-11 were written with no witness configured. The CLI signs with the log's key."""
    (tmp_path / "signing.key").write_text(log_signer.skey() + "\n")
    monkeypatch.setenv(OTEL_PYTHON_TOOLAUDIT_SIGNING_KEY_FILE, str(tmp_path / "signing.key"))
    assert witness.verifier is not None
    spec = f"{witness.url}={witness.verifier.vkey()}"
    url = f"sqlite:///{tmp_path}/audit.db"
    monkeypatch.setenv(OTEL_PYTHON_TOOLAUDIT_WITNESSES, spec)
    append(url, log_signer, 0, 5)
    monkeypatch.delenv(OTEL_PYTHON_TOOLAUDIT_WITNESSES)
    append(url, log_signer, 5, 12)
    assert cosigned_sizes(url, witness) == [5]
    return spec


def cosigned_sizes(url: str, witness: WitnessProcess) -> list[int]:
    assert witness.verifier is not None
    return sorted(
        open_checkpoint(note)[0].size
        for note in read_checkpoints(url)
        if cosignatures(note, [witness.verifier])
    )


def test_prune_has_the_witness_cosign_past_the_cut_first(
    behind_the_cut, tmp_path, witness, monkeypatch
):
    """With the witness configured, the prune run has it cosign the checkpoint at 12 (a consistency
    proof from 5, while records 5-7 are still there) before it removes records 0-7, so the
    checkpoint after the removal is cosigned too and verify --witness passes."""
    url = f"sqlite:///{tmp_path}/audit.db"
    monkeypatch.setenv(OTEL_PYTHON_TOOLAUDIT_WITNESSES, behind_the_cut)
    done = toolaudit("retention", "apply", url, "--prune-prefix", "--as-of", TWO_YEARS)
    assert (done.returncode, done.stdout) == (0, "0-7\n"), done.stderr
    assert cosigned_sizes(url, witness) == [5, 12, 13]
    checked = toolaudit(
        "verify",
        url,
        "--public-key",
        tmp_path / "log.vkey",
        "--witness",
        witness.key.with_suffix(".key.pub"),
    )
    assert checked.returncode == 0, checked.stdout
    assert "records #0..#7 pruned on" in checked.stdout


def test_prune_stops_while_a_witness_does_not_answer(
    behind_the_cut, tmp_path, witness, monkeypatch
):
    """With the witness down, the prune run records and removes nothing (exit 2, an error line
    naming the witness after the logged reason), as a pruning would leave the witness below the
    cut for good."""
    url = f"sqlite:///{tmp_path}/audit.db"
    witness.stop()
    monkeypatch.setenv(OTEL_PYTHON_TOOLAUDIT_WITNESSES, behind_the_cut)
    monkeypatch.setenv(OTEL_PYTHON_TOOLAUDIT_WITNESS_TIMEOUT, "1")
    before = read_rows(url)
    done = toolaudit("retention", "apply", url, "--prune-prefix", "--as-of", TWO_YEARS)
    assert (done.returncode, done.stdout) == (2, "")
    reason, error = done.stderr.splitlines()
    assert reason.startswith(
        f"toolaudit: witness submission failed: ToolAuditError: witness {witness.url}: unreachable"
    )
    assert error == (
        f"toolaudit retention: error: witness {witness.url} has not cosigned a checkpoint of at "
        "least 8 records: once records #0..#7 are pruned it can never be given a consistency "
        "proof again; nothing was pruned: run the command again once it answers"
    )
    assert read_rows(url) == before


def test_witness_below_the_cut_is_a_counted_failure(
    behind_the_cut, tmp_path, log_signer, witness, monkeypatch
):
    """After a pruning run with no witness configured, the writer's witness (at size 5) cannot be
    given a consistency proof: each submission is logged and counted, appends go on."""
    url = f"sqlite:///{tmp_path}/audit.db"
    done = toolaudit("retention", "apply", url, "--prune-prefix", "--as-of", TWO_YEARS)
    assert done.returncode == 0, done.stderr

    monkeypatch.setenv(OTEL_PYTHON_TOOLAUDIT_WITNESSES, behind_the_cut)
    before = error_counts().get("witness submission", 0)
    log = append(url, log_signer, 12, 15)
    assert log.witnesses is not None and log.witnesses.failures >= 1
    assert error_counts()["witness submission"] > before
    assert cosigned_sizes(url, witness) == [5]
    assert [row["seq"] for row in read_rows(url)] == list(range(8, 16))  # the admin event is #12

    # A writer in a process of its own logs why (the first failure of a kind is logged).
    monkeypatch.setenv(OTEL_PYTHON_TOOLAUDIT_SINK, url)
    writer = subprocess.run(
        [
            sys.executable,
            "-c",
            "from opentelemetry_instrumentation_toolaudit.ledger import AuditLog\n"
            "with AuditLog.from_env() as log:\n"
            "    log.append([{'event_type': 'tool.call', 'tool_name': 'lookup_order'}])\n",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "it last cosigned size 5, below the pruning cut at 8: the records" in writer.stderr
    assert [row["seq"] for row in read_rows(url)][-1] == 16
