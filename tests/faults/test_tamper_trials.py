# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Tamper trials on what the writer stores besides the records and checkpoints: Merkle nodes, the
head, rows replaced through SQLite's REPLACE, and the public key beside the writer's signing key."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from opentelemetry_instrumentation_toolaudit import cli
from opentelemetry_instrumentation_toolaudit._exceptions import VerificationError
from opentelemetry_instrumentation_toolaudit.ledger import (
    AuditLog,
    Checkpoint,
    NoteSigner,
    check_proof,
    open_sink,
    prove,
    verify,
)
from opentelemetry_instrumentation_toolaudit.ledger._checkpoint import (
    open_checkpoint,
    sign_checkpoint,
)
from opentelemetry_instrumentation_toolaudit.ledger._merkle import (
    inclusion_proof,
    root_from_leaf_hashes,
)
from opentelemetry_instrumentation_toolaudit.ledger._problems import HEAD, NODE, SIGNATURE
from opentelemetry_instrumentation_toolaudit.ledger.stores._base import NODE_MIN_LEVEL
from tests.audit._tamper import (
    _path,
    _pg,
    drop_sqlite_triggers,
    read_checkpoints,
    read_rows,
    reseal_from,
    write_checkpoints,
    write_head,
    write_rows,
)
from tests.audit.conftest import body

N = 600
"""Enough records for stored Merkle nodes (subtrees of 256 leaves and up): (8, 0), (8, 1), (9, 0)."""


def _trail(url: str, signer: NoteSigner, n: int = N, **kwargs: object) -> None:
    with AuditLog(open_sink(url), signer=signer, checkpoint_interval=3600, **kwargs) as log:  # type: ignore[arg-type]
        log.append([body(i) for i in range(n)])


def _problems(url: str, signer: NoteSigner) -> list[tuple[int, str]]:
    with open_sink(url, create=False) as sink:
        result = verify(sink, public_key=signer.verifier)
    return [(p.seq, p.kind) for p in result.problems]


def _set_node(url: str, level: int, index: int, value: bytes) -> None:
    """Store ``value`` as the Merkle node (level, index), bypassing the sink's guards."""
    if url.startswith("sqlite"):
        conn = sqlite3.connect(_path(url))
        drop_sqlite_triggers(conn, "audit_nodes")
        conn.execute("INSERT OR REPLACE INTO audit_nodes VALUES (?, ?, ?)", (level, index, value))
        conn.commit()
        conn.close()
        return
    with _pg(url) as conn:
        conn.execute("ALTER TABLE audit_nodes DISABLE TRIGGER USER")
        conn.execute(
            "INSERT INTO audit_nodes VALUES (%s, %s, %s) "
            "ON CONFLICT (level, idx) DO UPDATE SET hash = EXCLUDED.hash",
            (level, index, value),
        )
        conn.execute("ALTER TABLE audit_nodes ENABLE TRIGGER USER")


def _uses(seq: int, size: int, level: int, index: int) -> bool:
    """Whether the inclusion proof of ``seq`` in a tree of ``size`` reads the stored node (level,
    index): subtrees of up to 2^NODE_MIN_LEVEL leaves are rehashed from their leaves instead."""
    wanted = (index << level, (index + 1) << level)
    asked: list[tuple[int, int]] = []
    inclusion_proof(seq, size, lambda start, stop: asked.append((start, stop)) or bytes(32))
    return level > NODE_MIN_LEVEL and wanted in asked


@pytest.mark.parametrize(("level", "index"), [(8, 0), (8, 1), (9, 0)])
def test_altered_merkle_node_fails_verify(sink_url, signer, level, index):
    """A stored Merkle node changed in place is reported at its first record, and nothing else is."""
    if sink_url.startswith("jsonl"):
        pytest.skip("the JSONL sink stores no Merkle nodes")
    _trail(sink_url, signer)
    _set_node(sink_url, level, index, bytes(range(32)))
    with open_sink(sink_url, create=False) as sink:
        result = verify(sink, public_key=signer.verifier)
    assert [(p.seq, p.kind) for p in result.problems] == [(index << level, NODE)]
    first, last = index << level, ((index + 1) << level) - 1
    assert result.problems[0].message == (
        f"the stored Merkle node over records #{first}..#{last} does not match them: the node "
        "was altered (inclusion proofs built from it are wrong)"
    )


