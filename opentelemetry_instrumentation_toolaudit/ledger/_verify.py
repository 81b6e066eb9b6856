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
import itertools
import os
import threading
from collections.abc import Iterable, Sequence
from typing import Any

from opentelemetry_instrumentation_toolaudit._exceptions import SinkError, VerificationError
from opentelemetry_instrumentation_toolaudit.ledger._checkpoint import (
    NOT_SIGNED,
    Checkpoint,
    NoteVerifier,
    load_verifier,
    names_other_log,
    open_checkpoint,
)
from opentelemetry_instrumentation_toolaudit.ledger._problems import (
    CHECKPOINT,
    COLUMN,
    DELETED,
    FORK,
    INSERTED,
    LINK,
    MAX_PROBLEMS,
    MODIFIED,
    ORDER,
    PRUNING,
    REPLACED,
    REWRITTEN,
    SIGNATURE,
    TRUNCATED,
    UNANCHORED,
    Problem,
    ProblemKind,
    VerifyResult,
    follow_ons,
)
from opentelemetry_instrumentation_toolaudit.ledger._prune import (
    Pruning,
    continue_from,
    pruned_nodes,
)
from opentelemetry_instrumentation_toolaudit.ledger._verify_scan import (
    head_problems,
    node_problems,
    orphan_problems,
    scan_records,
)
from opentelemetry_instrumentation_toolaudit.ledger.schema import DETAILS, EVENT_ADMIN, EVENT_TYPE
from opentelemetry_instrumentation_toolaudit.ledger.stores._base import AuditSink
from opentelemetry_instrumentation_toolaudit.ledger.stores._url import redact_url


@dataclasses.dataclass(frozen=True)
class _Seen:
    """A checkpoint that parsed and (when a key is given) carries a valid signature."""

    source: str
    checkpoint: Checkpoint


@dataclasses.dataclass
class _Checkpoints:
    """Step 1's finding: the checkpoints to judge the records by, and what was wrong with others."""

    seen: list[_Seen]
    bad_signature: list[tuple[str, Checkpoint, str]]
    foreign: list[str]
    problems: list[Problem]


@dataclasses.dataclass
class _Scan:
    """Step 2's finding: what the records are, rebuilt from their bytes alone."""

    size: int
    end: int
    """The sequence number after the last record (beyond ``size`` when records were deleted)."""
    roots: dict[int, bytes]
    root: bytes
    problems: list[Problem]
    erased: list[int] = dataclasses.field(default_factory=list)
    """Sequence numbers of format 2 records whose payload was erased."""


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
    own_id = sink.log_id()
    found = _collect_checkpoints(sink, verifiers, checkpoint_dir, log_id, own_id)
    # A trail pruned at n starts at record n: it continues from its signed pruning checkpoint.
    rows = iter(sink.scan())
    first = next(rows, None)
    start, pruning_problems = continue_from(
        first[0] if first is not None else None, [s.checkpoint for s in found.seen]
    )
    scanned = _scan_store(
        sink,
        {s.checkpoint.size for s in found.seen} | {c.size for _, c, _ in found.bad_signature},
        rows=itertools.chain([first] if first is not None else [], rows),
        start=start,
    )
    problems = found.problems + [Problem(seq, PRUNING, what) for seq, what in pruning_problems]
    problems += scanned.problems
    problems += _pruning_event_problems(sink, found.seen, start, scanned.size)
    problems += _judge(
        found,
        scanned,
        problems,
        signatures_checked=bool(verifiers),
        anchor_expected=bool(verifiers) or checkpoint_dir is not None,
        checkpoint_dir=checkpoint_dir,
        cut=start.cut if start is not None else 0,
    )
    problems.sort(key=lambda p: (p.seq, ORDER.get(p.kind, 99)))
    problems = follow_ons(problems)
    own = [p for p in problems if p.cause is None][:MAX_PROBLEMS]
    following = [p for p in problems if p.cause is not None]
    kept = sorted(
        own + following[: MAX_PROBLEMS - len(own)], key=lambda p: (p.seq, ORDER.get(p.kind, 99))
    )
    return VerifyResult(
        sink=redact_url(sink.url),
        size=scanned.size,
        root=scanned.root.hex(),
        checkpoints=sum(
            1
            for s in found.seen
            if (start.cut if start is not None else 0) <= s.checkpoint.size <= scanned.size
        ),
        signatures_checked=bool(verifiers),
        key_pinned=bool(verifiers) and key_pinned,
        anchored=bool(found.seen) and bool(verifiers),
        covered=max((s.checkpoint.size for s in found.seen), default=None),
        foreign=found.foreign,
        log_id=own_id,
        repairs=sink.repairs(),
        erased_payloads=scanned.erased,
        pruned=start,
        problems=kept,
        follow_ons=len(following),
    )


