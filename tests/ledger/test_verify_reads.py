# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""verify reads each record once: the payload comes with the record in the one scan."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from opentelemetry_instrumentation_toolaudit.ledger import open_sink, verify

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
