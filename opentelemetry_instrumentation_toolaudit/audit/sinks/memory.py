# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""An in-memory sink for tests: the same sealing, chain and Merkle tree, nothing durable.

``open_sink("memory://")`` gives a fresh one. Useful to test code that writes audit records (an
exporter, an app's own audit events) without files; never use it for a real trail.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from opentelemetry_instrumentation_toolaudit.audit._chain import (
    GENESIS_HASH,
    StoredRecord,
    seal_batch,
)
from opentelemetry_instrumentation_toolaudit.audit._merkle import Frontier
from opentelemetry_instrumentation_toolaudit.audit._schema import EVENT_ID
from opentelemetry_instrumentation_toolaudit.audit.sinks._base import (
    AuditSink,
    ScanRow,
    TreeHead,
    without_stored,
)


class MemorySink(AuditSink):
    """Records in a list, checkpoints in another; thread-safe."""

    def __init__(self, url: str = "memory://") -> None:
        self.url = url
        self._lock = threading.Lock()
        self._records: list[StoredRecord] = []
        self._checkpoints: list[str] = []
        self._frontier = Frontier()
        self._log_id = uuid.uuid4().hex
        self._event_ids: set[str] = set()

    def append(
        self, bodies: Sequence[Mapping[str, Any]], *, skip_existing: bool = False
    ) -> list[StoredRecord]:
        with self._lock:
            bodies = without_stored(bodies, self._event_ids, skip_existing, self.url)
            if not bodies:
                return []
            prev = self._records[-1].entry_hash if self._records else GENESIS_HASH
            records = seal_batch(bodies, self._frontier, prev, columns=False)
            self._event_ids.update(b[EVENT_ID] for b in bodies if type(b.get(EVENT_ID)) is str)
            self._records.extend(records)
            self.last_head = TreeHead(self._frontier.size, self._frontier.root())
        return records

    @property
    def records(self) -> list[dict[str, Any]]:
        """Every record so far, parsed (handy in assertions)."""
        with self._lock:
            return [r.record for r in self._records]

    def read(self, start: int = 0, stop: int | None = None) -> Iterator[StoredRecord]:
        with self._lock:
            return iter(self._records[start:stop])

    def size(self) -> int:
        return len(self._records)

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
            yield ScanRow(r.seq, r.canonical, r.leaf_hash, r.prev_hash)


__all__ = ["MemorySink"]
