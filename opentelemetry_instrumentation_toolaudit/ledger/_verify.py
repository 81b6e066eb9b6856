# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Verifying an audit trail: every record, every link, every column, every checkpoint.

:func:`verify` reads the whole sink once. For each record it checks that the stored entry hash is the
hash of the stored bytes (a modified record), that ``prev_hash`` is the previous record's hash (a
deleted, inserted or reordered record), that the sequence numbers run without gaps, and that the
sink's indexed columns say what the canonical bytes say (an edited column). It rebuilds the Merkle
tree as it goes and compares the root at every checkpoint's size with that checkpoint (from the sink
and from a checkpoint directory), after checking the checkpoint's signature with a trusted key (a
rewritten, re-signed chain), its size against the log (a truncated tail), and checkpoints against
each other (a fork: two signed views of history that cannot both be true). It trusts nothing else
the writer stored: every stored Merkle node (which inclusion proofs are built from) is compared
with the node rebuilt from the records, and the stored head (which the next append continues from)
with the head of the records.

The result names the first bad sequence number and what is wrong there. Messages never quote a
record's values.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import threading
from collections.abc import Sequence
from typing import Any

from opentelemetry_instrumentation_toolaudit._exceptions import SinkError, VerificationError
from opentelemetry_instrumentation_toolaudit.ledger._chain import GENESIS_HASH
from opentelemetry_instrumentation_toolaudit.ledger._checkpoint import (
    Checkpoint,
    NoteVerifier,
    load_verifier,
    names_other_log,
    open_checkpoint,
)
from opentelemetry_instrumentation_toolaudit.ledger._merkle import EMPTY_ROOT
from opentelemetry_instrumentation_toolaudit.ledger.stores._base import (
    NODE_MIN_LEVEL,
    AuditSink,
    StoredHead,
    stored_bytes,
)
from opentelemetry_instrumentation_toolaudit.ledger.stores._url import redact_url

