# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Raw access to each sink's storage, bypassing the sink and its guards, as an attacker would."""

from __future__ import annotations

import json
import sqlite3
from typing import Any
from urllib.parse import unquote

from opentelemetry_instrumentation_toolaudit.ledger._chain import StoredRecord, seal
from opentelemetry_instrumentation_toolaudit.ledger.stores._base import DATA_COLUMNS
from opentelemetry_instrumentation_toolaudit.ledger.stores.jsonl import frame, unframe

Row = dict[str, Any]


def _path(url: str) -> str:
    return url.split(":///", 1)[1]


def _pg(url: str):  # type: ignore[no-untyped-def]
    import psycopg

    base, options = url.split("?options=")
    schema = unquote(options).split("=", 1)[1]
    conn = psycopg.connect(base, autocommit=True)
    conn.execute(f'SET search_path TO "{schema}"')
    return conn


def drop_sqlite_triggers(conn: sqlite3.Connection, table: str) -> None:
    """Drop every trigger on ``table``, as whoever owns the database file can."""
    names = [
        r[0]
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?", (table,)
        )
    ]
    for name in names:
        conn.execute(f'DROP TRIGGER "{name}"')


def read_rows(url: str) -> list[Row]:
    if url.startswith("jsonl"):
        with open(_path(url), "rb") as f:
            lines = f.read().split(b"\n")[:-1]
        rows = []
        for i, line in enumerate(lines):
            digest, canonical = unframe(line)  # type: ignore[misc]
            rows.append(
                {
                    "seq": i,
                    "canonical": canonical,
                    "entry_hash": digest,
                    "prev_hash": "",
                    "columns": None,
                }
            )
        return rows
    cols = ", ".join(DATA_COLUMNS)
    query = f"SELECT seq, canonical, entry_hash, prev_hash, {cols} FROM audit_records ORDER BY seq"
    if url.startswith("sqlite"):
        conn = sqlite3.connect(_path(url))
        conn.text_factory = bytes
        raw = conn.execute(query).fetchall()
        conn.close()
    else:
        with _pg(url) as conn:
            raw = conn.execute(query).fetchall()
    payloads = read_payloads(url)
    out = []
    for seq, canonical, entry_hash, prev_hash, *values in raw:
        columns = {
            c: (v.decode() if isinstance(v, bytes) else v)
            for c, v in zip(DATA_COLUMNS, values, strict=False)
        }
        prev = prev_hash.decode() if isinstance(prev_hash, bytes) else prev_hash
        out.append(
            {
                "seq": seq,
                "canonical": bytes(canonical),
                "entry_hash": bytes(entry_hash),
                "prev_hash": prev,
                "columns": columns,
                "payload": payloads.get(seq),
            }
        )
    return out


def read_payloads(url: str) -> dict[int, bytes]:
    """The stored record format 2 payloads by seq (JSONL: by line)."""
    if url.startswith("jsonl"):
        from opentelemetry_instrumentation_toolaudit.ledger.stores.jsonl import JSONLSink

        records = JSONLSink(_path(url), create=False).read()
        return {i: r.payload for i, r in enumerate(records) if r.payload is not None}
    if url.startswith("sqlite"):
        conn = sqlite3.connect(_path(url))
        try:
            return {
                seq: bytes(data) for seq, data in conn.execute("SELECT seq, data FROM payloads")
            }
        except sqlite3.OperationalError:  # a format 1 database
            return {}
        finally:
            conn.close()
    with _pg(url) as conn:
        if conn.execute("SELECT to_regclass('payloads')").fetchone()[0] is None:
            return {}
        return {seq: bytes(data) for seq, data in conn.execute("SELECT seq, data FROM payloads")}


