# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""PostgreSQL enforces append-only itself: triggers for everyone, and a writer role that can only insert."""

from __future__ import annotations

import json
import uuid

import pytest

from opentelemetry_instrumentation_toolaudit._exceptions import SinkError
from opentelemetry_instrumentation_toolaudit.ledger import AuditLog, open_sink, verify
from opentelemetry_instrumentation_toolaudit.ledger.stores.postgres import PostgresSink

from ._tamper import _pg
from .conftest import _pg_admin, body

psycopg = pytest.importorskip("psycopg")


@pytest.fixture
def writer_url(pg_url):
    """A URL that logs in as a fresh role holding only the writer grants (dropped afterwards)."""
    role = f"toolaudit_writer_{uuid.uuid4().hex[:8]}"
    admin = _pg_admin()
    admin.execute(f'CREATE ROLE "{role}" LOGIN')
    with open_sink(pg_url) as owner:
        assert isinstance(owner, PostgresSink)
        owner.grant_writer(role)
    try:
        yield pg_url.replace("postgresql://postgres@", f"postgresql://{role}@")
    finally:
        admin.execute(f'DROP OWNED BY "{role}"')
        admin.execute(f'DROP ROLE "{role}"')
        admin.close()


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_records SET user_id = 'x' WHERE seq = 1",
        "DELETE FROM audit_records WHERE seq = 1",
        "TRUNCATE audit_records",
        "UPDATE audit_checkpoints SET note = ''",
        "DELETE FROM audit_heads",
        "TRUNCATE audit_nodes",
    ],
)
def test_triggers_reject_changes_even_for_the_owner(pg_url, signer, statement):
    """UPDATE, DELETE and TRUNCATE fail for the table owner too, and the trail still verifies."""
    log = AuditLog(open_sink(pg_url), signer=signer)
    log.append([body(i) for i in range(5)])
    log.close()
    with (
        _pg(pg_url) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"),
    ):
        conn.execute(statement)
    with open_sink(pg_url, create=False) as sink:
        assert verify(sink, public_key=signer.verifier).ok


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_records SET user_id = 'x' WHERE seq = 1",
        "DELETE FROM audit_records WHERE seq = 1",
        "TRUNCATE audit_records",
        "ALTER TABLE audit_records DISABLE TRIGGER USER",
        "DROP TRIGGER audit_records_append_only ON audit_records",
        "UPDATE audit_heads SET size = 0",
    ],
)
def test_writer_role_can_append_but_not_change(pg_url, writer_url, signer, statement):
    """The documented writer role appends and checkpoints, and is refused every change or escape."""
    with open_sink(pg_url):
        pass  # the owner created the tables before the writer arrived
    log = AuditLog(open_sink(writer_url), signer=signer)
    log.append([body(i) for i in range(7)])
    log.close()
    with _pg(writer_url) as conn:
        conn.execute("SELECT count(*) FROM audit_records")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(statement)
    with open_sink(pg_url, create=False) as sink:
        result = verify(sink, public_key=signer.verifier)
    assert (result.ok, result.size) == (True, 7)


def test_role_without_create_rights_gets_a_clear_error(pg_url):
    """A role that may not create tables, opening a schema without them, gets a SinkError saying so."""
    from opentelemetry_instrumentation_toolaudit._exceptions import SinkError

    role = f"toolaudit_reader_{uuid.uuid4().hex[:8]}"
    admin = _pg_admin()
    schema = pg_url.rsplit("%3D", 1)[1]
    admin.execute(f'CREATE ROLE "{role}" LOGIN')
    admin.execute(f'GRANT USAGE ON SCHEMA "{schema}" TO "{role}"')
    try:
        with pytest.raises(SinkError, match="cannot create the audit tables"):
            open_sink(pg_url.replace("postgresql://postgres@", f"postgresql://{role}@"))
    finally:
        admin.execute(f'DROP OWNED BY "{role}"')
        admin.execute(f'DROP ROLE "{role}"')
        admin.close()


def test_inclusion_proofs_use_stored_nodes(pg_url, signer):
    """Past 256 records, proofs read stored subtree hashes, and they check against the signed root."""
    from opentelemetry_instrumentation_toolaudit.ledger import check_proof, prove

    log = AuditLog(open_sink(pg_url), signer=signer, checkpoint_every=10**6)
    log.append([body(i) for i in range(700)])
    log.close()
    with open_sink(pg_url, create=False) as sink:
        assert sink.tree_node(9, 0) is not None
        for seq in (0, 255, 256, 511, 699):
            assert check_proof(prove(sink, seq), signer.verifier).size == 700


