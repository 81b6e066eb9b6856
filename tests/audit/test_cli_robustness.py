# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Every subcommand given bad input: one line on stderr naming what and where, exit 2, no traceback;
and a reader that closes stdout early ends the command quietly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from opentelemetry_instrumentation_toolaudit import cli
from opentelemetry_instrumentation_toolaudit.ledger import NoteSigner, open_sink, prove

from .conftest import write_log

SCRIPT = str(Path(sys.executable).with_name("toolaudit"))


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A good trail, key and proof, and every kind of bad input beside them."""
    tmp = tmp_path_factory.mktemp("cli")
    signer = NoteSigner.generate("test.example/audit")
    (tmp / "good.pub").write_text(signer.verifier.vkey() + "\n")
    write_log(f"sqlite:///{tmp}/good.db", signer, 20)
    for name in ("dir", "dir.db", "dir.jsonl"):
        (tmp / name).mkdir()
    for name in ("zero.db", "zero.json", "zero.pub"):
        (tmp / name).write_bytes(b"")
    noise = bytes((i * 167 + 13) % 256 for i in range(5000))
    for name in ("random.db", "random.jsonl", "random.json", "random.pub"):
        (tmp / name).write_bytes(noise)
    (tmp / "list.json").write_text("[1, 2]")
    (tmp / "other.json").write_text('{"format": "something else"}')
    with open_sink(f"sqlite:///{tmp}/good.db", create=False) as sink:
        (tmp / "proof.json").write_text(json.dumps(prove(sink, 3).to_json()))
    return tmp


def _run(capsys, argv):
    """main()'s exit code, or argparse's, and what was printed."""
    try:
        code = cli.main(argv)
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


SINKS = [
    ("{t}/missing.db", "{t}/missing.db: no such file"),
    ("{t}/missing.jsonl", "{t}/missing.jsonl: no such file"),
    ("{t}/dir", "{t}/dir: is a directory, not a sqlite sink file"),
    ("{t}/dir.db", "{t}/dir.db: is a directory, not a sqlite sink file"),
    ("{t}/dir.jsonl", "{t}/dir.jsonl: is a directory, not a jsonl sink file"),
    ("{t}/zero.db", "{t}/zero.db: not a toolaudit database"),
    ("{t}/random.db", "{t}/random.db: not an SQLite database"),
    ("{t}/random.jsonl", "{t}/random.jsonl: "),
    ("ftp://example.com/audit", "unknown sink 'ftp'"),
    ("sqlite://", "bad sqlite sink URL 'sqlite://'"),
    ("jsonl:///", "bad jsonl sink URL 'jsonl:///'"),
    ("", "SINK is empty"),
]


@pytest.mark.parametrize("command", ["verify", "prove"])
@pytest.mark.parametrize(("sink", "message"), SINKS)
def test_bad_sinks(files, capsys, command, sink, message):
    """A missing, directory, empty, random or foreign sink: exit 2 and one line saying where."""
    extra = ["3"] if command == "prove" else []
    code, out, err = _run(capsys, [command, sink.format(t=files), *extra])
    assert (code, out, err.count("\n")) == (2, "", 1)
    assert err.startswith(f"toolaudit {command}: error: {message.format(t=files)}")


@pytest.mark.parametrize(
    ("seq", "message"),
    [
        (
            "20",
            "error: record #20 is out of range: sqlite:///{t}/good.db holds 20 records (#0..#19)",
        ),
        ("99999999999999999999", "error: record #99999999999999999999 is out of range"),
        ("-1", "error: argument SEQ: a record sequence number is 0 or more, not -1"),
        ("abc", "error: argument SEQ: not a record sequence number: 'abc'"),
        ("1.5", "error: argument SEQ: not a record sequence number: '1.5'"),
    ],
)
def test_prove_bad_sequence_numbers(files, capsys, seq, message):
    """Out of range, negative or not a number: exit 2, one line, no usage dump."""
    code, out, err = _run(capsys, ["prove", f"{files}/good.db", seq])
    assert (code, out, err.count("\n")) == (2, "", 1)
    assert err.startswith(f"toolaudit prove: {message.format(t=files)}")


@pytest.mark.parametrize(
    ("proof", "key", "message"),
    [
        ("missing.json", "good.pub", "proof file missing.json: No such file or directory"),
        ("dir", "good.pub", "proof file dir: Is a directory"),
        ("zero.json", "good.pub", "proof file zero.json: not an inclusion proof"),
        ("random.json", "good.pub", "proof file random.json: not an inclusion proof"),
        ("list.json", "good.pub", "proof file list.json: not an inclusion proof (a JSON list"),
        ("other.json", "good.pub", "proof file other.json: not an inclusion proof"),
        ("proof.json", "missing.pub", "public key: cannot read the public key missing.pub"),
        ("proof.json", "dir", "public key dir: cannot read the public key dir: Is a directory"),
        ("proof.json", "zero.pub", "public key zero.pub: malformed verifier key"),
        ("proof.json", "random.pub", "public key random.pub: not a verifier key (not UTF-8 text)"),
    ],
)
def test_check_proof_bad_files(files, capsys, monkeypatch, proof, key, message):
    """A missing, empty or garbage proof or public key file: exit 2 naming which file."""
    monkeypatch.chdir(files)
    code, out, err = _run(capsys, ["check-proof", proof, "--public-key", key])
    assert (code, out, err.count("\n")) == (2, "", 1)
    assert err.startswith(f"toolaudit check-proof: error: {message}")


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--public-key", "random.pub", "public key random.pub: not a verifier key"),
        ("--public-key", "zero.pub", "public key zero.pub: malformed verifier key"),
        ("--checkpoint-dir", "zero.json", "checkpoint directory zero.json: not a directory"),
        ("--checkpoint-dir", "missing", "checkpoint directory missing: no such directory"),
    ],
)
def test_verify_bad_key_or_checkpoint_dir(files, capsys, monkeypatch, option, value, message):
    """verify's own inputs: a garbage key or a checkpoint directory that is not one, exit 2."""
    monkeypatch.chdir(files)
    code, out, err = _run(capsys, ["verify", "good.db", option, value])
    assert (code, out, err.count("\n")) == (2, "", 1)
    assert err.startswith(f"toolaudit verify: error: {message}")