def write_payloads(url: str, payloads: dict[int, bytes]) -> None:
    """Replace every stored payload with ``payloads`` (by seq; JSONL: by line)."""
    if url.startswith("jsonl"):
        with open(_path(url) + ".payloads", "wb") as f:
            for seq, data in sorted(payloads.items()):
                f.write(b'{"seq":%d,"payload":%s}\n' % (seq, data))
        return
    if url.startswith("sqlite"):
        conn = sqlite3.connect(_path(url))
        conn.execute("DELETE FROM payloads")
        conn.executemany("INSERT INTO payloads VALUES (?, ?)", sorted(payloads.items()))
        conn.commit()
        conn.close()
        return
    with _pg(url) as conn:
        conn.execute("DELETE FROM payloads")
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO payloads VALUES (%s, %s)", sorted(payloads.items()))


def write_rows(url: str, rows: list[Row], *, head: bool = True) -> None:
    """Replace every stored record with ``rows`` (the attacker's edit); with ``head``, also store
    the head of ``rows``, as a thorough attacker would, so that only the chain, the Merkle tree and
    the checkpoints are left to give the edit away."""
    _write_rows(url, rows)
    if head:
        write_head(url, rows)


def _write_rows(url: str, rows: list[Row]) -> None:
    # Each payload moves with its record (JSONL keys it by the seq its envelope names).
    jsonl = url.startswith("jsonl")
    payloads = {
        json.loads(r["canonical"])["seq"] if jsonl else r["seq"]: r["payload"]
        for r in rows
        if r.get("payload") is not None
    }
    if payloads or any("payload" in r for r in rows):
        write_payloads(url, payloads)
    if url.startswith("jsonl"):
        with open(_path(url), "wb") as f:
            for r in rows:
                f.write(
                    frame(
                        StoredRecord(
                            r["seq"], r["canonical"], r["entry_hash"].hex(), r["prev_hash"], None
                        )
                    )
                )
        return
    cols = ["seq", "entry_hash", "prev_hash", "canonical", *DATA_COLUMNS]
    values = [
        (
            r["seq"],
            r["entry_hash"],
            r["prev_hash"],
            r["canonical"],
            *[(r["columns"] or {}).get(c) for c in DATA_COLUMNS],
        )
        for r in rows
    ]
    if url.startswith("sqlite"):
        conn = sqlite3.connect(_path(url))
        drop_sqlite_triggers(conn, "audit_records")
        conn.execute("DELETE FROM audit_records")
        conn.executemany(
            f"INSERT INTO audit_records ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
            [(v[0], v[1], v[2], v[3].decode(), *v[4:]) for v in values],
        )
        conn.commit()
        conn.close()
        return
    with _pg(url) as conn:
        conn.execute("ALTER TABLE audit_records DISABLE TRIGGER USER")
        conn.execute("DELETE FROM audit_records")
        with conn.cursor() as cur:
            cur.executemany(
                f"INSERT INTO audit_records ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))})",
                values,
            )
        conn.execute("ALTER TABLE audit_records ENABLE TRIGGER USER")


def write_head(url: str, rows: list[Row], size: int | None = None) -> None:
    """Store the head of ``rows`` (or a head claiming ``size`` records, with the frontier of
    ``rows``) as the sink's head, as an attacker who rewrote the records would."""
    from opentelemetry_instrumentation_toolaudit.ledger._chain import GENESIS_HASH
    from opentelemetry_instrumentation_toolaudit.ledger._merkle import Frontier

    frontier = Frontier()
    for r in rows:
        frontier.append(r["entry_hash"])
    n = len(rows) if size is None else size
    prev = rows[-1]["entry_hash"].hex() if rows else GENESIS_HASH
    if url.startswith("jsonl"):
        import os

        head = {
            "size": n,
            "offset": os.path.getsize(_path(url)),
            "prev": prev,
            "frontier": [h.hex() for h in frontier.hashes],
        }
        with open(_path(url) + ".head", "w") as f:
            json.dump(head, f)
        return
    if url.startswith("sqlite"):
        conn = sqlite3.connect(_path(url))
        drop_sqlite_triggers(conn, "audit_head")
        conn.execute(
            "UPDATE audit_head SET size = ?, prev_hash = ?, frontier = ?",
            (n, prev, frontier.to_bytes()),
        )
        conn.commit()
        conn.close()
        return
    with _pg(url) as conn:
        conn.execute("ALTER TABLE audit_heads DISABLE TRIGGER USER")
        conn.execute("DELETE FROM audit_heads")
        conn.execute("INSERT INTO audit_heads VALUES (%s, %s, %s)", (n, prev, frontier.to_bytes()))
        conn.execute("ALTER TABLE audit_heads ENABLE TRIGGER USER")