def test_binary_copy_batches_verify(pg_url, signer):
    """Batches written by binary COPY make one linear, verifiable chain with the right columns."""
    with AuditLog(open_sink(pg_url), signer=signer, checkpoint_every=10**6) as log:
        log.append([body(i) for i in range(150)])
        log.append([body(i) for i in range(150, 170)])
    with open_sink(pg_url, create=False) as sink:
        result = verify(sink, public_key=signer.verifier)
        stored = [(r.seq, r.columns["user_id"]) for r in sink.read(0, 170)]
    expected = (True, 170)
    assert expected == (result.ok, result.size)
    assert [(i, body(i)["user_id"]) for i in range(170)] == stored


def test_non_bool_success_is_stored_as_null_and_verifies(pg_url, signer):
    """A success value that is not a bool ("yes", 1, null) leaves the boolean column NULL; the
    batch goes through the one binary COPY and the whole trail verifies."""
    with AuditLog(open_sink(pg_url), signer=signer) as log:
        log.append([body(0), body(1, success="yes"), body(2, success=1), body(3, success=None)])
    with open_sink(pg_url, create=False) as sink:
        stored = [r.columns["success"] for r in sink.read(0, 4)]
        result = verify(sink, public_key=signer.verifier)
    assert [body(0)["success"], None, None, None] == stored
    assert result.problems == []


def test_verify_result_and_closed_log_never_show_the_password(pg_url, signer):
    """A sink URL's password appears neither in verify's result nor in the closed-log error."""
    base, query = pg_url.split("?", 1)
    url = base.replace("postgres@", "postgres:s3cret-pw@") + "?" + query
    log = AuditLog(open_sink(url), signer=signer)
    log.append([body(0)])
    log.close()
    with pytest.raises(Exception) as closed:
        log.append([body(1)])
    with open_sink(url, create=False) as sink:
        result = verify(sink, public_key=signer.verifier)
    assert "s3cret-pw" not in str(closed.value) + json.dumps(result.to_json())


def test_writer_role_cannot_write_metadata(pg_url, writer_url, signer):
    """The writer role may read the log id but not add to audit_meta (granted SELECT only, even
    where an earlier version had granted INSERT)."""
    role = writer_url.split("://", 1)[1].split("@", 1)[0]
    with _pg(pg_url) as admin:
        admin.execute(f'GRANT INSERT ON audit_meta TO "{role}"')  # as grant_writer once did
    with open_sink(pg_url) as owner:
        assert isinstance(owner, PostgresSink)
        owner.grant_writer(role)
        log_id = owner.log_id()
    with open_sink(writer_url) as sink:
        assert sink.log_id() == log_id
    with (
        _pg(writer_url) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"),
    ):
        conn.execute("INSERT INTO audit_meta VALUES ('origin', 'someone/else')")


def test_writer_role_opening_the_sink_writes_nothing_and_logs_nothing(
    pg_url, writer_url, signer, caplog
):
    """A writer opening a sink its owner set up finds the log id and head check in place: no
    failed attempt to create them is logged."""
    with open_sink(pg_url):
        pass
    with caplog.at_level("WARNING"), AuditLog(open_sink(writer_url), signer=signer) as log:
        log.append([body(0)])
    assert [r.getMessage() for r in caplog.records if "toolaudit" in r.getMessage()] == []


def _forged_head_after(conn, size: int, extra: int, gap: int) -> None:
    """As the writer role: add ``extra`` sealed records ``gap`` places past the head, then a head
    row claiming them."""
    from ._tamper import forge

    (prev,) = conn.execute(
        "SELECT encode(entry_hash, 'hex') FROM audit_records WHERE seq = %s", (size - 1,)
    ).fetchone()
    for i in range(extra):
        row = forge(body(900 + i), size + gap + i, prev)
        conn.execute(
            "INSERT INTO audit_records (seq, entry_hash, prev_hash, canonical) "
            "VALUES (%s, %s, %s, %s)",
            (row["seq"], row["entry_hash"], row["prev_hash"], row["canonical"]),
        )
        prev = row["entry_hash"].hex()
    claimed = size + gap + extra if extra else size + 50
    conn.execute("INSERT INTO audit_heads VALUES (%s, %s, %s)", (claimed, prev, b"\x00" * 32))


