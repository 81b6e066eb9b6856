# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The SQLite sink, the embedded default: ``sqlite:///toolaudit.db``.

Durability: WAL journal with ``synchronous=FULL``, so a batch is on disk when ``COMMIT`` returns, and
a batch is one transaction (group commit). Several processes share one chain: each append is a
``BEGIN IMMEDIATE`` transaction that reads the head (size, last hash, Merkle frontier), seals the
batch after it and writes records, Merkle nodes and the new head together. A process killed mid-write
leaves an uncommitted transaction that SQLite itself rolls back on the next open, so a torn batch is
never half-present (and was never acknowledged).

Record format 2 payloads live in their own table, ``payloads(seq, data)``, written in the same
transaction as their records. Payloads may be deleted (erasure, retention); a trigger rejects
their UPDATE. A database created before format 2 (records stored, no ``record_format`` in its
meta table) continues in format 1.

Triggers reject UPDATE and DELETE on the records, nodes, checkpoints and meta tables; an INSERT that
would replace a row (``INSERT OR REPLACE`` and ``REPLACE`` delete the old row without firing DELETE
triggers), or a record before the head; and any change to the head but growth by exactly the
records appended after it. They are a guard against mistakes and a writer's bugs, not against an
attacker with the file, who can drop them: tampering is what :func:`verify` detects.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Collection, Iterator, Sequence
from itertools import chain
from typing import Any

from opentelemetry_instrumentation_toolaudit._exceptions import SinkError
from opentelemetry_instrumentation_toolaudit._log import internal_error
from opentelemetry_instrumentation_toolaudit.ledger._chain import (
    GENESIS_HASH,
    StoredRecord,
)
from opentelemetry_instrumentation_toolaudit.ledger._merkle import Frontier
from opentelemetry_instrumentation_toolaudit.ledger._prune import PRUNE_MARK
from opentelemetry_instrumentation_toolaudit.ledger._selection import (
    Selection,
    filtered,
    split,
    sql_filter,
)
from opentelemetry_instrumentation_toolaudit.ledger.schema import (
    DURATION_MS,
    INDEXES,
    INDEXES_V1,
    LEAF_HASH_INDEX,
    SCHEMA_V1,
    SCHEMA_V2,
    SEQ,
    STATS_INDEXES,
    SUCCESS,
    USER_ROLES,
)
from opentelemetry_instrumentation_toolaudit.ledger.stores import _columns
from opentelemetry_instrumentation_toolaudit.ledger.stores._base import (
    AuditSink,
    StoredHead,
    TreeHead,
    check_file_writable,
    compare_columns,
    reinit_in_forked_child,
    restore_frontier,
    stored_bytes,
    success_from_column,
)
from opentelemetry_instrumentation_toolaudit.ledger.stores._sqlite_lock import (
    BUSY_TIMEOUT,
    LockUnavailableError,
    begin_immediate,
)
from opentelemetry_instrumentation_toolaudit.ledger.stores._url import path_from_url

LOG_ID_KEY = "log_id"
FORMAT_KEY = "record_format"
"""The meta key holding the record format new records are sealed in (absent: format 1)."""
_ROWS_PER_INSERT = 50
_PAIRS_PER_QUERY = 400
"""Pairs of parameters per batched read of Merkle nodes or leaf ranges (SQLite allows 32,766
parameters a statement)."""
PAGE_SIZE = 16384
"""Page size of a new database file (see ``_connect``)."""
CACHE_KIB = 65536
"""Page cache of a writer's connection, in KiB (SQLite's default is 2000): at most 64 MiB a
writer, filled only as the trail's indexes grow."""
ANALYZE_FROM = 1 << 14
"""The trail size from which statistics are gathered, again at every doubling."""
_SQLITE_MAGIC = b"SQLite format 3\x00"
_INDEXES_V2 = tuple(i for i in INDEXES if i not in INDEXES_V1)
"""Indexes over the columns only a store created in record format 2 has."""

