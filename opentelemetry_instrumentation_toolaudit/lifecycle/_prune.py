# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Pruning a trail's expired prefix: the cut, the ``admin`` event, the signed pruning checkpoint,
an optional archive of the pruned records, and the removal, in that order.

Before anything else the run verifies the whole trail with the log's own key and refuses when
that fails: a trail already changed, or carrying a pruning checkpoint the key did not sign, is
never cut. The cut ``n`` is the largest size such that every stored record before it is past its
``retain_until`` (records without one: the date the policy gives them from ``recorded_at``).
``admin`` records are kept for the policy's longest period, so they bound the cut. The pruning
checkpoint (:mod:`opentelemetry_instrumentation_toolaudit.ledger._prune`) is signed before
anything is removed; with an archive directory the pruned records are written there first (with
every checkpoint up to the cut, the pruning checkpoint included), and nothing is removed when that
write fails. With witnesses configured, each must first cosign a checkpoint at or past the cut: a
witness left below it could never be given a consistency proof again, so the run stops (nothing
recorded, nothing removed) while one does not answer.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from opentelemetry_instrumentation_toolaudit._exceptions import SinkError, ToolAuditError
from opentelemetry_instrumentation_toolaudit.export._retention import RetentionPolicy
from opentelemetry_instrumentation_toolaudit.ledger import (
    AuditLog,
    AuditSink,
    NoteVerifier,
    StoredRecord,
    VerifyResult,
    verify,
)
from opentelemetry_instrumentation_toolaudit.ledger._checkpoint import sign_checkpoint
from opentelemetry_instrumentation_toolaudit.ledger._prune import Pruning, frontier_blocks, latest
from opentelemetry_instrumentation_toolaudit.ledger.schema import TOOL_NAME
from opentelemetry_instrumentation_toolaudit.lifecycle._apply import admin_body, os_user
from opentelemetry_instrumentation_toolaudit.lifecycle._archive import write_archive
from opentelemetry_instrumentation_toolaudit.lifecycle._plan import (
    PAGE,
    category_of,
    retain_until,
)


@dataclasses.dataclass
class Cut:
    """Where a pruning run would cut: records ``first .. size-1`` go."""

    first: int
    """The first stored record (0, or the cut of an earlier pruning)."""
    size: int
    """The cut: the number of records before the first one kept."""
    categories: dict[str, int] = dataclasses.field(default_factory=dict)
    """How many of the records to prune fall under each policy category."""
    stopped_at: int | None = None
    """The first record kept (not yet expired, or with no readable date); None at the log's end."""

    @property
    def count(self) -> int:
        return self.size - self.first

    def to_json(self) -> dict[str, Any]:
        return {
            "first": self.first,
            "cut": self.size,
            "count": self.count,
            "records": f"{self.first}-{self.size - 1}" if self.count else None,
            "categories": dict(sorted(self.categories.items())),
            "kept_from": self.stopped_at,
        }


@dataclasses.dataclass(frozen=True)
class Pruned:
    """What a pruning run did."""

    event_seq: int
    removed: int
    pruning: Pruning
    checkpoint_size: int
    archive: Path | None


def _stored(sink: AuditSink, first: int) -> Iterator[StoredRecord]:
    if not sink.seals_columns:
        yield from sink.read(first)  # one streaming pass (JSONL, memory)
        return
    start = first
    while True:
        page = list(sink.read(start, start + PAGE))
        yield from page
        if len(page) < PAGE:
            return
        start += PAGE


def verified(sink: AuditSink, verifier: NoteVerifier) -> VerifyResult:
    """The full verify of the trail in ``sink`` with the log's own key ``verifier``;
    ToolAuditError when it fails, so that nothing is recorded or removed."""
    result = verify(sink, public_key=verifier)
    if not result.ok:
        why = result.summary().removeprefix("FAIL: ")
        raise ToolAuditError(
            f"{sink.where}: the trail fails verify ({why}); nothing was pruned: run "
            "`toolaudit verify` on it"
        )
    return result


def signed_cut(sink: AuditSink, verifier: NoteVerifier) -> int:
    """The cut of the widest pruning checkpoint of this log that ``verifier`` signed; 0 when
    none."""
    earlier = latest(sink.checkpoints(), sink.log_id(), [verifier])
    return earlier.cut if earlier is not None else 0


def find_cut(
    sink: AuditSink, policy: RetentionPolicy, as_of: datetime.date, verifier: NoteVerifier
) -> Cut:
    """The widest prefix of the stored records that is wholly expired before ``as_of``, from the
    cut of the latest pruning checkpoint signed with the log's key ``verifier`` (pruning
    checkpoints signed otherwise are ignored)."""
    first = signed_cut(sink, verifier)
    cut = Cut(first, first)
    for stored in _stored(sink, first):
        if stored.seq != cut.size:  # a gap: never cut across records that are not there
            cut.stopped_at = stored.seq
            break
        record = stored.record
        until = retain_until(policy, record)
        if until is None or until >= as_of.isoformat():
            cut.stopped_at = stored.seq
            break
        tool = record.get(TOOL_NAME)
        name = category_of(policy, tool if isinstance(tool, str) else None)
        cut.categories[name] = cut.categories.get(name, 0) + 1
        cut.size += 1
    return cut


