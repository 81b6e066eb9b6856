"""Sealing a record into the chain: sequence number, previous hash, entry hash, Merkle leaf hash.

``entry_hash = SHA-256(canonical bytes)``, where the canonical record includes ``seq`` and
``prev_hash``, so each record commits to the whole history before it. The same canonical bytes are
the RFC 9162 Merkle leaf: ``leaf_hash = SHA-256(0x00 || canonical bytes)``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from opentelemetry_instrumentation_toolaudit.audit._canonical import canonical_bytes
from opentelemetry_instrumentation_toolaudit.audit._schema import (
    PREV_HASH,
    SCHEMA,
    SCHEMA_VERSION,
    SEQ,
)

GENESIS_HASH = "0" * 64
CHAIN_FIELDS = (SCHEMA, SEQ, PREV_HASH)


@dataclasses.dataclass(frozen=True)
class StoredRecord:
    """One sealed record as a sink stores it."""

    seq: int
    canonical: bytes
    entry_hash: str
    """Hex SHA-256 of ``canonical``."""
    columns: Mapping[str, Any] | None = None
    """What the sink's indexed columns say (``_schema.INDEXED_COLUMNS``), as read back; None for a
    sink without columns. Verification checks them against ``canonical``."""

    @property
    def record(self) -> dict[str, Any]:
        """The record as a dict (parsed from the canonical bytes)."""
        return json.loads(self.canonical)

    @property
    def prev_hash(self) -> str:
        return str(self.record[PREV_HASH])

    @property
    def leaf_hash(self) -> bytes:
        """RFC 9162 leaf hash of this record."""
        return leaf_hash(self.canonical)


def leaf_hash(canonical: bytes) -> bytes:
    """RFC 9162 ``MTH({d}) = SHA-256(0x00 || d)``."""
    return hashlib.sha256(b"\x00" + canonical).digest()


def seal(body: dict[str, Any], seq: int, prev_hash: str) -> StoredRecord:
    """Place ``body`` at ``seq`` after the record whose entry hash is ``prev_hash``."""
    record = {k: v for k, v in body.items() if k not in CHAIN_FIELDS}
    record[SCHEMA] = SCHEMA_VERSION
    record[SEQ] = seq
    record[PREV_HASH] = prev_hash
    data = canonical_bytes(record)
    return StoredRecord(seq=seq, canonical=data, entry_hash=hashlib.sha256(data).hexdigest())
