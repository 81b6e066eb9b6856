# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Anchoring and log identity: a key (or a checkpoint directory) needs a checkpoint of this log;
checkpoints of other logs are ignored; SQLite's tables only grow."""

from __future__ import annotations

import json
import random
import sqlite3

import pytest

from opentelemetry_instrumentation_toolaudit import cli
from opentelemetry_instrumentation_toolaudit.ledger import AuditLog, Checkpoint, open_sink, verify
from opentelemetry_instrumentation_toolaudit.ledger._checkpoint import (
    open_checkpoint,
    sign_checkpoint,
)
from opentelemetry_instrumentation_toolaudit.ledger._problems import REPLACED, TRUNCATED, UNANCHORED

from ._tamper import (
    add_raw_checkpoint,
    read_rows,
    reseal_from,
    write_checkpoints,
    write_head,
    write_rows,
)
from .conftest import body, write_log

N = 17


def _rewrite_without_checkpoints(url: str, seed: int) -> None:
    """The attack: delete every checkpoint in the sink, edit a record, re-seal the chain after it
    and store its head."""
    rows = read_rows(url)
    k = random.Random(seed).randrange(N)
    record = json.loads(rows[k]["canonical"])
    record["user_id"] = "someone_else"
    rows[k]["canonical"] = json.dumps(record).encode()
    rows = reseal_from(rows, k)
    write_rows(url, rows)
    write_head(url, rows)
    write_checkpoints(url, [])


@pytest.mark.parametrize("seed", (3, 8))
def test_deleted_checkpoints_and_a_rewrite_fail_with_a_key(
    sink_url, signer, tmp_path, capsys, seed
):
    """With a public key, a trail with no checkpoint signed by it fails (exit 1), so deleting the
    checkpoints and rewriting the chain is not OK."""
    write_log(sink_url, signer, N)
    _rewrite_without_checkpoints(sink_url, seed)
    with open_sink(sink_url, create=False) as sink:
        result = verify(sink, public_key=signer.verifier)
    assert [(p.seq, p.kind) for p in result.problems] == [(0, UNANCHORED)]
    assert result.summary().startswith("FAIL: record #0: no valid checkpoint signed by this key")
    pub = tmp_path / "k.pub"
    pub.write_text(signer.verifier.vkey())
    code = cli.main(["verify", sink_url, "--public-key", str(pub)])
    assert (code, "no valid checkpoint signed by this key" in capsys.readouterr().out) == (1, True)


def test_an_empty_checkpoint_dir_without_a_key_fails(tmp_path, signer):
    """Given a checkpoint directory (no key), the trail needs a checkpoint of this log somewhere."""
    url = f"sqlite:///{tmp_path}/a.db"
    write_log(url, signer, N)
    write_checkpoints(url, [])
    (tmp_path / "cps").mkdir()
    with open_sink(url, create=False) as sink:
        result = verify(sink, checkpoint_dir=tmp_path / "cps")
    assert result.problems[0].kind == UNANCHORED
    assert result.problems[0].message.startswith(
        f"no valid checkpoint of this log in the sink or {tmp_path}/cps"
    )


def test_without_a_key_the_ok_line_says_unanchored(tmp_path, signer):
    """Without key or directory the rewritten trail still verifies (nothing to anchor it), and
    the OK line says so."""
    url = f"sqlite:///{tmp_path}/a.db"
    write_log(url, signer, N)
    _rewrite_without_checkpoints(url, 1)
    with open_sink(url, create=False) as sink:
        result = verify(sink)
    assert (result.ok, result.anchored) == (True, False)
    assert "unanchored: no public key given" in result.summary()


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_checkpoints SET note = 'x'",
        "DELETE FROM audit_checkpoints",
        "UPDATE audit_nodes SET hash = x'00'",
        "DELETE FROM audit_nodes",
        "UPDATE audit_meta SET value = 'x'",
        "DELETE FROM audit_meta",
        "DELETE FROM audit_head",
        "UPDATE audit_head SET size = 3",
    ],
)
def test_sqlite_tables_are_append_only(tmp_path, signer, statement):
    """Triggers reject changes to checkpoints, nodes and the log id, and a head that shrinks."""
    write_log(f"sqlite:///{tmp_path}/a.db", signer, 600)
    conn = sqlite3.connect(f"{tmp_path}/a.db")
    with pytest.raises(sqlite3.IntegrityError, match=r"append-only|never deleted|only grows"):
        conn.execute(statement)
    conn.close()
    write_log(f"sqlite:///{tmp_path}/a.db", signer, 2, start=600)  # appends still work
    with open_sink(f"sqlite:///{tmp_path}/a.db", create=False) as sink:
        assert sink.size() == 602


def test_log_id_is_stable_and_named_in_every_origin(sink_url, signer):
    """A log's id is generated once and kept; its checkpoints' origins end with it."""
    write_log(sink_url, signer, 3)
    with open_sink(sink_url) as sink:
        first = sink.log_id()
    write_log(sink_url, signer, 3, start=3)
    with open_sink(sink_url, create=False) as sink:
        assert (sink.log_id(), len(first or "")) == (first, 32)
        origins = {open_checkpoint(n)[0].origin for n in sink.checkpoints()}
    assert origins == {f"{signer.name}/{first}"}


