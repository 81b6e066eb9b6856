# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""An in-memory sink for tests: the same sealing, chain and Merkle tree, nothing durable.

``open_sink("memory://")`` gives a fresh one. Useful to test code that writes audit records (an
exporter, an app's own audit events) without files; never use it for a real trail.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Collection, Iterator, Sequence
from typing import Any

from opentelemetry_instrumentation_toolaudit._exceptions import SinkError
from opentelemetry_instrumentation_toolaudit.ledger._chain import GENESIS_HASH, StoredRecord
from opentelemetry_instrumentation_toolaudit.ledger._merkle import Frontier
from opentelemetry_instrumentation_toolaudit.ledger.schema import EVENT_ID
from opentelemetry_instrumentation_toolaudit.ledger.stores._base import (
    AuditSink,
    ScanRow,
    TreeHead,
)


class MemorySink(AuditSink):
    """Records in a list, checkpoints in another; thread-safe."""

    seals_columns = False
    node_min_level = None
    unique_event_ids = False

    def __init__(self, url: str = "memory://") -> None:
        self.url = url
        self._lock = threading.Lock()
        self._records: list[StoredRecord] = []
        self._checkpoints: list[str] = []
        self._frontier = Frontier()
        self._log_id = uuid.uuid4().hex
        self._event_ids: set[str] = set()
        self._payloads: dict[int, bytes] = {}
        self._base = 0
        self._base_prev = GENESIS_HASH
        """The sequence number of the first record held (records before it were pruned)."""

    @contextlib.contextmanager
    def append_transaction(self) -> Iterator[_MemoryTransaction]:
        with self._lock:
            tx = _MemoryTransaction(self)
            yield tx
            # Committed only when the block ends without raising: what it wrote is kept as a whole.
            if tx.frontier is not None:
                self._records.extend(r._replace(payload=None) for r in tx.records)
                self._payloads.update(
                    (r.seq, r.payload) for r in tx.records if r.payload is not None
                )
                self._event_ids.update(
                    event_id for r in tx.records if type(event_id := r.record.get(EVENT_ID)) is str
                )
                self._frontier = tx.frontier
            self._checkpoints.extend(tx.notes)

    @property
    def records(self) -> list[dict[str, Any]]:
        """Every record so far, parsed (handy in assertions)."""
        with self._lock:
            return [r.record for r in self._records]

    def read(self, start: int = 0, stop: int | None = None) -> Iterator[StoredRecord]:
        with self._lock:
            payloads = self._payloads
            base = self._base
            first = max(start - base, 0)
            last = None if stop is None else max(stop - base, 0)
            return iter(
                [r._replace(payload=payloads.get(r.seq)) for r in self._records[first:last]]
            )

    def erase_payloads(self, seqs: Collection[int]) -> int:
        with self._lock:
            return sum(self._payloads.pop(seq, None) is not None for seq in set(seqs))

    def prune_prefix(self, cut: int, note: str) -> int:
        with self._lock:
            if not self._base < cut <= self._frontier.size:
                raise SinkError(f"{self.url}: no records before #{cut} to prune")
            self._checkpoints.append(note)
            removed = cut - self._base
            self._base_prev = self._records[removed - 1].entry_hash
            del self._records[:removed]
            for seq in [s for s in self._payloads if s < cut]:
                del self._payloads[seq]
            self._base = cut
            return removed

    def size(self) -> int:
        return self._base + len(self._records)

    def head(self) -> TreeHead:
        with self._lock:
            return TreeHead(self._frontier.size, self._frontier.root())

    def log_id(self) -> str | None:
        return self._log_id

    def write_checkpoint(self, note: str, size: int) -> None:
        with self._lock:
            self._checkpoints.append(note)

    def checkpoints(self) -> list[str]:
        with self._lock:
            return list(self._checkpoints)

    def scan(self) -> Iterator[ScanRow]:
        for r in list(self.read()):
            yield ScanRow(r.seq, r.canonical, r.leaf_hash, r.prev_hash, r.payload)


class _MemoryTransaction:
    """What one append writes, kept aside until its transaction commits."""

    def __init__(self, sink: MemorySink) -> None:
        self._sink = sink
        self.records: list[StoredRecord] = []
        self.frontier: Frontier | None = None
        self.notes: list[str] = []

    def read_head(self) -> tuple[str, Frontier]:
        records = self._sink._records
        return (
            records[-1].entry_hash if records else self._sink._base_prev
        ), self._sink._frontier.copy()

    def stored_event_ids(self, event_ids: Sequence[str]) -> set[str]:
        return self._sink._event_ids.intersection(event_ids)

    def write(
        self,
        records: Sequence[StoredRecord],
        leaf_hashes: Sequence[bytes],
        nodes: Sequence[tuple[int, int, bytes]],
        frontier: Frontier,
    ) -> None:
        self.records = list(records)
        self.frontier = frontier

    def write_checkpoint(self, note: str, size: int) -> None:
        self.notes.append(note)


__all__ = ["MemorySink"]
