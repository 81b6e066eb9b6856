# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""`toolaudit verify / prove / check-proof`: exit codes and messages, never a traceback."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from opentelemetry_instrumentation_toolaudit import cli
from opentelemetry_instrumentation_toolaudit.ledger import AuditLog, NoteSigner, open_sink

from ._tamper import read_rows, write_rows
from .conftest import body, write_log


@pytest.fixture
def key(tmp_path):
    """A signer, and its public key exported in a file."""
    signer = NoteSigner.generate("test.example/audit")
    pub = tmp_path / "audit.pub"
    pub.write_text(signer.verifier.vkey() + "\n")
    return signer, str(pub)


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("kind", ["sqlite", "jsonl"])
def test_verify_ok_with_a_bare_path(tmp_path, key, capsys, kind):
    """A bare file path is accepted; an intact trail exits 0 with 'OK: N records, root …'."""
    signer, pub = key
    path = tmp_path / f"audit.{'db' if kind == 'sqlite' else 'jsonl'}"
    write_log(f"{kind}:///{path}", signer, 12, checkpoint_dir=tmp_path / "cps")
    code, out, err = run(
        capsys, "verify", str(path), "--public-key", pub, "--checkpoint-dir", str(tmp_path / "cps")
    )
    assert (code, err) == (0, "")
    assert out.startswith("OK: 12 records, root ")


def test_verify_json_format(tmp_path, key, capsys):
    """--format json prints the whole result on stdout and the summary line on stderr."""
    signer, pub = key
    write_log(f"sqlite:///{tmp_path}/a.db", signer, 6)
    code, out, err = run(
        capsys, "verify", f"sqlite:///{tmp_path}/a.db", "--public-key", pub, "--format", "json"
    )
    result = json.loads(out)
    assert (
        code,
        result["ok"],
        result["size"],
        result["first_bad_seq"],
        result["problems"],
    ) == (0, True, 6, None, [])
    assert err.startswith("OK: 6 records")


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        ("modify", "FAIL: record #4: its bytes do not match its entry hash: modified record"),
        ("delete", "FAIL: record #4: record #4 is missing (the next stored record is #5): deleted"),
        (
            "column",
            "FAIL: record #4: the user_id column does not match the record's canonical bytes (edited column)",
        ),
        ("truncate", "FAIL: record #4: the log ends after 4 records but a signed checkpoint"),
    ],
)
def test_verify_fail_kinds(tmp_path, key, capsys, tamper, expected):
    """A tampered trail exits 1 with 'FAIL: record #i: what' naming the first bad record."""
    signer, pub = key
    url = f"sqlite:///{tmp_path}/a.db"
    write_log(url, signer, 10, checkpoint_dir=tmp_path / "cps")
    rows = read_rows(url)
    if tamper == "modify":
        rows[4]["canonical"] = rows[4]["canonical"].replace(b"usr_", b"usX_")
    elif tamper == "delete":
        del rows[4]
    elif tamper == "column":
        rows[4]["columns"]["user_id"] = "usr_other"
    else:
        rows = rows[:4]
    write_rows(url, rows)
    code, out, _ = run(
        capsys, "verify", url, "--public-key", pub, "--checkpoint-dir", str(tmp_path / "cps")
    )
    assert code == 1
    assert out.startswith(expected)


