# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The one append protocol: a due checkpoint is written in the batch's own transaction."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from opentelemetry_instrumentation_toolaudit.ledger import AuditLog, NoteSigner, open_sink, verify

from ..audit.conftest import body


def test_a_due_checkpoint_commits_with_its_batch(tmp_path: Path, signer: NoteSigner) -> None:
    """With a checkpoint due after every batch, each append is one SQLite transaction, not two."""
    log = AuditLog(
        open_sink(f"sqlite:///{tmp_path}/audit.db"),
        signer=signer,
        checkpoint_every=1,
        checkpoint_interval=3600,
    )
    commits: list[str] = []
    conn: sqlite3.Connection = log.sink._conn  # type: ignore[attr-defined]
    conn.set_trace_callback(lambda sql: commits.append(sql) if sql == "COMMIT" else None)
    for i in range(5):
        log.append([body(i)])
    conn.set_trace_callback(None)
    notes = log.sink.checkpoints()
    log.close()
    assert (len(commits), len(notes)) == (5, 5)
    assert verify(
        open_sink(f"sqlite:///{tmp_path}/audit.db", create=False), public_key=signer.verifier
    ).ok


def test_the_checkpoint_signs_the_head_of_its_batch(signer: NoteSigner) -> None:
    """The checkpoint written with a batch names the tree head right after that batch."""
    sink = open_sink("memory://")
    log = AuditLog(sink, signer=signer, checkpoint_every=3, checkpoint_interval=3600)
    log.append([body(i) for i in range(2)])
    log.append([body(i) for i in range(2, 4)])
    (note,) = sink.checkpoints()
    assert "\n4\n" in note
    assert sink.head().size == 4
    log.close()


def test_a_signing_failure_leaves_the_batch_committed(signer: NoteSigner) -> None:
    """A checkpoint that cannot be signed is logged; the batch it was due with still commits."""

    class BrokenSigner(NoteSigner):
        def sign(self, text: str) -> str:
            raise RuntimeError("the key is on a device that went away")

    broken = BrokenSigner.from_skey(signer.skey())
    sink = open_sink("memory://")
    log = AuditLog(sink, signer=broken, checkpoint_every=1, checkpoint_interval=3600)
    stored = log.append([body(0)])
    assert ([r.seq for r in stored], sink.size(), sink.checkpoints()) == ([0], 1, [])


def test_sqlite_gathers_statistics_as_the_trail_doubles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once the trail passes the threshold, and at each doubling, SQLite's index statistics exist."""
    from opentelemetry_instrumentation_toolaudit.ledger.stores import sqlite as sqlite_store

    monkeypatch.setattr(sqlite_store, "ANALYZE_FROM", 16)
    sink = open_sink(f"sqlite:///{tmp_path}/audit.db")
    sink.append([body(i) for i in range(10)])
    with sqlite3.connect(tmp_path / "audit.db") as db:
        before = db.execute(
            "SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'"
        ).fetchone()
    sink.append([body(i) for i in range(10, 20)])
    with sqlite3.connect(tmp_path / "audit.db") as db:
        indexes = {
            r[0] for r in db.execute("SELECT idx FROM sqlite_stat1 WHERE tbl = 'audit_records'")
        }
    sink.close()
    assert (before[0], "audit_records_tool_name_recorded_at" in indexes) == (0, True)


@pytest.mark.parametrize(
    ("where", "index"),
    [
        ({"tool_name": "issue_refund", "success": False}, "audit_records_tool_name_recorded_at"),
        ({"user_id": "usr_3"}, "audit_records_user_id_recorded_at"),
        ({"subject": "hmac-sha256:k1:" + "1" * 32}, "audit_records_subject_recorded_at"),
    ],
)
def test_sqlite_selects_one_column_over_a_day_by_a_composite_index(
    tmp_path: Path, where: dict[str, object], index: str
) -> None:
    """A selection of one tool (or user) over a time range is one search of a composite index."""
    from opentelemetry_instrumentation_toolaudit.ledger import Selection
    from opentelemetry_instrumentation_toolaudit.ledger._selection import sql_filter
    from opentelemetry_instrumentation_toolaudit.ledger.stores.sqlite import _SELECT_RECORDS

    sink = open_sink(f"sqlite:///{tmp_path}/audit.db")
    sink.append([body(i) for i in range(200)])
    sink.close()
    selection = Selection(where=where, since="2026-11-24T10:00:00Z", until="2026-11-25T00:00:00Z")
    tail, params = sql_filter(selection, "?")
    with sqlite3.connect(tmp_path / "audit.db") as db:
        plan = " ".join(
            str(row[-1])
            for row in db.execute(f"EXPLAIN QUERY PLAN {_SELECT_RECORDS}{tail}", params)
        )
    assert f"USING INDEX {index} (" in plan and "recorded_at>? AND recorded_at<?" in plan, plan


def test_sqlite_keeps_one_index_for_the_format_2_columns(tmp_path: Path) -> None:
    """A format 2 SQLite trail has the v1 indexes plus one (subject, recorded_at) index, the two
    covering statistics indexes and the covering (seq, entry_hash) index."""
    open_sink(f"sqlite:///{tmp_path}/audit.db").close()
    with sqlite3.connect(tmp_path / "audit.db") as db:
        names = {
            r[0]
            for r in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'audit_records'"
                " AND sql IS NOT NULL"
            )
        }
    assert names == {
        "audit_records_recorded_at",
        "audit_records_trace_id",
        "audit_records_tool_name_recorded_at",
        "audit_records_user_id_recorded_at",
        "audit_records_conversation_id",
        "audit_records_subject_recorded_at",
        "audit_records_event_id",
        "audit_records_tool_name_duration_ms_event_type_success_user_id",
        "audit_records_duration_ms_event_type",
        "audit_records_seq_entry_hash",
    }


def test_search_by_subject_is_one_index_search(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``toolaudit search SINK --subject P`` on a format 2 SQLite trail reads the records with one
    search of the (subject, recorded_at) index."""
    from opentelemetry_instrumentation_toolaudit import cli

    subject = "hmac-sha256:k1:" + "2" * 32
    url = f"sqlite:///{tmp_path}/audit.db"
    with open_sink(url) as sink:
        sink.append([body(i, **({"subject": subject} if i % 50 == 0 else {})) for i in range(300)])
    statements: list[str] = []
    real_connect = sqlite3.connect

    def traced(*args: object, **kwargs: object) -> sqlite3.Connection:
        conn = real_connect(*args, **kwargs)  # type: ignore[arg-type]
        conn.set_trace_callback(statements.append)
        return conn

    monkeypatch.setattr(sqlite3, "connect", traced)
    assert cli.main(["search", url, "--subject", subject]) == 0
    monkeypatch.undo()
    assert capsys.readouterr().err == "6 record(s)\n"
    reads = [s for s in statements if "FROM audit_records" in s and "subject" in s]
    assert len(reads) == 1, reads
    with sqlite3.connect(tmp_path / "audit.db") as db:
        plan = [str(row[-1]) for row in db.execute(f"EXPLAIN QUERY PLAN {reads[0]}")]
    records = [step for step in plan if "audit_records" in step and "payloads" not in step]
    assert records == [
        "SEARCH audit_records USING INDEX audit_records_subject_recorded_at (subject=?)"
    ], plan