def _pruning_event_problems(
    sink: AuditSink, seen: Sequence[_Seen], start: Pruning | None, size: int
) -> list[Problem]:
    """The admin event each valid pruning checkpoint names must be in the stored trail (unless a
    later pruning removed it, or the store is an archive ending before it) and be an ``admin``
    record of a pruning: a log cut off before it (``truncated``), or another record there
    (``pruning``), fails."""
    problems: list[Problem] = []
    cut = start.cut if start is not None else 0
    named: dict[int, int] = {}
    for found in seen:
        try:
            pruning = Pruning.of(found.checkpoint)
        except VerificationError:
            continue  # reported as malformed
        if pruning is not None and pruning.event_seq is not None and pruning.event_seq >= cut:
            named.setdefault(pruning.event_seq, pruning.cut)
    for seq, pruned in sorted(named.items()):
        if seq >= size and not sink.holds_log_end:
            continue
        if seq >= size:
            problems.append(
                Problem(
                    size,
                    TRUNCATED,
                    f"the log ends after {size} records but the pruning checkpoint for size "
                    f"{pruned} names admin event #{seq}: truncated tail",
                )
            )
            continue
        stored = next(iter(sink.read(seq, seq + 1)), None)
        record = stored.record if stored is not None and stored.seq == seq else {}
        details = record.get(DETAILS)
        if record.get(EVENT_TYPE) != EVENT_ADMIN or (
            isinstance(details, dict) and details.get("action") != "prune"
        ):
            problems.append(
                Problem(
                    seq,
                    PRUNING,
                    f"the pruning checkpoint for size {pruned} names admin event #{seq}, but "
                    "that record is not the admin event of a pruning",
                )
            )
    return problems


def _collect_checkpoints(
    sink: AuditSink,
    verifiers: Sequence[NoteVerifier],
    checkpoint_dir: str | os.PathLike[str] | None,
    log_id: str | None,
    own_id: str | None,
) -> _Checkpoints:
    """Step 1: every checkpoint (the sink's and the directory's), sorted into those of this log
    with a valid signature, those whose signature fails, and those of other logs."""
    problems: list[Problem] = []
    notes: list[tuple[str, str | None]] = [("sink", n) for n in sink.checkpoints()]
    if checkpoint_dir is not None:
        from opentelemetry_instrumentation_toolaudit.ledger._checkpoint_dir import (
            read_checkpoint_dir,
        )

        try:
            notes += [
                (f"{os.fspath(checkpoint_dir)}/{name}", n)
                for name, n in read_checkpoint_dir(checkpoint_dir)
            ]
        except OSError as exc:
            raise SinkError(
                f"cannot read the checkpoint directory {os.fspath(checkpoint_dir)}: {exc.strerror}"
            ) from None
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
    return _Checkpoints(seen, bad_signature, foreign, problems)


def _scan_store(
    sink: AuditSink,
    wanted: set[int],
    *,
    rows: Iterable[tuple[int, bytes, bytes, str, bytes | None]] | None = None,
    start: Pruning | None = None,
) -> _Scan:
    """Step 2: one pass over the records (the Merkle roots at the ``wanted`` checkpoint sizes),
    the stored nodes and head against that pass, and the indexed columns against the bytes.
    After a pruning (``start``), the stored nodes over pruned records alone cannot be rebuilt:
    those that are frontier subtrees are compared with the frontier, the others left out."""
    # Column checks run in SQL on another connection and thread while this one hashes (or in the
    # scan itself, for a sink that says so).
    column_result: list[Any] = []

    def check_columns() -> None:
        try:
            column_result.extend(sink.column_problems())
        except Exception as exc:  # noqa: BLE001 - re-raised on the caller's thread below
            column_result.append(exc)

    # Read before the scan: a concurrent append adds records after them, never changes them.
    head = sink.stored_head()
    nodes = {(level, index): h for level, index, h in sink.stored_nodes()}
    if start is not None:
        nodes = pruned_nodes(nodes, start)
    if sink.scan_checks_columns:
        scanned = scan_records(sink, wanted, head, nodes, rows=rows, start=start)
        check_columns()
    else:
        worker = threading.Thread(
            target=check_columns, name="toolaudit-verify-columns", daemon=True
        )
        worker.start()
        scanned = scan_records(sink, wanted, head, nodes, rows=rows, start=start)
        worker.join()
    size, end, roots, root, problems, heads = scanned[:6]
    problems += node_problems(nodes)
    problems += head_problems(sink, head, heads, size)
    for item in column_result:
        if isinstance(item, Exception):
            raise item
        seq, what = item
        problems.append(Problem(seq, INSERTED if "seq field" in what else COLUMN, what))
    # A modified, inserted or displaced envelope may commit to another payload: that mismatch
    # follows from it.
    modified = {p.seq for p in problems if p.kind in (MODIFIED, INSERTED, DELETED, LINK)}
    problems += [
        dataclasses.replace(p, cause=p.seq) if p.seq in modified else p
        for p in scanned.payload_problems
    ]
    problems += orphan_problems(sink, scanned.joined)
    return _Scan(size, end, roots, root, problems, scanned.erased)


