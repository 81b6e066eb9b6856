# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""What :func:`~opentelemetry_instrumentation_toolaudit.ledger.verify` reports: the problem kinds, a
problem, the result, and how follow-on failures are traced to the problem they come from."""

from __future__ import annotations

import dataclasses
import enum
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from opentelemetry_instrumentation_toolaudit.ledger._prune import Pruning


class ProblemKind(str, enum.Enum):
    """What is wrong with a trail (:attr:`Problem.kind`). A ``str`` enum: each kind compares equal
    to, and serializes as, its lower-case name (``ProblemKind.MODIFIED == "modified"``)."""

    MODIFIED = "modified"
    """A record's bytes do not match its entry hash."""
    DELETED = "deleted"
    """Records are missing: the sequence numbers jump."""
    INSERTED = "inserted"
    """A record is out of place: inserted or reordered."""
    LINK = "link"
    """A record's ``prev_hash`` is not the entry hash of the record before it."""
    COLUMN = "column"
    """An indexed column does not say what the record's canonical bytes say."""
    PAYLOAD = "payload"
    """A stored payload (record format 2) does not match its envelope's ``payload_hash``."""
    ORPHAN_PAYLOAD = "orphan_payload"
    """A stored payload (record format 2) has no record: its envelope was removed."""
    NODE = "node"
    """A stored Merkle node is wrong, or not a node of the records' tree."""
    HEAD = "head"
    """The stored head is not the head of the stored records."""
    TRUNCATED = "truncated"
    """A signed checkpoint covers more records than the log holds, or a signed pruning checkpoint
    names an admin event past the log's end."""
    REWRITTEN = "rewritten"
    """Records do not match a signed checkpoint over them."""
    SIGNATURE = "signature"
    """A checkpoint's signature does not verify with the trusted keys."""
    FORK = "fork"
    """Two signed checkpoints cannot both describe this log."""
    CHECKPOINT = "checkpoint"
    """A checkpoint cannot be read or parsed."""
    UNANCHORED = "unanchored"
    """No valid checkpoint anchors the trail."""
    REPLACED = "replaced"
    """The trail, or a trusted checkpoint, belongs to another log."""
    PRUNING = "pruning"
    """Records are missing from the start of the trail and no valid signed pruning checkpoint
    covers them, a pruning checkpoint is malformed or its frontier does not match its root, or the
    record it names as its admin event is not the ``admin`` record of a pruning."""
    WITNESS = "witness"
    """The latest checkpoint lacks the witness cosignatures required (``verify --witness``)."""

    def __str__(self) -> str:
        # As StrEnum does (Python 3.11+): the kind prints as its name in messages and JSON.
        return self.value


# The kinds by their short names, as the checks below use them.
MODIFIED: Final = ProblemKind.MODIFIED
DELETED: Final = ProblemKind.DELETED
INSERTED: Final = ProblemKind.INSERTED
LINK: Final = ProblemKind.LINK
COLUMN: Final = ProblemKind.COLUMN
PAYLOAD: Final = ProblemKind.PAYLOAD
ORPHAN_PAYLOAD: Final = ProblemKind.ORPHAN_PAYLOAD
NODE: Final = ProblemKind.NODE
HEAD: Final = ProblemKind.HEAD
TRUNCATED: Final = ProblemKind.TRUNCATED
REWRITTEN: Final = ProblemKind.REWRITTEN
SIGNATURE: Final = ProblemKind.SIGNATURE
FORK: Final = ProblemKind.FORK
CHECKPOINT: Final = ProblemKind.CHECKPOINT
UNANCHORED: Final = ProblemKind.UNANCHORED
REPLACED: Final = ProblemKind.REPLACED
PRUNING: Final = ProblemKind.PRUNING

ORDER = {
    k: i
    for i, k in enumerate(
        (
            PRUNING,
            MODIFIED,
            DELETED,
            INSERTED,
            LINK,
            COLUMN,
            PAYLOAD,
            ORPHAN_PAYLOAD,
            TRUNCATED,
            NODE,
            HEAD,
            REWRITTEN,
            FORK,
            SIGNATURE,
            CHECKPOINT,
            UNANCHORED,
            REPLACED,
        )
    )
}
MAX_PROBLEMS = 100
_RECORD_CHANGES = frozenset((MODIFIED, DELETED, INSERTED, LINK, TRUNCATED, REWRITTEN))

