# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""`toolaudit retention apply --prune-prefix` on real sinks: the expired prefix goes, a signed
pruning checkpoint stays, and verify on what remains still proves nothing else changed."""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from opentelemetry_instrumentation_toolaudit import cli
from opentelemetry_instrumentation_toolaudit.export._retention import RetentionPolicy
from opentelemetry_instrumentation_toolaudit.ledger import (
    AuditLog,
    InclusionProof,
    NoteSigner,
    NoteVerifier,
    ProblemKind,
    check_proof,
    default_key_path,
    open_sink,
    public_key_path,
    verify,
)
from opentelemetry_instrumentation_toolaudit.ledger._prune import PRUNE_MARK
from opentelemetry_instrumentation_toolaudit.ledger.stores.memory import MemorySink

from .conftest import pg_url  # noqa: F401 - fixture

KINDS = ("sqlite", "jsonl", "postgres")
TWO_YEARS = "2028-11-24"
SEVEN_YEARS = "2033-11-30"
"""After the financial period (2555 days from 2026-11-24), before that of an admin event made now."""


def body(i: int) -> dict[str, Any]:
    """The i-th call of 2026-11-24: records 0-7 general (1 year), 8-11 financial (7 years)."""
    tool = "lookup_order" if i < 8 else "charge_payment"
    recorded_at = f"2026-11-24T10:00:{i:02d}.000000Z"
    return {
        "event_id": uuid.uuid4().hex,
        "event_type": "tool.call",
        "recorded_at": recorded_at,
        "tool_name": tool,
        "user_id": f"usr_{i % 3}",
        "arguments": {"order_id": f"ORD-{i}"},
        "success": True,
        "retain_until": RetentionPolicy().retain_until(tool, recorded_at).isoformat(),
    }


def write(url: str, n: int = 12) -> None:
    signer = NoteSigner.from_file(default_key_path())
    with AuditLog(open_sink(url), signer=signer, checkpoint_every=5) as log:
        for i in range(n):
            log.append([body(i)])


@pytest.fixture(params=KINDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A trail of 12 calls (8 general, then 4 financial) on each kind of sink."""
    kind = request.param
    if kind == "sqlite":
        target = f"sqlite:///{tmp_path / 'audit.db'}"
    elif kind == "jsonl":
        target = f"jsonl:///{tmp_path / 'audit.jsonl'}"
    else:
        target = str(request.getfixturevalue("pg_url"))
    write(target)
    return target


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def records(url: str) -> list[dict[str, Any]]:
    with open_sink(url, create=False) as sink:
        return [r.record for r in sink.read()]


def notes(url: str) -> list[str]:
    with open_sink(url, create=False) as sink:
        return sink.checkpoints()


def verified(url: str) -> Any:
    with open_sink(url, create=False) as sink:
        return verify(sink, public_key=str(public_key_path(default_key_path())))


def prune(capsys: pytest.CaptureFixture[str], url: str, as_of: str, *more: str) -> dict[str, Any]:
    code, out, err = run(
        capsys,
        "retention",
        "apply",
        url,
        "--prune-prefix",
        "--as-of",
        as_of,
        "--format",
        "json",
        *more,
    )
    assert code == 0, err
    assert len(err.splitlines()) == 1 and err.startswith("OK: pruned records")
    document: dict[str, Any] = json.loads(out)
    return document


