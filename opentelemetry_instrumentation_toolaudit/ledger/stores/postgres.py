# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The PostgreSQL sink (``pip install 'opentelemetry-instrumentation-toolaudit[postgres]'``).

URL: any libpq URL, e.g. ``postgresql://audit_writer@db.internal/audit``; pick a schema with
``?options=-csearch_path%3Daudit``. Tables (created when absent, by a role allowed to):

* ``audit_records``: one row per record (canonical bytes verbatim in ``canonical``, indexed columns);
* ``audit_heads``: one row per batch: size, last hash and Merkle frontier after it (current = largest);
* ``audit_nodes``: Merkle subtree hashes (2^8 leaves and up) for O(log n) proofs;
* ``audit_checkpoints``: signed checkpoint notes;
* ``audit_meta``: the log's identity (``log_id``) and the record format new records are written in
  (``record_format``; absent in a log begun in format 1, which stays in format 1), written once;
* ``payloads``: record format 2 payloads (``seq``, ``data``), written in the same transaction as
  their records. Payloads may be deleted (erasure, retention); a trigger rejects their UPDATE.

Append-only is enforced by the database: triggers reject UPDATE, DELETE and TRUNCATE on every table,
and a new head row must extend the previous head by exactly the records written after it (its size
is one past the last record, every record in between is there, and its last hash is that record's).
Writers need only ``INSERT`` and ``SELECT`` on the records, heads, nodes and checkpoints (no
``UPDATE``: the head is a new row per batch, not an update) and ``SELECT`` on ``audit_meta``, whose
log id the owner writes when the sink is first opened. :meth:`PostgresSink.grant_writer` grants
exactly that to a role (INSERT and SELECT on ``payloads`` too, never DELETE).
:meth:`PostgresSink.grant_maintainer` gives a maintenance role SELECT on every table and DELETE on
``payloads`` only, for erasure and retention. :meth:`PostgresSink.grant_pruner` sets up pruning
(``toolaudit retention apply --prune-prefix``): a role that may append, and DELETE records and
payloads; a trigger lets it delete only records before the widest cut in ``audit_prunes``, a table
that only grows and takes a cut only forward, within the log, once a checkpoint row for that size
carrying the pruning mark is stored. The database cannot check that row's Ed25519 signature:
``verify`` does. The trigger functions read only the store's schema (``pg_temp`` last), so
temporary tables cannot stand in for the ones they check. Keep table ownership with an
administrator role that the application never uses, since an owner can drop triggers.

Many writers, one chain: each batch runs in one transaction holding a transaction-scoped advisory
lock for the schema, reads the current head, inserts the records (COPY), the nodes and the new head,
and commits (durable on return with the default ``synchronous_commit``).
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import uuid
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from typing import Any

from opentelemetry_instrumentation_toolaudit._exceptions import SinkError
from opentelemetry_instrumentation_toolaudit._log import internal_error
from opentelemetry_instrumentation_toolaudit.ledger._chain import (
    GENESIS_HASH,
    StoredRecord,
    plain_column_tuple,
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
    PREV_HASH,
    SCHEMA_V1,
    SCHEMA_V2,
    SEQ,
    STATS_INDEXES,
    SUBJECT,
)
from opentelemetry_instrumentation_toolaudit.ledger.stores import _columns
from opentelemetry_instrumentation_toolaudit.ledger.stores._base import (
    NODE_MIN_LEVEL,
    AuditSink,
    StoredHead,
    TreeHead,
    compare_columns,
    reinit_in_forked_child,
    restore_frontier,
)
from opentelemetry_instrumentation_toolaudit.ledger.stores._url import passwords_in, redact_url

try:
    from orjson import loads as _loads
except ImportError:  # pragma: no cover - orjson is the optional ``fast`` extra
    from json import loads as _loads  # type: ignore[assignment]

try:
    import psycopg
except ImportError:  # pragma: no cover - depends on the installed extras
    psycopg = None  # type: ignore[assignment]

CONNECT_TIMEOUT = 10
"""Seconds to wait for the server when the URL sets no ``connect_timeout``."""

_TABLES = ("audit_records", "audit_heads", "audit_nodes", "audit_checkpoints")

_LEAF_PIECE = 1 << NODE_MIN_LEVEL
"""Most leaf hashes one search of ``leaf_hash_ranges`` reads (a proof's ranges are no wider)."""


_STATS_INDEXES_MISSING = " OR ".join(
    f"to_regclass('{_columns.index_name(i)}') IS NULL" for i in STATS_INDEXES
)

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS audit_records (
    seq BIGINT PRIMARY KEY,
    entry_hash BYTEA NOT NULL,
    prev_hash TEXT NOT NULL,
    canonical BYTEA NOT NULL,
    {", ".join(f"{c} {_columns.sql_type(c, 'BOOLEAN', 'DOUBLE PRECISION')}" for c in _columns.ALL.names)}
);
{"".join(_columns.create_index(i) for i in (*INDEXES_V1, LEAF_HASH_INDEX))}
DO $$ BEGIN
    IF EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema()
        AND table_name = 'audit_records' AND column_name = '{SUBJECT}')
    THEN {"".join(_columns.create_index(i) for i in INDEXES if i not in INDEXES_V1)}
        {"".join(_columns.create_index(i) for i in STATS_INDEXES)}
    END IF;
