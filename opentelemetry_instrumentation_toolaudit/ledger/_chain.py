# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Sealing records into the chain: sequence number, previous hash, entry hash, Merkle leaf.

In record format 2 (``schema: 2``) the payload fields (``schema.PAYLOAD_FIELDS``) are split off
into a payload object with a random ``salt``; the chained record (the envelope) holds
``payload_hash``, the hex SHA-256 of the payload's canonical bytes, in their place. A payload can
then be erased while the envelope, and so the chain and the Merkle tree, stay as they were.

A record's canonical form includes ``seq`` and ``prev_hash``, so each record commits to the whole
history before it. Its entry hash is the RFC 9162 leaf hash of those bytes,
``SHA-256(0x00 || canonical)``, so the hash chain and the Merkle tree share one hash per record and
``prev_hash`` of record *n* is the Merkle leaf of record *n-1*.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, NamedTuple

from opentelemetry_instrumentation_toolaudit.ledger._canonical import canonicalize
from opentelemetry_instrumentation_toolaudit.ledger.schema import (
    DURATION_MS,
    INDEXED_COLUMNS,
    PAYLOAD_ERASED,
    PAYLOAD_FIELDS,
    PAYLOAD_HASH,
    PREV_HASH,
    SALT,
    SCHEMA,
    SCHEMA_V1,
    SCHEMA_V2,
    SCHEMA_VERSION,
    SEQ,
    SUCCESS,
)

try:
    from orjson import dumps as _dumps
except ImportError:  # pragma: no cover - orjson is the optional ``fast`` extra
    _dumps = None  # type: ignore[assignment]

GENESIS_HASH = "0" * 64
"""``prev_hash`` of record 0."""
CHAIN_FIELDS = (SCHEMA, SEQ, PREV_HASH)
"""The fields sealing adds to a body (format 2 adds ``payload_hash`` when there is a payload)."""
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
    payload: bytes | None = None
    """Format 2: the payload's canonical bytes as stored (its fields plus ``salt``); None for a
    format 1 record, a record without payload fields, or an erased payload."""

    @property
    def record(self) -> dict[str, Any]:
        """The record as a dict: the canonical bytes parsed and, in format 2, the payload's fields
        merged back (without ``salt``), or ``"payload_erased": true`` when it was erased."""
        record = dict(json.loads(self.canonical))
        if PAYLOAD_HASH in record and record.get(SCHEMA) == SCHEMA_V2:
            payload = payload_fields(self.payload)
            if payload is None:
                record[PAYLOAD_ERASED] = True
            else:
                record.update(payload)
        return record

    @property
    def leaf_hash(self) -> bytes:
        """RFC 9162 leaf hash of this record (the entry hash as bytes)."""
        return bytes.fromhex(self.entry_hash)


def payload_fields(payload: bytes | None) -> dict[str, Any] | None:
    """A stored payload's fields without its salt; None when there is none or it is unreadable."""
    if payload is None:
        return None
    try:
        fields = json.loads(payload)
    except (ValueError, TypeError, RecursionError):
        return None
    if not isinstance(fields, dict):
        return None
    fields.pop(SALT, None)
    return fields


def payload_hash(payload: bytes) -> str:
    """Hex SHA-256 of a payload's canonical bytes: what its envelope's ``payload_hash`` says."""
    return hashlib.sha256(payload).hexdigest()


def leaf_hash(canonical: bytes) -> bytes:
    """RFC 9162 ``MTH({d}) = SHA-256(0x00 || d)``."""
    h = _LEAF_PREFIX.copy()
    h.update(canonical)
    return h.digest()


def column_values(record: Mapping[str, Any]) -> dict[str, Any]:
    """The indexed column values of a record: ``seq`` an int, ``success`` a bool (None unless the
    record holds a bool), ``duration_ms`` a float (None unless the record holds a number), every
    other column the record's string, or the canonical JSON text of a non-string value (the
    ``user_roles`` list), or None when absent. Writers and the verifier both use this one
    function."""
    return dict(zip(INDEXED_COLUMNS, _column_tuple(record), strict=True))


_TEXT_OR_NONE = frozenset({str, type(None)})
_BOOL_OR_NONE = frozenset({bool, type(None)})
_FLOAT_OR_NONE = frozenset({float, type(None)})
_COLUMN_INDEX = {name: i for i, name in enumerate(INDEXED_COLUMNS)}
# INDEXED_COLUMNS ends with user_roles, duration_ms and success; seq is first; the rest are text.


def _json_text(value: Any) -> str:
    if _dumps is not None and type(value) is list and all(type(v) is str for v in value):
        # A list of strings (user_roles): orjson writes the same text as json.dumps below.
        try:
            return _dumps(value).decode()
        except TypeError:  # a lone surrogate: json.dumps decides, as for any other value
            pass
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _number(value: Any) -> float | None:
    return float(value) if type(value) is int or type(value) is float else None