# Every table only grows: rows are never updated or deleted, and the head's size never shrinks.
_APPEND_ONLY = "".join(
    f"CREATE TRIGGER IF NOT EXISTS {t}_no_update BEFORE UPDATE ON {t} "
    f"BEGIN SELECT RAISE(ABORT, '{t} is append-only'); END; "
    f"CREATE TRIGGER IF NOT EXISTS {t}_no_delete BEFORE DELETE ON {t} "
    f"BEGIN SELECT RAISE(ABORT, '{t} is append-only'); END;\n"
    for t in ("audit_records", "audit_nodes", "audit_checkpoints", "audit_meta")
)

# REPLACE conflict resolution deletes the conflicting row without firing DELETE triggers (unless
# the connection turns recursive_triggers on), so each insert checks that its row is new. A record
# must come at or after the head (every stored record is before it: a head update must cover
# exactly the records after the previous head), which is one lookup per record.
_NO_REPLACE = "".join(
    f"CREATE TRIGGER IF NOT EXISTS {t}_insert_new BEFORE INSERT ON {t} "
    f"WHEN EXISTS (SELECT 1 FROM {t} WHERE {key}) "
    f"BEGIN SELECT RAISE(ABORT, '{t} is append-only: a row is never replaced'); END;\n"
    for t, key in (
        ("audit_nodes", "level = NEW.level AND idx = NEW.idx"),
        ("audit_checkpoints", "id = NEW.id"),
        ("audit_meta", "key = NEW.key"),
        ("audit_head", "1"),
    )
)
_HEAD_FOLLOWS_RECORDS = """
CREATE TRIGGER IF NOT EXISTS audit_records_insert_new BEFORE INSERT ON audit_records
WHEN NEW.seq < (SELECT size FROM audit_head)
BEGIN SELECT RAISE(ABORT, 'audit_records is append-only: a record is never replaced'); END;
CREATE TRIGGER IF NOT EXISTS audit_head_follows_records BEFORE UPDATE ON audit_head
WHEN NEW.size IS NOT (SELECT max(seq) + 1 FROM audit_records)
    OR NEW.size - OLD.size IS NOT (SELECT count(*) FROM audit_records WHERE seq >= OLD.size)
    OR NEW.prev_hash IS NOT (SELECT lower(hex(entry_hash)) FROM audit_records WHERE seq = NEW.size - 1)
BEGIN SELECT RAISE(ABORT, 'audit_head only grows, by exactly the records appended after it'); END;
"""


_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS audit_records (
    seq INTEGER PRIMARY KEY,
    entry_hash BLOB NOT NULL,
    prev_hash TEXT NOT NULL,
    canonical TEXT NOT NULL,
    {", ".join(f"{c} {_columns.sql_type(c, 'INTEGER', 'REAL')}" for c in _columns.ALL.names)}
);
{"".join(_columns.create_index(i) for i in INDEXES_V1)}
CREATE TABLE IF NOT EXISTS audit_head (
    id INTEGER PRIMARY KEY CHECK (id = 1), size INTEGER NOT NULL, prev_hash TEXT NOT NULL,
    frontier BLOB NOT NULL
);
INSERT INTO audit_head SELECT 1, 0, '{GENESIS_HASH}', x''
    WHERE NOT EXISTS (SELECT 1 FROM audit_head);