def test_verify_wrong_key_is_a_signature_failure(tmp_path, key, capsys):
    """Checkpoints not signed by the given key fail verification (exit 1) with a message that
    names the wrong key as the likely cause."""
    signer, _ = key
    write_log(f"sqlite:///{tmp_path}/a.db", signer, 5)
    other = tmp_path / "other.pub"
    other.write_text(NoteSigner.generate("test.example/audit").verifier.vkey())
    code, out, _ = run(capsys, "verify", str(tmp_path / "a.db"), "--public-key", str(other))
    assert code == 1
    assert out.startswith(
        "FAIL: record #0: checkpoint for size 5 (sink) is not signed by the given key: wrong "
        "public key, or the checkpoints were re-signed"
    )


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("{tmp}/missing.db", "{tmp}/missing.db: no such file"),
        ("{tmp}/missing.jsonl", "{tmp}/missing.jsonl: no such file"),
        ("{tmp}/garbage.db", "{tmp}/garbage.db: not an SQLite database"),
        ("{tmp}/garbage.jsonl", "{tmp}/garbage.jsonl: not a toolaudit JSONL log"),
        ("{tmp}/empty.sqlite3", "{tmp}/empty.sqlite3: not a toolaudit database"),
        ("ftp://example.com/audit", "unknown sink 'ftp'"),
        (
            "postgresql://nobody@127.0.0.1:1/none",
            "postgresql://nobody@127.0.0.1:1/none: cannot connect",
        ),
    ],
)
def test_unreadable_sinks_exit_2_with_a_clear_message(tmp_path, capsys, target, message):
    """Missing, garbage, foreign or unreachable sinks exit 2 saying what and where, no traceback."""
    (tmp_path / "garbage.db").write_bytes(bytes(range(256)) * 8)
    (tmp_path / "garbage.jsonl").write_bytes(b"\x00\xff garbage\nmore garbage\n")
    import sqlite3

    sqlite3.connect(tmp_path / "empty.sqlite3").execute("CREATE TABLE t (x)").connection.commit()
    code, out, err = run(capsys, "verify", target.format(tmp=tmp_path))
    assert (code, out) == (2, "")
    assert err.startswith(f"toolaudit verify: error: {message.format(tmp=tmp_path)}")
    assert "Traceback" not in err