def read_checkpoints(url: str) -> list[str]:
    if url.startswith("jsonl"):
        try:
            with open(_path(url) + ".checkpoints") as f:
                return [json.loads(line)["note"] for line in f if line.strip()]
        except FileNotFoundError:
            return []
    if url.startswith("sqlite"):
        conn = sqlite3.connect(_path(url))
        notes = [r[0] for r in conn.execute("SELECT note FROM audit_checkpoints ORDER BY id")]
        conn.close()
        return notes
    with _pg(url) as conn:
        return [
            r[0] for r in conn.execute("SELECT note FROM audit_checkpoints ORDER BY written_at")
        ]


def write_checkpoints(url: str, notes: list[str]) -> None:
    from opentelemetry_instrumentation_toolaudit.ledger._checkpoint import open_checkpoint

    sized = [(open_checkpoint(n)[0].size, n) for n in notes]
    if url.startswith("jsonl"):
        with open(_path(url) + ".checkpoints", "w") as f:
            for size, note in sized:
                f.write(json.dumps({"size": size, "note": note}) + "\n")
        return
    if url.startswith("sqlite"):
        conn = sqlite3.connect(_path(url))
        drop_sqlite_triggers(conn, "audit_checkpoints")
        conn.execute("DELETE FROM audit_checkpoints")
        conn.executemany("INSERT INTO audit_checkpoints (size, note) VALUES (?, ?)", sized)
        conn.commit()
        conn.close()
        return
    with _pg(url) as conn:
        conn.execute("ALTER TABLE audit_checkpoints DISABLE TRIGGER USER")
        conn.execute("DELETE FROM audit_checkpoints")
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO audit_checkpoints (size, note) VALUES (%s, %s)", sized)
        conn.execute("ALTER TABLE audit_checkpoints ENABLE TRIGGER USER")


def forge(record: dict[str, Any], seq: int, prev_hash: str) -> Row:
    """A record sealed properly at ``seq`` after ``prev_hash``: hash, link and columns all consistent."""
    stored = seal(record, seq, prev_hash)
    return {
        "seq": seq,
        "canonical": stored.canonical,
        "entry_hash": bytes.fromhex(stored.entry_hash),
        "prev_hash": prev_hash,
        "columns": {c: (stored.columns or {}).get(c) for c in DATA_COLUMNS},
        "payload": stored.payload,
    }


def reseal_from(rows: list[Row], start: int) -> list[Row]:
    """Rows with every record from ``start`` on re-sealed after its predecessor (a consistent rewrite)."""
    out = rows[:start]
    prev = out[-1]["entry_hash"].hex() if out else "0" * 64
    for r in rows[start:]:
        forged = forge(json.loads(r["canonical"]), len(out), prev)
        out.append(forged)
        prev = forged["entry_hash"].hex()
    return out


def add_raw_checkpoint(url: str, note: Any) -> None:
    """Store ``note`` (any value, even not text) as one more checkpoint row, bypassing the sink."""
    if url.startswith("jsonl"):
        # A str is stored as the sink stores a note; bytes are written as a raw line.
        data = note if isinstance(note, bytes) else json.dumps({"size": 1, "note": note}).encode()
        with open(_path(url) + ".checkpoints", "ab") as f:
            f.write(data + b"\n")
        return
    if url.startswith("sqlite"):
        conn = sqlite3.connect(_path(url))
        conn.execute("INSERT INTO audit_checkpoints (size, note) VALUES (?, ?)", (1, note))
        conn.commit()
        conn.close()
        return
    with _pg(url) as conn:
        conn.execute("INSERT INTO audit_checkpoints (size, note) VALUES (%s, %s)", (1, str(note)))