CREATE TABLE IF NOT EXISTS audit_nodes (
    level INTEGER NOT NULL, idx INTEGER NOT NULL, hash BLOB NOT NULL, PRIMARY KEY (level, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS audit_checkpoints (
    id INTEGER PRIMARY KEY, size INTEGER NOT NULL, note TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO audit_meta SELECT '{LOG_ID_KEY}', lower(hex(randomblob(16)))
    WHERE NOT EXISTS (SELECT 1 FROM audit_meta WHERE key = '{LOG_ID_KEY}');
INSERT INTO audit_meta SELECT '{FORMAT_KEY}', '{SCHEMA_V2}'
    WHERE NOT EXISTS (SELECT 1 FROM audit_meta WHERE key = '{FORMAT_KEY}')
    AND NOT EXISTS (SELECT 1 FROM audit_records);
CREATE TABLE IF NOT EXISTS payloads (seq INTEGER PRIMARY KEY, data BLOB NOT NULL);
CREATE TRIGGER IF NOT EXISTS payloads_no_update BEFORE UPDATE ON payloads
BEGIN SELECT RAISE(ABORT, 'payloads are never changed, only deleted'); END;
{_APPEND_ONLY}
CREATE TRIGGER IF NOT EXISTS audit_head_no_delete BEFORE DELETE ON audit_head
BEGIN SELECT RAISE(ABORT, 'audit_head is never deleted'); END;
CREATE TRIGGER IF NOT EXISTS audit_head_only_grows BEFORE UPDATE ON audit_head
WHEN NEW.size < OLD.size BEGIN SELECT RAISE(ABORT, 'audit_head only grows'); END;
{_NO_REPLACE}{_HEAD_FOLLOWS_RECORDS}"""

# Pruning (``toolaudit retention apply --prune-prefix``): records before the widest cut in
# audit_prunes may be deleted, no other; a cut only moves forward, stays within the log and needs
# its signed pruning checkpoint stored first. Installed by the first pruning.
_PRUNE_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS audit_prunes (cut INTEGER PRIMARY KEY);
CREATE TRIGGER IF NOT EXISTS audit_prunes_no_update BEFORE UPDATE ON audit_prunes
BEGIN SELECT RAISE(ABORT, 'audit_prunes is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_prunes_no_delete BEFORE DELETE ON audit_prunes
BEGIN SELECT RAISE(ABORT, 'audit_prunes is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_prunes_insert_new BEFORE INSERT ON audit_prunes
WHEN NEW.cut <= coalesce((SELECT max(cut) FROM audit_prunes), 0)
    OR NEW.cut > (SELECT size FROM audit_head)
    OR NOT EXISTS (SELECT 1 FROM audit_checkpoints WHERE size = NEW.cut AND instr(note, '{PRUNE_MARK}'))
BEGIN SELECT RAISE(ABORT, 'a pruning cut moves forward, within the log, after its signed pruning checkpoint'); END;
DROP TRIGGER IF EXISTS audit_records_no_delete;
CREATE TRIGGER audit_records_no_delete BEFORE DELETE ON audit_records
WHEN OLD.seq >= coalesce((SELECT max(cut) FROM audit_prunes), 0)
BEGIN SELECT RAISE(ABORT, 'audit_records is append-only: only records before a pruning cut are removed'); END;
"""

_UNIQUE_EVENT_ID = (
    "CREATE UNIQUE INDEX IF NOT EXISTS audit_records_event_id ON audit_records(event_id)"
)
# With event ids unique, a REPLACE of a new seq with a stored event id would delete that record.
_EVENT_ID_NEW = (
    "CREATE TRIGGER IF NOT EXISTS audit_records_event_id_new BEFORE INSERT ON audit_records "
    "WHEN EXISTS (SELECT 1 FROM audit_records WHERE event_id = NEW.event_id) "
    "BEGIN SELECT RAISE(ABORT, 'audit_records: a record with this event_id is already stored "
    "(event ids are unique; records are never replaced)'); END"
)


def _select_records(columns: _columns.StoreColumns, payloads: bool) -> str:
    payload = (
        "(SELECT data FROM payloads WHERE payloads.seq = audit_records.seq)" if payloads else "NULL"
    )
    return (
        f"SELECT seq, CAST(canonical AS BLOB), entry_hash, prev_hash, {', '.join(columns.names)}, "
        f"{payload} FROM audit_records"
    )


_SELECT_RECORDS = _select_records(_columns.ALL, True)
_SCAN = (
    "SELECT audit_records.seq, CAST(canonical AS BLOB), entry_hash, prev_hash, payloads.data "
    "FROM audit_records LEFT JOIN payloads ON payloads.seq = audit_records.seq "
    "ORDER BY audit_records.seq"
)
_ORPHAN_PAYLOADS = (
    "SELECT seq FROM payloads WHERE NOT EXISTS "
    "(SELECT 1 FROM audit_records WHERE audit_records.seq = payloads.seq) ORDER BY seq LIMIT ?"
)
_SCAN_V1 = (
    "SELECT seq, CAST(canonical AS BLOB), entry_hash, prev_hash, NULL FROM audit_records "
    "ORDER BY seq"
)


def _inserts(columns: _columns.StoreColumns) -> tuple[str, str]:
    """The INSERT of one record, and of ``_ROWS_PER_INSERT`` records."""
    row = "(" + ", ".join("?" * (4 + len(columns.names))) + ")"
    head = (
        f"INSERT INTO audit_records (seq, entry_hash, prev_hash, canonical, "
        f"{', '.join(columns.names)}) VALUES "
    )
    return head + row, head + ", ".join([row] * _ROWS_PER_INSERT)


def _claimed(column: str) -> str:
    """A column's value as the JSON the canonical bytes would hold for it."""
    if column == SUCCESS:
        return f"CASE {column} WHEN 1 THEN json('true') WHEN 0 THEN json('false') END"
    if column == DURATION_MS:  # a whole number of milliseconds is an integer in canonical JSON
        return (
            f"CASE WHEN {column} = CAST({column} AS INTEGER) THEN CAST({column} AS INTEGER) "
            f"ELSE {column} END"
        )
    if column == USER_ROLES:  # the canonical JSON text of a list
        return f"CASE WHEN json_valid({column}) AND {column} LIKE '[%' THEN json({column}) ELSE {column} END"
    return column


def _mismatch_query(columns: _columns.StoreColumns) -> str:
    """The columns' claim about each record, as one JSON array, next to what the canonical bytes
    say. The multi-path json_extract parses each record once, in C; rows it flags are rechecked
    exactly."""
    return (
        "SELECT seq FROM audit_records WHERE json_extract(canonical, "
        + ", ".join(f"'$.{c}'" for c in ("seq", "prev_hash", *columns.names))
        + ") IS NOT json_array(seq, prev_hash, "
        + ", ".join(_claimed(c) for c in columns.names)
        + ")"
    )


class _SQLiteTransaction:
    """The append protocol's port over one ``BEGIN IMMEDIATE`` transaction of a SQLiteSink."""

    __slots__ = ("_sink",)

    def __init__(self, sink: SQLiteSink) -> None:
        self._sink = sink

    def read_head(self) -> tuple[str, Frontier]:
        size, prev, data = self._sink._conn.execute(
            "SELECT size, prev_hash, frontier FROM audit_head"
        ).fetchone()
        return prev, restore_frontier(size, data, self._sink.path)

    def stored_event_ids(self, event_ids: Sequence[str]) -> set[str]:
        return self._sink._stored_ids(event_ids)

    def write(
        self,
        records: Sequence[StoredRecord],
        leaf_hashes: Sequence[bytes],
        nodes: Sequence[tuple[int, int, bytes]],
        frontier: Frontier,
    ) -> None:
        sink = self._sink
        values = sink._columns.values
        sink._insert(
            [
                (r.seq, digest, r.prev_hash, r.canonical.decode(), *values(r))
                for r, digest in zip(records, leaf_hashes, strict=True)
            ]
        )
        payloads = [(r.seq, r.payload) for r in records if r.payload is not None]
        if payloads:
            sink._conn.executemany("INSERT INTO payloads (seq, data) VALUES (?, ?)", payloads)
        if nodes:
            sink._conn.executemany("INSERT INTO audit_nodes VALUES (?, ?, ?)", nodes)
        sink._conn.execute(
            "UPDATE audit_head SET size = ?, prev_hash = ?, frontier = ?",
            (frontier.size, records[-1].entry_hash, frontier.to_bytes()),
        )
        grown_from = frontier.size - len(records)
        if frontier.size >= ANALYZE_FROM and frontier.size.bit_length() > grown_from.bit_length():
            # The query planner's statistics, refreshed each time the trail doubles (a sample of
            # each index, so its cost stays bounded): select() then picks the right index.
            sink._conn.execute("ANALYZE audit_records")

    def write_checkpoint(self, note: str, size: int) -> None:
        self._sink._insert_checkpoint(note, size)


def is_sqlite_file(path: str) -> bool:
    """Whether ``path`` starts with the SQLite file header."""
    try:
        with open(path, "rb") as f:
            return f.read(16) == _SQLITE_MAGIC
    except OSError:
        return False


class SQLiteSink(AuditSink):
    """Records in one SQLite file; see the module docstring for durability and concurrency."""

    def __init__(
        self, path: str | os.PathLike[str], *, create: bool = True, url: str | None = None
    ) -> None:
        self.path = os.fspath(path)
        self.url = url or f"sqlite:///{self.path}"
        self._lock = threading.RLock()
        self._writer = create
        self._inherited: list[sqlite3.Connection] = []
        if not create and not os.path.exists(self.path):
            raise SinkError(f"{self.path}: no such file")
        if (
            os.path.exists(self.path)
            and os.path.getsize(self.path)
            and not is_sqlite_file(self.path)
        ):
            raise SinkError(f"{self.path}: not an SQLite database (unknown file header)")
        try:
            self._conn = self._connect(create)
            if create:
                # One script, one transaction: processes starting together create the schema once.
                self._conn.executescript(f"BEGIN IMMEDIATE; {_SCHEMA} COMMIT;")
                self._unique_event_ids()
            self._check_schema()
            if create and self._columns.full:
                for index in (*_INDEXES_V2, *STATS_INDEXES):
                    self._conn.execute(_columns.create_index(index))
            if create:
                self._index_leaf_hashes()
            self._stats_indexed = self._columns.full and {
                _columns.index_name(i) for i in STATS_INDEXES
            } <= {
                r[0]
                for r in self._conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")
            }
            self.record_format = self._record_format()
        except sqlite3.Error as exc:
            raise SinkError(f"{self.path}: cannot open the SQLite audit database ({exc})") from None
        reinit_in_forked_child(self, "_after_fork")

    @property
    def where(self) -> str:
        return self.path

    def check_writable(self) -> None:
        # SQLite writes a journal beside the database: both the file and its directory.
        check_file_writable(self.path, "database")

    def _unique_event_ids(self) -> None:
        """A unique index on event_id (a retried batch is never stored twice). A database that
        already holds a duplicate, or is too busy to index now (another writer holds it while a
        large old trail is indexed), keeps working without it (logged once)."""
        try:
            self._conn.execute(_UNIQUE_EVENT_ID)
            self._conn.execute(_EVENT_ID_NEW)
        except sqlite3.IntegrityError:
            internal_error(
                "indexing audit event ids",
                SinkError(
                    f"{self.path}: duplicate event ids stored; event_id is not unique-indexed"
                ),
            )
        except sqlite3.OperationalError as exc:
            internal_error(
                "indexing audit event ids",
                SinkError(f"{self.path}: event_id not unique-indexed yet ({exc})"),
            )

    def _index_leaf_hashes(self) -> None:
        """The covering index of ``schema.LEAF_HASH_INDEX``, made once on a store that lacks it
        (proofs read without it, from the records, only slower). A database too busy to index now
        keeps working without it (logged once)."""
        try:
            self._conn.execute(_columns.create_index(LEAF_HASH_INDEX))
        except sqlite3.OperationalError as exc:
            internal_error(
                "indexing audit entry hashes",
                SinkError(f"{self.path}: entry hashes not indexed yet ({exc})"),
            )

    def _after_fork(self) -> None:
        # A connection must not cross a fork: the child opens its own, and keeps the inherited one
        # unused and unclosed (closing it could disturb the parent's locks).
        self._lock = threading.RLock()
        if self._conn is not None:
            self._inherited.append(self._conn)
            self._conn = self._connect(self._writer)

    @classmethod
    def from_url(cls, url: str, *, create: bool = True) -> SQLiteSink:
        return cls(path_from_url(url, "sqlite"), create=create, url=url)

    def _connect(self, writer: bool) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT
        )
        if writer:  # a verifier leaves the file exactly as it found it
            # For a new file only (a database in WAL mode keeps its page size). A commit writes every
            # page it touched to the WAL, and indexes whose keys arrive out of order (random trace
            # ids, interleaved users and conversations) touch a page per record each: 16 KiB pages
            # mean a quarter of the WAL frames, write calls and checkpoint reads of 4 KiB pages for
            # about the same bytes, and those calls are what cost most (docs/design.md).
            conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
            # Index keys that arrive out of order (trace ids, users, conversations) each touch a
            # leaf page per record: with SQLite's default 2 MB cache those pages are reread for
            # every batch once the indexes outgrow it, and append slows as the trail grows.
            conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
            conn.execute("PRAGMA analysis_limit = 1000")
        return conn

    def _record_format(self) -> int:
        """The format new records are sealed in, as the meta table records it (absent: 1)."""
        try:
            row = self._conn.execute(
                "SELECT value FROM audit_meta WHERE key = ?", (FORMAT_KEY,)
            ).fetchone()
        except sqlite3.OperationalError:  # a database from before the meta table, read-only
            return SCHEMA_V1
        return SCHEMA_V2 if row is not None and str(row[0]) == str(SCHEMA_V2) else SCHEMA_V1

    def _check_schema(self) -> None:
        tables = {
            r[0] for r in self._conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        missing = {"audit_records", "audit_head", "audit_checkpoints"} - tables
        if missing:
            raise SinkError(
                f"{self.path}: not a toolaudit database (no table {sorted(missing)[0]})"
            )
        self._has_payloads = "payloads" in tables
        self._columns = _columns.store_columns(
            [r[1] for r in self._conn.execute("PRAGMA table_info(audit_records)")]
        )
        self._select = _select_records(self._columns, self._has_payloads)
        self._insert_one, self._insert_many = _inserts(self._columns)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        conn = self._conn
        try:
            begin_immediate(conn, self.path)
        except LockUnavailableError as exc:
            raise SinkError(
                f"{self.path}: cannot take the write lock, and no other writer holds it: the "
                f"database or its -wal/-shm files cannot be written ({exc})"
            ) from None
        try:
            yield
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    @contextlib.contextmanager
    def append_transaction(self) -> Iterator[_SQLiteTransaction]:
        with self._lock:
            try:
                with self._transaction():
                    yield _SQLiteTransaction(self)
            except sqlite3.Error as exc:
                raise SinkError(
                    f"{self.path}: append failed ({type(exc).__name__}: {exc})"
                ) from None

    def _stored_ids(self, ids: Sequence[str]) -> set[str]:
        """Those of ``ids`` that some stored record has."""
        found: set[str] = set()
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            found.update(
                r[0]
                for r in self._conn.execute(
                    f"SELECT event_id FROM audit_records WHERE event_id IN ({', '.join('?' * len(chunk))})",
                    chunk,
                )
            )
        return found

    def _insert(self, rows: list[tuple[Any, ...]]) -> None:
        # Many rows per INSERT statement: one sqlite3_step and far less binding overhead per row.
        whole = len(rows) - len(rows) % _ROWS_PER_INSERT
        if whole:
            self._conn.executemany(
                self._insert_many,
                [
                    tuple(chain.from_iterable(rows[i : i + _ROWS_PER_INSERT]))
                    for i in range(0, whole, _ROWS_PER_INSERT)
                ],
            )
        if whole < len(rows):
            self._conn.executemany(self._insert_one, rows[whole:])

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            try:
                return self._conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise SinkError(f"{self.path}: read failed ({type(exc).__name__}: {exc})") from None

    def read(self, start: int = 0, stop: int | None = None) -> Iterator[StoredRecord]:
        return self._stored(
            self._query(
                f"{self._select} WHERE seq >= ? AND seq < ? ORDER BY seq",
                (start, stop if stop is not None else 2**63 - 1),
            )
        )

    def select(self, selection: Selection) -> Iterator[StoredRecord]:
        pushed, rest = split(selection, self._columns.names)
        tail, params = sql_filter(pushed, "?")
        return filtered(self._stored(self._query(self._select + tail, params)), rest)

    def _stored(self, rows: list[Any]) -> Iterator[StoredRecord]:
        names = self._columns.names
        for seq, canonical, entry_hash, prev_hash, *cols, payload in rows:
            columns = dict(zip(names, cols, strict=False))
            columns[SEQ] = seq
            columns[SUCCESS] = success_from_column(columns[SUCCESS])
            yield StoredRecord(
                seq,
                bytes(canonical),
                bytes(entry_hash).hex(),
                prev_hash,
                columns,
                None if payload is None else stored_bytes(payload),
            )

    def erase_payloads(self, seqs: Collection[int]) -> int:
        wanted = sorted({int(seq) for seq in seqs})
        if not wanted or not self._has_payloads:
            return 0
        erased = 0
        with self._lock:
            try:
                with self._transaction():
                    for i in range(0, len(wanted), 500):
                        chunk = wanted[i : i + 500]
                        erased += self._conn.execute(
                            f"DELETE FROM payloads WHERE seq IN ({', '.join('?' * len(chunk))})",
                            chunk,
                        ).rowcount
            except sqlite3.Error as exc:
                raise SinkError(
                    f"{self.path}: erasing payloads failed ({type(exc).__name__}: {exc})"
                ) from None
        return erased

    def prune_prefix(self, cut: int, note: str) -> int:
        with self._lock:
            try:
                with self._transaction():
                    conn = self._conn
                    for statement in _PRUNE_SCHEMA.split(";\n"):
                        if statement.strip():
                            conn.execute(statement)
                    self._insert_checkpoint(note, cut)
                    conn.execute("INSERT INTO audit_prunes (cut) VALUES (?)", (cut,))
                    if self._has_payloads:
                        conn.execute("DELETE FROM payloads WHERE seq < ?", (cut,))
                    removed = conn.execute(
                        "DELETE FROM audit_records WHERE seq < ?", (cut,)
                    ).rowcount
            except sqlite3.Error as exc:
                raise SinkError(
                    f"{self.path}: pruning failed ({type(exc).__name__}: {exc})"
                ) from None
        return int(removed)

    def size(self) -> int:
        return int(self._query("SELECT size FROM audit_head")[0][0])

    def head(self) -> TreeHead:
        size, data = self._query("SELECT size, frontier FROM audit_head")[0]
        return TreeHead(size, restore_frontier(size, data, self.path).root())

    def stored_head(self) -> StoredHead | None:
        rows = self._query("SELECT size, prev_hash, frontier FROM audit_head")
        if not rows:  # deleted: a writer opening the file starts a new, empty head
            return StoredHead(0, GENESIS_HASH, b"")
        size, prev_hash, frontier = rows[0]
        return StoredHead(size, _text(prev_hash), stored_bytes(frontier))

    def stored_nodes(self) -> list[tuple[int, int, bytes]]:
        return [
            (level, idx, stored_bytes(h))
            for level, idx, h in self._query("SELECT level, idx, hash FROM audit_nodes")
        ]

    def log_id(self) -> str | None:
        try:
            rows = self._query("SELECT value FROM audit_meta WHERE key = ?", (LOG_ID_KEY,))
        except SinkError:  # a database created before log ids, opened read-only
            return None
        return str(rows[0][0]) if rows else None

    def write_checkpoint(self, note: str, size: int) -> None:
        with self._lock:
            try:
                with self._transaction():
                    self._insert_checkpoint(note, size)
            except sqlite3.Error as exc:
                raise SinkError(f"{self.path}: writing a checkpoint failed ({exc})") from None

    def _insert_checkpoint(self, note: str, size: int) -> None:
        self._conn.execute("INSERT INTO audit_checkpoints (size, note) VALUES (?, ?)", (size, note))

    def checkpoints(self) -> list[str]:
        return [r[0] for r in self._query("SELECT note FROM audit_checkpoints ORDER BY id")]

    def scan(self) -> Iterator[tuple[int, bytes, bytes, str, bytes | None]]:
        # A cursor of its own connection, so the column check can run on another thread meanwhile.
        # Each record is read once, its payload (if any) beside it.
        try:
            conn = sqlite3.connect(self.path, check_same_thread=False)
            cursor = conn.execute(_SCAN if self._has_payloads else _SCAN_V1)
        except sqlite3.Error as exc:
            raise SinkError(f"{self.path}: cannot read records ({exc})") from None
        try:
            while True:
                try:
                    rows = cursor.fetchmany(4096)
                except sqlite3.Error as exc:
                    raise SinkError(f"{self.path}: cannot read records ({exc})") from None
                if not rows:
                    return
                # The rows are already ScanRow fields: no per-row wrapper.
                yield from rows
        finally:
            conn.close()

    def column_problems(self) -> list[tuple[int, str]]:
        try:
            conn = sqlite3.connect(self.path, check_same_thread=False)
            try:
                suspects = [r[0] for r in conn.execute(_mismatch_query(self._columns))]
            except sqlite3.OperationalError:
                # Malformed JSON in some record stops json_extract: check every row exactly instead.
                suspects = [r[0] for r in conn.execute("SELECT seq FROM audit_records")]
            problems = []
            names = self._columns.names
            for seq in suspects:
                row = conn.execute(
                    f"SELECT CAST(canonical AS BLOB), prev_hash, {', '.join(names)} FROM audit_records WHERE seq = ?",
                    (seq,),
                ).fetchone()
                columns = dict(zip(names, row[2:], strict=False))
                columns[SUCCESS] = success_from_column(columns[SUCCESS])
                columns[SEQ] = seq
                columns["prev_hash"] = row[1]
                what = compare_columns(row[0], columns)
                if what:
                    problems.append((seq, what))
            conn.close()
        except sqlite3.Error as exc:
            raise SinkError(f"{self.path}: cannot read records ({exc})") from None
        return problems

    def orphan_payloads(self, limit: int, *, joined: int | None = None) -> list[int]:
        if not self._has_payloads:
            return []
        try:
            conn = sqlite3.connect(self.path, check_same_thread=False)
            try:
                # Counting is cheaper than the search, which a clean trail never needs.
                (count,) = conn.execute("SELECT count(*) FROM payloads").fetchone()
                if joined is not None and count <= joined:
                    return []
                return [row[0] for row in conn.execute(_ORPHAN_PAYLOADS, (limit,))]
            finally:
                conn.close()
        except sqlite3.Error as exc:
            raise SinkError(f"{self.path}: cannot read payloads ({exc})") from None

    def leaf_hashes(self, start: int, stop: int) -> list[bytes]:
        return [
            bytes(r[0])
            for r in self._query(
                "SELECT entry_hash FROM audit_records WHERE seq >= ? AND seq < ? ORDER BY seq",
                (start, stop),
            )
        ]

    def tree_node(self, level: int, index: int) -> bytes | None:
        rows = self._query(
            "SELECT hash FROM audit_nodes WHERE level = ? AND idx = ?", (level, index)
        )
        return bytes(rows[0][0]) if rows else None

    def tree_nodes(self, keys: Collection[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        found: dict[tuple[int, int], bytes] = {}
        wanted = list(keys)
        for i in range(0, len(wanted), _PAIRS_PER_QUERY):
            chunk = wanted[i : i + _PAIRS_PER_QUERY]
            rows = self._query(
                f"WITH k(level, idx) AS (VALUES {', '.join(['(?, ?)'] * len(chunk))}) "
                "SELECT n.level, n.idx, n.hash FROM k JOIN audit_nodes AS n "
                "ON n.level = k.level AND n.idx = k.idx",
                list(chain.from_iterable(chunk)),
            )
            found.update(((level, idx), bytes(h)) for level, idx, h in rows)
        return found

    def leaf_hash_ranges(
        self, ranges: Collection[tuple[int, int]]
    ) -> dict[tuple[int, int], list[bytes]]:
        wanted = list(dict.fromkeys(ranges))
        hashes: dict[int, bytes] = {}
        for i in range(0, len(wanted), _PAIRS_PER_QUERY):
            chunk = wanted[i : i + _PAIRS_PER_QUERY]
            # A search of the covering index of schema.LEAF_HASH_INDEX where the store has it (a
            # few narrow pages per range), else of the records; put in order below, by seq.
            hashes.update(
                self._query(
                    f"WITH r(lo, hi) AS (VALUES {', '.join(['(?, ?)'] * len(chunk))}) "
                    "SELECT a.seq, a.entry_hash FROM r JOIN audit_records AS a "
                    "ON a.seq >= r.lo AND a.seq < r.hi",
                    list(chain.from_iterable(chunk)),
                )
            )
        return {
            (lo, hi): [bytes(h) for seq in range(lo, hi) if (h := hashes.get(seq)) is not None]
            for lo, hi in wanted
        }

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None  # type: ignore[assignment]

    def stats(self, selection: Selection, by: str | None = None) -> Any:
        """The query API's statistics of ``selection`` grouped by the column ``by``, computed in
        SQL (see :mod:`opentelemetry_instrumentation_toolaudit.ledger._sql_stats`)."""
        from opentelemetry_instrumentation_toolaudit.ledger._sql_stats import store_stats

        return store_stats(
            self._query,
            self.select,
            self._columns.names,
            selection,
            by,
            "sqlite",
            duration_column=self._columns.full,
            ordered=self._stats_indexed,
        )


def _text(value: Any) -> str:
    """A stored TEXT value as str, whatever was stored."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


__all__ = ["SQLiteSink", "is_sqlite_file"]