def plain_column_tuple(record: Mapping[str, Any]) -> tuple[Any, ...] | None:
    """The record's values for ``INDEXED_COLUMNS`` by the quick rule (every text column a str or
    absent, success a bool or absent: the usual case, decided in C; ``user_roles`` and
    ``duration_ms`` converted), else None (:func:`column_values` then decides)."""
    values = tuple(map(record.get, INDEXED_COLUMNS))
    roles, duration, success = values[-3:]
    if not (_TEXT_OR_NONE.issuperset(map(type, values[1:-3])) and type(success) in _BOOL_OR_NONE):
        return None
    if type(roles) in _TEXT_OR_NONE and type(duration) in _FLOAT_OR_NONE:
        return values
    return (
        *values[:-3],
        roles if type(roles) in _TEXT_OR_NONE else _json_text(roles),
        _number(duration),
        success,
    )


def _column_tuple(record: Mapping[str, Any]) -> tuple[Any, ...]:
    """:func:`column_values` as a tuple in ``INDEXED_COLUMNS`` order (seq first, success last)."""
    plain = plain_column_tuple(record)
    if plain is not None:
        return plain
    out = list(map(record.get, INDEXED_COLUMNS))
    for i, (name, value) in enumerate(zip(INDEXED_COLUMNS, out, strict=True)):
        if name == SUCCESS:
            # Only a bool is a success value: "yes", 1 or null leave the column NULL.
            out[i] = value if type(value) is bool else None
        elif name == DURATION_MS:
            out[i] = _number(value)
        elif value is None or type(value) is str:
            continue
        elif name != SEQ:
            out[i] = _json_text(value)
    return tuple(out)


class ColumnValues(Mapping[str, Any]):
    """A sealed record's indexed column values (:func:`column_values`) as a read-only mapping over
    a tuple: building a dict for every record costs more than the sinks' use of it."""

    __slots__ = ("as_tuple",)

    def __init__(self, values: tuple[Any, ...]) -> None:
        self.as_tuple = values
        """The values in ``INDEXED_COLUMNS`` order."""

    def __getitem__(self, name: str) -> Any:
        return self.as_tuple[_COLUMN_INDEX[name]]

    def __iter__(self) -> Iterator[str]:
        return iter(INDEXED_COLUMNS)

    def __len__(self) -> int:
        return len(INDEXED_COLUMNS)

    def __repr__(self) -> str:
        return f"ColumnValues({dict(self)!r})"


def seal(
    body: Mapping[str, Any], seq: int, prev_hash: str, version: int = SCHEMA_VERSION
) -> StoredRecord:
    """Place ``body`` at ``seq`` after the record whose entry hash is ``prev_hash``."""
    return seal_records([body], seq, prev_hash, True, version)[0][0]


def split_payload(record: dict[str, Any]) -> bytes | None:
    """Format 2: move ``record``'s payload fields into a salted payload and put its hash in their
    place; the payload's canonical bytes, or None when the record has no payload fields."""
    record.pop(PAYLOAD_HASH, None)  # only sealing commits to a payload
    names = PAYLOAD_FIELDS.intersection(record)
    if not names:
        return None
    payload = {name: record.pop(name) for name in names}
    payload[SALT] = secrets.token_hex(16)
    data, _ = canonicalize(payload)
    record[PAYLOAD_HASH] = hashlib.sha256(data).hexdigest()
    return data


def seal_records(
    bodies: Sequence[Mapping[str, Any]],
    seq: int,
    prev_hash: str,
    columns: bool,
    version: int = SCHEMA_VERSION,
) -> tuple[list[StoredRecord], list[bytes]]:
    """Seal ``bodies`` as records ``seq``, ``seq + 1``, … after the record whose entry hash is
    ``prev_hash``, in record format ``version`` (1 or 2): the records and their leaf hashes, with
    which the caller advances its Merkle frontier (as the append protocol,
    ``_append.append_batch``, does)."""
    if version not in (SCHEMA_V1, SCHEMA_V2):
        raise ValueError(f"unknown record format {version!r}")
    split = version == SCHEMA_V2
    # The per-record cost of every append: kept flat, names bound locally.
    records: list[StoredRecord] = []
    digests: list[bytes] = []
    add = records.append
    add_digest = digests.append
    leaf = _LEAF_PREFIX.copy
    loads = json.loads
    column_tuple = _column_tuple
    for body in bodies:
        # Copying in C and then overwriting the chain fields beats filtering them out.
        record = dict(body)
        payload = split_payload(record) if split else None
        record[SCHEMA] = version
        record[SEQ] = seq
        record[PREV_HASH] = prev_hash
        data, exact = canonicalize(record)
        h = leaf()
        h.update(data)
        digest = h.digest()
        add_digest(digest)
        entry_hash = digest.hex()
        add(
            StoredRecord(
                seq,
                data,
                entry_hash,
                prev_hash,
                ColumnValues(column_tuple(record if exact else loads(data))) if columns else None,
                payload,
            )
        )
        prev_hash = entry_hash
        seq += 1
    return records, digests
