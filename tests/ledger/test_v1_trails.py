# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Trails in record format v1, as written before the ledger package, keep verifying in every store."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from opentelemetry_instrumentation_toolaudit import cli
from opentelemetry_instrumentation_toolaudit.ledger import (
    NoteVerifier,
    Selection,
    open_sink,
    verify,
)
from opentelemetry_instrumentation_toolaudit.ledger._chain import column_values

from ..audit._tamper import _pg, write_checkpoints, write_rows

FIXTURES = Path(__file__).parent / "fixtures"
VKEY = (FIXTURES / "v1.vkey").read_text().strip()
ROOT = "e993ad9ea589013dc0387f94abcaf46e6efc9bd025010f1481dd24c30d392bc6"


def _copy(tmp_path: Path, name: str) -> Path:
    for path in FIXTURES.glob(f"{name}*"):
        shutil.copy(path, tmp_path / path.name)
    return tmp_path / name


@pytest.mark.parametrize("name", ["v1.db", "v1.jsonl"])
def test_v1_file_trail_verifies(tmp_path: Path, name: str) -> None:
    """The committed v1 SQLite and JSONL trails verify against their pinned key, root unchanged."""
    scheme = "jsonl" if name.endswith(".jsonl") else "sqlite"
    url = f"{scheme}:///{_copy(tmp_path, name)}"
    with open_sink(url, create=False) as sink:
        result = verify(sink, public_key=NoteVerifier.from_vkey(VKEY))
    assert (result.ok, result.size, result.root, result.checkpoints) == (True, 7, ROOT, 2)


def test_v1_trail_verifies_with_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``toolaudit verify`` accepts the v1 SQLite trail with the pinned key."""
    (tmp_path / "v1.pub").write_text(VKEY + "\n")
    trail = _copy(tmp_path, "v1.db")
    assert cli.main(["verify", str(trail), "--public-key", str(tmp_path / "v1.pub")]) == 0
    assert f"root {ROOT}" in capsys.readouterr().out


@pytest.mark.parametrize("name", ["v1.db", "v1.jsonl"])
def test_v1_trail_takes_new_records_in_v1(tmp_path: Path, name: str) -> None:
    """A writer continues a v1 SQLite or JSONL trail in format 1, and the whole trail verifies."""
    scheme = "jsonl" if name.endswith(".jsonl") else "sqlite"
    with open_sink(f"{scheme}:///{_copy(tmp_path, name)}") as sink:
        assert sink.record_format == 1
        sink.append([{"event_id": "f" * 32, "event_type": "tool.call", "arguments": {"a": 1}}])
        new = next(iter(sink.read(7)))
        result = verify(sink, public_key=NoteVerifier.from_vkey(VKEY))
    assert (result.ok, result.size) == (True, 8)
    assert (new.record["schema"], new.record["arguments"], new.payload) == (1, {"a": 1}, None)


def test_v1_sqlite_trail_takes_new_records(tmp_path: Path) -> None:
    """A writer continues a v1 SQLite trail, and the whole trail still verifies."""
    trail = _copy(tmp_path, "v1.db")
    with open_sink(f"sqlite:///{trail}") as sink:
        sink.append([{"event_id": "f" * 32, "event_type": "tool.call"}])
        result = verify(sink, public_key=NoteVerifier.from_vkey(VKEY))
    assert (result.ok, result.size) == (True, 8)
    with sqlite3.connect(trail) as db:
        assert db.execute("SELECT count(*) FROM audit_records").fetchone()[0] == 8


def test_v1_rows_verify_in_postgresql(pg_url: str) -> None:
    """The v1 rows, loaded as stored bytes into PostgreSQL, verify against the pinned key."""
    frozen = json.loads((FIXTURES / "v1_rows.json").read_text())
    with _pg(pg_url) as conn:
        conn.execute("CREATE TABLE audit_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        conn.execute("INSERT INTO audit_meta VALUES ('log_id', %s)", (frozen["log_id"],))
    open_sink(pg_url).close()
    rows = [
        {
            **row,
            "canonical": row["canonical"].encode(),
            "entry_hash": bytes.fromhex(row["entry_hash"]),
            # Read from SQLite, where success is 0/1: PostgreSQL stores a boolean. A table
            # created now also has the format 2 columns, which a writer fills from the record.
            "columns": {
                **column_values(json.loads(row["canonical"])),
                **row["columns"],
                "success": None
                if row["columns"]["success"] is None
                else bool(row["columns"]["success"]),
            },
        }
        for row in frozen["rows"]
    ]
    write_rows(pg_url, rows)
    write_checkpoints(pg_url, frozen["checkpoints"])
    with open_sink(pg_url, create=False) as sink:
        result = verify(sink, public_key=NoteVerifier.from_vkey(VKEY))
    assert (result.ok, result.size, result.root, result.checkpoints) == (True, 7, ROOT, 2), (
        result.summary()
    )


def test_v1_sqlite_trail_selects_format_2_columns_from_its_records(tmp_path: Path) -> None:
    """A v1 SQLite trail (no model or duration_ms column) selects by them from each record."""
    with open_sink(f"sqlite:///{_copy(tmp_path, 'v1.db')}", create=False) as sink:
        assert [r.seq for r in sink.select(Selection(where={"duration_ms": 3.5}))] == [2]
        picked = sink.select(Selection(where={"model": "gpt-4.1", "conversation_id": "conv_1"}))
        assert [r.seq for r in picked] == [1, 6]
        limited = sink.select(Selection(where={"model": "gpt-4.1"}, limit=2, descending=True))
        assert [r.seq for r in limited] == [6, 5]
        assert verify(sink, public_key=NoteVerifier.from_vkey(VKEY)).ok