@pytest.mark.parametrize(
    ("extra", "gap"),
    [
        (0, 0),  # a head claiming 50 records that are not there
        (2, 10),  # records written ten places past the head, and a head covering them
    ],
)
def test_writer_role_cannot_insert_a_head_that_does_not_follow_the_records(
    pg_url, writer_url, signer, extra, gap
):
    """A head row inserted by the writer role must extend the previous head by exactly the
    records written after it: one that does not is refused, and the trail still verifies and
    takes appends."""
    with open_sink(pg_url):
        pass
    with AuditLog(open_sink(writer_url), signer=signer) as log:
        log.append([body(i) for i in range(7)])
    with (
        psycopg.connect(writer_url.split("?")[0]) as conn,
        pytest.raises(psycopg.errors.CheckViolation, match="a new head must extend the head"),
    ):
        conn.execute(f'SET search_path TO "{pg_url.rsplit("%3D", 1)[1]}"')
        _forged_head_after(conn, 7, extra, gap)
    with AuditLog(open_sink(writer_url), signer=signer) as log:
        log.append([body(7)])
    with open_sink(pg_url, create=False) as sink:
        result = verify(sink, public_key=signer.verifier)
    assert (result.size, result.problems) == (8, [])


def test_head_check_is_installed_on_a_schema_created_without_it(pg_url, signer):
    """Opening a schema created before head rows were checked installs the check (as its owner)."""
    with AuditLog(open_sink(pg_url), signer=signer) as log:
        log.append([body(0)])
    with _pg(pg_url) as conn:
        conn.execute("DROP TRIGGER audit_heads_follow_records ON audit_heads")
    with open_sink(pg_url):
        pass
    with _pg(pg_url) as conn:
        (count,) = conn.execute(
            "SELECT count(*) FROM pg_trigger WHERE tgname = 'audit_heads_follow_records'"
            " AND tgrelid = 'audit_heads'::regclass"  # this test's schema (search_path) only
        ).fetchone()
    assert count == 1


def test_deleted_head_rows_fail_verify(pg_url, signer):
    """Head rows deleted by the owner (every later append would then fail on record #0) are
    reported at record #0."""
    from opentelemetry_instrumentation_toolaudit.ledger._problems import HEAD

    with AuditLog(open_sink(pg_url), signer=signer) as log:
        log.append([body(i) for i in range(5)])
    with _pg(pg_url) as conn:
        conn.execute("ALTER TABLE audit_heads DISABLE TRIGGER USER")
        conn.execute("DELETE FROM audit_heads")
        conn.execute("ALTER TABLE audit_heads ENABLE TRIGGER USER")
    with open_sink(pg_url, create=False) as sink:
        result = verify(sink, public_key=signer.verifier)
    assert [(p.seq, p.kind) for p in result.problems] == [(0, HEAD)]


@pytest.fixture
def maintainer_url(pg_url):
    """A URL that logs in as a fresh role holding only the maintainer grants (dropped afterwards)."""
    role = f"toolaudit_maint_{uuid.uuid4().hex[:8]}"
    admin = _pg_admin()
    admin.execute(f'CREATE ROLE "{role}" LOGIN')
    with open_sink(pg_url) as owner:
        assert isinstance(owner, PostgresSink)
        owner.grant_maintainer(role)
    try:
        yield pg_url.replace("postgresql://postgres@", f"postgresql://{role}@")
    finally:
        admin.execute(f'DROP OWNED BY "{role}"')
        admin.execute(f'DROP ROLE "{role}"')
        admin.close()


def test_the_writer_role_cannot_delete_payloads(writer_url):
    """The writer role appends format 2 records with their payloads but may not delete a payload."""
    with open_sink(writer_url) as sink:
        sink.append([body(i) for i in range(3)])
        with pytest.raises(SinkError, match="permission denied"):
            sink.erase_payloads([1])
    with _pg(writer_url) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("DELETE FROM payloads")


def test_the_maintainer_role_erases_payloads_and_cannot_touch_records(pg_url, maintainer_url):
    """The maintainer role deletes payloads (verify stays green) but can neither change nor delete
    records, nor append."""
    with open_sink(pg_url) as owner:
        owner.append([body(i) for i in range(3)])
    with open_sink(maintainer_url, create=False) as sink:
        assert sink.erase_payloads([0, 2]) == 2
        result = verify(sink)
        assert (result.ok, result.erased_payloads) == (True, [0, 2])
        with pytest.raises(SinkError):
            sink.append([body(9)])
    for statement in (
        "DELETE FROM audit_records WHERE seq = 1",
        "UPDATE audit_records SET user_id = 'x'",
        "UPDATE payloads SET data = ''::bytea",
    ):
        with _pg(maintainer_url) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(statement)