def _judge(
    found: _Checkpoints,
    scanned: _Scan,
    problems: Sequence[Problem],
    *,
    signatures_checked: bool,
    anchor_expected: bool,
    checkpoint_dir: str | os.PathLike[str] | None,
    cut: int = 0,
) -> list[Problem]:
    """Step 3: the records against the checkpoints: a truncated tail, a fork, a rewritten chain, a
    failed signature, no anchor. ``problems`` (those found so far) explain a rewrite they cause.
    Checkpoints before a pruning ``cut`` are over records no longer stored: not judged."""
    seen, bad_signature = found.seen, found.bad_signature
    size, end, roots = scanned.size, scanned.end, scanned.roots
    problems = list(problems)
    judged: list[Problem] = []
    record_problem_seqs = sorted(
        p.seq for p in problems if p.kind in (MODIFIED, DELETED, INSERTED, LINK)
    )

    def explained(lo: int, hi: int) -> bool:
        return any(lo <= s < hi for s in record_problem_seqs)

    matching = sorted(
        s.checkpoint.size for s in seen if roots.get(s.checkpoint.size) == s.checkpoint.root
    )

    def proven_prefix(limit: int) -> int:
        return max((m for m in matching if m < limit), default=cut)

    beyond = [s for s in seen if s.checkpoint.size > size]
    if beyond:
        widest = max(beyond, key=lambda s: s.checkpoint.size)
        # Records deleted from the middle leave fewer records than the last one's number says:
        # the tail is there, and the shortfall follows from the deletion.
        deleted = [p.seq for p in problems if p.kind == DELETED]
        judged.append(
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
    for s in seen:
        cp = s.checkpoint
        if cp.size > size or cp.size < cut:
            continue
        other = by_size.setdefault(cp.size, s)
        if other.checkpoint.root != cp.root:
            judged.append(
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
                judged.append(Problem(start, FORK, what))
            elif not explained(start, cp.size):
                what = (
                    f"records #{start}..#{cp.size - 1} do not match the signed checkpoint for size {cp.size} "
                    f"({s.source}): chain rewritten"
                )
                judged.append(Problem(start, REWRITTEN, what))
    for source, cp, why in bad_signature:
        if why == NOT_SIGNED and seen:
            # Other checkpoints verify with the key given: this one was put there by someone else.
            what = (
                f"checkpoint for size {cp.size} ({source}) is signed by another key: an injected "
                "or re-signed checkpoint (or one signed with an earlier key that was not given)"
            )
        elif why == NOT_SIGNED:
            # Signed, but none by the keys given: far more often the wrong key than a forgery.
            what = (
                f"checkpoint for size {cp.size} ({source}) is not signed by the given key: "
                "wrong public key, or the checkpoints were re-signed"
            )
        else:
            what = (
                f"checkpoint for size {cp.size} ({source}) fails signature verification ({why}): "
                "the checkpoint was altered or forged"
            )
        judged.append(Problem(proven_prefix(min(cp.size, size)), SIGNATURE, what))
    if anchor_expected and not seen:
        # Without one, an attacker who deletes the checkpoints may rewrite the whole chain.
        where = "signed by this key" if signatures_checked else "of this log"
        judged.append(
            Problem(
                0,
                UNANCHORED,
                f"no valid checkpoint {where} in the sink"
                + (f" or {os.fspath(checkpoint_dir)}" if checkpoint_dir is not None else "")
                + ": the trail is unanchored (checkpoints deleted?)",
            )
        )
    return judged


def _untrusted(note: str, verifiers: Sequence[NoteVerifier]) -> bool:
    """Whether a key is given and did not sign ``note`` (a checkpoint of somebody else's log)."""
    if not verifiers:
        return False
    try:
        open_checkpoint(note, verifiers)
    except VerificationError:
        return True
    return False


__all__ = ["Problem", "ProblemKind", "VerifyResult", "verify"]