def test_pruning_two_then_seven_years_ahead_keeps_verify_green(url, capsys):
    """Two years ahead the 8 general calls go, seven years ahead the financial ones too (the admin
    event bounds the cut); verify stays green and says what was pruned, by whom, under which
    policy; proofs of later records still check."""
    document = prune(capsys, url, TWO_YEARS)
    assert (document["cut"], document["removed"], document["categories"]) == (8, 8, {"general": 8})
    assert next(r["seq"] for r in records(url)) == 8
    admin = records(url)[-1]
    assert admin["event_type"] == "admin" and admin["details"]["action"] == "prune"
    assert admin["details"]["records"] == "0-7" and admin["details"]["policy"]["general"] == 365
    result = verified(url)
    assert result.ok, result.summary()
    assert result.pruned.cut == 8 and result.pruned.event_seq == admin["seq"]
    assert "records #0..#7 pruned on " in result.summary()
    assert "general 365 days" in result.summary()

    document = prune(capsys, url, SEVEN_YEARS)
    assert (document["first"], document["cut"], document["categories"]) == (
        8,
        12,
        {"financial": 4},
    )
    assert document["kept_from"] == 12  # the first pruning's admin event
    result = verified(url)
    assert result.ok, result.summary()
    assert result.pruned.cut == 12 and result.size == len(records(url)) + 12

    code, out, err = run(capsys, "prove", url, "13")
    assert code == 0, err
    proof = InclusionProof.from_json(json.loads(out))
    key = NoteVerifier.from_vkey(public_key_path(default_key_path()).read_text())
    assert check_proof(proof, key).size == proof.tree_size
    code, out, err = run(capsys, "prove", url, "3")
    assert (code, out) == (1, "") and len(err.splitlines()) == 1
    assert "record #3: it was pruned (records #0..#11 pruned on" in err

    code, out, err = run(capsys, "consistency", url, "12")
    assert code == 0 and json.loads(out)["old_size"] == 12, err
    code, out, err = run(capsys, "consistency", url, "5")
    assert (code, out) == (1, "") and "were pruned (records #0..#11 pruned on" in err

    code, out, err = run(capsys, "verify", url, "--format", "json")
    assert code == 0, err
    assert json.loads(out)["pruned"]["records"] == 12


def test_dry_run_changes_nothing(url, capsys):
    """--dry-run shows the cut and its counts and leaves records and checkpoints as they were."""
    before, checkpoints = records(url), notes(url)
    code, out, err = run(
        capsys, "retention", "apply", url, "--prune-prefix", "--as-of", TWO_YEARS, "--dry-run"
    )
    assert (code, out) == (0, "0-7\n"), err
    assert err.startswith("DRY RUN: would prune records #0..#7 (8 records: general 8)")
    assert "(record #8 is kept)" in err
    assert (records(url), notes(url)) == (before, checkpoints)


def test_nothing_expired_prunes_nothing(url, capsys):
    """When record 0 has not expired, nothing is pruned and nothing is recorded."""
    before = records(url)
    code, _, err = run(capsys, "retention", "apply", url, "--prune-prefix", "--as-of", "2027-01-01")
    assert code == 0 and err.startswith("OK: no record to prune before 2027-01-01"), err
    assert records(url) == before


def test_record_removed_beyond_the_cut_fails_verify(url, capsys):
    """After pruning, deleting the first kept record (by hand, triggers out of the way) fails
    verify: the pruning checkpoint covers records 0-7 only."""
    prune(capsys, url, TWO_YEARS)
    if url.startswith("sqlite"):
        path = url.removeprefix("sqlite:///")
        db = sqlite3.connect(path)
        with pytest.raises(sqlite3.IntegrityError, match="pruning cut"):
            db.execute("DELETE FROM audit_records WHERE seq = 8")
        db.execute("DROP TRIGGER audit_records_no_delete")
        db.execute("DELETE FROM audit_records WHERE seq = 8")
        db.commit()
        db.close()
    elif url.startswith("jsonl"):
        path = Path(url.removeprefix("jsonl:///"))
        lines = path.read_bytes().splitlines(keepends=True)
        path.write_bytes(b"".join(lines[1:]))
    else:
        import psycopg

        with psycopg.connect(url, autocommit=True) as db:
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="pruning cut"):
                db.execute("DELETE FROM audit_records WHERE seq = 8")
            db.execute("ALTER TABLE audit_records DISABLE TRIGGER USER")
            db.execute("DELETE FROM audit_records WHERE seq = 8")
    result = verified(url)
    assert not result.ok
    assert result.problems[0].kind == ProblemKind.DELETED and result.problems[0].seq == 8
    code, out, _ = run(capsys, "verify", url)
    assert code == 1 and out.startswith("FAIL: record #8: record #8 is missing")