_SELF_ATTESTED = "OK (self-attested: key from this machine, not pinned)"


@dataclasses.dataclass(frozen=True)
class Problem:
    """One thing wrong with the trail, at the first record it affects."""

    seq: int
    kind: ProblemKind
    message: str
    cause: int | None = None
    """For a follow-on failure, the record of the earlier problem it comes from: this check fails
    only because of that one (the record after a deleted one no longer links, every record after
    an inserted one is one place off...). None for a problem of its own."""


@dataclasses.dataclass
class VerifyResult:
    """What :func:`verify` found."""

    sink: str
    size: int
    root: str
    """Hex Merkle root over all stored records."""
    checkpoints: int = 0
    """Checkpoints compared with the log."""
    signatures_checked: bool = False
    """Whether checkpoint signatures were checked against a trusted key."""
    key_pinned: bool = False
    """Whether that key was pinned by the verifier (given, or from a trusted-keys file) rather than
    found on the writer's machine (self-attested: whoever can rewrite the trail there can replace
    it too)."""
    anchored: bool = False
    """Whether at least one checkpoint of this log was found with its signature checked against a
    trusted key: without a key nothing anchors the trail, whatever checkpoints it holds."""
    foreign: list[str] = dataclasses.field(default_factory=list)
    """Checkpoints whose origin names another log (where they are): ignored, when the expected log
    id was given."""
    log_id: str | None = None
    """The id the sink gives its log (named in its checkpoints' origins)."""
    covered: int | None = None
    """The size of the widest checkpoint of this log that was found (and whose signature was
    checked, when a key is given): the records past it are not yet covered by a checkpoint, so
    their deletion from the tail could not be detected."""
    repairs: list[str] = dataclasses.field(default_factory=list)
    """Torn writes the sink found and repaired when it was opened (reported, not failures)."""
    erased_payloads: list[int] = dataclasses.field(default_factory=list)
    """Sequence numbers of the format 2 records whose payload was erased (reported, not failures:
    their envelopes, and so the chain, are intact)."""
    pruned: Pruning | None = None
    """The pruning checkpoint the stored records continue from: records ``0 .. pruned.cut - 1``
    were removed on purpose (reported, not a failure); None when the trail starts at record 0."""
    problems: list[Problem] = dataclasses.field(default_factory=list)
    """What is wrong, by record: problems of their own and (with a ``cause``) follow-on failures,
    at most MAX_PROBLEMS of them."""
    follow_ons: int = 0
    """How many follow-on failures were found in all (``problems`` may hold fewer)."""

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_bad_seq(self) -> int | None:
        return self.problems[0].seq if self.problems else None

    def summary(self) -> str:
        """``OK: N records, root …`` or ``FAIL: record #i: what``, saying how many more problems
        and follow-on failures there are."""
        if self.problems:
            first = self.problems[0]
            others = sum(1 for p in self.problems if p.cause is None) - 1
            counts = []
            if others:
                counts.append(f"{others} more {_plural(others, 'problem')}")
            if self.follow_ons:
                caused_by = "them" if others else "it"
                counts.append(
                    f"{self.follow_ons} follow-on {_plural(self.follow_ons, 'failure')} "
                    f"caused by {caused_by}"
                )
            more = f" (and {' and '.join(counts)})" if counts else ""
            return f"FAIL: record #{first.seq}: {first.message}{more}"
        verdict = "OK" if self.key_pinned or not self.signatures_checked else _SELF_ATTESTED
        notes = [f"log {self.log_id}"] if self.log_id else []
        if self.pruned is not None:
            notes.append(self.pruned.summary())
        notes.append(f"{self.checkpoints} checkpoints")
        if self.foreign:
            notes.append(f"{len(self.foreign)} checkpoints of other logs ignored")
        if not self.signatures_checked:
            notes.append("unanchored: no public key given, signatures not checked")
        if self.repairs:
            notes.append(f"torn writes: {len(self.repairs)}, see repairs")
        if self.erased_payloads:
            notes.append(erased_note(self.erased_payloads))
        if self.covered is not None and self.size > self.covered:
            uncovered = self.size - self.covered
            notes.append(
                f"the last {uncovered} {_plural(uncovered, 'record')} not yet under a checkpoint"
            )
        return f"{verdict}: {self.size} records, root {self.root} ({'; '.join(notes)})"

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "sink": self.sink,
            "size": self.size,
            "root": self.root,
            "checkpoints": self.checkpoints,
            "signatures_checked": self.signatures_checked,
            "key_pinned": self.key_pinned,
            "anchored": self.anchored,
            "log_id": self.log_id,
            "covered": self.covered,
            "foreign_checkpoints": list(self.foreign),
            "repairs": list(self.repairs),
            "erased_payloads": list(self.erased_payloads),
            "pruned": self.pruned.to_json() if self.pruned is not None else None,
            "first_bad_seq": self.first_bad_seq,
            "problems": [dataclasses.asdict(p) for p in self.problems],
            "follow_ons": self.follow_ons,
        }


