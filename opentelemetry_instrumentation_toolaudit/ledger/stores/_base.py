# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The sink interface every audit store implements (SQLite, JSONL, PostgreSQL)."""

from __future__ import annotations

import abc
import dataclasses
import itertools
import json
import os
import weakref
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, NamedTuple

from opentelemetry_instrumentation_toolaudit._exceptions import SinkError, VerificationError
from opentelemetry_instrumentation_toolaudit.ledger._chain import StoredRecord, column_values
from opentelemetry_instrumentation_toolaudit.ledger._merkle import (
    Frontier,
    hash_children,
    root_from_leaf_hashes,
)
from opentelemetry_instrumentation_toolaudit.ledger.schema import (
    EVENT_ID,
    INDEXED_COLUMNS,
    PREV_HASH,
    SCHEMA_VERSION,
    SEQ,
)
from opentelemetry_instrumentation_toolaudit.ledger.stores._url import redact_url

try:
    from orjson import loads as _loads
except ImportError:  # pragma: no cover - orjson is the optional ``fast`` extra
    _loads = json.loads  # type: ignore[assignment]

if TYPE_CHECKING:
    from opentelemetry_instrumentation_toolaudit.ledger._selection import Selection

__all__ = [
    "DATA_COLUMNS",
    "NODE_MIN_LEVEL",
    "AuditSink",
    "ScanRow",
    "SinkError",
    "StoredHead",
    "TreeHead",
]

DATA_COLUMNS = tuple(c for c in INDEXED_COLUMNS if c != SEQ)
"""The indexed columns besides ``seq`` (which is every sink's key)."""

NODE_MIN_LEVEL = 8
"""Sinks that store Merkle node hashes keep those of perfect subtrees of 2^8 leaves and up (one write
per 128 records on average); smaller subtrees are rehashed from at most 256 leaf hashes, so an
inclusion proof costs O(log n) reads."""


@dataclasses.dataclass(frozen=True)
class TreeHead:
    """A Merkle tree head: the number of records and the RFC 9162 root over them."""

    size: int
    root: bytes


class StoredHead(NamedTuple):
    """The head a sink stores for its writers: what the next append continues from."""

    size: int
    prev_hash: str
    """Hex entry hash of record ``size - 1`` (the genesis hash for an empty log)."""
    frontier: bytes
    """The Merkle frontier's hashes concatenated, largest subtree first."""


class ScanRow(NamedTuple):
    """One record as the verifier scans it: what the sink stored, not what it should be (a
    NamedTuple: the verifier makes one per record)."""

    seq: int
    """The sink's own position for the record (its seq column, or its line's seq field)."""
    canonical: bytes
    entry_hash: bytes
    """The stored entry hash (32 bytes; empty when unreadable)."""
    prev_hash: str
    """The record's top-level ``prev_hash`` (hex), as the canonical bytes say."""
    payload: bytes | None
    """Format 2: the payload stored beside the record (None when there is none: erased, or a
    record without payload), so the verifier reads each record once."""


