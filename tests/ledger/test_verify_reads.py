# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""verify reads each record once: the payload comes with the record in the one scan."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from opentelemetry_instrumentation_toolaudit.ledger import ProblemKind, open_sink, verify

from ..audit._tamper import read_payloads, write_payloads
from ..audit.conftest import body


def test_sqlite_verify_reads_records_and_payloads_in_one_query(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Verifying a format 2 SQLite trail with an erased payload reads the records' bytes in one
    query (the column check in SQL aside), and still reports the erased payload by seq."""
    url = f"sqlite:///{tmp_path}/audit.db"
    with open_sink(url) as sink:
        sink.append([body(i) for i in range(20)])
        assert sink.erase_payloads([4]) == 1
    statements: list[str] = []
    real_connect = sqlite3.connect

    def traced(*args: object, **kwargs: object) -> sqlite3.Connection:
        conn = real_connect(*args, **kwargs)  # type: ignore[arg-type]
        conn.set_trace_callback(statements.append)
        return conn

    monkeypatch.setattr(sqlite3, "connect", traced)
    with open_sink(url, create=False) as sink:
        result = verify(sink)
    monkeypatch.undo()
    assert (result.ok, result.erased_payloads) == (True, [4]), result.summary()
    reads = [
        s
        for s in statements
        if "canonical" in s and "FROM audit_records" in s and "json_extract" not in s
    ]
    assert len(reads) == 1, reads


def test_a_swapped_payload_fails_verify_when_the_envelope_names_its_hash_elsewhere(
    tmp_path: Path,
) -> None:
    """A stored payload swapped for one whose hash the envelope holds in a nested field (not as
    its payload_hash) fails verify at that record."""
    forged = b'{"arguments":{"order_id":"ORD-X"},"salt":"00000000000000000000000000000000"}'
    url = f"sqlite:///{tmp_path}/audit.db"
    with open_sink(url) as sink:
        nested = {"name": "gpt-4.1", "payload_hash": hashlib.sha256(forged).hexdigest()}
        sink.append([body(i, **({"model": nested} if i == 3 else {})) for i in range(6)])
    stored = read_payloads(url)
    stored[3] = forged
    write_payloads(url, stored)
    with open_sink(url, create=False) as sink:
        result = verify(sink)
    assert [(p.seq, p.kind) for p in result.problems] == [(3, ProblemKind.PAYLOAD)]