def _rewrite_pruning_note(url: str, change: Any) -> None:
    """Apply ``change`` to the stored pruning checkpoint's note (triggers out of the way)."""
    if url.startswith("sqlite"):
        db = sqlite3.connect(url.removeprefix("sqlite:///"))
        db.execute("DROP TRIGGER IF EXISTS audit_checkpoints_no_update")
        for rowid, note in db.execute("SELECT id, note FROM audit_checkpoints").fetchall():
            if PRUNE_MARK in note:
                db.execute(
                    "UPDATE audit_checkpoints SET note = ? WHERE id = ?", (change(note), rowid)
                )
        db.commit()
        db.close()
    else:  # jsonl
        path = Path(url.removeprefix("jsonl:///") + ".checkpoints")
        lines = []
        for line in path.read_text().splitlines():
            item = json.loads(line)
            if PRUNE_MARK in item["note"]:
                item["note"] = change(item["note"])
            lines.append(json.dumps(item) + "\n")
        path.write_text("".join(lines))


def _other_frontier(note: str) -> str:
    lines = note.split("\n")
    for i, line in enumerate(lines):
        if line.startswith("frontier "):
            lines[i] = "frontier " + base64.b64encode(b"\x07" * 32).decode()
    return "\n".join(lines)


@pytest.mark.parametrize("kind", ["sqlite", "jsonl"])
def test_changed_frontier_fails_with_and_without_key(kind, tmp_path, capsys):
    """A pruning checkpoint whose frontier was changed fails: its signature with the key, its
    root (the frontier no longer hashes to it) without."""
    url = (
        f"sqlite:///{tmp_path / 'a.db'}" if kind == "sqlite" else f"jsonl:///{tmp_path / 'a.jsonl'}"
    )
    write(url)
    prune(capsys, url, TWO_YEARS)
    _rewrite_pruning_note(url, _other_frontier)
    result = verified(url)
    kinds = {p.kind for p in result.problems}
    assert ProblemKind.SIGNATURE in kinds and ProblemKind.PRUNING in kinds, result.summary()
    with open_sink(url, create=False) as sink:
        unsigned = verify(sink)
    assert next(p.kind for p in unsigned.problems if p.cause is None) == ProblemKind.PRUNING
    assert "does not hash to its signed root" in unsigned.summary()


@pytest.mark.parametrize("kind", ["sqlite", "jsonl"])
def test_changed_signature_or_no_pruning_checkpoint_fails(kind, tmp_path, capsys):
    """A pruning checkpoint with a forged signature fails verify; so does a trail whose pruning
    checkpoint was taken away (records missing from the start)."""
    url = (
        f"sqlite:///{tmp_path / 'a.db'}" if kind == "sqlite" else f"jsonl:///{tmp_path / 'a.jsonl'}"
    )
    write(url)
    prune(capsys, url, TWO_YEARS)
    forger = NoteSigner.generate(NoteSigner.from_file(default_key_path()).name)

    def resign(note: str) -> str:
        return forger.sign(note[: note.rindex("\n\n") + 1])

    _rewrite_pruning_note(url, resign)
    result = verified(url)
    assert not result.ok
    assert {ProblemKind.SIGNATURE, ProblemKind.PRUNING} <= {p.kind for p in result.problems}
    assert "no valid signed pruning checkpoint covers them" in result.summary()

    _rewrite_pruning_note(url, lambda note: note.replace(PRUNE_MARK, "toolaudit-other/1"))
    with open_sink(url, create=False) as sink:
        unsigned = verify(sink)
    assert unsigned.problems[0].kind == ProblemKind.PRUNING
    assert unsigned.summary().startswith("FAIL: record #0: records #0..#7 are missing")