END $$;
CREATE TABLE IF NOT EXISTS audit_heads (
    size BIGINT PRIMARY KEY, prev_hash TEXT NOT NULL, frontier BYTEA NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_nodes (
    level INTEGER NOT NULL, idx BIGINT NOT NULL, hash BYTEA NOT NULL, PRIMARY KEY (level, idx)
);
CREATE TABLE IF NOT EXISTS audit_checkpoints (
    size BIGINT NOT NULL, note TEXT NOT NULL, written_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);
CREATE OR REPLACE FUNCTION toolaudit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'toolaudit: % on % is not allowed: the audit trail is append-only', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END $$;
"""

_PAYLOADS_TABLE = "payloads"
# Payloads may be deleted (erasure, retention), never changed.
_PAYLOADS_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {_PAYLOADS_TABLE} (seq BIGINT PRIMARY KEY, data BYTEA NOT NULL);
DROP TRIGGER IF EXISTS {_PAYLOADS_TABLE}_no_update ON {_PAYLOADS_TABLE};
CREATE TRIGGER {_PAYLOADS_TABLE}_no_update BEFORE UPDATE ON {_PAYLOADS_TABLE}
    FOR EACH ROW EXECUTE FUNCTION toolaudit_append_only();
"""


def _append_only(table: str) -> str:
    """Triggers that reject UPDATE, DELETE and TRUNCATE on ``table``."""
    return f"""
DROP TRIGGER IF EXISTS {table}_append_only ON {table};
CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION toolaudit_append_only();
DROP TRIGGER IF EXISTS {table}_no_truncate ON {table};
CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION toolaudit_append_only();
"""


_SCHEMA += "".join(_append_only(t) for t in _TABLES)

# The trigger functions read the tables by name; pg_temp is searched first unless named, so a role
# that may create temporary tables could shadow them (a temporary audit_prunes with a high cut).
# Each function searches only the store's schema, and pg_temp last.
_FUNCTIONS = (
    "toolaudit_append_only",
    "toolaudit_head_follows_records",
    "toolaudit_prune_cut",
    "toolaudit_prune_only",
)
_OWN_FUNCTIONS = (
    "FROM pg_proc WHERE pronamespace = (SELECT oid FROM pg_namespace WHERE nspname = "
    f"current_schema()) AND proname IN ({', '.join(repr(f) for f in _FUNCTIONS)})"
)
_PIN_SEARCH_PATH = f"""
DO $$
DECLARE
    fn regprocedure;
BEGIN
    FOR fn IN SELECT oid::regprocedure {_OWN_FUNCTIONS} LOOP
        EXECUTE format('ALTER FUNCTION %s SET search_path = %I, pg_temp', fn, current_schema());
    END LOOP;
END $$;
"""
_SEARCH_PATH_UNPINNED = (
    f"SELECT CASE WHEN EXISTS (SELECT 1 {_OWN_FUNCTIONS} AND proconfig IS NULL) THEN 1 END"
)

# A head row claiming records that are not there (or fewer than are) would pass until the next
# append, which then fails for good: each new head is checked against the records under the lock.
_HEAD_TRIGGER = "audit_heads_follow_records"
_HEAD_CHECK = (
    f"""
CREATE OR REPLACE FUNCTION toolaudit_head_follows_records() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    previous BIGINT;
BEGIN
    SELECT coalesce(max(size), 0) INTO previous FROM audit_heads;
    IF NEW.size <= previous
        OR NEW.size IS DISTINCT FROM (SELECT max(seq) + 1 FROM audit_records)
        OR NEW.size - previous IS DISTINCT FROM (
            SELECT count(*) FROM audit_records WHERE seq >= previous)
        OR NEW.prev_hash IS DISTINCT FROM (
            SELECT encode(entry_hash, 'hex') FROM audit_records WHERE seq = NEW.size - 1)
    THEN
        RAISE EXCEPTION 'toolaudit: a new head must extend the head of size % by exactly the records written after it', previous
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
DROP TRIGGER IF EXISTS {_HEAD_TRIGGER} ON audit_heads;
CREATE TRIGGER {_HEAD_TRIGGER} BEFORE INSERT ON audit_heads
    FOR EACH ROW EXECUTE FUNCTION toolaudit_head_follows_records();
"""
    + _PIN_SEARCH_PATH
)
_SCHEMA += _HEAD_CHECK

# Pruning: records before the widest cut in audit_prunes may be deleted, no other record; a cut
# only moves forward, within the log, once a checkpoint row for it carrying the pruning mark is
# stored (its signature is checked by verify, not here). Installed by
# the owner (grant_pruner, or the first pruning run by the owner).
_PRUNES_TABLE = "audit_prunes"
_PRUNE_SCHEMA = (
    f"""
CREATE TABLE IF NOT EXISTS {_PRUNES_TABLE} (
    cut BIGINT PRIMARY KEY, written_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);
CREATE OR REPLACE FUNCTION toolaudit_prune_cut() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.cut <= coalesce((SELECT max(cut) FROM {_PRUNES_TABLE}), 0)
        OR NEW.cut > coalesce((SELECT max(size) FROM audit_heads), 0)
        OR NOT EXISTS (SELECT 1 FROM audit_checkpoints
            WHERE size = NEW.cut AND strpos(note, '{PRUNE_MARK}') > 0)
    THEN
        RAISE EXCEPTION 'toolaudit: a pruning cut moves forward, within the log, after its signed pruning checkpoint'
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
DROP TRIGGER IF EXISTS {_PRUNES_TABLE}_forward ON {_PRUNES_TABLE};
CREATE TRIGGER {_PRUNES_TABLE}_forward BEFORE INSERT ON {_PRUNES_TABLE}
    FOR EACH ROW EXECUTE FUNCTION toolaudit_prune_cut();
CREATE OR REPLACE FUNCTION toolaudit_prune_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND OLD.seq < coalesce((SELECT max(cut) FROM {_PRUNES_TABLE}), 0) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'toolaudit: % on % is not allowed: the audit trail is append-only (only records before a pruning cut are removed)', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END $$;
DROP TRIGGER IF EXISTS audit_records_append_only ON audit_records;
CREATE TRIGGER audit_records_append_only BEFORE UPDATE OR DELETE ON audit_records
    FOR EACH ROW EXECUTE FUNCTION toolaudit_prune_only();
"""
    + _append_only(_PRUNES_TABLE)
    + _PIN_SEARCH_PATH
)
_PRUNE_READY = (
    "SELECT to_regclass('audit_prunes') IS NOT NULL AND EXISTS (SELECT 1 FROM pg_proc "
    "WHERE proname = 'toolaudit_prune_only' AND pronamespace = "
    "(SELECT oid FROM pg_namespace WHERE nspname = current_schema()))"
)

# The log's identity, added to schemas created before it (by a role allowed to; else the log has
# none, and its checkpoints' origins name none, as before).
_META_TABLE = "audit_meta"
_META_SCHEMA = (
    f"CREATE TABLE IF NOT EXISTS {_META_TABLE} (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    + _append_only(_META_TABLE)
)
LOG_ID_KEY = "log_id"
FORMAT_KEY = "record_format"
_UNIQUE_INDEX = "audit_records_event_id"

_LOCK = "SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.toolaudit_append'))"
_HEAD = "SELECT size, prev_hash, frontier FROM audit_heads ORDER BY size DESC LIMIT 1"


# Binary COPY: bytea goes as bytes rather than as hex text twice its size, and no value is escaped.
def _copy_in(columns: _columns.StoreColumns) -> tuple[str, list[str]]:
    """The COPY statement that appends records with ``columns``, and its binary types."""
    return (
        f"COPY audit_records (seq, entry_hash, prev_hash, canonical, {', '.join(columns.names)}) "
        "FROM STDIN (FORMAT BINARY)",
        ["int8", "bytea", "text", "bytea", *_copy_types(columns)],
    )


def _copy_types(columns: _columns.StoreColumns) -> list[str]:
    return [_columns.sql_type(c, "bool", "float8").lower() for c in columns.names]


def _scan_copy(columns: _columns.StoreColumns, payloads: bool) -> tuple[str, list[str]]:
    """The COPY statement the verifier scans records with (each record with its payload), and
    its binary types."""
    payload = "p.data" if payloads else "NULL::bytea"
    join = f"LEFT JOIN {_PAYLOADS_TABLE} p ON p.seq = r.seq " if payloads else ""
    return (
        f"COPY (SELECT r.seq, r.canonical, r.entry_hash, r.prev_hash, {payload}, "
        f"{', '.join('r.' + c for c in columns.names)} FROM audit_records r {join}"
        "ORDER BY r.seq) TO STDOUT (FORMAT BINARY)",
        ["int8", "bytea", "bytea", "text", "bytea", *_copy_types(columns)],
    )


_COPY_PAYLOADS = f"COPY {_PAYLOADS_TABLE} (seq, data) FROM STDIN (FORMAT BINARY)"


class NoTablesError(SinkError):
    """Opened without ``create``: the database or schema holds no toolaudit tables (yet)."""


def _require_psycopg() -> Any:
    if psycopg is None:
        raise SinkError(
            "the PostgreSQL sink needs psycopg: pip install 'opentelemetry-instrumentation-toolaudit[postgres]'"
        )
    return psycopg


class PostgresSink(AuditSink):
    """Records in PostgreSQL; see the module docstring for the tables, roles and locking."""

    def __init__(self, url: str, *, create: bool = True) -> None:
        pg = _require_psycopg()
        self.url = url
        self._where = redact_url(url)
        self._lock = threading.RLock()
        self._conn: Any = None
        self._conn = self._connection()
        try:
            self._ensure_schema(create)
            existing = self._conn.execute(
                "SELECT count(*) FROM unnest(%s::text[]) t WHERE to_regclass(t) IS NOT NULL",
                (list(_TABLES),),
            ).fetchone()[0]
            if existing < len(_TABLES):
                if not create:
                    raise NoTablesError(
                        f"{self._where}: no toolaudit tables in this database/schema"
                    )
                self._conn.execute(_LOCK)
                self._conn.execute(_SCHEMA)
            self._conn.commit()
        except pg.Error as exc:
            self._drop(self._conn)
            raise SinkError(
                f"{self._where}: cannot create the audit tables ({_first_line(exc, self.url)})"
            ) from None
        except SinkError:
            self._drop(self._conn)
            raise
        self._inherited: list[Any] = []
        self._column_problems: list[tuple[int, str]] | None = None
        if create:
            self._create_meta()
        self.record_format, self._has_payloads = self._format()
        self._columns = _columns.store_columns(
            [
                r[0]
                for r in self._query(
                    "SELECT column_name FROM information_schema.columns "
                    "WHERE table_schema = current_schema() AND table_name = 'audit_records'"
                )
            ]
        )
        self._stats_indexed = self._columns.full and not self._query(
            f"SELECT 1 WHERE {_STATS_INDEXES_MISSING}"
        )
        reinit_in_forked_child(self, "_after_fork")

    def _format(self) -> tuple[int, bool]:
        """The record format new records are sealed in (the meta table's ``record_format``,
        format 1 when absent) and whether the payloads table exists."""
        rows = self._query(
            f"SELECT to_regclass('{_META_TABLE}') IS NOT NULL, "
            f"to_regclass('{_PAYLOADS_TABLE}') IS NOT NULL"
        )
        has_meta, has_payloads = rows[0]
        value = None
        if has_meta:
            found = self._query(f"SELECT value FROM {_META_TABLE} WHERE key = %s", (FORMAT_KEY,))
            value = found[0][0] if found else None
        fmt = SCHEMA_V2 if value == str(SCHEMA_V2) and has_payloads else SCHEMA_V1
        return fmt, bool(has_payloads)

    def _ensure_schema(self, create: bool) -> None:
        """Create the schema the URL's ``search_path`` names when it does not exist yet (for a role
        allowed to); otherwise a SinkError that says which ``CREATE SCHEMA`` to run."""
        from psycopg import errors, sql

        conn = self._conn
        if conn.execute("SELECT current_schema()").fetchone()[0] is not None:
            return
        path, user = conn.execute("SELECT current_setting('search_path'), current_user").fetchone()
        conn.rollback()
        schema = next((n for n in _search_path(path) if n != "$user"), user)
        ident = sql.Identifier(schema)
        if not create:
            raise NoTablesError(
                f"{self._where}: schema {ident.as_string(conn)} does not exist: no toolaudit tables"
            )
        try:
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(ident))
            conn.commit()
        except errors.InsufficientPrivilege:
            self._release(conn)
            create_schema = sql.SQL("CREATE SCHEMA {} AUTHORIZATION {};").format(
                ident, sql.Identifier(user)
            )
            raise SinkError(
                f"{self._where}: schema {ident.as_string(conn)} (the search_path) does not exist "
                f"and this role may not create it: as an administrator, run "
                f"{create_schema.as_string(conn)}"
            ) from None

    def _create_meta(self) -> None:
        """Best effort, for schemas created before them (a role without the rights keeps working
        without, logged once): the meta table with a log id, the head check, and a unique index
        on event_id. A writer finding them in place writes nothing."""
        if self.log_id() is None:
            self._best_effort(
                "creating the audit log id",
                f"SELECT CASE WHEN to_regclass('{_META_TABLE}') IS NULL THEN 1 END",
                _META_SCHEMA,
                (
                    f"INSERT INTO {_META_TABLE} VALUES (%s, %s) ON CONFLICT (key) DO NOTHING",
                    (LOG_ID_KEY, uuid.uuid4().hex),
                ),
            )
        # A log with no records yet is written in format 2; one begun in format 1 stays in it.
        self._best_effort(
            "setting up record format 2",
            f"SELECT CASE WHEN to_regclass('{_META_TABLE}') IS NOT NULL AND NOT EXISTS "
            f"(SELECT 1 FROM {_META_TABLE} WHERE key = '{FORMAT_KEY}') "
            "AND NOT EXISTS (SELECT 1 FROM audit_records) THEN 1 END",
            _PAYLOADS_SCHEMA + f"INSERT INTO {_META_TABLE} VALUES ('{FORMAT_KEY}', '{SCHEMA_V2}') "
            "ON CONFLICT (key) DO NOTHING;",
        )
        self._best_effort(
            "installing the audit head check",
            "SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = "
            f"'{_HEAD_TRIGGER}' AND tgrelid = 'audit_heads'::regclass) THEN 1 END",
            _HEAD_CHECK,
        )
        # Trigger functions created before they searched only the store's schema.
        self._best_effort(
            "pinning the audit triggers' search_path", _SEARCH_PATH_UNPINNED, _PIN_SEARCH_PATH
        )
        # A retried batch is never stored twice (this fails on a schema holding duplicates).
        self._best_effort(
            "indexing audit event ids",
            f"SELECT CASE WHEN to_regclass('{_UNIQUE_INDEX}') IS NULL THEN 1 END",
            f"CREATE UNIQUE INDEX IF NOT EXISTS {_UNIQUE_INDEX} ON audit_records (event_id)",
        )
        # A store made before the entry-hash index existed gets it once (proofs read faster).
        self._best_effort(
            "indexing audit entry hashes",
            f"SELECT CASE WHEN to_regclass('{_columns.index_name(LEAF_HASH_INDEX)}') IS NULL "
            "THEN 1 END",
            _columns.create_index(LEAF_HASH_INDEX),
        )
        # A store created in record format 2 before these indexes existed gets them once.
        self._best_effort(
            "indexing durations for statistics",
            f"SELECT CASE WHEN ({_STATS_INDEXES_MISSING}) AND EXISTS (SELECT 1 FROM "
            "information_schema.columns WHERE table_schema = current_schema() AND table_name = "
            f"'audit_records' AND column_name = '{DURATION_MS}') THEN 1 END",
            "".join(_columns.create_index(i) for i in STATS_INDEXES),
        )

    def _best_effort(
        self, what: str, missing: str, create: str, then: tuple[str, Any] | None = None
    ) -> None:
        """Run ``create`` if ``missing`` selects a row, then ``then``, in one transaction under the
        append lock; a failure is rolled back and logged once."""
        pg = _require_psycopg()
        conn: Any = None
        try:
            conn = self._first_statement(_LOCK).connection
            if conn.execute(missing).fetchone()[0] is not None:
                conn.execute(create)
            if then is not None:
                conn.execute(*then)
            conn.commit()
        except (pg.Error, SinkError) as exc:
            if conn is not None:
                self._release(conn)
            internal_error(
                what, SinkError(f"{self._where}: {what} failed ({_first_line(exc, self.url)})")
            )

    def check_writable(self) -> None:
        rows = self._query(
            "SELECT t FROM unnest(%s::text[]) t WHERE NOT has_table_privilege(t, 'INSERT')",
            (list(_TABLES),),
        )
        if rows:
            tables = ", ".join(r[0] for r in rows)
            raise SinkError(
                f"{self._where}: this role may not INSERT into {tables}: as the tables' owner, "
                "run PostgresSink(url).grant_writer(role) or GRANT SELECT, INSERT on them"
            )

    def log_id(self) -> str | None:
        try:
            rows = self._query(f"SELECT value FROM {_META_TABLE} WHERE key = %s", (LOG_ID_KEY,))
        except SinkError:  # a schema created before log ids
            return None
        return str(rows[0][0]) if rows else None

    def _after_fork(self) -> None:
        # The parent's session must be neither used nor closed (closing would end it for the parent):
        # the child keeps it aside and opens its own on first use.
        self._lock = threading.RLock()
        if self._conn is not None and not self._conn.closed:
            self._inherited.append(self._conn)
            self._conn = None  # type: ignore[assignment]

    def _connection(self) -> Any:
        """The session, opened anew when there is none or the last one broke (a restarted server,
        a failover, a terminated backend, an idle timeout): a dead session is never reused."""
        conn = self._conn
        if conn is not None and (conn.closed or conn.broken):
            self._drop(conn)
            conn = None
        if conn is None:
            pg = _require_psycopg()
            try:
                conn = pg.connect(self.url, autocommit=False, **_connect_options(self.url))
            except pg.Error as exc:
                raise SinkError(
                    f"{self._where}: cannot connect ({_first_line(exc, self.url)})"
                ) from None
            self._conn = conn
        return conn

    def _drop(self, conn: Any) -> None:
        """Close a session that is no longer usable; the next use opens a new one."""
        pg = _require_psycopg()
        with contextlib.suppress(pg.Error):
            conn.close()
        if self._conn is conn:
            self._conn = None

    def _release(self, conn: Any) -> None:
        """End a failed transaction. A session that cannot roll back (its connection is lost) is
        dropped rather than raising the driver's error: the caller reports the failure itself."""
        pg = _require_psycopg()
        try:
            conn.rollback()
        except pg.Error:
            self._drop(conn)
            return
        if conn.broken:
            self._drop(conn)

    def _first_statement(self, query: str, params: Sequence[Any] = ()) -> Any:
        """Run ``query``, the first statement of a transaction; returns its cursor.

        A session lost at this first statement (it broke while idle, or while this statement ran)
        cannot have committed anything of this transaction: it is replaced and the statement run
        once more on a new session."""
        pg = _require_psycopg()
        retried = False
        while True:
            conn = self._connection()
            try:
                return conn.execute(query, params)
            except pg.Error:
                lost = conn.broken
                self._release(conn)
                if retried or not lost:
                    raise
                retried = True

    @classmethod
    def from_url(cls, url: str, *, create: bool = True) -> PostgresSink:
        return cls(url, create=create)

    def grant_writer(self, role: str) -> None:
        """Let ``role`` append and nothing else: USAGE on the schema, INSERT and SELECT on the
        records, heads, nodes and checkpoints, SELECT only on ``audit_meta`` (an INSERT there
        granted by an earlier version is revoked)."""

        def grants(sql: Any, current: Any) -> Iterator[Any]:
            who = sql.Identifier(role)
            schema = sql.Identifier(current.fetchone()[0])
            yield sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(schema, who)
            for table in (*_TABLES, *self._payload_tables()):
                yield sql.SQL("GRANT SELECT, INSERT ON {} TO {}").format(sql.Identifier(table), who)
            meta = sql.Identifier(_META_TABLE)
            yield sql.SQL("REVOKE INSERT ON {} FROM {}").format(meta, who)
            yield sql.SQL("GRANT SELECT ON {} TO {}").format(meta, who)

        self._grant("writer", "SELECT current_schema()", grants)

    def _payload_tables(self) -> tuple[str, ...]:
        return (_PAYLOADS_TABLE,) if self._has_payloads else ()

    def grant_maintainer(self, role: str) -> None:
        """Let ``role`` maintain the trail's payloads and nothing else: USAGE on the schema, SELECT
        on every table, and DELETE on ``payloads`` only (erasure, retention). The records stay
        append-only: the role can neither change nor delete them."""

        def grants(sql: Any, current: Any) -> Iterator[Any]:
            who = sql.Identifier(role)
            schema = sql.Identifier(current.fetchone()[0])
            yield sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(schema, who)
            for table in (*_TABLES, _META_TABLE, *self._payload_tables()):
                yield sql.SQL("GRANT SELECT ON {} TO {}").format(sql.Identifier(table), who)
            for table in self._payload_tables():
                yield sql.SQL("GRANT DELETE ON {} TO {}").format(sql.Identifier(table), who)

        self._grant("maintainer", "SELECT current_schema()", grants)

    def grant_pruner(self, role: str) -> None:
        """Let ``role`` prune the trail (``toolaudit retention apply --prune-prefix``): what
        :meth:`grant_writer` gives (it appends the admin event and checkpoints), SELECT and INSERT
        on ``audit_prunes``, and DELETE on the records and payloads, which a trigger allows only
        for records before the widest recorded cut. Installs the triggers first (run it as the
        tables' owner): a cut is recorded only forward, within the log, once a checkpoint row of
        that size carrying the pruning mark is stored. The database does not check that
        checkpoint's signature: whoever may insert checkpoints (the writer role too) can store
        one, and ``verify`` is what finds a pruning checkpoint not signed by the log's key (the
        pruning run verifies the trail first and refuses such a trail)."""
        self.grant_writer(role)

        def grants(sql: Any, _: Any) -> Iterator[Any]:
            who = sql.Identifier(role)
            yield _PRUNE_SCHEMA
            yield sql.SQL("GRANT SELECT, INSERT ON {} TO {}").format(
                sql.Identifier(_PRUNES_TABLE), who
            )
            for table in ("audit_records", *self._payload_tables()):
                yield sql.SQL("GRANT DELETE ON {} TO {}").format(sql.Identifier(table), who)

        self._grant("pruner", _LOCK, grants)

    def _grant(self, what: str, first: str, grants: Callable[[Any, Any], Iterable[Any]]) -> None:
        """Run ``first``, then each statement ``grants(psycopg.sql, first's cursor)`` yields, on
        one connection, and commit; a failure is a SinkError saying which rights failed."""
        pg = _require_psycopg()
        from psycopg import sql

        with self._lock:
            conn: Any = None
            try:
                current = self._first_statement(first)
                conn = current.connection
                for statement in grants(sql, current):
                    conn.execute(statement)
                conn.commit()
            except pg.Error as exc:
                if conn is not None:
                    self._release(conn)
                raise SinkError(
                    f"{self._where}: granting {what} rights failed ({_first_line(exc, self.url)})"
                ) from None

    def prune_prefix(self, cut: int, note: str) -> int:
        pg = _require_psycopg()
        with self._lock:
            conn: Any = None
            try:
                conn = self._first_statement(_LOCK).connection
                if not conn.execute(_PRUNE_READY).fetchone()[0]:
                    conn.execute(
                        _PRUNE_SCHEMA
                    )  # the owner's first pruning; others need grant_pruner
                conn.execute(_INSERT_CHECKPOINT, (cut, note))
                conn.execute(f"INSERT INTO {_PRUNES_TABLE} (cut) VALUES (%s)", (cut,))
                if self._has_payloads:
                    conn.execute(f"DELETE FROM {_PAYLOADS_TABLE} WHERE seq < %s", (cut,))
                removed = conn.execute("DELETE FROM audit_records WHERE seq < %s", (cut,)).rowcount
                conn.commit()
            except pg.Error as exc:
                if conn is not None:
                    self._release(conn)
                raise SinkError(
                    f"{self._where}: pruning failed ({_first_line(exc, self.url)}); as the "
                    "tables' owner, run PostgresSink(url).grant_pruner(role) for the pruning role"
                ) from None
        return int(removed)

    def erase_payloads(self, seqs: Collection[int]) -> int:
        wanted = sorted({int(seq) for seq in seqs})
        if not wanted or not self._has_payloads:
            return 0
        pg = _require_psycopg()
        with self._lock:
            try:
                cursor = self._first_statement(
                    f"DELETE FROM {_PAYLOADS_TABLE} WHERE seq = ANY(%s)", (wanted,)
                )
                erased = int(cursor.rowcount)
                cursor.connection.commit()
            except pg.Error as exc:
                if self._conn is not None:
                    self._release(self._conn)
                raise SinkError(
                    f"{self._where}: erasing payloads failed ({_first_line(exc, self.url)})"
                ) from None
        return erased

    @property
    def where(self) -> str:
        return self._where

    @contextlib.contextmanager
    def append_transaction(self) -> Iterator[_PostgresTransaction]:
        pg = _require_psycopg()
        with self._lock:
            try:
                conn = self._first_statement(_LOCK).connection
            except pg.Error as exc:
                raise SinkError(
                    f"{self._where}: append failed ({_first_line(exc, self.url)})"
                ) from None
            try:
                yield _PostgresTransaction(conn, self._where, self._columns)
                conn.commit()
            except pg.Error as exc:
                self._release(conn)
                raise SinkError(
                    f"{self._where}: append failed ({_first_line(exc, self.url)})"
                ) from None
            except BaseException:
                self._release(conn)
                raise

    def _query(self, query: str, params: Sequence[Any] = ()) -> list[Any]:
        pg = _require_psycopg()
        with self._lock:
            try:
                cursor = self._first_statement(query, params)
                rows = cursor.fetchall()
                cursor.connection.commit()
                return rows
            except pg.Error as exc:
                if self._conn is not None:
                    self._release(self._conn)
                raise SinkError(
                    f"{self._where}: read failed ({_first_line(exc, self.url)})"
                ) from None

    def read(self, start: int = 0, stop: int | None = None) -> Iterator[StoredRecord]:
        return self._stored(
            self._query(
                f"{self._select()} WHERE seq >= %s AND seq < %s ORDER BY seq",
                (start, stop if stop is not None else 2**63 - 1),
            )
        )

    def select(self, selection: Selection) -> Iterator[StoredRecord]:
        pushed, rest = split(selection, self._columns.names)
        tail, params = sql_filter(pushed, "%s")
        return filtered(self._stored(self._query(self._select() + tail, params)), rest)

    def _select(self) -> str:
        payload = (
            f"(SELECT data FROM {_PAYLOADS_TABLE} p WHERE p.seq = audit_records.seq)"
            if self._has_payloads
            else "NULL"
        )
        return (
            f"SELECT seq, canonical, entry_hash, prev_hash, {', '.join(self._columns.names)}, "
            f"{payload} FROM audit_records"
        )

    def _stored(self, rows: list[Any]) -> Iterator[StoredRecord]:
        names = self._columns.names
        for seq, canonical, entry_hash, prev_hash, *cols, payload in rows:
            columns = dict(zip(names, cols, strict=False))
            columns[SEQ] = seq
            yield StoredRecord(
                seq,
                bytes(canonical),
                bytes(entry_hash).hex(),
                prev_hash,
                columns,
                None if payload is None else bytes(payload),
            )

    def size(self) -> int:
        rows = self._query("SELECT size FROM audit_heads ORDER BY size DESC LIMIT 1")
        return int(rows[0][0]) if rows else 0

    def head(self) -> TreeHead:
        rows = self._query("SELECT size, frontier FROM audit_heads ORDER BY size DESC LIMIT 1")
        size, data = rows[0] if rows else (0, b"")
        return TreeHead(size, restore_frontier(size, data, self._where).root())

    def stored_head(self) -> StoredHead | None:
        rows = self._query(_HEAD)
        if not rows:  # no head row yet: the empty log's head, as append reads it
            return StoredHead(0, GENESIS_HASH, b"")
        size, prev_hash, frontier = rows[0]
        return StoredHead(size, prev_hash, bytes(frontier))

    def stored_nodes(self) -> list[tuple[int, int, bytes]]:
        rows = self._query("SELECT level, idx, hash FROM audit_nodes")
        return [(level, idx, bytes(h)) for level, idx, h in rows]

    def write_checkpoint(self, note: str, size: int) -> None:
        pg = _require_psycopg()
        with self._lock:
            try:
                # A repeat after a lost acknowledgement stores the same note twice: harmless.
                cursor = self._first_statement(_INSERT_CHECKPOINT, (size, note))
                cursor.connection.commit()
            except pg.Error as exc:
                if self._conn is not None:
                    self._release(self._conn)
                raise SinkError(
                    f"{self._where}: writing a checkpoint failed ({_first_line(exc, self.url)})"
                ) from None

    def checkpoints(self) -> list[str]:
        return [
            r[0]
            for r in self._query("SELECT note FROM audit_checkpoints ORDER BY written_at, size")
        ]

    # PostgreSQL's JSON parsing costs ~15 µs a record (jsonb) on the server, more than this
    # process's orjson parse and comparison as it scans: the scan checks the columns itself.
    scan_checks_columns = True

    def scan(self) -> Iterator[tuple[int, bytes, bytes, str, bytes | None]]:
        pg = _require_psycopg()
        problems: list[tuple[int, str]] = []
        loads = _loads
        plain = plain_column_tuple
        names = self._columns.names
        pick = self._columns.of_tuple
        scan_copy, scan_types = _scan_copy(self._columns, self._has_payloads)
        try:
            conn = pg.connect(self.url)
            try:
                # A binary COPY out: bytea arrives as bytes, not as hex text twice its size, and
                # streaming rows costs less per row than fetching from a server-side cursor.
                with conn.cursor() as cur, cur.copy(scan_copy) as copy:
                    copy.set_types(scan_types)
                    for seq, canonical, entry_hash, prev_hash, payload, *columns in copy.rows():
                        yield seq, canonical, entry_hash, prev_hash, payload
                        # What the columns say against what the canonical bytes say. The quick
                        # comparison only ever accepts; anything else gets compare_columns().
                        try:
                            record = loads(canonical)
                        except ValueError:
                            record = None
                        if type(record) is dict:
                            values = plain(record)
                            if (
                                values is not None
                                and type(values[0]) is int
                                and type(record.get(PREV_HASH)) is str
                                and values[0] == seq
                                and record[PREV_HASH] == prev_hash
                                and pick(values) == tuple(columns)
                            ):
                                continue
                        stored = dict(zip(names, columns, strict=True))
                        stored[SEQ] = seq
                        stored[PREV_HASH] = prev_hash
                        what = compare_columns(bytes(canonical), stored)
                        if what:
                            problems.append((seq, what))
            finally:
                conn.close()
        except pg.Error as exc:
            raise SinkError(
                f"{self._where}: cannot read records ({_first_line(exc, self.url)})"
            ) from None
        self._column_problems = problems

    def column_problems(self) -> list[tuple[int, str]]:
        if self._column_problems is None:
            for _ in self.scan():
                pass
        return list(self._column_problems or [])

    def orphan_payloads(self, limit: int, *, joined: int | None = None) -> list[int]:
        if not self._has_payloads:
            return []
        pg = _require_psycopg()
        try:
            with pg.connect(self.url) as conn:
                # Counting is cheaper than the search, which a clean trail never needs.
                (count,) = conn.execute(f"SELECT count(*) FROM {_PAYLOADS_TABLE}").fetchone()
                if joined is not None and count <= joined:
                    return []
                rows = conn.execute(
                    f"SELECT p.seq FROM {_PAYLOADS_TABLE} p WHERE NOT EXISTS "
                    "(SELECT 1 FROM audit_records r WHERE r.seq = p.seq) ORDER BY p.seq LIMIT %s",
                    (limit,),
                ).fetchall()
        except pg.Error as exc:
            raise SinkError(
                f"{self._where}: cannot read payloads ({_first_line(exc, self.url)})"
            ) from None
        return [int(row[0]) for row in rows]

    def leaf_hashes(self, start: int, stop: int) -> list[bytes]:
        rows = self._query(
            "SELECT entry_hash FROM audit_records WHERE seq >= %s AND seq < %s ORDER BY seq",
            (start, stop),
        )
        return [bytes(r[0]) for r in rows]

    def tree_node(self, level: int, index: int) -> bytes | None:
        rows = self._query(
            "SELECT hash FROM audit_nodes WHERE level = %s AND idx = %s", (level, index)
        )
        return bytes(rows[0][0]) if rows else None

    def tree_nodes(self, keys: Collection[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        wanted = list(keys)
        if not wanted:
            return {}
        rows = self._query(
            "SELECT n.level, n.idx, n.hash FROM unnest(%s::int[], %s::bigint[]) AS k(level, idx) "
            "JOIN audit_nodes AS n ON n.level = k.level AND n.idx = k.idx",
            ([k[0] for k in wanted], [k[1] for k in wanted]),
        )
        return {(level, idx): bytes(h) for level, idx, h in rows}

    def leaf_hash_ranges(
        self, ranges: Collection[tuple[int, int]]
    ) -> dict[tuple[int, int], list[bytes]]:
        wanted = list(dict.fromkeys(ranges))
        if not wanted:
            return {}
        pieces = [
            (lo, min(lo + _LEAF_PIECE, stop))
            for start, stop in wanted
            for lo in range(start, stop, _LEAF_PIECE)
        ]
        # One search of an index on seq per piece (LATERAL: a plain join on ranges is planned as a
        # scan of the table), index-only on schema.LEAF_HASH_INDEX once the table is vacuumed. The
        # LIMIT never cuts a piece short (seq is unique): it bounds the planner's estimate of each
        # search, which would otherwise cost enough to have the statement JIT-compiled each time.
        rows = self._query(
            "SELECT a.seq, a.entry_hash FROM unnest(%s::bigint[], %s::bigint[]) AS r(lo, hi) "
            "CROSS JOIN LATERAL (SELECT seq, entry_hash FROM audit_records "
            f"WHERE seq >= r.lo AND seq < r.hi LIMIT {_LEAF_PIECE}) AS a",
            ([lo for lo, _ in pieces], [hi for _, hi in pieces]),
        )
        hashes = {seq: bytes(entry_hash) for seq, entry_hash in rows}
        return {
            (lo, hi): [h for seq in range(lo, hi) if (h := hashes.get(seq)) is not None]
            for lo, hi in wanted
        }

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and not self._conn.closed:
                self._conn.close()

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
            "postgres",
            duration_column=self._columns.full,
            ordered=self._stats_indexed,
        )


_INSERT_CHECKPOINT = "INSERT INTO audit_checkpoints (size, note) VALUES (%s, %s)"


class _PostgresTransaction:
    """The append protocol's port over one transaction holding the append advisory lock."""

    __slots__ = ("_columns", "_conn", "_where")

    def __init__(self, conn: Any, where: str, columns: _columns.StoreColumns) -> None:
        self._conn = conn
        self._where = where
        self._columns = columns

    def read_head(self) -> tuple[str, Frontier]:
        row = self._conn.execute(_HEAD).fetchone()
        size, prev, data = row if row else (0, GENESIS_HASH, b"")
        return prev, restore_frontier(size, data, self._where)

    def stored_event_ids(self, event_ids: Sequence[str]) -> set[str]:
        rows = self._conn.execute(
            "SELECT event_id FROM audit_records WHERE event_id = ANY(%s)", (list(event_ids),)
        )
        return {r[0] for r in rows}

    def write(
        self,
        records: Sequence[StoredRecord],
        leaf_hashes: Sequence[bytes],
        nodes: Sequence[tuple[int, int, bytes]],
        frontier: Frontier,
    ) -> None:
        with self._conn.cursor() as cur:
            # Every column value is text or NULL, and success a bool or NULL (the column rule), so
            # one binary COPY takes any batch.
            statement, types = _copy_in(self._columns)
            values = self._columns.values
            with cur.copy(statement) as copy:
                copy.set_types(types)
                write_row = copy.write_row
                for r, digest in zip(records, leaf_hashes, strict=True):
                    write_row((r.seq, digest, r.prev_hash, r.canonical, *values(r)))
            payloads = [(r.seq, r.payload) for r in records if r.payload is not None]
            if payloads:
                with cur.copy(_COPY_PAYLOADS) as copy:
                    copy.set_types(["int8", "bytea"])
                    for row in payloads:
                        copy.write_row(row)
            if nodes:
                cur.executemany("INSERT INTO audit_nodes VALUES (%s, %s, %s)", nodes)
            cur.execute(
                "INSERT INTO audit_heads VALUES (%s, %s, %s)",
                (frontier.size, records[-1].entry_hash, frontier.to_bytes()),
            )

    def write_checkpoint(self, note: str, size: int) -> None:
        self._conn.execute(_INSERT_CHECKPOINT, (size, note))


def creation_problem(url: str) -> str | None:
    """Without creating anything: why the first writer could not create the schema and tables
    the URL's ``search_path`` names (a sentence saying what to run), or None when it could."""
    pg = _require_psycopg()
    from psycopg import sql

    try:
        with pg.connect(url, **_connect_options(url)) as conn:
            schema, path, user = conn.execute(
                "SELECT current_schema(), current_setting('search_path'), current_user"
            ).fetchone()
            if schema is None:
                name = next((n for n in _search_path(path) if n != "$user"), user)
                may = conn.execute(
                    "SELECT has_database_privilege(current_database(), 'CREATE')"
                ).fetchone()[0]
                statement = sql.SQL("CREATE SCHEMA {} AUTHORIZATION {};").format(
                    sql.Identifier(name), sql.Identifier(user)
                )
            else:
                may = conn.execute(
                    "SELECT has_schema_privilege(%s, 'CREATE')", (schema,)
                ).fetchone()[0]
                statement = sql.SQL("GRANT CREATE ON SCHEMA {} TO {};").format(
                    sql.Identifier(schema), sql.Identifier(user)
                )
            if may:
                return None
            return f"this role may not create them: as an administrator, run {statement.as_string(conn)}"
    except pg.Error as exc:
        raise SinkError(f"{redact_url(url)}: cannot connect ({_first_line(exc, url)})") from None


def _connect_options(url: str) -> dict[str, Any]:
    """A connection timeout unless the URL or the environment sets one: libpq's default is to wait
    as long as the operating system does for a server that does not answer."""
    if "connect_timeout" in url or os.environ.get("PGCONNECT_TIMEOUT"):
        return {}
    return {"connect_timeout": CONNECT_TIMEOUT}


def _search_path(value: str) -> list[str]:
    """The schema names of a ``search_path`` setting, unquoted (``"$user", public``)."""
    return [
        quoted.replace('""', '"') if quoted else plain
        for quoted, plain in re.findall(r'\s*(?:"((?:[^"]|"")*)"|([^,\s]+))\s*,?', value)
    ]


def _first_line(exc: BaseException, url: str) -> str:
    """The first line of a driver error, for a message: libpq quotes the connection URI in some
    errors (masked), and a bad token of it alone in others (then the line is withheld)."""
    text = str(exc).strip()
    if not text:
        return type(exc).__name__
    line = text.splitlines()[0]
    if any(secret in line for secret in passwords_in(url)):
        return f"{type(exc).__name__}; the driver's message quotes the password, withheld"
    return redact_url(line)


__all__ = ["PostgresSink"]