class AuditSink(abc.ABC):
    """An append-only, hash-chained store of audit records.

    ``append`` is the only write. It assigns sequence numbers and previous hashes under a lock that
    holds across processes (several gunicorn workers keep one linear chain), advances the Merkle
    frontier stored with the head, and returns only after the whole batch is durably committed in one
    write (group commit).
    """

    url: str
    scan_checks_columns = False
    """True when :meth:`scan` itself compares every record's columns with its canonical bytes:
    :meth:`column_problems` then reports what the last complete scan found, and the verifier asks
    for it after the scan rather than on a thread beside it."""
    head_covers_log = True
    """True when the stored head is written in the same transaction as the records it covers, so
    every stored record is under it; False when it is a cache that may lag the log (JSONL)."""
    last_head: TreeHead | None = None
    """The tree head right after this object's last ``append`` (other processes may have appended since)."""

    record_format = SCHEMA_VERSION
    """The record format (``schema``) this store seals new records in: 2, or 1 for a trail begun
    in format 1, which continues in format 1 (docs/record-format.md)."""
    seals_columns = True
    """True when the store keeps indexed columns (sealing then fills ``StoredRecord.columns``)."""
    node_min_level: int | None = NODE_MIN_LEVEL
    """The lowest level of the Merkle nodes the store keeps; None when it keeps none."""
    unique_event_ids = True
    """True when the store itself refuses a second record with a stored event id (a unique index);
    False when the append protocol must look the batch's ids up every time."""
    holds_log_end = True
    """True when the store holds the log up to its end; False for a copy of a range that ends
    earlier by design (an archive), past which a pruning's admin event may lie."""

    @property
    def where(self) -> str:
        """How messages name this store (a path, or a URL without its password)."""
        return redact_url(self.url)

    def append(
        self, bodies: Sequence[Mapping[str, Any]], *, skip_existing: bool = False
    ) -> list[StoredRecord]:
        """Seal and durably commit ``bodies`` in order, in one transaction
        (:func:`~opentelemetry_instrumentation_toolaudit.ledger._append.append_batch`); return the
        stored records. A body whose ``event_id`` is already stored (a retried batch that was in
        fact committed) raises SinkError, or with ``skip_existing`` is left out (and not returned).
        Sinks with columns check every stored record (a unique index); JSONL and memory check
        what this object appended recently, which is what a retry of its batch could have written."""
        from opentelemetry_instrumentation_toolaudit.ledger._append import append_batch

        records, head = append_batch(self, bodies, skip_existing=skip_existing)
        if head is not None:
            self.last_head = head
        return records

    @abc.abstractmethod
    def append_transaction(self) -> AbstractContextManager[Any]:
        """Begin a write transaction under the cross-process lock, as the append protocol's port
        (:class:`~opentelemetry_instrumentation_toolaudit.ledger._append.AppendTransaction`); it
        commits when the block ends and rolls back when it raises. Raises SinkError when the store
        cannot be written."""

    @abc.abstractmethod
    def read(self, start: int = 0, stop: int | None = None) -> Iterator[StoredRecord]:
        """Stored records with ``start <= seq < stop``, in sequence order, exactly as stored."""

    def select(self, selection: Selection) -> Iterator[StoredRecord]:
        """The stored records a :class:`~opentelemetry_instrumentation_toolaudit.ledger.Selection`
        picks, in sequence order (newest first with ``descending``). This default filters a scan of
        the whole log; stores with indexed columns run one indexed query instead."""
        from opentelemetry_instrumentation_toolaudit.ledger._selection import matches

        picked: Iterable[StoredRecord] = (
            r
            for r in self.read()
            if matches(
                selection, r.seq, r.columns if r.columns is not None else column_values(r.record)
            )
        )
        if selection.descending:
            picked = reversed(list(picked))
        return itertools.islice(picked, selection.limit)

    @abc.abstractmethod
    def erase_payloads(self, seqs: Collection[int]) -> int:
        """Remove the stored payloads of the records ``seqs`` (format 2: their envelopes, and so
        the chain, stay); returns how many payloads were removed. Records without a stored
        payload are skipped. Raises SinkError when the store cannot be written."""

    @abc.abstractmethod
    def size(self) -> int:
        """Number of records."""

    @abc.abstractmethod
    def head(self) -> TreeHead:
        """The current tree head, from the stored frontier (no rereading of records)."""

    @abc.abstractmethod
    def write_checkpoint(self, note: str, size: int) -> None:
        """Store a signed checkpoint note (C2SP tlog-checkpoint text) for tree size ``size``."""

    @abc.abstractmethod
    def checkpoints(self) -> list[str]:
        """Every stored checkpoint note, oldest first."""

    @abc.abstractmethod
    def scan(self) -> Iterator[tuple[int, bytes, bytes, str, bytes | None]]:
        """Every stored record in storage order with its stored payload, for verification, as
        :class:`ScanRow` fields (a ScanRow or a plain tuple in that order). Raises SinkError when
        the store cannot be read."""

    def column_problems(self) -> list[tuple[int, str]]:
        """``(seq, what)`` for every record whose stored columns (or seq/prev_hash columns) disagree
        with its canonical bytes. Sinks without columns return []."""
        return []

    def orphan_payloads(self, limit: int, *, joined: int | None = None) -> list[int]:
        """The sequence numbers (at most ``limit``, in order) of stored payloads that no stored
        record has, for the verifier. ``joined`` is how many payloads the verifier's scan read
        beside their records: when the sink holds no more than that, none is an orphan and the
        search is skipped. [] for a sink whose payloads are not kept apart from their records,
        or where an interrupted append may leave one behind (JSONL)."""
        return []

    def log_id(self) -> str | None:
        """This log's identity (32 hex characters), generated once when the sink is created and
        stored with it; checkpoints name it in their origin. None for a sink created before log
        ids, and opened read-only."""
        return None

    def repairs(self) -> list[str]:
        """Torn writes found and repaired when the sink was opened (by any process), oldest first."""
        return []

    def stored_head(self) -> StoredHead | None:
        """The head as stored (not rebuilt from the records), for the verifier to check; None for a
        sink that keeps none."""
        return None

    def stored_nodes(self) -> list[tuple[int, int, bytes]]:
        """Every stored Merkle node as ``(level, index, hash)``, for the verifier to check."""
        return []

    def leaf_hashes(self, start: int, stop: int) -> list[bytes]:
        """Leaf (entry) hashes of records ``start..stop-1``."""
        return [r.leaf_hash for r in self.read(start, stop)]

    def tree_node(self, level: int, index: int) -> bytes | None:
        """A stored hash of the perfect subtree ``[index * 2^level, (index + 1) * 2^level)``, if any."""
        return None

    def tree_nodes(self, keys: Collection[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        """The stored hashes of the perfect subtrees ``(level, index)`` of ``keys`` that the sink
        has (see :meth:`tree_node`), read at once where the sink can."""
        found = {key: self.tree_node(*key) for key in keys}
        return {key: node for key, node in found.items() if node is not None}

    def leaf_hash_ranges(
        self, ranges: Collection[tuple[int, int]]
    ) -> dict[tuple[int, int], list[bytes]]:
        """:meth:`leaf_hashes` of each range ``(start, stop)``, read at once where the sink can."""
        return {(start, stop): self.leaf_hashes(start, stop) for start, stop in ranges}

    def subtree_hashes(self, ranges: Iterable[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        """:meth:`subtree_hash` of each range ``(start, stop)``, with the stored nodes and the leaf
        hashes they all need read in one :meth:`tree_nodes` and one :meth:`leaf_hash_ranges`."""
        wanted = list(ranges)
        nodes: set[tuple[int, int]] = set()
        leaves: set[tuple[int, int]] = set()
        # A stored node stands for its leaves from the lowest stored level up (a 256-leaf block
        # beside a reported record is one node, not 256 leaf hashes).
        lowest = None if self.node_min_level is None else 1 << self.node_min_level

        def parts(start: int, stop: int) -> None:
            n = stop - start
            if lowest is not None and n >= lowest and n & (n - 1) == 0 and start % n == 0:
                nodes.add((n.bit_length() - 1, start // n))
            elif n <= 1 << NODE_MIN_LEVEL:
                leaves.add((start, stop))
            else:
                k = 1 << ((n - 1).bit_length() - 1)
                parts(start, start + k)
                parts(start + k, stop)

        for start, stop in wanted:
            parts(start, stop)
        stored = self.tree_nodes(nodes)
        leaf_hashes = self.leaf_hash_ranges(leaves)

        def compose(start: int, stop: int) -> bytes:
            n = stop - start
            if (start, stop) in leaf_hashes:
                found = leaf_hashes[(start, stop)]
                # Fewer leaves than the range: a pruned prefix (or deleted records), which
                # subtree_hash answers from the pruning checkpoint or refuses.
                return (
                    root_from_leaf_hashes(found)
                    if len(found) == n
                    else self.subtree_hash(start, stop)
                )
            if n & (n - 1) == 0 and start % n == 0:
                node = stored.get((n.bit_length() - 1, start // n))
                # A node the sink does not hold is computed from below, as subtree_hash does.
                return node if node is not None else self.subtree_hash(start, stop)
            k = 1 << ((n - 1).bit_length() - 1)
            return hash_children(compose(start, start + k), compose(start + k, stop))

        return {(start, stop): compose(start, stop) for start, stop in wanted}

    def subtree_hash(self, start: int, stop: int) -> bytes:
        """``MTH(D[start:stop])`` for a range a proof needs: stored nodes where possible, else leaves."""
        n = stop - start
        if n <= 1 << NODE_MIN_LEVEL:
            leaves = self.leaf_hashes(start, stop)
            if len(leaves) < n and start < self.size():
                # Records missing before the head: a pruned prefix, whose pruning checkpoint
                # carries the subtree hashes (else VerificationError: they were deleted).
                return self._pruned_subtree(start, stop)
            return root_from_leaf_hashes(leaves)
        if n & (n - 1) == 0 and start % n == 0:
            node = self.tree_node(n.bit_length() - 1, start // n)
            if node is not None:
                return node
        k = 1 << ((n - 1).bit_length() - 1)
        return hash_children(
            self.subtree_hash(start, start + k), self.subtree_hash(start + k, stop)
        )

    def _pruned_subtree(self, start: int, stop: int) -> bytes:
        from opentelemetry_instrumentation_toolaudit.ledger._prune import latest

        pruning = latest(self.checkpoints(), self.log_id())
        if pruning is None or start >= pruning.cut:
            raise VerificationError(
                f"records #{start}..#{stop - 1} are not all in {self.where}: deleted "
                "(run `toolaudit verify`)"
            )
        return pruning.subtree(start, stop, self.subtree_hash)

    def prune_prefix(self, cut: int, note: str) -> int:
        """Remove records ``0 .. cut-1`` and their payloads, and store ``note``, the signed
        pruning checkpoint for size ``cut`` (:mod:`~opentelemetry_instrumentation_toolaudit.ledger._prune`),
        in one transaction; returns how many records were removed. Raises SinkError when the
        store cannot prune (or the role may not)."""
        raise SinkError(f"{self.where}: this store cannot prune records")

    def check_writable(self) -> None:  # noqa: B027 - most sinks prove it by opening
        """Raise SinkError when this process could not append here, checked without writing (a
        role without INSERT, a file it may not write). A sink opened for writing has already
        checked what its opening can."""

    def close(self) -> None:  # noqa: B027 - optional for sinks holding no resources
        """Release connections and file handles."""

    def __enter__(self) -> AuditSink:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def restore_frontier(size: int, data: bytes | None, where: str) -> Frontier:
    """The stored frontier, or a SinkError naming the sink when it is damaged."""
    try:
        return Frontier.from_bytes(size, bytes(data or b""))
    except (VerificationError, TypeError, ValueError) as exc:
        raise SinkError(f"{where}: the stored Merkle frontier is damaged ({exc})") from None


def compare_columns(canonical: bytes, columns: Mapping[str, Any]) -> str | None:
    """What is wrong with a sink's ``columns`` (plus ``seq`` and ``prev_hash``) given the canonical
    bytes, or None when they agree; ``columns`` holds every column the store keeps. Names the
    column, never its value."""
    try:
        record = json.loads(canonical)
    except (ValueError, TypeError, RecursionError):
        return "the record's bytes are not valid JSON"
    if not isinstance(record, dict):
        return "the record's bytes are not a JSON object"
    if record.get(SEQ) != columns.get(SEQ):
        return f"the record's seq field says {record.get(SEQ)!r} (inserted or reordered record)"
    if PREV_HASH in columns and record.get(PREV_HASH) != columns[PREV_HASH]:
        return "the prev_hash column does not match the record's canonical bytes (edited column)"
    expected = column_values(record)
    for name in DATA_COLUMNS:
        if name not in columns:  # a column this store does not keep (created before format 2)
            continue
        value = columns[name]
        # Exact: the same type as well as equal (so 1 is not True, and "yes" is not NULL).
        if type(expected[name]) is not type(value) or expected[name] != value:
            return f"the {name} column does not match the record's canonical bytes (edited column)"
    return None


def check_file_writable(path: str, owner: str) -> None:
    """SinkError when this process may not write ``path`` or its directory, where a file sink
    writes more files beside it (``owner`` names the file in the message: ``database``, ``log``)."""
    directory = os.path.dirname(os.path.abspath(path))
    for what, checked in (("file", path), ("directory", directory)):
        if not os.access(checked, os.W_OK):
            raise SinkError(f"{checked}: this process may not write the {owner}'s {what}")


def stored_bytes(value: Any) -> bytes:
    """A stored BLOB as bytes; a value of another type (a hand-edited row) as its text's bytes."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    return str(value).encode("utf-8", "replace")


def success_from_column(value: Any) -> Any:
    """A success column read from a database without a boolean type (SQLite): 1 is True, 0 is
    False, NULL is None; anything else is returned as stored, so it never passes for a bool."""
    if type(value) is int and value in (0, 1):
        return bool(value)
    return value


def without_stored(
    bodies: Sequence[Mapping[str, Any]], stored: Collection[str], skip_existing: bool, where: str
) -> Sequence[Mapping[str, Any]]:
    """``bodies`` less those whose ``event_id`` is in ``stored`` or repeats one earlier in the batch;
    without ``skip_existing`` such a body raises SinkError instead (naming no value)."""
    ids = [event_id for body in bodies if type(event_id := body.get(EVENT_ID)) is str]
    distinct = set(ids)
    if len(distinct) == len(ids) and distinct.isdisjoint(stored):
        return bodies  # the usual batch: every id new (set operations in C, no loop here)
    seen: set[str] = set()
    out = []
    for body in bodies:
        event_id = body.get(EVENT_ID)
        if type(event_id) is str:
            if event_id in stored or event_id in seen:
                if not skip_existing:
                    raise SinkError(
                        f"{where}: append refused: a record with the same event_id is already "
                        "stored (a retried batch? append with skip_existing=True)"
                    )
                continue
            seen.add(event_id)
        out.append(body)
    return out


def create_once(path: str | os.PathLike[str], data: bytes, mode: int) -> bool:
    """Write ``data`` as a new file at ``path`` (``O_EXCL``), fsync it and its directory; False,
    writing nothing, when the file exists already (never rewritten). Raises OSError."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        return False
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    dir_fd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return True


def reinit_in_forked_child(obj: object, method: str) -> None:
    """Call ``obj.<method>()`` in the child after a fork (gunicorn ``--preload``, multiprocessing):
    locks held by other threads, database connections and shared file descriptions must not be
    inherited. Holds only a weak reference to ``obj``."""
    ref = weakref.ref(obj)

    def hook() -> None:
        target = ref()
        if target is not None:
            getattr(target, method)()

    os.register_at_fork(after_in_child=hook)