def test_altered_merkle_node_fails_prove(sink_url, signer, capsys):
    """`prove` refuses a proof built from an altered stored node (nothing on stdout, exit 1),
    while records whose proofs do not need that node still prove and check."""
    if sink_url.startswith("jsonl"):
        pytest.skip("the JSONL sink stores no Merkle nodes")
    _trail(sink_url, signer)
    _set_node(sink_url, 9, 0, bytes(range(32)))
    using = next(s for s in range(N) if _uses(s, N, 9, 0))
    clean = next(s for s in range(N) if not _uses(s, N, 9, 0))
    with open_sink(sink_url, create=False) as sink:
        with pytest.raises(VerificationError, match="does not lead to the signed checkpoint"):
            prove(sink, using)
        assert check_proof(prove(sink, clean), signer.verifier).size == N
    code = cli.main(["prove", sink_url, str(using)])
    out, err = capsys.readouterr()
    assert (code, out) == (1, "")
    assert err.startswith(f"FAIL: record #{using}: the proof built from the stored record")


def test_forged_merkle_node_outside_the_tree_fails_verify(sink_url, signer):
    """A stored Merkle node the tree does not have (past the last record) is reported."""
    if sink_url.startswith("jsonl"):
        pytest.skip("the JSONL sink stores no Merkle nodes")
    _trail(sink_url, signer)
    _set_node(sink_url, 8, 5, bytes(32))
    with open_sink(sink_url, create=False) as sink:
        result = verify(sink, public_key=signer.verifier)
    assert [(p.seq, p.kind) for p in result.problems] == [(5 << 8, NODE)]
    assert "is not a node of the tree of the stored records" in result.problems[0].message


def test_head_claiming_more_records_fails_verify(sink_url, signer):
    """A head claiming 50 records more than are stored (after which every append fails) is
    reported where the records end."""
    _trail(sink_url, signer, 23)
    write_head(sink_url, read_rows(sink_url), size=23 + 50)
    assert _problems(sink_url, signer) == [(23, HEAD)]


def test_head_with_an_altered_frontier_fails_verify(sink_url, signer):
    """A head whose size and last hash are right but whose Merkle frontier is not the records'
    (appends would sign roots of another tree) is reported."""
    _trail(sink_url, signer, 23)
    rows = read_rows(sink_url)
    write_head(sink_url, [{**rows[0], "entry_hash": bytes(32)}, *rows[1:]])
    with open_sink(sink_url, create=False) as sink:
        result = verify(sink, public_key=signer.verifier)
    assert [(p.seq, p.kind) for p in result.problems] == [(23, HEAD)]
    assert "is not the head of those records" in result.problems[0].message


def test_head_reset_to_empty_fails_verify(sink_url, signer):
    """A head reset to the empty log, under records that are all there, is reported at record 0
    (every later append would fail)."""
    if sink_url.startswith("jsonl"):
        pytest.skip("a JSONL head is a cache: a writer rebuilds one that does not match the log")
    _trail(sink_url, signer, 23)
    write_head(sink_url, [])
    with open_sink(sink_url, create=False) as sink:
        result = verify(sink, public_key=signer.verifier)
    assert [(p.seq, p.kind) for p in result.problems] == [(0, HEAD)]
    assert "records #0..#22 are past the stored head (size 0)" in result.problems[0].message


_GENESIS = "0" * 64


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT OR REPLACE INTO audit_records (seq, entry_hash, prev_hash, canonical) "
        "VALUES (3, x'00', '', '{}')",
        # A new position, but the event id of record #3: the unique index would delete #3.
        f"REPLACE INTO audit_records (seq, entry_hash, prev_hash, canonical, event_id) "
        f"VALUES ({N}, x'00', '', '{{}}', '{3:032x}')",
        f"INSERT OR REPLACE INTO audit_head VALUES (1, 0, '{_GENESIS}', x'')",
        "REPLACE INTO audit_nodes VALUES (8, 0, x'00')",
        "REPLACE INTO audit_checkpoints (id, size, note) VALUES (1, 1, 'x')",
        "REPLACE INTO audit_meta VALUES ('log_id', '0123456789abcdef0123456789abcdef')",
        "UPDATE audit_head SET size = size + 50",
        f"UPDATE audit_head SET prev_hash = '{_GENESIS}'",
    ],
)
def test_sqlite_replace_and_head_changes_are_refused(tmp_path, signer, statement):
    """REPLACE on every table, and a head moved away from the records, are refused by the
    triggers; the trail still verifies and appends still work."""
    url = f"sqlite:///{tmp_path}/a.db"
    _trail(url, signer)
    conn = sqlite3.connect(f"{tmp_path}/a.db")
    with pytest.raises(sqlite3.IntegrityError, match=r"append-only|only grows|already stored"):
        conn.execute(statement)
    conn.close()
    _trail(url, signer, 0)
    with AuditLog(open_sink(url), signer=signer) as log:
        log.append([body(N)])
    assert _problems(url, signer) == []


# --- the key beside the writer's signing key ------------------------------------------------


def _toolaudit(*argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_PYTHON_TOOLAUDIT_")}
    return subprocess.run(
        [str(Path(sys.executable).with_name("toolaudit")), *argv],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**clean, **env},
    )