def test_archive_of_the_pruned_records_verifies_alone(url, capsys, tmp_path):
    """--archive writes the pruned records first; the archive and the remaining trail each
    verify; a second pruning archives from the first cut on."""
    document = prune(capsys, url, TWO_YEARS, "--archive", str(tmp_path / "archives"))
    first = Path(document["archive"])
    assert first.name.endswith("-0-7")
    code, out, err = run(capsys, "verify", str(first))
    assert code == 0 and ": 8 records, root" in out, out + err
    assert verified(url).ok
    document = prune(capsys, url, SEVEN_YEARS, "--archive", str(tmp_path / "archives"))
    second = Path(document["archive"])
    assert second.name.endswith("-8-11")
    code, out, err = run(capsys, "verify", str(second))
    assert code == 0 and ": 12 records, root" in out, out + err
    assert "records #0..#7 pruned" in out
    assert verified(url).ok


def test_failed_archive_prunes_nothing(tmp_path, capsys):
    """When the archive cannot be written, nothing is pruned (exit 2, one line)."""
    url = f"sqlite:///{tmp_path / 'a.db'}"
    write(url)
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    before = records(url)
    code, out, err = run(
        capsys,
        "retention",
        "apply",
        url,
        "--prune-prefix",
        "--as-of",
        TWO_YEARS,
        "--archive",
        str(blocker),
    )
    assert (code, out) == (2, "") and len(err.splitlines()) == 1, err
    assert [r["seq"] for r in records(url)][:12] == [r["seq"] for r in before]
    assert verified(url).ok


def test_appends_continue_after_pruning(url, capsys):
    """A writer that opened the trail before it was pruned keeps appending to the same chain."""
    signer = NoteSigner.from_file(default_key_path())
    log = AuditLog(open_sink(url), signer=signer, checkpoint_every=5)
    log.append([body(20)])
    prune(capsys, url, TWO_YEARS)
    log.append([body(21)])
    log.close()
    with AuditLog(open_sink(url), signer=signer) as again:
        again.append([body(22)])
    result = verified(url)
    assert result.ok, result.summary()
    assert [r["seq"] for r in records(url)] == list(range(8, 16))


def test_search_and_stats_read_a_pruned_trail(url, capsys):
    """search and stats answer from the records that remain."""
    prune(capsys, url, TWO_YEARS)
    code, out, err = run(capsys, "search", url, "--format", "jsonl")
    assert code == 0, err
    assert sorted(json.loads(line)["seq"] for line in out.splitlines()) == list(range(8, 13))
    code, _, err = run(capsys, "stats", url)
    assert code == 0, err


def test_memory_sink_prunes_and_verifies():
    """The memory store prunes behind a pruning checkpoint like the others."""
    from opentelemetry_instrumentation_toolaudit.lifecycle._prune import find_cut
    from opentelemetry_instrumentation_toolaudit.lifecycle._prune import prune as prune_log

    signer = NoteSigner.generate("test.example/audit")
    log = AuditLog(MemorySink(), signer=signer, checkpoint_every=5)
    for i in range(12):
        log.append([body(i)])
    policy = RetentionPolicy()
    import datetime

    as_of = datetime.date.fromisoformat(TWO_YEARS)
    cut = find_cut(log.sink, policy, as_of, signer.verifier)
    done = prune_log(log, cut, {}, policy=policy, as_of=as_of)
    assert done.removed == 8
    result = verify(log.sink, public_key=signer.verifier)
    assert result.ok and result.pruned.cut == 8, result.summary()
    assert [r.seq for r in log.sink.read(0, 10)] == [8, 9]


@pytest.fixture
def pg_roles(pg_url: str) -> Any:  # noqa: F811
    """A writer role (grant_writer) and a pruner role (grant_pruner) on a trail of 12 calls."""
    import psycopg

    from tests.audit.conftest import PG_BASE

    write(pg_url)
    tag = uuid.uuid4().hex[:8]
    writer, pruner = f"toolaudit_w_{tag}", f"toolaudit_p_{tag}"
    admin = psycopg.connect(PG_BASE, autocommit=True)
    for role in (writer, pruner):
        admin.execute(f'CREATE ROLE "{role}" LOGIN')
    with open_sink(pg_url) as sink:
        sink.grant_writer(writer)
        sink.grant_pruner(pruner)
    try:
        yield tuple(pg_url.replace("postgres@", f"{role}@", 1) for role in (writer, pruner))
    finally:
        for role in (writer, pruner):
            admin.execute(f'DROP OWNED BY "{role}"')
            admin.execute(f'DROP ROLE "{role}"')
        admin.close()