ERASED_SHOWN = 10
"""How many erased payloads' sequence numbers a summary lists before it summarises."""


def erased_note(seqs: list[int]) -> str:
    """``N payloads erased: seqs 3, 7, …`` (the first ``ERASED_SHOWN`` of them)."""
    shown = ", ".join(str(seq) for seq in seqs[:ERASED_SHOWN])
    more = f", … ({len(seqs) - ERASED_SHOWN} more)" if len(seqs) > ERASED_SHOWN else ""
    return f"{len(seqs)} {_plural(len(seqs), 'payload')} erased: {_plural(len(seqs), 'seq')} {shown}{more}"


def _plural(n: int, word: str) -> str:
    return word if n == 1 else f"{word}s"


def follow_ons(problems: list[Problem]) -> list[Problem]:
    """``problems`` (sorted by record) with each follow-on failure given its ``cause``: a link or
    position failure at a record that has, or follows a record that has, a deleted, inserted or
    reordered record before it; a column failure at a modified record (the column still says what
    the bytes said); the stored head and Merkle nodes once records were changed, deleted, inserted,
    rewritten or cut off; a wider or second checkpoint that the same rewrite or fork fails; no anchor
    left once every checkpoint failed its signature. Position failures chain (every record after an
    inserted one is one place off); link failures do not (only the record right after is
    unlinked)."""
    displaced: dict[int, int] = {}
    modified: set[int] = set()
    checkpoint_failures: set[tuple[str, int]] = set()
    signature: int | None = None
    first_changed = min(
        (p.seq for p in problems if p.cause is None and p.kind in _RECORD_CHANGES), default=None
    )
    out = []
    for problem in problems:
        seq, kind, cause = problem.seq, problem.kind, problem.cause
        if cause is None:
            if kind in (INSERTED, LINK):
                cause = displaced.get(seq, displaced.get(seq - 1))
            elif (kind == COLUMN and seq in modified) or (kind, seq) in checkpoint_failures:
                cause = seq
            elif kind == UNANCHORED:
                cause = signature
            elif kind in (HEAD, NODE) and first_changed is not None:
                # The head and nodes were written for the records as they were stored: once a
                # record is changed, deleted, inserted or cut off they no longer fit, because of it.
                cause = first_changed
            if cause is not None:
                problem = dataclasses.replace(problem, cause=cause)
        if kind == MODIFIED:
            modified.add(seq)
        elif kind in (DELETED, INSERTED):
            displaced.setdefault(seq, seq if cause is None else cause)
        elif kind in (REWRITTEN, FORK):
            checkpoint_failures.add((kind, seq))
        elif kind == SIGNATURE and signature is None:
            signature = seq
        out.append(problem)
    return out


__all__ = ["MAX_PROBLEMS", "ORDER", "Problem", "ProblemKind", "VerifyResult", "follow_ons"]