@pytest.fixture
def substituted(sink_url, tmp_path):
    """A trail rewritten from record 7 on, its checkpoints re-signed with a new key, and that key
    put in place of the writer's (signing.key and signing.key.pub); the checkpoint directory,
    outside the attacker's reach, keeps the original checkpoints. Returns the URL, the signing
    key file, the original public key's text and the checkpoint directory."""
    key_file = tmp_path / "keys" / "signing.key"
    signer = NoteSigner.from_file(key_file)
    original = signer.verifier.vkey()
    _trail(sink_url, signer, 23, checkpoint_every=5, checkpoint_dir=tmp_path / "cps")
    rows = read_rows(sink_url)
    record = json.loads(rows[7]["canonical"])
    record["user_id"] = "usr_someone_else"
    rows[7]["canonical"] = json.dumps(record).encode()
    rows = reseal_from(rows, 7)
    write_rows(sink_url, rows)
    write_head(sink_url, rows)
    attacker = NoteSigner.generate(signer.name)
    leaves = [r["entry_hash"] for r in rows]
    notes = []
    for note in read_checkpoints(sink_url):
        cp = open_checkpoint(note)[0]
        root = root_from_leaf_hashes(leaves[: cp.size])
        notes.append(sign_checkpoint(Checkpoint(cp.origin, cp.size, root), attacker))
    write_checkpoints(sink_url, notes)
    key_file.write_text(attacker.skey() + "\n")
    Path(f"{key_file}.pub").write_text(attacker.verifier.vkey() + "\n")
    return sink_url, str(key_file), original, str(tmp_path / "cps")


def test_substituted_key_is_reported_as_self_attested(substituted):
    """Plain `toolaudit verify` trusts the key found beside the writer's, and its OK line says
    that this is self-attested, not pinned."""
    url, key_file, _, _ = substituted
    proc = _toolaudit("verify", url, OTEL_PYTHON_TOOLAUDIT_SIGNING_KEY_FILE=key_file)
    assert proc.returncode == 0
    assert proc.stdout.startswith("OK (self-attested: key from this machine, not pinned): 23 ")
    assert "pin the key with --public-key or OTEL_PYTHON_TOOLAUDIT_TRUSTED_KEYS" in proc.stderr


def test_substituted_key_fails_against_pinned_trusted_keys(substituted, tmp_path):
    """With the original key pinned in OTEL_PYTHON_TOOLAUDIT_TRUSTED_KEYS, the re-signed trail
    fails signature verification (exit 1), and the JSON says the key was pinned."""
    url, key_file, original, _ = substituted
    trusted = tmp_path / "trusted_keys"
    trusted.write_text(f"# the audit writer's key, pinned when it was set up\n{original}\n")
    env = {
        "OTEL_PYTHON_TOOLAUDIT_SIGNING_KEY_FILE": key_file,
        "OTEL_PYTHON_TOOLAUDIT_TRUSTED_KEYS": str(trusted),
    }
    proc = _toolaudit("verify", url, "--format", "json", **env)
    document = json.loads(proc.stdout)
    assert (
        proc.returncode,
        document["key_pinned"],
        document["problems"][0]["kind"],
    ) == (1, True, SIGNATURE)
    assert document["key_source"] == f"OTEL_PYTHON_TOOLAUDIT_TRUSTED_KEYS ({trusted})"


def test_substituted_key_fails_against_the_writers_checkpoint_dir(substituted):
    """With OTEL_PYTHON_TOOLAUDIT_CHECKPOINT_DIR set, as the writer had it, verify checks the
    checkpoints there too: the substituted key did not sign them (exit 1)."""
    url, key_file, _, cps = substituted
    env = {
        "OTEL_PYTHON_TOOLAUDIT_SIGNING_KEY_FILE": key_file,
        "OTEL_PYTHON_TOOLAUDIT_CHECKPOINT_DIR": cps,
    }
    proc = _toolaudit("verify", url, "--format", "json", **env)
    document = json.loads(proc.stdout)
    assert (1, False, cps) == (
        proc.returncode,
        document["key_pinned"],
        document["checkpoint_dir"],
    )
    assert SIGNATURE in {p["kind"] for p in document["problems"]}


def test_deleted_sqlite_head_fails_verify(tmp_path, signer):
    """A SQLite head row deleted (triggers dropped first) is reported at record #0: a writer
    opening the file would start a new, empty head under records that are all there."""
    url = f"sqlite:///{tmp_path}/a.db"
    _trail(url, signer, 23)
    conn = sqlite3.connect(f"{tmp_path}/a.db")
    drop_sqlite_triggers(conn, "audit_head")
    conn.execute("DELETE FROM audit_head")
    conn.commit()
    conn.close()
    assert _problems(url, signer) == [(0, HEAD)]
