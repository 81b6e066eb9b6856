# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The one append protocol every store runs: dedupe → read head → seal → Merkle frontier → nodes →
head → checkpoint, in one transaction.

A store implements only the narrow port below (:class:`AppendTransaction`): open a transaction that
holds its cross-process lock, read the stored head, find stored event ids among a batch, write
records, nodes and the new head, and write a checkpoint note. Sequencing, sealing and the Merkle
state live here, once, as transparency-dev/tessera's single integration routine does for its
storage drivers.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

from opentelemetry_instrumentation_toolaudit.ledger._chain import StoredRecord, seal_records
from opentelemetry_instrumentation_toolaudit.ledger._merkle import Frontier
from opentelemetry_instrumentation_toolaudit.ledger.schema import EVENT_ID
from opentelemetry_instrumentation_toolaudit.ledger.stores._base import TreeHead, without_stored

__all__ = ["AppendTransaction", "AppendableStore", "append_batch"]


class AppendTransaction(Protocol):
    """One open write transaction on a store, holding the store's cross-process lock: nothing it
    writes is visible, or durable, before the transaction commits as a whole."""

    def read_head(self) -> tuple[str, Frontier]:
        """The stored head: the entry hash of the last record (hex; the genesis hash for an empty
        log) and the Merkle frontier after it (its ``size`` is the number of records)."""

    def stored_event_ids(self, event_ids: Sequence[str]) -> Collection[str]:
        """Those of ``event_ids`` that a stored record has."""

    def write(
        self,
        records: Sequence[StoredRecord],
        leaf_hashes: Sequence[bytes],
        nodes: Sequence[tuple[int, int, bytes]],
        frontier: Frontier,
    ) -> None:
        """Write the sealed ``records`` (with their leaf hashes and, in format 2, their payloads),
        the Merkle ``nodes`` they completed, and the new head (``frontier`` after them,
        ``records[-1]`` its last record)."""

    def write_checkpoint(self, note: str, size: int) -> None:
        """Write a signed checkpoint note for tree size ``size`` in this transaction."""


class AppendableStore(Protocol):
    """What the protocol needs of a store besides its transactions."""

    @property
    def where(self) -> str:
        """How messages name the store (a path, or a URL without its password)."""

    seals_columns: bool
    """True when the store keeps indexed columns (``StoredRecord.columns`` is filled in)."""
    record_format: int
    """The record format (``schema``) new records are sealed in: 2, or 1 for a trail begun in
    format 1 (see docs/record-format.md)."""
    node_min_level: int | None
    """The lowest level of the Merkle nodes the store keeps; None when it keeps none."""
    unique_event_ids: bool
    """True when the store itself refuses a second record with a stored event id (a unique index),
    so stored ids need to be looked up only to skip them (``skip_existing``)."""

    def append_transaction(self) -> AbstractContextManager[AppendTransaction]:
        """Begin a write transaction under the cross-process lock; it commits when the block ends
        and rolls back when it raises. Raises SinkError when the store cannot be written."""


def append_batch(
    store: AppendableStore,
    bodies: Sequence[Mapping[str, Any]],
    *,
    skip_existing: bool = False,
    checkpoint: Callable[[TreeHead], str | None] | None = None,
) -> tuple[list[StoredRecord], TreeHead | None]:
    """Seal ``bodies`` after the store's head and commit them in one transaction; returns the
    stored records and the head after them (None when nothing was appended).

    A body whose ``event_id`` is stored already, or repeats one earlier in the batch, raises
    SinkError or, with ``skip_existing``, is left out. ``checkpoint`` is asked, with the new head,
    for a signed note to store in the same transaction (None when none is due)."""
    if not bodies:
        return [], None
    with store.append_transaction() as tx:
        if skip_existing or not store.unique_event_ids:
            ids = [event_id for body in bodies if type(event_id := body.get(EVENT_ID)) is str]
            stored = tx.stored_event_ids(ids) if ids else ()
            bodies = without_stored(bodies, stored, skip_existing, store.where)
            if not bodies:
                return [], None
        prev_hash, frontier = tx.read_head()
        records, digests = seal_records(
            bodies, frontier.size, prev_hash, store.seals_columns, store.record_format
        )
        nodes: list[tuple[int, int, bytes]] = []
        if store.node_min_level is None:
            frontier.extend(digests)
        else:
            frontier.extend(digests, nodes, store.node_min_level)
        tx.write(records, digests, nodes, frontier)
        head = TreeHead(frontier.size, frontier.root())
        note = checkpoint(head) if checkpoint is not None else None
        if note is not None:
            tx.write_checkpoint(note, head.size)
    return records, head