# Problem kinds, in the order they are reported when several hit the same record.
MODIFIED = "modified"
DELETED = "deleted"
INSERTED = "inserted"
LINK = "link"
COLUMN = "column"
NODE = "node"
HEAD = "head"
TRUNCATED = "truncated"
REWRITTEN = "rewritten"
SIGNATURE = "signature"
FORK = "fork"
CHECKPOINT = "checkpoint"
UNANCHORED = "unanchored"
REPLACED = "replaced"
_ORDER = {
    k: i
    for i, k in enumerate(
        (
            MODIFIED,
            DELETED,
            INSERTED,
            LINK,
            COLUMN,
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

_LEAF = hashlib.sha256(b"\x00")
_NODE = b"\x01"
_sha256 = hashlib.sha256


@dataclasses.dataclass(frozen=True)
class Problem:
    """One thing wrong with the trail, at the first record it affects."""

    seq: int
    kind: str
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
        notes.append(f"{self.checkpoints} checkpoints")
        if self.foreign:
            notes.append(f"{len(self.foreign)} checkpoints of other logs ignored")
        if not self.signatures_checked:
            notes.append("unanchored: no public key given, signatures not checked")
        if self.repairs:
            notes.append(f"torn writes: {len(self.repairs)}, see repairs")
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
            "first_bad_seq": self.first_bad_seq,
            "problems": [dataclasses.asdict(p) for p in self.problems],
            "follow_ons": self.follow_ons,
        }


def _plural(n: int, word: str) -> str:
    return word if n == 1 else f"{word}s"


@dataclasses.dataclass(frozen=True)
class _Seen:
    """A checkpoint that parsed and (when a key is given) carries a valid signature."""

    source: str
    checkpoint: Checkpoint


def _verifiers(
    public_key: NoteVerifier | str | Sequence[NoteVerifier] | None,
) -> list[NoteVerifier]:
    if public_key is None:
        return []
    if isinstance(public_key, NoteVerifier):
        return [public_key]
    if isinstance(public_key, str):
        return [load_verifier(public_key)]
    return list(public_key)


def verify(
    sink: AuditSink,
    *,
    public_key: NoteVerifier | str | Sequence[NoteVerifier] | None = None,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    log_id: str | None = None,
    key_pinned: bool = True,
) -> VerifyResult:
    """Check the whole trail in ``sink``; see the module docstring. ``public_key`` is a
    :class:`NoteVerifier`, a verifier key's text or a file holding it; without one, checkpoint
    signatures are not checked (and the result says so). Raises SinkError when the sink cannot be
    read at all.

    ``log_id`` is the id the verifier expects this log to have, known from outside the sink (the
    sink stores its id, so whoever rewrites the sink chooses it). Given, a sink with another id
    fails (``replaced``) and checkpoints naming other logs are ignored: a checkpoint directory
    shared by several logs. Not given, a trusted checkpoint naming another log fails: the trail
    was replaced by a new log, or the directory is shared and ``log_id`` is needed.

    ``key_pinned=False`` says ``public_key`` was found beside the writer's signing key rather than
    pinned by the verifier: the result then calls itself self-attested."""
    verifiers = _verifiers(public_key)
    problems: list[Problem] = []
    notes: list[tuple[str, str | None]] = [("sink", n) for n in sink.checkpoints()]
    if checkpoint_dir is not None:
        from opentelemetry_instrumentation_toolaudit.ledger._auditlog import read_checkpoint_dir

        try:
            notes += [
                (f"{os.fspath(checkpoint_dir)}/{name}", n)
                for name, n in read_checkpoint_dir(checkpoint_dir)
            ]
        except OSError as exc:
            raise SinkError(
                f"cannot read the checkpoint directory {os.fspath(checkpoint_dir)}: {exc.strerror}"
            ) from None
    own_id = sink.log_id()
    if log_id is not None and own_id != log_id:
        problems.append(
            Problem(
                0,
                REPLACED,
                f"this trail is log {own_id or '(no id)'}, not the expected log {log_id}: "
                "the trail was replaced",
            )
        )
    seen: list[_Seen] = []
    foreign: list[str] = []
    bad_signature: list[tuple[str, Checkpoint, str]] = []
    for source, note in notes:
        if note is None:
            problems.append(Problem(0, CHECKPOINT, f"checkpoint {source} cannot be read"))
            continue
        try:
            checkpoint, _ = open_checkpoint(note)
        except (VerificationError, ValueError, TypeError) as exc:
            why = exc if isinstance(exc, VerificationError) else "malformed checkpoint"
            problems.append(Problem(0, CHECKPOINT, f"checkpoint in {source} is unreadable ({why})"))
            continue
        if names_other_log(checkpoint.origin, log_id or own_id):
            if log_id is None and not _untrusted(note, verifiers):
                named = checkpoint.origin.rsplit("/", 1)[-1]
                problems.append(
                    Problem(
                        0,
                        REPLACED,
                        f"checkpoint {source} (size {checkpoint.size}) is of log {named}, but "
                        f"this trail is log {own_id}: the trail was replaced, or several logs "
                        f"share the checkpoints (then verify with --log-id {own_id} if that is "
                        "the id this log was set up with)",
                    )
                )
            foreign.append(source)
            continue
        if verifiers:
            try:
                open_checkpoint(note, verifiers)
            except VerificationError as exc:
                bad_signature.append((source, checkpoint, str(exc)))
                continue
        seen.append(_Seen(source, checkpoint))

    # Column checks run in SQL on another connection and thread while this one hashes (or in the
    # scan itself, for a sink that says so).
    column_result: list[Any] = []

    def check_columns() -> None:
        try:
            column_result.extend(sink.column_problems())
        except Exception as exc:  # noqa: BLE001 - re-raised on the caller's thread below
            column_result.append(exc)

    wanted = {s.checkpoint.size for s in seen} | {c.size for _, c, _ in bad_signature}
    # Read before the scan: a concurrent append adds records after them, never changes them.
    head = sink.stored_head()
    nodes = {(level, index): h for level, index, h in sink.stored_nodes()}
    if sink.scan_checks_columns:
        size, end, roots, root, scan_problems, heads = _scan(sink, wanted, head, nodes)
        check_columns()
    else:
        worker = threading.Thread(
            target=check_columns, name="toolaudit-verify-columns", daemon=True
        )
        worker.start()
        size, end, roots, root, scan_problems, heads = _scan(sink, wanted, head, nodes)
        worker.join()
    problems += scan_problems
    problems += _node_problems(nodes)
    problems += _head_problems(sink, head, heads, size)
    for item in column_result:
        if isinstance(item, Exception):
            raise item
        seq, what = item
        problems.append(Problem(seq, INSERTED if "seq field" in what else COLUMN, what))

    record_problem_seqs = sorted(
        p.seq for p in problems if p.kind in (MODIFIED, DELETED, INSERTED, LINK)
    )

    def explained(lo: int, hi: int) -> bool:
        return any(lo <= s < hi for s in record_problem_seqs)

    matching = sorted(
        s.checkpoint.size for s in seen if roots.get(s.checkpoint.size) == s.checkpoint.root
    )

    def proven_prefix(limit: int) -> int:
        return max((m for m in matching if m < limit), default=0)

    beyond = [s for s in seen if s.checkpoint.size > size]
    if beyond:
        widest = max(beyond, key=lambda s: s.checkpoint.size)
        # Records deleted from the middle leave fewer records than the last one's number says:
        # the tail is there, and the shortfall follows from the deletion.
        deleted = [p.seq for p in problems if p.kind == DELETED]
        problems.append(
            Problem(
                size,
                TRUNCATED,
                f"the log ends after {size} records but a signed checkpoint ({widest.source}) covers "
                f"{widest.checkpoint.size}"
                + (
                    ": records are missing"
                    if deleted and end >= widest.checkpoint.size
                    else ": truncated tail"
                ),
                deleted[0] if deleted and end >= widest.checkpoint.size else None,
            )
        )
    by_size: dict[int, _Seen] = {}
    compared = 0
    for s in seen:
        cp = s.checkpoint
        if cp.size > size:
            continue
        compared += 1
        other = by_size.setdefault(cp.size, s)
        if other.checkpoint.root != cp.root:
            problems.append(
                Problem(
                    proven_prefix(cp.size),
                    FORK,
                    f"two signed checkpoints for size {cp.size} disagree ({other.source}, {s.source}): fork",
                )
            )
        if roots.get(cp.size) != cp.root:
            start = proven_prefix(cp.size)
            later = [m for m in matching if m > cp.size]
            if later:
                what = (
                    f"the signed checkpoint for size {cp.size} ({s.source}) is not consistent with the signed "
                    f"checkpoint for size {later[0]}, which matches the log: fork"
                )
                problems.append(Problem(start, FORK, what))
            elif not explained(start, cp.size):
                what = (
                    f"records #{start}..#{cp.size - 1} do not match the signed checkpoint for size {cp.size} "
                    f"({s.source}): chain rewritten"
                )
                problems.append(Problem(start, REWRITTEN, what))
    for source, cp, why in bad_signature:
        problems.append(
            Problem(
                proven_prefix(min(cp.size, size)),
                SIGNATURE,
                f"checkpoint for size {cp.size} ({source}) fails signature verification ({why}): chain rewritten or re-signed",
            )
        )
    if (verifiers or checkpoint_dir is not None) and not seen:
        # Without one, an attacker who deletes the checkpoints may rewrite the whole chain.
        where = "signed by this key" if verifiers else "of this log"
        problems.append(
            Problem(
                0,
                UNANCHORED,
                f"no valid checkpoint {where} in the sink"
                + (f" or {os.fspath(checkpoint_dir)}" if checkpoint_dir is not None else "")
                + ": the trail is unanchored (checkpoints deleted?)",
            )
        )
    problems.sort(key=lambda p: (p.seq, _ORDER.get(p.kind, 99)))
    problems = _follow_ons(problems)
    own = [p for p in problems if p.cause is None][:MAX_PROBLEMS]
    following = [p for p in problems if p.cause is not None]
    kept = sorted(
        own + following[: MAX_PROBLEMS - len(own)], key=lambda p: (p.seq, _ORDER.get(p.kind, 99))
    )
    return VerifyResult(
        sink=redact_url(sink.url),
        size=size,
        root=root.hex(),
        checkpoints=compared,
        signatures_checked=bool(verifiers),
        key_pinned=bool(verifiers) and key_pinned,
        anchored=bool(seen) and bool(verifiers),
        covered=max((s.checkpoint.size for s in seen), default=None),
        foreign=foreign,
        log_id=own_id,
        repairs=sink.repairs(),
        problems=kept,
        follow_ons=len(following),
    )


def _follow_ons(problems: list[Problem]) -> list[Problem]:
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


def _untrusted(note: str, verifiers: Sequence[NoteVerifier]) -> bool:
    """Whether a key is given and did not sign ``note`` (a checkpoint of somebody else's log)."""
    if not verifiers:
        return False
    try:
        open_checkpoint(note, verifiers)
    except VerificationError:
        return True
    return False


def _scan(
    sink: AuditSink,
    wanted: set[int],
    head: StoredHead | None,
    nodes: dict[tuple[int, int], bytes],
) -> tuple[int, int, dict[int, bytes], bytes, list[Problem], dict[int, tuple[bytes, str]]]:
    """One pass over the records: hashes, links, sequence numbers, the Merkle roots at ``wanted``
    sizes, the frontier and last hash at the stored head's size, and the stored ``nodes`` (each
    one rebuilt is compared and removed: those left were never rebuilt). Returns the number of
    records, the sequence number after the last one, the roots, the root, the problems and the
    heads. The loop is kept flat because it is the verifier's cost per record."""
    problems: list[Problem] = []
    roots: dict[int, bytes] = {}
    heads: dict[int, tuple[bytes, str]] = {0: (b"", GENESIS_HASH)}
    head_size = head.size if head is not None else -1
    wanted = wanted | {head_size}
    if 0 in wanted:
        roots[0] = EMPTY_ROOT
    # A stored node completes on a leaf whose position ends in NODE_MIN_LEVEL one bits.
    node_mask = (1 << NODE_MIN_LEVEL) - 1 if nodes else -1
    hashes: list[bytes] = []
    size = 0
    prev = GENESIS_HASH
    gaps: list[tuple[int, int, int]] = []
    went_back = 0
    # Where sequence numbers stand against positions: after a deleted record every later one is a
    # place ahead, and that is one problem, not one per record.
    offset = 0
    leaf = _LEAF.copy
    sha = _sha256
    node_prefix = _NODE
    for row_seq, canonical, entry_hash, prev_hash in sink.scan():
        h = leaf()
        if type(canonical) is not bytes or type(entry_hash) is not bytes:
            # Stored values of the wrong type (a damaged or hand-edited row): a modified record.
            canonical, entry_hash = stored_bytes(canonical), b""
        h.update(canonical)
        digest = h.digest()
        # A record's problems are named by the number it should have (its position, shifted by
        # the records missing before it), as the sink's columns name them.
        expected = at = size + offset
        if row_seq != expected and row_seq == size:
            # Back in place after a jump: the jump was a record out of order (see below).
            offset = 0
            at = size
        elif row_seq != expected and len(problems) < MAX_PROBLEMS:
            if row_seq > expected:
                gaps.append((len(problems), size, row_seq))
                missing = (
                    f"record #{expected} is"
                    if row_seq == expected + 1
                    else f"records #{expected}..#{row_seq - 1} are"
                )
                problems.append(
                    Problem(
                        at,
                        DELETED,
                        f"{missing} missing (the next stored record is #{row_seq}): deleted",
                    )
                )
            else:
                # Numbered by its position: falling back shows the jump before was a reordering.
                went_back = went_back or size
                at = size
                problems.append(
                    Problem(
                        at,
                        INSERTED,
                        f"the record stored at position {size} says it is #{row_seq}: inserted or reordered",
                    )
                )
            offset = row_seq - size
        if digest != entry_hash and len(problems) < MAX_PROBLEMS:
            problems.append(
                Problem(at, MODIFIED, "its bytes do not match its entry hash: modified record")
            )
        if prev_hash != prev and len(problems) < MAX_PROBLEMS:
            problems.append(
                Problem(
                    at,
                    LINK,
                    f"its prev_hash is not the hash of the record before it: a record was deleted, inserted or reordered before #{at}",
                )
            )
        # The link is followed through the stored hash, so one modified record is reported once.
        prev = entry_hash.hex()
        node = digest
        s = size
        if s & node_mask == node_mask:
            level = 0
            while s & 1:
                node = sha(node_prefix + hashes.pop() + node).digest()
                s >>= 1
                level += 1
                key = (level, ((size + 1) >> level) - 1)
                if key in nodes and nodes.pop(key) != node:
                    nodes[key] = b""  # compared, and wrong
        else:
            while s & 1:
                node = sha(node_prefix + hashes.pop() + node).digest()
                s >>= 1
        hashes.append(node)
        size += 1
        if size in wanted:
            roots[size] = _fold(hashes)
            if size == head_size:
                heads[size] = (b"".join(hashes), prev)
    end = size + offset
    if went_back:
        # Sequence numbers that jump ahead and later fall back are records out of order, not a deletion.
        for index, position, seq in gaps:
            if position < went_back:
                problems[index] = Problem(
                    position,
                    INSERTED,
                    f"the record stored at position {position} is #{seq}: records reordered",
                )
    return size, end, roots, _fold(hashes), problems, heads


def _node_problems(nodes: dict[tuple[int, int], bytes]) -> list[Problem]:
    """The stored Merkle nodes left after the scan: wrong (marked empty), or not in the tree."""
    problems = []
    for (level, index), stored in sorted(nodes.items(), key=lambda item: item[0][1] << item[0][0]):
        first, last = index << level, ((index + 1) << level) - 1
        if stored == b"":
            what = "does not match them: the node was altered (inclusion proofs built from it are wrong)"
        else:
            what = "is not a node of the tree of the stored records: the node was forged, or records were deleted"
        problems.append(
            Problem(first, NODE, f"the stored Merkle node over records #{first}..#{last} {what}")
        )
    return problems[:MAX_PROBLEMS]


def _head_problems(
    sink: AuditSink, head: StoredHead | None, heads: dict[int, tuple[bytes, str]], size: int
) -> list[Problem]:
    """The stored head against the records: the head of the first ``head.size`` records, and (for
    a sink that writes it with the records) covering every record."""
    if head is None:
        return []
    if head.size > size:
        return [
            Problem(
                size,
                HEAD,
                f"the stored head says the log holds {head.size} records, but it holds {size}: "
                "the head was forged or records were deleted (the next append will fail)",
            )
        ]
    if heads.get(head.size) != (head.frontier, head.prev_hash):
        return [
            Problem(
                head.size,
                HEAD,
                f"the stored head for {head.size} records is not the head of those records: "
                "the head was altered (appends would continue a tree that is not this log's)",
            )
        ]
    latest = sink.stored_head() if sink.head_covers_log else None
    if latest is not None and latest.size < size:
        return [
            Problem(
                latest.size,
                HEAD,
                f"records #{latest.size}..#{size - 1} are past the stored head (size "
                f"{latest.size}): the head was reset or records were added around the sink "
                "(the next append will fail)",
            )
        ]
    return []


def _fold(hashes: list[bytes]) -> bytes:
    if not hashes:
        return EMPTY_ROOT
    node = hashes[-1]
    for left in reversed(hashes[:-1]):
        node = _sha256(_NODE + left + node).digest()
    return node


__all__ = ["Problem", "VerifyResult", "verify"]