def test_postgres_writer_cannot_prune_pruner_can(pg_roles, capsys):
    """The writer role gets a one-line error (exit 2) and removes nothing; the pruner role
    prunes, verify stays green, and even the pruner cannot delete a record past the cut."""
    import psycopg

    writer_url, pruner_url = pg_roles
    before = records(pruner_url)
    code, out, err = run(
        capsys, "retention", "apply", writer_url, "--prune-prefix", "--as-of", TWO_YEARS
    )
    assert (code, out) == (2, "") and len(err.splitlines()) == 1, err
    assert "permission denied" in err
    assert records(pruner_url)[:12] == before
    prune(capsys, pruner_url, TWO_YEARS)
    result = verified(pruner_url)
    assert result.ok and result.pruned.cut == 8, result.summary()
    with psycopg.connect(pruner_url, autocommit=True) as db:
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="pruning cut"):
            db.execute("DELETE FROM audit_records WHERE seq = 8")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            db.execute("DELETE FROM audit_prunes")
    with (
        psycopg.connect(writer_url, autocommit=True) as db,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        db.execute("DELETE FROM audit_records WHERE seq = 9")


def test_cli_prunes_in_a_real_process(tmp_path):
    """`toolaudit retention apply --prune-prefix` and `toolaudit verify` as real processes."""
    url = f"sqlite:///{tmp_path / 'a.db'}"
    write(url)
    env = {**os.environ, "OTEL_PYTHON_TOOLAUDIT_SIGNING_KEY_FILE": str(default_key_path())}
    toolaudit = [sys.executable, "-m", "opentelemetry_instrumentation_toolaudit.cli"]
    done = subprocess.run(
        [*toolaudit, "retention", "apply", url, "--prune-prefix", "--as-of", TWO_YEARS],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert (done.stdout, done.stderr.startswith("OK: pruned records #0..#7")) == ("0-7\n", True)
    checked = subprocess.run(
        [*toolaudit, "verify", url, "--public-key", str(public_key_path(default_key_path()))],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "records #0..#7 pruned on" in checked.stdout


@pytest.mark.parametrize("kind", KINDS)
def test_access_report_proves_records_after_the_cut(kind, request, tmp_path, capsys):
    """report access --integrity proofs (and full) on a pruned trail proves the remaining records
    against the signed root, the pruning checkpoint's frontier standing in for the pruned part."""
    url = {
        "sqlite": lambda: f"sqlite:///{tmp_path / 'audit.db'}",
        "jsonl": lambda: f"jsonl:///{tmp_path / 'audit.jsonl'}",
        "postgres": lambda: str(request.getfixturevalue("pg_url")),
    }[kind]()
    subject = "hmac-sha256:0123456789abcdef:" + "ab" * 16
    signer = NoteSigner.from_file(default_key_path())
    with AuditLog(open_sink(url), signer=signer, checkpoint_every=5) as log:
        for i in range(12):
            log.append([{**body(i), "subject": subject}])
    prune(capsys, url, TWO_YEARS)
    public_key = str(public_key_path(default_key_path()))
    for method in ("proofs", "full"):
        code, out, err = run(
            capsys, "report", "access", url, "--subject", subject, "--integrity", method,
            "--public-key", public_key, "--format", "json",
        )  # fmt: skip
        report = json.loads(out)
        assert (code, report["total_accesses"], report["integrity_verified"]) == (0, 4, True), err


def forged_pruning_note(url: str, cut: int) -> str:
    """A well-formed pruning checkpoint of this log for ``cut``, signed by another key."""
    import hashlib

    from opentelemetry_instrumentation_toolaudit.ledger._checkpoint import (
        open_checkpoint,
        sign_checkpoint,
    )
    from opentelemetry_instrumentation_toolaudit.ledger._merkle import Frontier
    from opentelemetry_instrumentation_toolaudit.ledger._prune import Pruning, frontier_blocks

    with open_sink(url, create=False) as sink:
        origin = open_checkpoint(sink.checkpoints()[0])[0].origin
    frontier = tuple(hashlib.sha256(str(block).encode()).digest() for block in frontier_blocks(cut))
    forged = Pruning(
        cut=cut,
        root=Frontier(cut, frontier).root(),
        frontier=frontier,
        prev_hash="00" * 32,
        pruned_at="-",
        pruned_by="-",
        as_of="-",
        policy=(),
        event_seq=None,
    )
    return sign_checkpoint(forged.checkpoint(origin), NoteSigner.generate(origin.split("/")[0]))


@pytest.mark.parametrize("kind", KINDS)
def test_pruning_checkpoint_of_another_key_is_refused(kind, request, tmp_path, capsys):
    """A pruning checkpoint not signed by the log's key (for cut 4, above the 7-year record #3)
    makes the run and the dry run refuse with one line, exit 2, nothing appended or removed."""
    url = {
        "sqlite": lambda: f"sqlite:///{tmp_path / 'audit.db'}",
        "jsonl": lambda: f"jsonl:///{tmp_path / 'audit.jsonl'}",
        "postgres": lambda: str(request.getfixturevalue("pg_url")),
    }[kind]()
    signer = NoteSigner.from_file(default_key_path())
    with AuditLog(open_sink(url), signer=signer, checkpoint_every=5) as log:
        for i in range(12):
            call = body(i + 8 if i == 3 else 0)  # record #3 financial, the others general
            log.append([{**call, "recorded_at": f"2026-11-24T10:00:{i:02d}.000000Z"}])
    with open_sink(url, create=False) as sink:
        sink.write_checkpoint(forged_pruning_note(url, 4), 4)
    before, before_notes = records(url), notes(url)
    for more in (("--dry-run",), ()):
        code, out, err = run(
            capsys, "retention", "apply", url, "--prune-prefix", "--as-of", TWO_YEARS, *more
        )
        assert (code, out) == (2, ""), err
        assert len(err.splitlines()) == 1 and "fails verify" in err, err
        assert "nothing was pruned" in err
    assert (records(url), notes(url)) == (before, before_notes)


def test_find_cut_ignores_a_pruning_checkpoint_of_another_key(tmp_path):
    """find_cut starts from the latest pruning checkpoint signed by the log's key, not from one
    signed by another key."""
    import datetime

    from opentelemetry_instrumentation_toolaudit.lifecycle._prune import find_cut

    url = f"sqlite:///{tmp_path / 'a.db'}"
    write(url)
    with open_sink(url, create=False) as sink:
        sink.write_checkpoint(forged_pruning_note(url, 4), 4)
        verifier = NoteSigner.from_file(default_key_path()).verifier
        cut = find_cut(sink, RetentionPolicy(), datetime.date.fromisoformat(TWO_YEARS), verifier)
    assert (cut.first, cut.size) == (0, 8)


def test_prune_refuses_a_cut_not_starting_at_the_signed_one(tmp_path):
    """prune() removes nothing and records nothing when the cut does not start at the first
    stored record and the latest signed pruning cut."""
    import datetime

    from opentelemetry_instrumentation_toolaudit._exceptions import ToolAuditError
    from opentelemetry_instrumentation_toolaudit.lifecycle._prune import Cut
    from opentelemetry_instrumentation_toolaudit.lifecycle._prune import prune as prune_log

    url = f"sqlite:///{tmp_path / 'a.db'}"
    write(url)
    before, before_notes = records(url), notes(url)
    policy = RetentionPolicy()
    as_of = datetime.date.fromisoformat(TWO_YEARS)
    signer = NoteSigner.from_file(default_key_path())
    with (
        AuditLog(open_sink(url, create=False), signer=signer) as log,
        pytest.raises(ToolAuditError, match="nothing was pruned"),
    ):
        prune_log(log, Cut(4, 8), {}, policy=policy, as_of=as_of)
    assert (records(url), notes(url)) == (before, before_notes)


def test_trail_failing_verify_is_not_pruned(tmp_path, capsys):
    """A trail whose record #3 was changed fails verify, so the run refuses (exit 2, one line)
    and the trail stays as it was: no admin event, no pruning checkpoint, nothing removed."""
    path = tmp_path / "a.db"
    url = f"sqlite:///{path}"
    write(url)
    db = sqlite3.connect(path)
    db.execute("DROP TRIGGER audit_records_no_update")
    db.execute("UPDATE audit_records SET entry_hash = ? WHERE seq = 3", (bytes(32),))
    db.commit()
    db.close()
    before, before_notes = records(url), notes(url)
    code, out, err = run(capsys, "retention", "apply", url, "--prune-prefix", "--as-of", TWO_YEARS)
    assert (code, out) == (2, ""), err
    assert len(err.splitlines()) == 1 and "fails verify (record #3" in err, err
    assert (records(url), notes(url)) == (before, before_notes)
    assert not verified(url).ok


def test_postgres_temporary_tables_do_not_shadow_the_trigger_tables(pg_roles, capsys):
    """The triggers read the store's own tables: a temporary audit_prunes with a high cut lets
    the pruner delete no record past the cut, and temporary audit_records/audit_heads let the
    writer store no head that does not follow the records."""
    import psycopg

    writer_url, pruner_url = pg_roles
    prune(capsys, pruner_url, TWO_YEARS)
    with psycopg.connect(pruner_url, autocommit=True) as db:
        db.execute("CREATE TEMP TABLE audit_prunes (cut BIGINT)")
        db.execute("INSERT INTO pg_temp.audit_prunes VALUES (1000000)")
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="pruning cut"):
            db.execute("DELETE FROM audit_records WHERE seq BETWEEN 9 AND 10")
    with psycopg.connect(writer_url, autocommit=True) as db:
        (schema,) = db.execute("SELECT current_schema()").fetchone()
        db.execute("CREATE TEMP TABLE audit_heads (size BIGINT)")
        db.execute("CREATE TEMP TABLE audit_records (seq BIGINT, entry_hash BYTEA)")
        db.execute("INSERT INTO pg_temp.audit_heads VALUES (99)")
        db.execute("INSERT INTO pg_temp.audit_records VALUES (99, %s)", (bytes(32),))
        with pytest.raises(psycopg.errors.CheckViolation, match="new head"):
            db.execute(f'INSERT INTO "{schema}".audit_heads VALUES (100, %s, %s)', ("00" * 32, b""))
    result = verified(pruner_url)
    assert result.ok and result.pruned.cut == 8, result.summary()


def test_postgres_store_opened_pins_the_trigger_functions_search_path(pg_roles, pg_url):  # noqa: F811
    """Opening a store whose trigger functions search the default path (created before they
    were pinned) pins each to the store's schema with pg_temp last."""
    import psycopg

    query = (
        "SELECT proname, proconfig FROM pg_proc WHERE proname LIKE 'toolaudit_%%' AND "
        "pronamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema()) "
        "ORDER BY proname"
    )
    with psycopg.connect(pg_url, autocommit=True) as db:
        (schema,) = db.execute("SELECT current_schema()").fetchone()
        for name, _config in db.execute(query).fetchall():
            db.execute(f"ALTER FUNCTION {name}() RESET search_path")
    open_sink(pg_url).close()
    with psycopg.connect(pg_url, autocommit=True) as db:
        found = db.execute(query).fetchall()
    pinned = [f"search_path={schema}, pg_temp"]
    assert found == [
        ("toolaudit_append_only", pinned),
        ("toolaudit_head_follows_records", pinned),
        ("toolaudit_prune_cut", pinned),
        ("toolaudit_prune_only", pinned),
    ]


def test_tail_cut_before_the_pruning_admin_event_fails_verify(tmp_path, capsys):
    """A pruned trail whose tail was cut before the admin event its pruning checkpoint names
    (later checkpoints, nodes and head removed to match) fails verify as truncated."""
    from opentelemetry_instrumentation_toolaudit.ledger._merkle import Frontier
    from opentelemetry_instrumentation_toolaudit.ledger._prune import frontier_blocks

    path = tmp_path / "a.db"
    url = f"sqlite:///{path}"
    write(url)
    assert prune(capsys, url, TWO_YEARS)["event_seq"] == 12
    with open_sink(url, create=False) as sink:
        frontier = tuple(sink.subtree_hash(a, b) for a, b in frontier_blocks(12))
        prev_hash = next(iter(sink.read(11, 12))).entry_hash
    db = sqlite3.connect(path)
    for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        db.execute(f"DROP TRIGGER {name}")
    db.execute("DELETE FROM audit_records WHERE seq >= 12")
    db.execute("DELETE FROM payloads WHERE seq >= 12")
    db.execute(
        "DELETE FROM audit_checkpoints WHERE size > 12 AND NOT instr(note, ?)", (PRUNE_MARK,)
    )
    db.execute("DELETE FROM audit_nodes WHERE (idx + 1) << level > 12")
    db.execute(
        "UPDATE audit_head SET size = 12, prev_hash = ?, frontier = ?",
        (prev_hash, Frontier(12, frontier).to_bytes()),
    )
    db.commit()
    db.close()
    result = verified(url)
    assert [(p.seq, p.kind) for p in result.problems] == [(12, ProblemKind.TRUNCATED)]
    assert "names admin event #12: truncated tail" in result.summary()


def test_pruning_checkpoint_naming_another_record_fails_verify(tmp_path, capsys):
    """A signed pruning checkpoint whose admin event is a tool call, not the pruning's admin
    record, fails verify."""
    url = f"sqlite:///{tmp_path / 'a.db'}"
    write(url)
    prune(capsys, url, TWO_YEARS)
    signer = NoteSigner.from_file(default_key_path())

    def other_event(note: str) -> str:
        text = note[: note.rindex("\n\n") + 1].replace("\nadmin-event 12\n", "\nadmin-event 9\n")
        return signer.sign(text)

    _rewrite_pruning_note(url, other_event)
    result = verified(url)
    assert [(p.seq, p.kind) for p in result.problems] == [(9, ProblemKind.PRUNING)]
    assert "names admin event #9, but that record is not" in result.summary()


def test_jsonl_prune_holds_the_lock_on_the_new_file(tmp_path, capsys, monkeypatch):
    """The JSONL pruning locks the file renamed in before it lets the old one go: while it saves
    the head, no other writer can lock the new log."""
    import fcntl

    from opentelemetry_instrumentation_toolaudit.ledger.stores.jsonl import JSONLSink

    path = tmp_path / "a.jsonl"
    url = f"jsonl:///{path}"
    write(url)
    save_head, prune_prefix = JSONLSink._save_head, JSONLSink.prune_prefix
    locked: list[bool] = []
    pruning: list[bool] = []

    def pruning_spy(self: JSONLSink, cut: int, note: str) -> int:
        pruning.append(True)
        try:
            return prune_prefix(self, cut, note)
        finally:
            pruning.clear()

    def spy(self: JSONLSink) -> None:
        if pruning:
            fd = os.open(path, os.O_RDONLY)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                locked.append(False)
            except BlockingIOError:
                locked.append(True)
            finally:
                os.close(fd)
        save_head(self)

    monkeypatch.setattr(JSONLSink, "_save_head", spy)
    monkeypatch.setattr(JSONLSink, "prune_prefix", pruning_spy)
    prune(capsys, url, TWO_YEARS)
    assert locked == [True]
    assert verified(url).ok


def test_show_says_a_pruned_record_was_pruned(url, capsys):
    """`toolaudit show SINK SEQ` on a record before the cut says it was pruned, as prove does."""
    prune(capsys, url, TWO_YEARS)
    code, out, err = run(capsys, "show", url, "3")
    assert (code, out) == (1, ""), err
    assert err.startswith("FAIL: record #3: it was pruned (records #0..#7 pruned on "), err
    assert len(err.splitlines()) == 1