def test_logs_sharing_a_checkpoint_dir_verify_with_their_log_id(sink_url, signer, tmp_path):
    """Two logs writing checkpoints to one directory: pinned to its id, each verifies and the
    other's checkpoints are ignored; unpinned, the other log's checkpoints fail it, with the hint."""
    cps = tmp_path / "shared"
    other = f"sqlite:///{tmp_path}/other.db"
    write_log(sink_url, signer, N, checkpoint_dir=cps)
    write_log(other, signer, N + 6, checkpoint_dir=cps)
    for url, mine in ((sink_url, 4), (other, 5)):
        with open_sink(url, create=False) as sink:
            log_id = sink.log_id()
            pinned = verify(sink, public_key=signer.verifier, checkpoint_dir=cps, log_id=log_id)
            unpinned = verify(sink, public_key=signer.verifier, checkpoint_dir=cps)
        assert (pinned.ok, pinned.problems, pinned.log_id) == (True, [], log_id)
        files = len(list(cps.iterdir()))
        assert (len(pinned.foreign), pinned.checkpoints) == (files - mine, 2 * mine)
        assert pinned.summary().endswith(
            f"(log {log_id}; {2 * mine} checkpoints; {files - mine} checkpoints of other logs ignored)"
        )
        assert not unpinned.ok
        assert {p.kind for p in unpinned.problems} == {REPLACED}
        assert f"verify with --log-id {log_id}" in unpinned.problems[0].message


@pytest.mark.parametrize("scheme", ["sqlite", "jsonl"])
def test_a_replaced_trail_fails_against_a_write_once_checkpoint_dir(
    tmp_path, signer, capsys, scheme
):
    """The attack: delete the whole trail and let the writer start a new one (a new log id). The
    old checkpoints in the write-once directory still name the old log: FAIL, pinned or not."""
    cps = tmp_path / "worm"
    path = tmp_path / f"audit.{'db' if scheme == 'sqlite' else 'jsonl'}"
    url = f"{scheme}:///{path}"
    write_log(url, signer, N, checkpoint_dir=cps)
    with open_sink(url, create=False) as sink:
        original = sink.log_id()
    for leftover in tmp_path.iterdir():
        if leftover.name.startswith(path.name):
            leftover.unlink()
    write_log(url, signer, 3, checkpoint_dir=cps)
    with open_sink(url, create=False) as sink:
        assert sink.log_id() != original
        unpinned = verify(sink, public_key=signer.verifier, checkpoint_dir=cps)
        pinned = verify(sink, public_key=signer.verifier, checkpoint_dir=cps, log_id=original)
    assert (unpinned.ok, unpinned.problems[0].kind) == (False, REPLACED)
    assert not pinned.ok
    assert {REPLACED, TRUNCATED} <= {p.kind for p in pinned.problems}
    pub = tmp_path / "k.pub"
    pub.write_text(signer.verifier.vkey())
    args = ["verify", str(path), "--public-key", str(pub), "--checkpoint-dir", str(cps)]
    assert cli.main(args) == 1
    assert cli.main([*args, "--log-id", original]) == 1
    assert "not the expected log" in capsys.readouterr().out


def test_checkpoint_copied_from_another_log(sink_url, signer, tmp_path):
    """A checkpoint of another log copied into the sink fails the trail unless its id is pinned
    (then it is ignored, not taken for a fork)."""
    other = f"sqlite:///{tmp_path}/other.db"
    write_log(sink_url, signer, N)
    write_log(other, signer, N + 2)
    with open_sink(other, create=False) as sink:
        add_raw_checkpoint(sink_url, sink.checkpoints()[-1])
    with open_sink(sink_url, create=False) as sink:
        unpinned = verify(sink, public_key=signer.verifier)
        pinned = verify(sink, public_key=signer.verifier, log_id=sink.log_id())
    assert (unpinned.ok, [p.kind for p in unpinned.problems]) == (False, [REPLACED])
    assert (pinned.ok, pinned.foreign) == (True, ["sink"])


def test_checkpoint_naming_no_log_still_counts(tmp_path, signer):
    """A checkpoint from before log ids (origin: the key name) is still this log's."""
    url = f"sqlite:///{tmp_path}/a.db"
    write_log(url, signer, N)
    with open_sink(url) as sink:
        head = sink.head()
        write_checkpoints(
            url, [sign_checkpoint(Checkpoint(signer.name, head.size, head.root), signer)]
        )
    with open_sink(url, create=False) as sink:
        result = verify(sink, public_key=signer.verifier)
    assert (result.ok, result.checkpoints, result.foreign) == (True, 1, [])
    with AuditLog(open_sink(url), signer=signer) as log:
        log.append([body(99)])


def test_without_a_key_checkpoints_do_not_anchor(tmp_path, signer):
    """Checkpoints whose signatures were not checked (no key) do not make the result anchored."""
    url = f"sqlite:///{tmp_path}/a.db"
    write_log(url, signer, N)
    with open_sink(url, create=False) as sink:
        unchecked = verify(sink)
        checked = verify(sink, public_key=signer.verifier)
    assert (unchecked.ok, unchecked.anchored, unchecked.to_json()["anchored"]) == (
        True,
        False,
        False,
    )
    assert (checked.ok, checked.anchored) == (True, True)


def test_records_past_the_last_checkpoint_are_named(tmp_path, signer):
    """The OK line says how many records at the tail no checkpoint covers yet (a cut there would not
    show), and the JSON gives the size the widest checkpoint covers."""
    url = f"sqlite:///{tmp_path}/a.db"
    write_log(url, signer, 10, every=5)
    log = AuditLog(open_sink(url), signer=signer, checkpoint_every=100, checkpoint_interval=3600)
    log.append([body(10), body(11), body(12)])
    log.sink.close()  # the writer stops without its final checkpoint (as after kill -9)
    with open_sink(url, create=False) as sink:
        result = verify(sink, public_key=signer.verifier)
    assert (result.ok, result.size, result.covered, result.to_json()["covered"]) == (
        True,
        13,
        10,
        10,
    )
    assert result.summary().endswith("; the last 3 records not yet under a checkpoint)")
