"""The sink interface every audit store implements (SQLite, JSONL, PostgreSQL)."""

from __future__ import annotations

import abc
from collections.abc import Iterator, Sequence
from typing import Any

from opentelemetry_instrumentation_toolaudit._exceptions import SinkError
from opentelemetry_instrumentation_toolaudit.audit._chain import StoredRecord

__all__ = ["AuditSink", "SinkError"]


class AuditSink(abc.ABC):
    """An append-only, hash-chained store of audit records.

    ``append`` is the only write. It assigns sequence numbers and previous hashes under a lock that
    holds across processes (several gunicorn workers keep one linear chain), and returns only after
    the whole batch is durably committed in one write (group commit).
    """

    url: str

    @abc.abstractmethod
    def append(self, bodies: Sequence[dict[str, Any]]) -> list[StoredRecord]:
        """Seal (``_chain.seal``) and durably commit ``bodies`` in order; return the stored records."""

    @abc.abstractmethod
    def read(self, start: int = 0, stop: int | None = None) -> Iterator[StoredRecord]:
        """Stored records with ``start <= seq < stop``, in sequence order, exactly as stored."""

    @abc.abstractmethod
    def size(self) -> int:
        """Number of records."""

    @abc.abstractmethod
    def write_checkpoint(self, note: str) -> None:
        """Store a signed checkpoint note (C2SP tlog-checkpoint text)."""

    @abc.abstractmethod
    def checkpoints(self) -> list[str]:
        """Every stored checkpoint note, oldest first."""

    def close(self) -> None:  # noqa: B027 - optional for sinks holding no resources
        """Release connections and file handles."""

    def __enter__(self) -> AuditSink:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
