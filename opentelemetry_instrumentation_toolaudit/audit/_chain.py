"""Sealing records into the chain: sequence number, previous hash, entry hash, Merkle leaf.

A record's canonical form includes ``seq`` and ``prev_hash``, so each record commits to the whole
history before it. Its entry hash is the RFC 9162 leaf hash of those bytes,
``SHA-256(0x00 || canonical)``, so the hash chain and the Merkle tree share one hash per record and
``prev_hash`` of record *n* is the Merkle leaf of record *n-1*.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from opentelemetry_instrumentation_toolaudit.audit._canonical import canonicalize
from opentelemetry_instrumentation_toolaudit.audit._merkle import Frontier
from opentelemetry_instrumentation_toolaudit.audit._schema import (
    INDEXED_COLUMNS,
    PREV_HASH,
    SCHEMA,
    SCHEMA_VERSION,
    SEQ,
    SUCCESS,
)

GENESIS_HASH = "0" * 64
"""``prev_hash`` of record 0."""
CHAIN_FIELDS = (SCHEMA, SEQ, PREV_HASH)
_LEAF_PREFIX = hashlib.sha256(b"\x00")


class StoredRecord(NamedTuple):
    """One sealed record as a sink stores it (a NamedTuple: sealing makes one per record, fast)."""

    seq: int
    canonical: bytes
    """The exact RFC 8785 bytes that were hashed."""
    entry_hash: str
    """Hex ``SHA-256(0x00 || canonical)``: the record's chain hash and Merkle leaf hash."""
    prev_hash: str = ""
    """The entry hash of the record before (hex), as the canonical bytes say."""
    columns: Mapping[str, Any] | None = None
    """What the sink's indexed columns say (``_schema.INDEXED_COLUMNS``), as written or read back;
    None for a sink without columns. Verification checks them against ``canonical``."""

    @property
    def record(self) -> dict[str, Any]:
        """The record as a dict (parsed from the canonical bytes)."""
        return dict(json.loads(self.canonical))

    @property
    def leaf_hash(self) -> bytes:
        """RFC 9162 leaf hash of this record (the entry hash as bytes)."""
        return bytes.fromhex(self.entry_hash)


def leaf_hash(canonical: bytes) -> bytes:
    """RFC 9162 ``MTH({d}) = SHA-256(0x00 || d)``."""
    h = _LEAF_PREFIX.copy()
    h.update(canonical)
    return h.digest()


def column_values(record: Mapping[str, Any]) -> dict[str, Any]:
    """The indexed column values of a record: ``seq`` an int, ``success`` a bool (None unless the
    record holds a bool), every other column the record's string, or the canonical JSON text of a
    non-string value, or None when absent. Writers and the verifier both use this one function."""
    out = {name: record.get(name) for name in INDEXED_COLUMNS}
    for name, value in out.items():
        if value is None or type(value) is str:
            continue
        if name == SUCCESS:
            out[name] = value if isinstance(value, bool) else None
        elif name != SEQ:
            out[name] = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return out


def seal(body: Mapping[str, Any], seq: int, prev_hash: str) -> StoredRecord:
    """Place ``body`` at ``seq`` after the record whose entry hash is ``prev_hash``."""
    return _seal(body, seq, prev_hash)[0]


def _seal(body: Mapping[str, Any], seq: int, prev_hash: str) -> tuple[StoredRecord, bytes]:
    record = dict(
        body
    )  # copying in C and then overwriting the chain fields beats filtering them out
    record[SCHEMA] = SCHEMA_VERSION
    record[SEQ] = seq
    record[PREV_HASH] = prev_hash
    data, exact = canonicalize(record)
    h = _LEAF_PREFIX.copy()
    h.update(data)
    digest = h.digest()
    columns = column_values(record if exact else json.loads(data))
    return StoredRecord(seq, data, digest.hex(), prev_hash, columns), digest


def seal_batch(
    bodies: Sequence[Mapping[str, Any]],
    frontier: Frontier,
    prev_hash: str,
    on_node: Callable[[int, int, bytes], None] | None = None,
) -> list[StoredRecord]:
    """Seal ``bodies`` after the tree ``frontier`` (whose last leaf is ``prev_hash``), advancing the
    frontier. Sinks call this under their cross-process lock."""
    records = []
    append = frontier.append
    for body in bodies:
        stored, digest = _seal(body, frontier.size, prev_hash)
        append(digest, on_node)
        prev_hash = stored.entry_hash
        records.append(stored)
    return records
