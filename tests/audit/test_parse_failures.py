# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Garbage anywhere a verifier parses (checkpoint rows and files, records, proofs) is reported with
its location, never an uncaught exception; and a writer still starts beside a garbage checkpoint."""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opentelemetry_instrumentation_toolaudit import cli
from opentelemetry_instrumentation_toolaudit._exceptions import VerificationError
from opentelemetry_instrumentation_toolaudit.ledger import AuditLog, open_sink, verify
from opentelemetry_instrumentation_toolaudit.ledger._checkpoint import (
    Checkpoint,
    open_checkpoint,
    sign_checkpoint,
)
from opentelemetry_instrumentation_toolaudit.ledger._problems import CHECKPOINT, MODIFIED
from opentelemetry_instrumentation_toolaudit.ledger._proof import prove

from ._tamper import add_raw_checkpoint
from .conftest import body, write_log

N = 12
_ROOT = "A" * 43 + "="
GARBAGE_NOTES = [
    "garbage",
    "log\n\u00b2\n" + _ROOT + "\n\n\u2014 k AAAAAAA=\n",  # a non-ASCII digit as the size
    "log\n3\n!!notbase64\n\n\u2014 k AAAAAAA=\n",  # bad base64 root
    "log\n3\nAAAA\n\n\u2014 k AAAAAAA=\n",  # a root of the wrong length
    "log\n3\n" + _ROOT + "\n\n\u2014 k %%%\n",  # bad base64 signature
]


def _run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("note", GARBAGE_NOTES)
def test_garbage_checkpoint_row_is_a_reported_problem(sink_url, signer, tmp_path, capsys, note):
    """verify reports an unparsable checkpoint row as a problem of the sink's checkpoints; prove
    skips it; the CLI exits 1, no traceback."""
    write_log(sink_url, signer, N)
    add_raw_checkpoint(sink_url, note)
    with open_sink(sink_url, create=False) as sink:
        result = verify(sink, public_key=signer.verifier)
        assert prove(sink, 3).tree_size == N
    assert [(p.seq, p.kind) for p in result.problems] == [(0, CHECKPOINT)]
    assert "checkpoint in sink is unreadable (malformed" in result.problems[0].message
    pub = tmp_path / "k.pub"
    pub.write_text(signer.verifier.vkey())
    code, out, err = _run(capsys, "verify", sink_url, "--public-key", str(pub))
    assert (code, out.startswith("FAIL: record #0: checkpoint in sink is unreadable")) == (1, True)
    assert "Traceback" not in err


def test_garbage_line_in_the_jsonl_checkpoints_file_is_reported(tmp_path, signer):
    """A line of the JSONL checkpoints file that is not a JSON checkpoint entry is reported (it used
    to be skipped silently)."""
    url = f"jsonl:///{tmp_path}/a.jsonl"
    write_log(url, signer, N)
    add_raw_checkpoint(url, b"\xff{not json")
    add_raw_checkpoint(url, b'{"size": 1}')
    with open_sink(url, create=False) as sink:
        result = verify(sink, public_key=signer.verifier)
    assert [p.kind for p in result.problems] == [CHECKPOINT, CHECKPOINT]


def test_checkpoint_row_that_is_not_text(tmp_path, signer):
    """An SQLite checkpoint row holding a number or a blob is reported, not a TypeError."""
    url = f"sqlite:///{tmp_path}/a.db"
    write_log(url, signer, N)
    add_raw_checkpoint(url, 42)
    add_raw_checkpoint(url, b"\xff\x00")
    with open_sink(url, create=False) as sink:
        result = verify(sink, public_key=signer.verifier)
    assert [p.kind for p in result.problems] == [CHECKPOINT, CHECKPOINT]


def test_garbage_checkpoint_files_are_reported_with_their_name(tmp_path, signer):
    """A garbage or unreadable file in the checkpoint directory is a problem naming that file."""
    url = f"sqlite:///{tmp_path}/a.db"
    cps = tmp_path / "cps"
    write_log(url, signer, N, checkpoint_dir=cps)
    (cps / "000000000099-bad.checkpoint").write_bytes(b"\x00\xffnot a note")
    (cps / "000000000098-dir.checkpoint").mkdir()
    with open_sink(url, create=False) as sink:
        result = verify(sink, public_key=signer.verifier, checkpoint_dir=cps)
    messages = sorted(p.message for p in result.problems)
    assert [p.kind for p in result.problems] == [CHECKPOINT, CHECKPOINT]
    assert f"checkpoint {cps}/000000000098-dir.checkpoint cannot be read" == messages[0]
    assert messages[1].startswith(f"checkpoint in {cps}/000000000099-bad.checkpoint is unreadable")


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("canonical", "{not json"),
        ("entry_hash", "not a blob"),  # a hash stored as text
        ("entry_hash", 7),  # or as a number
        ("entry_hash", b"\x01" * 5),  # or of the wrong length
    ],
)
def test_unparsable_sqlite_record_is_a_modified_record(tmp_path, signer, column, value):
    """A record row with garbage bytes or a hash of the wrong type or length is reported at its
    sequence number."""
    url = f"sqlite:///{tmp_path}/a.db"
    write_log(url, signer, N)
    conn = sqlite3.connect(f"{tmp_path}/a.db")
    conn.execute("DROP TRIGGER audit_records_no_update")
    conn.execute(f"UPDATE audit_records SET {column} = ? WHERE seq = 4", (value,))
    conn.commit()
    conn.close()
    with open_sink(url, create=False) as sink:
        result = verify(sink, public_key=signer.verifier)
    assert (result.first_bad_seq, result.problems[0].kind) == (4, MODIFIED)


def test_prove_reports_a_record_that_is_not_utf8(tmp_path, signer, capsys):
    """`prove` of a record whose bytes are not UTF-8 fails with exit 1 and says so."""
    url = f"sqlite:///{tmp_path}/a.db"
    write_log(url, signer, N)
    conn = sqlite3.connect(f"{tmp_path}/a.db")
    conn.execute("DROP TRIGGER audit_records_no_update")
    conn.execute("UPDATE audit_records SET canonical = CAST(x'7bff7d' AS TEXT) WHERE seq = 2")
    conn.commit()
    conn.close()
    code, _, err = _run(capsys, "prove", url, "2")
    assert (code, err) == (
        1,
        "FAIL: record #2: record #2 is not UTF-8 text: a modified record (run `toolaudit verify`)\n",
    )


@pytest.mark.parametrize("document", ["[1, 2]", '"text"', "[" * 100_000, '{"format": 1}'])
def test_check_proof_of_a_garbage_document_exits_2(tmp_path, signer, capsys, document):
    """A proof file that is JSON but no proof object (or too deep to parse) exits 2 with a message."""
    pub = tmp_path / "k.pub"
    pub.write_text(signer.verifier.vkey())
    (tmp_path / "p.json").write_text(document)
    code, _, err = _run(capsys, "check-proof", str(tmp_path / "p.json"), "--public-key", str(pub))
    assert (
        code,
        err.startswith(f"toolaudit check-proof: error: proof file {tmp_path}/p.json: not an"),
    ) == (
        2,
        True,
    )


def test_writer_starts_beside_a_garbage_checkpoint_row(sink_url, signer, caplog):
    """AuditLog opens and appends when the sink holds a garbage checkpoint row; it logs once."""
    write_log(sink_url, signer, N)
    add_raw_checkpoint(sink_url, GARBAGE_NOTES[1])
    with caplog.at_level(logging.WARNING, logger="opentelemetry_instrumentation_toolaudit"):
        for i in range(2):
            log = AuditLog(open_sink(sink_url), signer=signer, checkpoint_interval=3600)
            log.append([body(100 + i)])
            log.close()
    with open_sink(sink_url, create=False) as sink:
        assert sink.size() == N + 2
    warnings = [r.getMessage() for r in caplog.records if "unreadable checkpoint" in r.getMessage()]
    assert len(warnings) <= 1
    assert json.dumps(warnings).count("postgresql://") == 0


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_a_mangled_checkpoint_raises_only_verification_error(signer, data):
    """Any edit of a signed checkpoint (a character replaced, inserted or cut, non-ASCII in the
    signature line) parses or raises VerificationError: callers need catch nothing else."""
    note = sign_checkpoint(Checkpoint(f"{signer.name}/{'a' * 32}", 7, b"\x01" * 32), signer)
    at = data.draw(st.integers(0, len(note) - 1))
    piece = data.draw(st.text(max_size=3))
    how = data.draw(st.sampled_from(["replace", "insert", "cut"]))
    mangled = {
        "replace": note[:at] + piece + note[at + 1 :],
        "insert": note[:at] + piece + note[at:],
        "cut": note[:at],
    }[how]
    for verifiers in ((), (signer.verifier,)):
        with contextlib.suppress(VerificationError):
            open_checkpoint(mangled, verifiers)


def test_prove_out_of_range_beside_a_checkpoint_with_a_non_ascii_signature(
    sink_url, signer, capsys
):
    """A signature line holding non-ASCII text is an unreadable checkpoint, skipped: a record past
    the end is still a one-line usage error, not an unexpected ValueError."""
    write_log(sink_url, signer, 3)
    with open_sink(sink_url, create=False) as sink:
        note = sink.checkpoints()[-1]
    add_raw_checkpoint(sink_url, note.rstrip("\n")[:-1] + "\x80\n")  # in the base64
    code, _, err = _run(capsys, "prove", sink_url, "9")
    assert (code, err.count("\n"), "out of range" in err) == (2, 1, True)