def test_corrupt_sqlite_page_exits_2(tmp_path, key, capsys):
    """An SQLite file damaged past its header (a corrupt page) is reported as unreadable, exit 2."""
    signer, pub = key
    path = tmp_path / "a.db"
    write_log(f"sqlite:///{path}", signer, 200)
    with open_sink(f"sqlite:///{path}"):
        pass
    data = bytearray(path.read_bytes())
    for page in range(2, len(data) // 4096):
        data[page * 4096 + 100 : page * 4096 + 400] = b"\xa5" * 300
    path.write_bytes(bytes(data))
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    code, _, err = run(capsys, "verify", str(path), "--public-key", pub)
    assert code == 2
    assert err.startswith(f"toolaudit verify: error: {path}: ")


def test_bad_public_key_exits_2(tmp_path, capsys):
    """A public key file that is not a verifier key is a usage error."""
    write_log(f"sqlite:///{tmp_path}/a.db", NoteSigner.generate("k"), 2)
    (tmp_path / "bad.pub").write_text("not a key")
    code, _, err = run(
        capsys, "verify", str(tmp_path / "a.db"), "--public-key", str(tmp_path / "bad.pub")
    )
    assert code == 2
    assert err.startswith(
        f"toolaudit verify: error: public key {tmp_path / 'bad.pub'}: malformed verifier key"
    )


def test_prove_and_check_proof_round_trip(tmp_path, key, capsys):
    """`prove` prints a JSON proof that `check-proof` accepts offline, and rejects once altered;
    check-proof's verdict is on stdout."""
    signer, pub = key
    url = f"sqlite:///{tmp_path}/a.db"
    write_log(url, signer, 300)
    code, out, err = run(capsys, "prove", url, "123")
    assert (
        code,
        err.startswith("OK: inclusion proof for record #123 in the signed tree of 300 records"),
    ) == (0, True)
    proof = json.loads(out)
    assert (proof["seq"], proof["tree_size"]) == (123, 300)
    (tmp_path / "p.json").write_text(out)
    code, out, err = run(capsys, "check-proof", str(tmp_path / "p.json"), "--public-key", pub)
    assert (
        code,
        re.fullmatch(
            r"OK: record #123 is in the log test\.example/audit/[0-9a-f]{32} of 300 records, "
            r"root [0-9a-f]{64}\n",
            out,
        )
        is not None,
        err,
    ) == (0, True, "")
    proof["record"] = proof["record"].replace("usr_", "usX_")
    (tmp_path / "bad.json").write_text(json.dumps(proof))
    code, out, err = run(capsys, "check-proof", str(tmp_path / "bad.json"), "--public-key", pub)
    assert (code, out, err) == (
        1,
        "FAIL: record #123: the record does not hash to the proof's leaf hash\n",
        "",
    )


def test_check_proof_json_format(tmp_path, key, capsys):
    """check-proof --format json prints its verdict as JSON on stdout and the summary on stderr,
    for an accepted and a rejected proof alike."""
    signer, pub = key
    url = f"sqlite:///{tmp_path}/a.db"
    write_log(url, signer, 40)
    _, out, _ = run(capsys, "prove", url, "7")
    proof = json.loads(out)
    (tmp_path / "p.json").write_text(out)
    code, out, err = run(
        capsys, "check-proof", str(tmp_path / "p.json"), "--public-key", pub, "--format", "json"
    )
    verdict = json.loads(out)
    assert (code, verdict) == (
        0,
        {
            "ok": True,
            "seq": 7,
            "origin": proof["checkpoint"].split("\n", 1)[0],
            "tree_size": 40,
            "root": verdict["root"],
        },
    )
    assert (
        err
        == f"OK: record #7 is in the log {verdict['origin']} of 40 records, root {verdict['root']}\n"
    )
    proof["record"] = proof["record"].replace("usr_", "usX_")
    (tmp_path / "bad.json").write_text(json.dumps(proof))
    code, out, err = run(
        capsys, "check-proof", str(tmp_path / "bad.json"), "--public-key", pub, "--format", "json"
    )
    assert (code, json.loads(out), err) == (
        1,
        {"ok": False, "seq": 7, "error": "the record does not hash to the proof's leaf hash"},
        "FAIL: record #7: the record does not hash to the proof's leaf hash\n",
    )


def test_verify_reports_a_deletion_once(tmp_path, key, capsys):
    """A record deleted from the middle: one FAIL line naming it, and one line counting the later
    checks that fail only because of it, not a false line per later record."""
    signer, pub = key
    url = f"sqlite:///{tmp_path}/a.db"
    write_log(url, signer, 16, checkpoint_dir=tmp_path / "cps")
    rows = read_rows(url)
    del rows[4]
    write_rows(url, rows)
    code, out, err = run(
        capsys, "verify", url, "--public-key", pub, "--checkpoint-dir", str(tmp_path / "cps")
    )
    assert (code, out, err) == (
        1,
        "FAIL: record #4: record #4 is missing (the next stored record is #5): deleted "
        "(and 2 follow-on failures caused by it)\n",
        "  2 later checks fail only because of the above (see --format json)\n",
    )


def test_prove_without_a_covering_checkpoint_fails(tmp_path, key, capsys):
    """A record no checkpoint covers yet cannot be proven: exit 1 with the reason."""
    signer, _ = key
    log = AuditLog(
        open_sink(f"sqlite:///{tmp_path}/a.db"),
        signer=signer,
        checkpoint_every=100,
        checkpoint_interval=3600,
    )
    log.append([body(0)])
    log.sink.close()
    code, _, err = run(capsys, "prove", str(tmp_path / "a.db"), "0")
    assert code == 1
    assert err.startswith("FAIL: record #0: no checkpoint covers record #0 yet")


def test_console_script_verify(tmp_path, key):
    """The installed `toolaudit verify` console script runs end to end in a subprocess."""
    signer, pub = key
    write_log(f"jsonl:///{tmp_path}/a.jsonl", signer, 3)
    script = Path(sys.executable).with_name("toolaudit")
    proc = subprocess.run(
        [str(script), "verify", str(tmp_path / "a.jsonl"), "--public-key", pub],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (proc.returncode, proc.stderr) == (0, "")
    assert proc.stdout.startswith("OK: 3 records, root ")


def test_verify_reports_erased_payloads_summarised(tmp_path, key):
    """``toolaudit verify`` (a real subprocess) passes a trail with erased payloads and names the
    first ten erased records, summarising the rest; JSON lists them all."""
    signer, pub = key
    url = f"sqlite:///{tmp_path}/a.db"
    write_log(url, signer, 30)
    with open_sink(url) as sink:
        assert sink.erase_payloads(range(0, 30, 2)) == 15
    toolaudit = Path(sys.executable).with_name("toolaudit")
    done = subprocess.run(
        [toolaudit, "verify", url, "--public-key", pub], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout
    assert "15 payloads erased: seqs 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, … (5 more)" in done.stdout
    done = subprocess.run(
        [toolaudit, "verify", url, "--public-key", pub, "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert json.loads(done.stdout)["erased_payloads"] == list(range(0, 30, 2))