def pruning_at(
    sink: AuditSink,
    cut: int,
    *,
    user: str,
    as_of: datetime.date,
    policy: RetentionPolicy,
    event_seq: int | None,
) -> Pruning:
    """The pruning checkpoint's content for ``cut``: the Merkle frontier there (from the stored
    records and nodes, or an earlier pruning checkpoint), and the hash of record ``cut - 1``."""
    frontier = tuple(sink.subtree_hash(start, stop) for start, stop in frontier_blocks(cut))
    last = list(sink.read(cut - 1, cut))
    if not last:
        raise SinkError(f"{sink.where}: record #{cut - 1} is not stored; nothing was pruned")
    from opentelemetry_instrumentation_toolaudit.ledger._merkle import Frontier

    return Pruning(
        cut=cut,
        root=Frontier(cut, frontier).root(),
        frontier=frontier,
        prev_hash=last[0].entry_hash,
        pruned_at=f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%dT%H:%M:%SZ}",
        pruned_by=user,
        as_of=as_of.isoformat(),
        policy=tuple(sorted((c.name, c.retention_days) for c in policy.categories)),
        event_seq=event_seq,
    )


def witness_past(log: AuditLog, cut: int) -> None:
    """Have the configured witnesses cosign a checkpoint for the current size (at or past
    ``cut``); ToolAuditError naming those that did not, so nothing is pruned while one is below the
    cut."""
    submitter = log.witnesses
    if submitter is None:
        return
    log.checkpoint()
    submitter.flush()
    behind = submitter.behind(cut)
    if behind:
        raise ToolAuditError(
            f"witness {', '.join(behind)} has not cosigned a checkpoint of at least {cut} "
            f"records: once records #0..#{cut - 1} are pruned it can never be given a consistency "
            "proof again; nothing was pruned: run the command again once it answers"
        )


def _check_start(sink: AuditSink, first: int, verifier: NoteVerifier) -> None:
    """ToolAuditError unless the first stored record is ``first``, and ``first`` is the cut of
    the latest pruning checkpoint signed with ``verifier`` (0 when none)."""
    cut = signed_cut(sink, verifier)
    stored = next(iter(sink.read(0, first + 1)), None)
    if first != cut or stored is None or stored.seq != first:
        starts = f"starts at record #{stored.seq}" if stored is not None else "is empty there"
        raise ToolAuditError(
            f"{sink.where}: the pruning would start at record #{first}, but the trail {starts} "
            f"and its signed pruning checkpoints cut at {cut}; nothing was pruned: run "
            "`toolaudit verify` on it"
        )


def prune(
    log: AuditLog,
    cut: Cut,
    details: Mapping[str, Any],
    *,
    policy: RetentionPolicy,
    as_of: datetime.date,
    archive_dir: str | None = None,
) -> Pruned:
    """Have the witnesses (if any) cosign a checkpoint past the cut, record ``details`` (with
    ``action: prune``) as an admin event, sign the pruning checkpoint for ``cut.size``, write the archive (when
    ``archive_dir`` is given), remove the records, then sign a checkpoint.

    Raises SinkError when the store refuses (the message says whether the event was recorded),
    ToolAuditError when a witness did not cosign, or the trail does not start at ``cut.first``,
    the cut of the latest pruning checkpoint signed with the log's key (0 when none): nothing
    recorded or removed; FileExistsError when the archive exists already (nothing removed)."""
    sink = log.sink
    _check_start(sink, cut.first, log.signer.verifier)
    witness_past(log, cut.size)
    user = os_user()
    stored = log.append([admin_body({**details, "action": "prune", "os_user": user}, user, policy)])
    event_seq = stored[0].seq
    pruning = pruning_at(sink, cut.size, user=user, as_of=as_of, policy=policy, event_seq=event_seq)
    note = sign_checkpoint(pruning.checkpoint(log.origin), log.signer)
    archive = None
    if archive_dir is not None:
        archive = write_archive(
            sink,
            archive_dir,
            cut.size,
            expired=range(cut.first, cut.size),
            as_of=as_of,
            first=cut.first,
            notes=[note],
        )
    try:
        removed = sink.prune_prefix(cut.size, note)
    except SinkError as exc:
        raise SinkError(
            f"{exc}; admin event #{event_seq} records a pruning that did not happen: run the "
            "command again once the store accepts it"
        ) from None
    note_size = sink.size()
    log.checkpoint()
    return Pruned(event_seq, removed, pruning, note_size, archive)


__all__ = [
    "Cut",
    "Pruned",
    "find_cut",
    "prune",
    "pruning_at",
    "signed_cut",
    "verified",
    "witness_past",
]
