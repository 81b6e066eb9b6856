# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""A real witness subprocess cosigns the writer's checkpoints, refuses a rewritten history signed
with the real key, keeps its state across a restart, and never holds up the writer."""

from __future__ import annotations

import base64
import collections
import json
import time
from pathlib import Path

import pytest

from opentelemetry_instrumentation_toolaudit._log import error_counts
from opentelemetry_instrumentation_toolaudit.environment_variables import (
    OTEL_PYTHON_TOOLAUDIT_WITNESS_TIMEOUT,
    OTEL_PYTHON_TOOLAUDIT_WITNESSES,
)
from opentelemetry_instrumentation_toolaudit.ledger import AuditLog, open_sink
from opentelemetry_instrumentation_toolaudit.ledger._checkpoint import open_checkpoint
from opentelemetry_instrumentation_toolaudit.ledger._merkle import (
    consistency_proof,
    subtree_from_leaves,
)
from opentelemetry_instrumentation_toolaudit.witness import cosignatures
from tests._ports import free_port
from tests.audit._tamper import read_checkpoints, read_rows, write_checkpoints
from tests.audit.conftest import body, make_url
from tests.interop._cli import toolaudit
from tests.witness._forge import add_checkpoint, rewrite_and_resign


def write(url: str, signer, start: int, n: int, *, every: int = 5) -> AuditLog:
    log = AuditLog(open_sink(url), signer=signer, checkpoint_every=every, checkpoint_interval=3600)
    for i in range(start, start + n):
        log.append([body(i)])
    return log


@pytest.fixture
def witnessed(tmp_path, log_signer, witness, monkeypatch):
    """A SQLite trail of 20 records whose writer submitted every checkpoint to the witness."""
    monkeypatch.setenv(OTEL_PYTHON_TOOLAUDIT_WITNESSES, f"{witness.url}={witness.verifier.vkey()}")
    url = f"sqlite:///{tmp_path}/audit.db"
    log = write(url, log_signer, 0, 20)
    log.close()
    return url


@pytest.mark.parametrize("kind", ["sqlite", "jsonl", "postgres"])
def test_every_sink_stores_the_cosigned_checkpoint(
    kind, tmp_path, log_signer, witness, monkeypatch, request
):
    """On SQLite, JSONL and PostgreSQL the writer's last checkpoint is stored cosigned, and verify
    --witness passes."""
    monkeypatch.setenv(OTEL_PYTHON_TOOLAUDIT_WITNESSES, f"{witness.url}={witness.verifier.vkey()}")
    url = make_url(kind, tmp_path, request)
    write(url, log_signer, 0, 7).close()
    latest = read_checkpoints(url)[-1]
    assert open_checkpoint(latest)[0].size == 7
    assert [c.name for c in cosignatures(latest, [witness.verifier])] == ["witness.test/w1"]
    result = verify(tmp_path, url, "--witness", witness.verifier.vkey())
    assert result.returncode == 0, result.stdout + result.stderr


def verify(tmp_path: Path, url: str, *extra: object):
    return toolaudit("verify", url, "--public-key", tmp_path / "log.vkey", *extra)


def test_writer_stores_the_witness_cosignatures(witnessed, witness):
    """The writer's checkpoints come back cosigned and are stored with the cosignature, the last
    one included (a checkpoint superseded while waiting is not sent)."""
    cosigned = {}
    for note in read_checkpoints(witnessed):
        found = cosignatures(note, [witness.verifier])
        if found:
            cosigned[open_checkpoint(note)[0].size] = found[0]
    assert 20 in cosigned
    assert set(cosigned) <= {5, 10, 15, 20}
    assert {c.name for c in cosigned.values()} == {"witness.test/w1"}
    assert all(abs(c.timestamp - time.time()) < 600 for c in cosigned.values())


def test_verify_with_the_witness_key_passes(witnessed, witness, tmp_path):
    """verify --witness --quorum 1 accepts a trail whose latest checkpoint the witness cosigned."""
    result = verify(
        tmp_path, witnessed, "--witness", witness.key.with_suffix(".key.pub"), "--quorum", 1
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("OK: 20 records")
    assert (
        "witnesses: the latest checkpoint (size 20) is cosigned by 1 of the given witnesses "
        "(witness.test/w1; quorum 1)" in result.stderr
    )


def test_operator_rewrite_is_refused_by_the_witness(witnessed, witness, tmp_path, log_signer):
    """A history rewritten and re-signed with the real key passes verify without witnesses, but
    the witness refuses its checkpoints (409 at the same size, 422 with a longer forged tree) and
    verify --witness fails."""
    forged = rewrite_and_resign(witnessed, log_signer, 3)
    assert verify(tmp_path, witnessed).returncode == 0  # the key alone cannot tell

    status, content_type, answer = add_checkpoint(witness.url, f"old 20\n\n{forged[-1]}")
    assert (status, content_type, answer) == (409, "text/x.tlog.size", "20\n")

    # The operator's writer goes on from the forged head: its checkpoint at 25 is refused too.
    log = write(witnessed, log_signer, 20, 5)
    log.close()
    rows = read_rows(witnessed)
    latest = read_checkpoints(witnessed)[-1]
    assert open_checkpoint(latest)[0].size == 25
    assert cosignatures(latest, [witness.verifier]) == []
    proof = consistency_proof(20, 25, subtree_from_leaves([r["entry_hash"] for r in rows]))
    lines = "".join(base64.b64encode(h).decode() + "\n" for h in proof)
    assert add_checkpoint(witness.url, f"old 20\n{lines}\n{latest}")[0] == 422
    assert error_counts().get("witness submission", 0) >= 1

    result = verify(tmp_path, witnessed, "--witness", witness.key.with_suffix(".key.pub"))
    assert result.returncode == 1
    assert result.stdout.startswith(
        "FAIL: record #0: the latest checkpoint (size 25) has 0 valid witness cosignature(s) "
        "(none), 1 required"
    )


def test_witness_keeps_its_state_across_a_restart(witnessed, witness):
    """A restarted witness still knows the size it last cosigned (409 with that size)."""
    witness.stop()
    witness.start()
    note = read_checkpoints(witnessed)[0]
    assert add_checkpoint(witness.url, f"old 0\n\n{note}") == (409, "text/x.tlog.size", "20\n")


def test_writer_learns_the_witness_size_from_409(witnessed, witness, log_signer):
    """A writer that has no stored cosignature starts from size 0, is told the witness's size by
    a 409 and resubmits with a consistency proof from it."""
    plain = [n for n in read_checkpoints(witnessed) if not cosignatures(n, [witness.verifier])]
    write_checkpoints(witnessed, plain)
    log = write(witnessed, log_signer, 20, 5)
    log.close()
    latest = [
        open_checkpoint(n)[0].size
        for n in read_checkpoints(witnessed)
        if cosignatures(n, [witness.verifier])
    ]
    assert latest == [25]


def test_unreachable_witness_never_breaks_appends(tmp_path, log_signer, monkeypatch):
    """With a witness that refuses connections every append commits, close is bounded, the
    failure is counted, and verify --witness says the checkpoint is not witnessed."""
    port = free_port()  # nothing listens there
    from opentelemetry_instrumentation_toolaudit.witness import Cosigner

    absent = Cosigner.generate("witness.test/absent")
    (tmp_path / "absent.pub").write_text(absent.verifier.vkey())
    monkeypatch.setenv(
        OTEL_PYTHON_TOOLAUDIT_WITNESSES, f"http://127.0.0.1:{port}={absent.verifier.vkey()}"
    )
    monkeypatch.setenv(OTEL_PYTHON_TOOLAUDIT_WITNESS_TIMEOUT, "1")
    before = error_counts().get("witness submission", 0)
    url = f"sqlite:///{tmp_path}/audit.db"
    log = write(url, log_signer, 0, 12)
    log.close()
    assert log.witnesses is not None and log.witnesses.failures >= 1
    assert error_counts()["witness submission"] > before
    assert len(read_rows(url)) == 12
    assert verify(tmp_path, url).returncode == 0
    result = verify(tmp_path, url, "--witness", tmp_path / "absent.pub")
    assert result.returncode == 1
    assert "(size 12) has 0 valid witness cosignature(s)" in result.stdout


def test_verify_json_reports_the_cosignatures(witnessed, witness, tmp_path):
    """verify --format json adds the witness check: size, quorum and each cosignature's time."""
    result = verify(tmp_path, witnessed, "--witness", witness.verifier.vkey(), "--format", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)["witnesses"]
    (cosignature,) = report.pop("cosignatures")
    assert report == {"ok": True, "checkpoint_size": 20, "quorum": 1, "witnessed_size": 20}
    assert cosignature["name"] == "witness.test/w1"
    assert cosignature["key_id"] == witness.verifier.key_id


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--quorum", "1"), "--quorum needs --witness keys to count"),
        (("--witness", "W", "--quorum", "2"), "--quorum 2 is more than the 1 --witness keys given"),
    ],
)
def test_verify_quorum_usage_errors(witnessed, witness, tmp_path, extra, message):
    """A quorum without witness keys, or larger than their number: exit 2, one line."""
    argv = [witness.verifier.vkey() if a == "W" else a for a in extra]
    result = verify(tmp_path, witnessed, *argv)
    assert (result.returncode, result.stderr) == (2, f"toolaudit verify: error: {message}\n")


