# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Signed checkpoints (C2SP signed-note), signing keys, and the AuditLog that writes them."""

from __future__ import annotations

import logging
import os
import stat
import threading
import time

import pytest

from opentelemetry_instrumentation_toolaudit._exceptions import VerificationError
from opentelemetry_instrumentation_toolaudit.ledger import (
    AuditLog,
    Checkpoint,
    NoteSigner,
    NoteVerifier,
    check_proof,
    open_sink,
    prove,
    verify,
)
from opentelemetry_instrumentation_toolaudit.ledger._checkpoint import (
    open_checkpoint,
    parse_note,
    sign_checkpoint,
)
from opentelemetry_instrumentation_toolaudit.ledger._merkle import EMPTY_ROOT

from .conftest import body

# golang.org/x/mod/sumdb/note: the signed-note reference key pair and signature.
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
GO_NOTE = (
    GO_TEXT
    + "\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)


def test_signed_note_reference_vector():
    """Signing the Go reference text with the Go reference key gives the published note byte for byte."""
    signer = NoteSigner.from_skey(GO_SKEY)
    assert (
        signer.verifier.vkey(),
        signer.skey(),
        signer.sign(GO_TEXT),
    ) == (GO_VKEY, GO_SKEY, GO_NOTE)
    note = parse_note(GO_NOTE)
    assert [NoteVerifier.from_vkey(GO_VKEY)] == note.verified_by([NoteVerifier.from_vkey(GO_VKEY)])


def test_altered_note_fails_and_unknown_keys_are_ignored():
    """An altered text fails the known key's signature; a key that did not sign verifies nothing."""
    verifier = NoteVerifier.from_vkey(GO_VKEY)
    with pytest.raises(VerificationError, match="does not verify"):
        parse_note(GO_NOTE.replace("cryptography", "cryptographY")).verified_by([verifier])
    stranger = NoteSigner.generate("PeterNeumann").verifier
    assert parse_note(GO_NOTE).verified_by([stranger]) == []


@pytest.mark.parametrize(
    "vkey",
    [
        GO_VKEY.replace("c74f20a3", "c74f20a4"),
        GO_VKEY[:-2],
        "PeterNeumann+c74f20a3",
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        GO_VKEY.replace("+ARpc", "+Arpc"),
    ],
)
def test_mangled_verifier_keys_are_rejected(vkey):
    """Verifier keys with a wrong id, a cut key, a missing part or a bad name are refused."""
    with pytest.raises(VerificationError, match="malformed verifier key"):
        NoteVerifier.from_vkey(vkey)


def test_checkpoint_format_round_trip():
    """A checkpoint body is origin, size and base64 root lines; parsing gives it back."""
    signer = NoteSigner.generate("example.com/log")
    note = sign_checkpoint(Checkpoint("example.com/log", 0, EMPTY_ROOT), signer)
    assert note.startswith(
        "example.com/log\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n\u2014 example.com/log "
    )
    assert (Checkpoint("example.com/log", 0, EMPTY_ROOT), True) == open_checkpoint(
        note, [signer.verifier]
    )


@pytest.mark.parametrize(
    "text", ["log\n01\nAAAA\n", "log\n1\nnot-base64!\n", "log\n1\n", "log\n1\nAAAA\n"]
)
def test_malformed_checkpoints_are_rejected(text):
    """Leading zeros, bad base64, missing lines and short roots are malformed checkpoints."""
    with pytest.raises(VerificationError, match="malformed checkpoint"):
        Checkpoint.parse(text)


def test_key_file_is_generated_0600_with_public_key_beside(tmp_path, caplog):
    """An absent key file is created 0600, its verifier key exported as .pub, and the log names the path only."""
    path = tmp_path / "keys" / "signing.key"
    with caplog.at_level(logging.WARNING, logger="opentelemetry_instrumentation_toolaudit"):
        signer = NoteSigner.from_file(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert signer.verifier.vkey() + "\n" == (tmp_path / "keys" / "signing.key.pub").read_text()
    assert signer.skey() == NoteSigner.from_file(path).skey()
    (message,) = [r.getMessage() for r in caplog.records]
    assert str(path) in message
    # PRIVATE+KEY+<name>+<key id>+<base64 key>: the key material may itself hold a "+".
    assert signer.skey().split("+", 4)[4] not in message


def test_concurrent_key_creation_yields_one_key(tmp_path):
    """Processes (here threads) starting together all end up with the same key."""
    path = tmp_path / "signing.key"
    keys: list[str] = []
    threads = [
        threading.Thread(target=lambda: keys.append(NoteSigner.from_file(path).skey()))
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(keys)) == 1


def test_checkpoints_every_n_records_and_on_close(tmp_path, signer):
    """A checkpoint is written once N records have been appended since the last, and on close."""
    log = AuditLog(
        open_sink(f"sqlite:///{tmp_path}/a.db"),
        signer=signer,
        checkpoint_every=10,
        checkpoint_interval=3600,
    )
    for i in range(25):
        log.append([body(i)])
    sizes = [open_checkpoint(n)[0].size for n in log.sink.checkpoints()]
    log.close()
    log.close()
    with open_sink(f"sqlite:///{tmp_path}/a.db", create=False) as sink:
        final = [open_checkpoint(n)[0].size for n in sink.checkpoints()]
    assert (sizes, final) == ([10, 20], [10, 20, 25])


def test_checkpoint_interval_timer_covers_an_idle_writer(tmp_path, signer):
    """After T seconds with new records and no further appends, the timer writes a checkpoint."""
    log = AuditLog(
        open_sink(f"jsonl:///{tmp_path}/a.jsonl"),
        signer=signer,
        checkpoint_every=1000,
        checkpoint_interval=0.2,
    )
    log.append([body(0), body(1)])
    deadline = time.monotonic() + 30
    while not log.sink.checkpoints() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [open_checkpoint(n)[0].size for n in log.sink.checkpoints()] == [2]
    log.close()


def test_checkpoint_dir_gets_new_read_only_files_never_rewritten(tmp_path, signer):
    """The checkpoint directory receives one new 0444 file per checkpoint, and none is rewritten."""
    cps = tmp_path / "cps"
    log = AuditLog(
        open_sink(f"sqlite:///{tmp_path}/a.db"),
        signer=signer,
        checkpoint_dir=cps,
        checkpoint_every=3,
        checkpoint_interval=3600,
    )
    log.append([body(i) for i in range(3)])
    first = sorted(cps.iterdir())
    stamp = [(p.name, p.stat().st_mtime_ns, p.read_text()) for p in first]
    log.checkpoint()  # same size and root: the file exists already and is left alone
    log.append([body(3)])
    log.close()
    names = sorted(p.name for p in cps.iterdir())
    assert [n.split("-")[0] for n in names] == ["000000000003", "000000000004"]
    assert stamp == [(p.name, p.stat().st_mtime_ns, p.read_text()) for p in first]
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o444 for p in cps.iterdir())


def test_from_env(tmp_path, monkeypatch):
    """AuditLog.from_env reads the sink, key, checkpoint directory and cadence from the environment."""
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_SINK", f"jsonl:///{tmp_path}/env.jsonl")
    monkeypatch.setenv(
        "OTEL_PYTHON_TOOLAUDIT_SIGNING_KEY_FILE", str(tmp_path / "k" / "signing.key")
    )
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_CHECKPOINT_DIR", str(tmp_path / "cps"))
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_CHECKPOINT_EVERY", "2")
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_CHECKPOINT_INTERVAL", "3600")
    log = AuditLog.from_env()
    log.append([body(0), body(1)])
    log.close()
    pub = str(tmp_path / "k" / "signing.key.pub")
    with open_sink(f"jsonl:///{tmp_path}/env.jsonl", create=False) as sink:
        result = verify(sink, public_key=pub, checkpoint_dir=tmp_path / "cps")
    assert (result.ok, result.size, result.checkpoints) == (True, 2, 2)


def test_from_env_logs_a_bad_number_and_uses_the_default(monkeypatch, tmp_path, caplog):
    """A non-numeric cadence variable is logged once by name (not its value) and the default used:
    the log still opens and appends."""
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_CHECKPOINT_EVERY", "often")
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_SIGNING_KEY_FILE", str(tmp_path / "signing.key"))
    with caplog.at_level("WARNING"):
        log = AuditLog.from_env(f"sqlite:///{tmp_path}/a.db")
    try:
        assert log.checkpoint_every == 1000
        log.append([body(0)])
    finally:
        log.close()
    text = caplog.text
    assert "OTEL_PYTHON_TOOLAUDIT_CHECKPOINT_EVERY" in text and "often" not in text


def test_inclusion_proof_checks_offline_and_rejects_tampering(tmp_path, signer):
    """A proof checks with only the record, path and signed checkpoint; a wrong key or path fails."""
    log = AuditLog(open_sink(f"jsonl:///{tmp_path}/a.jsonl"), signer=signer, checkpoint_every=1000)
    log.append([body(i) for i in range(37)])
    log.close()
    with open_sink(f"jsonl:///{tmp_path}/a.jsonl", create=False) as sink:
        proof = prove(sink, 20)
    assert check_proof(proof, signer.verifier).size == 37
    with pytest.raises(VerificationError, match="no trusted key"):
        check_proof(proof, NoteSigner.generate(signer.name).verifier)
    from dataclasses import replace

    bad_path = replace(proof, path=(proof.path[1], proof.path[0], *proof.path[2:]))
    with pytest.raises(VerificationError, match="does not lead to the tree head"):
        check_proof(bad_path, signer.verifier)
    with pytest.raises(VerificationError, match="says it is #20, the proof places it at #21"):
        check_proof(replace(proof, seq=21), signer.verifier)


def test_memory_sink_for_tests(signer):
    """memory:// seals, checkpoints and verifies like the durable sinks, for fast tests of writers."""
    log = AuditLog(open_sink("memory://"), signer=signer, checkpoint_every=2)
    log.append([body(0), body(1), body(2)])
    assert [r["seq"] for r in log.sink.records] == [0, 1, 2]
    result = verify(log.sink, public_key=signer.verifier)
    log.close()
    assert (result.ok, result.size, result.checkpoints) == (True, 3, 1)


def test_unwritable_key_path_is_a_clear_error(tmp_path):
    """A signing key path that cannot be used is a ToolAuditError naming the path, not an OSError."""
    from opentelemetry_instrumentation_toolaudit._exceptions import ToolAuditError

    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(
        ToolAuditError, match=r"cannot (read|create) the signing key .*/file/signing.key"
    ):
        NoteSigner.from_file(blocker / "signing.key")