def test_argparse_errors_are_one_line(capsys):
    """A usage error from argparse is one line too, pointing at --help."""
    code, _, err = _run(capsys, ["verify"])
    assert (code, err) == (
        2,
        "toolaudit verify: error: the following arguments are required: SINK "
        "(see toolaudit verify --help)\n",
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["prove", "{t}/good.db", "3"],
        ["verify", "{t}/good.db", "--format", "json"],
        ["verify", "{t}/good.db"],
    ],
)
def test_closed_stdout_ends_quietly(files, argv):
    """`toolaudit prove … | head -1` when the reader is gone before the output is written:
    exit 141 (as git, killed by SIGPIPE), nothing on stderr: no traceback, no 'Exception ignored'."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader has already gone: every write to the pipe fails with EPIPE
    try:
        proc = subprocess.run(
            [SCRIPT, *(a.format(t=files) for a in argv)],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        os.close(write_end)
    assert (proc.returncode, proc.stderr) == (cli.EXIT_BROKEN_PIPE, "")


def test_pipeline_into_head(files):
    """A real `toolaudit prove … | head -1`: the first line arrives; stderr has the OK line if the
    proof was written before head left, else nothing (and never a traceback or an error)."""
    proc = subprocess.run(
        ["sh", "-c", f'"{SCRIPT}" prove "{files}/good.db" 3 | head -1'],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.stdout == "{\n"
    assert proc.stderr in (
        "",
        "OK: inclusion proof for record #3 in the signed tree of 20 records (5 hashes)\n",
    )
