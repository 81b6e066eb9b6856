# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""verify reports a record format 2 payload whose record was removed by hand (SQLite and
PostgreSQL keep payloads in a table of their own): an orphan payload names the missing record."""

from __future__ import annotations

import sqlite3

import pytest

from opentelemetry_instrumentation_toolaudit.ledger import open_sink, verify
from opentelemetry_instrumentation_toolaudit.ledger._problems import ORPHAN_PAYLOAD, ProblemKind

from ._tamper import _path, _pg, drop_sqlite_triggers
from .conftest import make_url, write_log

N = 10


@pytest.fixture(params=["sqlite", "postgres"])
def url(request, tmp_path, signer):
    """A SQLite or PostgreSQL trail of N format 2 records, a checkpoint every 5."""
    url = make_url(request.param, tmp_path, request)
    write_log(url, signer, N)
    return url


def delete_record(url: str, seq: int) -> None:
    """Delete one record row (not its payload), with the append-only trigger out of the way."""
    if url.startswith("sqlite"):
        conn = sqlite3.connect(_path(url))
        drop_sqlite_triggers(conn, "audit_records")
        conn.execute("DELETE FROM audit_records WHERE seq = ?", (seq,))
        conn.commit()
        conn.close()
        return
    with _pg(url) as conn:
        conn.execute("ALTER TABLE audit_records DISABLE TRIGGER USER")
        conn.execute("DELETE FROM audit_records WHERE seq = %s", (seq,))
        conn.execute("ALTER TABLE audit_records ENABLE TRIGGER USER")


def orphans(result) -> list[tuple[int, str]]:
    return [(p.seq, p.message) for p in result.problems if p.kind == ORPHAN_PAYLOAD]


def message(seq: int) -> str:
    return (
        f"a payload is stored for record #{seq}, but record #{seq} is missing: its envelope was "
        "removed"
    )


@pytest.mark.parametrize("seq", [3, N - 1], ids=["middle", "last"])
def test_a_deleted_record_leaves_an_orphan_payload_that_fails_verify(url, signer, seq):
    """Deleting one record row by hand leaves its payload behind: verify fails and names the
    orphan payload's sequence number and the missing record."""
    delete_record(url, seq)
    with open_sink(url, create=False) as sink:
        result = verify(sink, public_key=signer.verifier)
    assert not result.ok
    assert orphans(result) == [(seq, message(seq))]
    assert ProblemKind("orphan_payload") is ORPHAN_PAYLOAD


def test_a_clean_or_erased_trail_has_no_orphan_payload(url, signer):
    """Neither a clean trail nor one with erased payloads reports an orphan payload."""
    with open_sink(url, create=False) as sink:
        assert orphans(verify(sink, public_key=signer.verifier)) == []
        assert sink.erase_payloads([2, 5]) == 2
        result = verify(sink, public_key=signer.verifier)
    assert (result.ok, result.erased_payloads) == (True, [2, 5])
