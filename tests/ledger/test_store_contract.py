# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The store contract: every store (SQLite, JSONL, PostgreSQL, memory) behaves the same through the
one append protocol and the read side of the port."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from opentelemetry_instrumentation_toolaudit._exceptions import SinkError
from opentelemetry_instrumentation_toolaudit.ledger import (
    GENESIS_HASH,
    AuditLog,
    AuditSink,
    NoteSigner,
    ProblemKind,
    Selection,
    open_sink,
    verify,
)

from ..audit._tamper import read_payloads, read_rows, write_payloads, write_rows
from ..audit.conftest import body

STORES = ("sqlite", "jsonl", "postgres", "memory")
ROOT = Path(__file__).resolve().parents[2]

Opener = Callable[[], AuditSink]


@pytest.fixture(params=STORES)
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store_url(store_kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """The URL of an empty store of each kind (memory: one object for the whole test)."""
    if store_kind == "sqlite":
        return f"sqlite:///{tmp_path}/audit.db"
    if store_kind == "jsonl":
        return f"jsonl:///{tmp_path}/audit.jsonl"
    if store_kind == "postgres":
        return str(request.getfixturevalue("pg_url"))
    return "memory://"


@pytest.fixture
def store(store_url: str) -> Iterator[AuditSink]:
    sink = open_sink(store_url)
    yield sink
    sink.close()


def _durable(store_url: str) -> None:
    if store_url.startswith("memory"):
        pytest.skip("the memory store keeps nothing across processes")


def test_append_chains_every_record(store: AuditSink, signer: NoteSigner) -> None:
    """Two batches become records 0..9, each linked to the one before, and verify."""
    first = store.append([body(i) for i in range(4)])
    second = store.append([body(i) for i in range(4, 10)])
    stored = list(store.read())
    assert list(range(10)) == [r.seq for r in stored]
    assert [r.entry_hash for r in first + second] == [r.entry_hash for r in stored]
    assert [GENESIS_HASH] + [r.entry_hash for r in stored[:-1]] == [r.prev_hash for r in stored]
    assert (10, store.last_head) == (store.size(), store.head())
    assert verify(store).ok


def test_repeated_event_ids_are_refused_or_skipped(store: AuditSink) -> None:
    """A stored event id is refused, or left out with skip_existing (the retry of a batch)."""
    store.append([body(i) for i in range(3)])
    with pytest.raises(SinkError, match="event_id"):
        store.append([body(2)])
    assert store.append([body(i) for i in range(3)], skip_existing=True) == []
    retried = store.append([body(i) for i in range(1, 5)], skip_existing=True)
    assert ([r.seq for r in retried], store.size()) == ([3, 4], 5)


def test_a_repeat_within_a_batch_is_skipped(store: AuditSink) -> None:
    """A batch that carries one event id twice stores it once with skip_existing."""
    stored = store.append([body(0), body(1), body(0)], skip_existing=True)
    assert ([r.seq for r in stored], store.size()) == ([0, 1], 2)


def test_checkpoint_due_with_a_batch_is_stored(store: AuditSink, signer: NoteSigner) -> None:
    """An AuditLog checkpoint due with a batch is stored with it, and the trail verifies."""
    log = AuditLog(store, signer=signer, checkpoint_every=3, checkpoint_interval=3600)
    log.append([body(i) for i in range(3)])
    assert len(store.checkpoints()) == 1
    log.append([body(3)])
    result = verify(store, public_key=signer.verifier)
    assert (result.ok, result.size, result.checkpoints, result.covered) == (True, 4, 1, 3)


def test_modified_record_fails_verify_at_its_seq(
    store_url: str, store: AuditSink, signer: NoteSigner
) -> None:
    """Editing the bytes of record 3 makes verify fail naming record 3 as modified."""
    store.append([body(i) for i in range(6)])
    if store_url.startswith("memory"):
        records = store._records  # type: ignore[attr-defined]
        records[3] = records[3]._replace(canonical=records[3].canonical.replace(b"usr_", b"usr-"))
    else:
        rows = read_rows(store_url)
        record = json.loads(rows[3]["canonical"])
        record["user_id"] = "someone_else"
        rows[3]["canonical"] = json.dumps(record, sort_keys=True, separators=(",", ":")).encode()
        write_rows(store_url, rows, head=False)
    result = verify(open_sink(store_url, create=False) if store_url != "memory://" else store)
    assert (result.problems[0].seq, result.problems[0].kind) == (3, ProblemKind.MODIFIED)


@pytest.mark.parametrize(
    ("column", "edited"),
    [
        ("tool_name", "hidden"),
        ("subject", "hmac-sha256:k1:" + "0" * 32),
        ("purpose", "billing"),
        ("user_roles", '["admin"]'),
        ("duration_ms", 99.5),
        ("retain_until", "2020-01-01"),
    ],
)
def test_edited_column_fails_verify_at_its_seq(
    store_url: str, store: AuditSink, column: str, edited: object
) -> None:
    """Editing an indexed column of record 2 (hiding it from queries) fails verify at record 2."""
    if store_url.startswith(("memory", "jsonl")):
        pytest.skip("this store keeps no columns")
    store.append([_v2_body(i) for i in range(5)])
    rows = read_rows(store_url)
    rows[2]["columns"][column] = edited
    write_rows(store_url, rows, head=False)
    result = verify(open_sink(store_url, create=False))
    assert [(p.seq, p.kind) for p in result.problems] == [(2, ProblemKind.COLUMN)]


_WRITER = """
import sys, uuid
from opentelemetry_instrumentation_toolaudit.ledger import AuditLog, NoteSigner, open_sink
url, name, batches, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
log = AuditLog(open_sink(url), signer=NoteSigner.generate("test.example/" + name),
               checkpoint_every=7, checkpoint_interval=3600)
n = 0
while batches < 0 or n < batches:
    log.append([{"event_id": uuid.uuid4().hex, "event_type": "tool.call", "user_id": name,
                 "arguments": {"i": i, "pad": "x" * 2000}} for i in range(size)])
    n += 1
    print(n, flush=True)
log.close()
"""


def _writer(url: str, name: str, batches: int, size: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", _WRITER, url, name, str(batches), str(size)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )


def test_four_processes_build_one_chain(store_url: str) -> None:
    """Four processes appending at once leave one linear chain holding every record."""
    _durable(store_url)
    open_sink(store_url).close()
    writers = [_writer(store_url, f"w{k}", 10, 5) for k in range(4)]
    assert [w.wait(timeout=120) for w in writers] == [0, 0, 0, 0]
    with open_sink(store_url, create=False) as sink:
        result = verify(sink)
        users = sorted({r.record["user_id"] for r in sink.read()})
    assert (result.ok, result.size, users) == (True, 200, ["w0", "w1", "w2", "w3"])


def test_a_writer_killed_mid_batch_leaves_whole_batches(store_url: str) -> None:
    """A writer killed with SIGKILL while appending leaves whole batches that verify."""
    _durable(store_url)
    open_sink(store_url).close()
    writer = _writer(store_url, "killed", -1, 50)
    assert writer.stdout is not None
    while int(writer.stdout.readline() or 0) < 3:
        pass
    time.sleep(0.05)
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait(timeout=30)
    with open_sink(store_url) as sink:  # reopened by a writer: a torn tail is repaired
        result = verify(sink)
        sink.append([body(0)])
        after = verify(sink)
    assert (result.ok, result.size % 50) == (True, 0)
    assert result.size >= 150
    assert (True, result.size + 1) == (after.ok, after.size)


def _expected(
    bodies: list[dict[str, object]], keep: Callable[[dict[str, object]], bool]
) -> list[int]:
    return [i for i, b in enumerate(bodies) if keep(b)]


def test_select_filters_by_indexed_fields(store: AuditSink) -> None:
    """select() picks by column values, IN tuples, time range, cursor, limit and order alike."""
    bodies = [body(i) for i in range(40)]
    store.append(bodies)

    def seqs(**kwargs: object) -> list[int]:
        return [r.seq for r in store.select(Selection(**kwargs))]  # type: ignore[arg-type]

    assert _expected(bodies, lambda b: b["tool_name"] == "issue_refund") == seqs(
        where={"tool_name": "issue_refund"}
    )
    assert _expected(
        bodies, lambda b: b["tool_name"] == "issue_refund" and b["success"] is False
    ) == seqs(where={"tool_name": "issue_refund", "success": False})
    assert _expected(bodies, lambda b: b["user_id"] in ("usr_1", "usr_2")) == seqs(
        where={"user_id": ("usr_1", "usr_2")}
    )
    assert list(range(10, 20)) == seqs(
        since="2026-11-24T10:00:10.000000Z", until="2026-11-24T10:00:20.000000Z"
    )
    assert seqs(after_seq=5, before_seq=37, descending=True, limit=3) == [36, 35, 34]
    assert seqs(after_seq=5, limit=2) == [6, 7]
    assert seqs(where={"conversation_id": "nobody"}) == []


def _v2_body(i: int) -> dict[str, object]:
    """A body with every field that only record format 2 stores index."""
    return body(
        i,
        subject=f"hmac-sha256:k1:{i % 4:032x}",
        purpose=("treatment", "billing")[i % 2],
        retain_until=f"2027-01-{i % 28 + 1:02d}",
        duration_ms=(12, 3.25)[i % 2],
    )


def test_select_filters_by_format_2_columns(store: AuditSink) -> None:
    """select() picks by subject, purpose, model, retain_until, user_roles and duration_ms too."""
    bodies = [_v2_body(i) for i in range(24)]
    store.append(bodies)

    def seqs(**where: object) -> list[int]:
        return [r.seq for r in store.select(Selection(where=where))]

    subject = f"hmac-sha256:k1:{1:032x}"
    assert _expected(bodies, lambda b: b["subject"] == subject) == seqs(subject=subject)
    assert (
        _expected(bodies, lambda b: b["subject"] == subject and b["purpose"] == "treatment")
        == seqs(subject=subject, purpose="treatment")
        == []
    )
    assert _expected(bodies, lambda b: b["purpose"] == "billing") == seqs(purpose="billing")
    assert seqs(model="gpt-4.1") == list(range(24))
    assert seqs(retain_until="2027-01-03") == [2]
    assert seqs(user_roles='["support_agent"]') == list(range(24))
    assert seqs(duration_ms=12.0) == list(range(0, 24, 2))
    assert [r.seq for r in store.select(Selection(where={"purpose": "billing"}, limit=2))] == [1, 3]


def test_select_refuses_a_column_that_is_not_indexed() -> None:
    """A selection naming a field that is not an indexed column is refused when made."""
    with pytest.raises(ValueError, match="not an indexed column: 'arguments'"):
        Selection(where={"arguments": "x"})


# --- record format 2: a chained envelope and an erasable payload ---------------------------------


def _set_payload(store_url: str, store: AuditSink, seq: int, data: bytes | None) -> None:
    """Replace (or, with None, delete) one stored payload behind the store's back."""
    if store_url.startswith("memory"):
        payloads = store._payloads  # type: ignore[attr-defined]
        if data is None:
            payloads.pop(seq)
        else:
            payloads[seq] = data
        return
    stored = read_payloads(store_url)
    if data is None:
        del stored[seq]
    else:
        stored[seq] = data
    write_payloads(store_url, stored)


def test_v2_record_round_trips(store: AuditSink) -> None:
    """A format 2 record reads back as its body plus the chain fields, its payload outside the
    chained bytes."""
    bodies = [body(i) for i in range(3)]
    store.append(bodies)
    for original, stored in zip(bodies, store.read(), strict=True):
        envelope = json.loads(stored.canonical)
        chain = {k: envelope[k] for k in ("schema", "seq", "prev_hash", "payload_hash")}
        assert stored.record == {**original, **chain}
        assert (chain["schema"], "arguments" in envelope, stored.payload is not None) == (
            2,
            False,
            True,
        )
    assert verify(store).ok


def test_equal_payloads_have_different_payload_hashes(store: AuditSink) -> None:
    """Two records with equal payloads commit to different payload hashes (each is salted), and a
    body without payload fields has neither a payload_hash nor a payload."""
    same = {"arguments": {"patient_id": "1"}}
    store.append([body(1, **same), body(2, **same), {"event_id": "a" * 32}])
    first, second, bare = store.read()
    assert first.record["payload_hash"] != second.record["payload_hash"]
    assert first.record["arguments"] == second.record["arguments"]
    assert ("payload_hash" in bare.record, bare.payload) == (False, None)


def test_erased_payloads_keep_verify_green(store: AuditSink) -> None:
    """Erasing payloads removes them, keeps the envelopes and a green verify, and verify reports
    the erased records by sequence number."""
    store.append([body(i) for i in range(5)])
    assert store.erase_payloads([1, 3, 99]) == 2
    assert store.erase_payloads([1]) == 0
    records = [r.record for r in store.read()]
    assert [("arguments" in r, r.get("payload_erased")) for r in records] == [
        (True, None),
        (False, True),
        (True, None),
        (False, True),
        (True, None),
    ]
    assert records[1]["tool_name"] == body(1)["tool_name"]
    result = verify(store)
    assert (result.ok, result.erased_payloads) == (True, [1, 3])
    assert "2 payloads erased: seqs 1, 3" in result.summary()


def test_a_changed_payload_fails_verify_naming_its_record(store_url: str, store: AuditSink) -> None:
    """A stored payload changed behind the store's back fails verify at its record; a deleted
    payload row counts as erased, not as a failure."""
    store.append([body(i) for i in range(5)])
    changed = next(iter(store.read(2, 3))).payload
    assert changed is not None
    _set_payload(store_url, store, 2, changed.replace(b"ORD-2", b"ORD-9"))
    _set_payload(store_url, store, 4, None)
    result = verify(store)
    assert [(p.seq, p.kind) for p in result.problems] == [(2, ProblemKind.PAYLOAD)]
    assert result.erased_payloads == [4]
    assert "#2" in result.summary() and "ORD" not in result.summary()