def test_tlog_proof_of_a_witnessed_trail_carries_the_cosignature(witnessed, witness, tmp_path):
    """prove --format tlog-proof hands out the cosigned checkpoint; check-proof accepts it."""
    text = toolaudit("prove", witnessed, 4, "--format", "tlog-proof").stdout
    checkpoint = text.partition("\n\n")[2]
    assert [c.name for c in cosignatures(checkpoint, [witness.verifier])] == ["witness.test/w1"]
    (tmp_path / "4.tlog-proof").write_text(text)
    result = toolaudit(
        "check-proof",
        tmp_path / "4.tlog-proof",
        "--public-key",
        tmp_path / "log.vkey",
        "--witness",
        witness.verifier.vkey(),
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_check_proof_requires_the_witness_quorum(tmp_path, log_signer, witness):
    """check-proof --witness fails a proof whose checkpoint no given witness cosigned."""
    url = f"sqlite:///{tmp_path}/unwitnessed.db"
    write(url, log_signer, 0, 6).close()
    (tmp_path / "4.tlog-proof").write_text(
        toolaudit("prove", url, 4, "--format", "tlog-proof").stdout
    )
    result = toolaudit(
        "check-proof",
        tmp_path / "4.tlog-proof",
        "--public-key",
        tmp_path / "log.vkey",
        "--witness",
        witness.verifier.vkey(),
    )
    assert result.returncode == 1
    assert result.stdout == (
        "FAIL: record #4: the proof's checkpoint has 0 valid witness cosignature(s) (none), "
        "1 required\n"
    )


def test_witness_url_password_never_reaches_logs_or_output(
    tmp_path, log_signer, monkeypatch, caplog
):
    """A failing witness whose URL holds a password is logged with the password masked."""
    port = free_port()
    from opentelemetry_instrumentation_toolaudit import _log
    from opentelemetry_instrumentation_toolaudit.witness import Cosigner

    monkeypatch.setattr(_log, "_counts", collections.Counter())  # so this failure is logged
    vkey = Cosigner.generate("witness.test/w9").verifier.vkey()
    monkeypatch.setenv(
        OTEL_PYTHON_TOOLAUDIT_WITNESSES, f"http://auditor:s3cret-pw@127.0.0.1:{port}={vkey}"
    )
    url = f"sqlite:///{tmp_path}/audit.db"
    with caplog.at_level("WARNING", logger="opentelemetry_instrumentation_toolaudit"):
        write(url, log_signer, 0, 3).close()
    assert "witness submission failed" in caplog.text
    assert "127.0.0.1" in caplog.text
    assert "s3cret-pw" not in caplog.text


def test_second_witness_on_the_same_state_refuses_to_start(witness, tmp_path):
    """A witness whose state directory is in use exits 2 saying so, and the first keeps serving."""
    result = toolaudit(
        "witness",
        "--key",
        witness.key,
        "--state",
        witness.state,
        "--listen",
        "127.0.0.1:0",
        "--log-key",
        tmp_path / "log.vkey",
    )
    assert result.returncode == 2
    assert result.stderr.endswith("is in use by another witness\n")
    assert add_checkpoint(witness.url, "old 0\n\nnot a checkpoint\n")[0] == 400


def test_oversized_request_is_refused(witness):
    """A request body over 64 KiB gets 413 without being parsed."""
    assert add_checkpoint(witness.url, "old 0\n" + "A" * 70_000)[0] == 413
