# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""``toolaudit prove --format tlog-proof`` writes c2sp.org/tlog-proof@v1 and ``check-proof`` reads
it; ``consistency`` and ``export-tree`` export what other verifiers check."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from opentelemetry_instrumentation_toolaudit.ledger import NoteSigner, open_sink
from opentelemetry_instrumentation_toolaudit.ledger._merkle import verify_consistency
from tests.audit._tamper import read_checkpoints
from tests.audit.conftest import write_log
from tests.interop._cli import toolaudit


@pytest.fixture
def trail(tmp_path: Path) -> str:
    """A SQLite trail of 21 records with checkpoints at 5, 10, 15, 20 and 21."""
    signer = NoteSigner.generate("test.example/audit")
    (tmp_path / "log.vkey").write_text(signer.verifier.vkey() + "\n")
    url = f"sqlite:///{tmp_path}/audit.db"
    write_log(url, signer, 21, every=5)
    return url


def test_tlog_proof_follows_the_c2sp_format(trail, tmp_path):
    """Header, extra (the record's bytes), index, base64 hashes, a blank line, the checkpoint."""
    result = toolaudit("prove", trail, 6, "--format", "tlog-proof")
    assert result.returncode == 0, result.stderr
    head, blank, checkpoint = result.stdout.partition("\n\n")
    lines = head.split("\n")
    assert lines[0] == "c2sp.org/tlog-proof@v1"
    with open_sink(trail, create=False) as sink:
        (record,) = sink.read(6, 7)
    assert lines[1] == "extra " + base64.b64encode(record.canonical).decode()
    assert lines[2] == "index 6"
    assert len(lines[3:]) == 5  # a tree of 21 leaves: the path from leaf 6 has 5 hashes
    assert all(len(base64.b64decode(h, validate=True)) == 32 for h in lines[3:])
    assert (blank, checkpoint) == ("\n\n", read_checkpoints(trail)[-1])


def test_check_proof_reads_a_tlog_proof(trail, tmp_path):
    """check-proof accepts a tlog-proof, with the record from its extra data or from --record."""
    proof = tmp_path / "6.tlog-proof"
    proof.write_text(toolaudit("prove", trail, 6, "--format", "tlog-proof").stdout)
    result = toolaudit("check-proof", proof, "--public-key", tmp_path / "log.vkey")
    assert (result.returncode, result.stdout.split(" of ")[0]) == (
        0,
        "OK: record #6 is in the log " + read_checkpoints(trail)[-1].split("\n")[0],
    )
    with open_sink(trail, create=False) as sink:
        (record,) = sink.read(6, 7)
    (tmp_path / "record.json").write_bytes(record.canonical)
    given = toolaudit(
        "check-proof",
        proof,
        "--public-key",
        tmp_path / "log.vkey",
        "--record",
        tmp_path / "record.json",
    )
    assert given.returncode == 0, given.stdout + given.stderr


def test_check_proof_fails_a_tlog_proof_for_another_record(trail, tmp_path):
    """A record that is not the one at the proof's index fails (exit 1)."""
    proof = tmp_path / "6.tlog-proof"
    proof.write_text(toolaudit("prove", trail, 6, "--format", "tlog-proof").stdout)
    with open_sink(trail, create=False) as sink:
        (other,) = sink.read(7, 8)
    (tmp_path / "other.json").write_bytes(other.canonical)
    result = toolaudit(
        "check-proof",
        proof,
        "--public-key",
        tmp_path / "log.vkey",
        "--record",
        tmp_path / "other.json",
    )
    assert result.returncode == 1
    assert result.stdout.startswith("FAIL: record #6: ")


def test_check_proof_fails_a_tlog_proof_with_a_changed_hash(trail, tmp_path):
    """One proof hash replaced: the path no longer leads to the signed root (exit 1)."""
    text = toolaudit("prove", trail, 6, "--format", "tlog-proof").stdout
    lines = text.split("\n")
    lines[4] = base64.b64encode(b"\x07" * 32).decode()
    (tmp_path / "bad.tlog-proof").write_text("\n".join(lines))
    result = toolaudit(
        "check-proof", tmp_path / "bad.tlog-proof", "--public-key", tmp_path / "log.vkey"
    )
    assert result.returncode == 1
    assert result.stdout.startswith("FAIL: record #6: inclusion proof for leaf 6 does not lead")


def test_malformed_tlog_proof_is_a_usage_error(trail, tmp_path):
    """A tlog-proof without its index line: exit 2 and one line saying so."""
    text = toolaudit("prove", trail, 6, "--format", "tlog-proof").stdout
    (tmp_path / "bad.tlog-proof").write_text(text.replace("index 6\n", ""))
    result = toolaudit(
        "check-proof", tmp_path / "bad.tlog-proof", "--public-key", tmp_path / "log.vkey"
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "not an inclusion proof (no index line)" in result.stderr


def test_consistency_proof_links_two_signed_checkpoints(trail):
    """consistency SINK 5 20: both signed notes and a proof that verifies between their roots."""
    result = toolaudit("consistency", trail, 5, 20)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert (document["format"], document["old_size"], document["new_size"]) == (
        "toolaudit-consistency-proof/1",
        5,
        20,
    )
    from opentelemetry_instrumentation_toolaudit.ledger._checkpoint import open_checkpoint

    old, _ = open_checkpoint(document["old_checkpoint"])
    new, _ = open_checkpoint(document["new_checkpoint"])
    proof = [base64.b64decode(h) for h in document["proof"]]
    verify_consistency(5, 20, proof, old.root, new.root)


def test_consistency_defaults_to_the_latest_checkpoint(trail):
    """Without NEW the proof goes to the widest checkpoint."""
    document = json.loads(toolaudit("consistency", trail, 10).stdout)
    assert document["new_size"] == 21


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ((7,), "no signed checkpoint for size 7 (latest checkpoint sizes: 5, 10, 15, 20, 21)"),
        ((20, 10), "the old size 20 is beyond the new size 10"),
    ],
)
def test_consistency_between_sizes_without_checkpoints_is_a_usage_error(trail, argv, message):
    """A size with no signed checkpoint, or sizes out of order: exit 2 and what is wrong."""
    result = toolaudit("consistency", trail, *argv)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == f"toolaudit consistency: error: {message}\n"


def test_export_tree_lists_leaves_entries_and_checkpoints(trail):
    """export-tree --entries: every leaf hash, every record's bytes, one note per checkpoint size."""
    document = json.loads(toolaudit("export-tree", trail, "--entries").stdout)
    with open_sink(trail, create=False) as sink:
        records = list(sink.read(0, None))
    assert document["format"] == "toolaudit-tree/1"
    assert document["leaf_hashes"] == [r.entry_hash for r in records]
    assert document["entries"] == [base64.b64encode(r.canonical).decode() for r in records]
    assert len(document["checkpoints"]) == 5
