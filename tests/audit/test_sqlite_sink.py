# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""SQLite sink storage choices: page size of new files, and files made with other settings."""

from __future__ import annotations

import sqlite3

from opentelemetry_instrumentation_toolaudit.ledger import AuditLog, open_sink, verify
from opentelemetry_instrumentation_toolaudit.ledger.stores.sqlite import PAGE_SIZE

from .conftest import body


def _page_size(path: str) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("PRAGMA page_size").fetchone()[0])
    finally:
        conn.close()


def test_new_database_uses_the_large_page_size(tmp_path, signer):
    """A file the sink creates gets PAGE_SIZE pages, in WAL mode."""
    path = f"{tmp_path}/audit.db"
    with AuditLog(open_sink(f"sqlite:///{path}"), signer=signer) as log:
        log.append([body(i) for i in range(3)])
    expected = PAGE_SIZE
    assert expected == _page_size(path)


def test_database_with_4k_pages_keeps_working(tmp_path, signer):
    """A trail created with 4 KiB pages (before this setting) is appended to and verifies."""
    path = f"{tmp_path}/audit.db"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA page_size = 4096")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.close()
    with AuditLog(open_sink(f"sqlite:///{path}"), signer=signer) as log:
        log.append([body(i) for i in range(5)])
    with AuditLog(open_sink(f"sqlite:///{path}"), signer=signer) as log:
        log.append([body(i) for i in range(5, 9)])
    expected = 4096
    assert expected == _page_size(path)
    with open_sink(f"sqlite:///{path}", create=False) as sink:
        result = verify(sink, public_key=signer.verifier)
    expected_result = (True, 9)
    assert expected_result == (result.ok, result.size)
