# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Pruning checkpoints: what a verifier needs to carry on from a cut without the records before it.

A pruning checkpoint is a signed C2SP checkpoint for the cut ``n`` (origin, ``n``, the root of
records ``0 .. n-1``) whose extension lines, covered by the signature, say::

    toolaudit-prune/1
    frontier <base64 hash> <base64 hash> …   the Merkle frontier at n, largest subtree first
    prev-hash <hex>                          entry hash of record n-1 (record n's prev_hash)
    pruned-at 2033-01-01T10:00:00Z           when (UTC)
    pruned-by <OS user>
    as-of 2033-01-01                         the date the records were judged expired at
    policy financial=2555 general=365 …      the retention policy's categories and days
    admin-event <seq>                        the admin record saying so

The frontier's hashes fold to the checkpoint's root (RFC 9162), so a verifier checks the signature,
folds the frontier, and continues the hash chain and the Merkle tree from record ``n`` on as if the
pruned records were there: every later checkpoint must still match, which proves the pruned prefix
was not changed, and nothing after it was removed, changed or reordered.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import re
from collections.abc import Callable, Iterable, Sequence

from opentelemetry_instrumentation_toolaudit._exceptions import VerificationError
from opentelemetry_instrumentation_toolaudit.ledger._checkpoint import (
    Checkpoint,
    NoteVerifier,
    open_checkpoint,
    readable_checkpoints,
)
from opentelemetry_instrumentation_toolaudit.ledger._merkle import (
    HASH_SIZE,
    Frontier,
    hash_children,
)

PRUNE_MARK = "toolaudit-prune/1"
"""The first extension line of a pruning checkpoint."""
_WORD = re.compile(r"[^\x21-\x7e]")
_HEX_HASH = re.compile(r"[0-9a-f]{64}")


def _word(text: str) -> str:
    """``text`` as one word of an extension line (no spaces or control characters)."""
    return _WORD.sub("_", text) or "-"


def frontier_blocks(size: int) -> list[tuple[int, int]]:
    """The perfect subtrees ``[start, stop)`` whose roots make up the frontier at ``size``,
    largest first."""
    blocks = []
    start = 0
    for level in reversed(range(size.bit_length())):
        if size >> level & 1:
            blocks.append((start, start + (1 << level)))
            start += 1 << level
    return blocks


@dataclasses.dataclass(frozen=True)
class Pruning:
    """A pruning checkpoint's content: records ``0 .. cut-1`` were removed."""

    cut: int
    root: bytes
    frontier: tuple[bytes, ...]
    prev_hash: str
    pruned_at: str
    pruned_by: str
    as_of: str
    policy: tuple[tuple[str, int], ...]
    event_seq: int | None

    def extensions(self) -> tuple[str, ...]:
        """The checkpoint's extension lines."""
        policy = " ".join(f"{_word(name)}={days}" for name, days in self.policy) or "-"
        lines = [
            PRUNE_MARK,
            "frontier " + " ".join(base64.b64encode(h).decode() for h in self.frontier),
            f"prev-hash {self.prev_hash}",
            f"pruned-at {_word(self.pruned_at)}",
            f"pruned-by {_word(self.pruned_by)}",
            f"as-of {_word(self.as_of)}",
            f"policy {policy}",
        ]
        if self.event_seq is not None:
            lines.append(f"admin-event {self.event_seq}")
        return tuple(lines)

    def checkpoint(self, origin: str) -> Checkpoint:
        return Checkpoint(origin, self.cut, self.root, self.extensions())

    def start(self) -> Frontier:
        """The Merkle frontier at the cut (checked against the root when parsed)."""
        return Frontier(self.cut, self.frontier)

    def summary(self) -> str:
        """``records #0..#n-1 pruned on DATE by USER under policy …``."""
        policy = ", ".join(f"{name} {days} days" for name, days in self.policy) or "none given"
        event = f" (admin event #{self.event_seq})" if self.event_seq is not None else ""
        return (
            f"records #0..#{self.cut - 1} pruned on {self.pruned_at} by {self.pruned_by} as of "
            f"{self.as_of} under policy {policy}{event}"
        )

    def to_json(self) -> dict[str, object]:
        return {
            "records": self.cut,
            "pruned_at": self.pruned_at,
            "pruned_by": self.pruned_by,
            "as_of": self.as_of,
            "policy": dict(self.policy),
            "admin_event": self.event_seq,
        }

    @classmethod
    def of(cls, checkpoint: Checkpoint) -> Pruning | None:
        """The pruning ``checkpoint`` records; None when it is an ordinary checkpoint. Raises
        VerificationError when it is marked as one but malformed, or its frontier does not fold
        to its root."""
        if not checkpoint.extensions or checkpoint.extensions[0] != PRUNE_MARK:
            return None
        fields: dict[str, str] = {}
        for line in checkpoint.extensions[1:]:
            key, _, value = line.partition(" ")
            fields.setdefault(key, value)
        try:
            frontier = tuple(
                base64.b64decode(h, validate=True) for h in fields["frontier"].split(" ") if h
            )
            prev_hash = fields["prev-hash"]
            policy = []
            for item in fields.get("policy", "-").split(" "):
                if item and item != "-":
                    name, _, days = item.partition("=")
                    policy.append((name, int(days)))
            event = fields.get("admin-event")
            pruning = cls(
                cut=checkpoint.size,
                root=checkpoint.root,
                frontier=frontier,
                prev_hash=prev_hash,
                pruned_at=fields.get("pruned-at", "-"),
                pruned_by=fields.get("pruned-by", "-"),
                as_of=fields.get("as-of", "-"),
                policy=tuple(policy),
                event_seq=int(event) if event is not None else None,
            )
        except (KeyError, ValueError, binascii.Error):
            raise VerificationError(
                f"the pruning checkpoint for size {checkpoint.size} is malformed"
            ) from None
        if (
            checkpoint.size < 1
            or not _HEX_HASH.fullmatch(prev_hash)
            or any(len(h) != HASH_SIZE for h in frontier)
            or len(frontier) != checkpoint.size.bit_count()
        ):
            raise VerificationError(
                f"the pruning checkpoint for size {checkpoint.size} is malformed"
            )
        if pruning.start().root() != checkpoint.root:
            raise VerificationError(
                f"the Merkle frontier in the pruning checkpoint for size {checkpoint.size} does "
                "not hash to its signed root"
            )
        return pruning

    def subtree(self, start: int, stop: int, below: Callable[[int, int], bytes]) -> bytes:
        """``MTH(D[start:stop])`` for a range starting before the cut: a frontier hash, or split
        as RFC 9162 does with ``below`` for the parts at and after the cut. Raises
        VerificationError for a range that needs pruned records."""
        for (first, end), digest in zip(frontier_blocks(self.cut), self.frontier, strict=True):
            if (first, end) == (start, stop):
                return digest
            if first <= start and stop <= end:
                what = (
                    f"record #{start} was"
                    if stop - start == 1
                    else f"records #{start}..#{stop - 1} were"
                )
                raise VerificationError(f"{what} pruned ({self.summary()})")
        # Not inside one frontier subtree, so at least two records: split as MTH does.
        n = stop - start
        k = 1 << ((n - 1).bit_length() - 1)
        left = self.subtree(start, start + k, below)
        if start + k < self.cut:
            right = self.subtree(start + k, stop, below)
        else:
            right = below(start + k, stop)
        return hash_children(left, right)


def prunings(
    notes: Iterable[str], log_id: str | None, verifiers: Sequence[NoteVerifier] = ()
) -> list[Pruning]:
    """The well-formed pruning checkpoints among ``notes``, by cut: with ``verifiers``, only those
    one of them signed; without, signatures are not checked."""
    found = []
    readable, _ = readable_checkpoints(notes, log_id)
    for checkpoint, note in readable:
        try:
            pruning = Pruning.of(checkpoint)
            if pruning is not None and verifiers:
                open_checkpoint(note, verifiers)
        except VerificationError:
            continue
        if pruning is not None:
            found.append(pruning)
    return sorted(found, key=lambda p: p.cut)


def latest(
    notes: Sequence[str], log_id: str | None, verifiers: Sequence[NoteVerifier] = ()
) -> Pruning | None:
    """The pruning checkpoint with the widest cut among ``notes``, if any (with ``verifiers``,
    among those one of them signed)."""
    found = prunings(notes, log_id, verifiers)
    return found[-1] if found else None


def continue_from(
    first_seq: int | None, checkpoints: Iterable[Checkpoint]
) -> tuple[Pruning | None, list[tuple[int, str]]]:
    """For the verifier: the pruning checkpoint the stored records continue from (the widest cut
    at or before the first stored record ``first_seq``; None when the trail starts at record 0),
    and ``(seq, what)`` for each pruning problem: a malformed pruning checkpoint, or records
    missing from the start that no valid pruning checkpoint covers. ``checkpoints`` are this
    log's, with valid signatures when a key is given."""
    problems: list[tuple[int, str]] = []
    valid: list[Pruning] = []
    for checkpoint in checkpoints:
        try:
            pruning = Pruning.of(checkpoint)
        except VerificationError as exc:
            problems.append((0, str(exc)))
            continue
        if pruning is not None:
            valid.append(pruning)
    if not first_seq:
        return None, problems
    usable = [p for p in valid if p.cut <= first_seq]
    if not usable:
        problems.append(
            (
                0,
                f"records #0..#{first_seq - 1} are missing and no valid signed pruning checkpoint "
                "covers them: deleted, or the pruning checkpoint was removed or forged",
            )
        )
        return None, problems
    return max(usable, key=lambda p: p.cut), problems


def pruned_nodes(
    nodes: dict[tuple[int, int], bytes], pruning: Pruning
) -> dict[tuple[int, int], bytes]:
    """The stored Merkle ``nodes`` a verifier can judge after ``pruning``: those over records at
    or after the cut, and those that are frontier subtrees (an altered one marked empty, as the
    scan marks a wrong node); nodes inside a frontier subtree cannot be rebuilt and are left out."""
    frontier = {
        ((stop - start).bit_length() - 1, start // (stop - start)): digest
        for (start, stop), digest in zip(
            frontier_blocks(pruning.cut), pruning.frontier, strict=True
        )
    }
    kept = {}
    for (level, index), digest in nodes.items():
        if (index + 1) << level > pruning.cut:
            kept[(level, index)] = digest
        elif (level, index) in frontier and frontier[(level, index)] != digest:
            kept[(level, index)] = b""
    return kept


__all__ = [
    "PRUNE_MARK",
    "Pruning",
    "continue_from",
    "frontier_blocks",
    "latest",
    "pruned_nodes",
    "prunings",
]
