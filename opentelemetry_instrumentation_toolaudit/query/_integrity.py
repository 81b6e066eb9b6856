# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Whether the records a report rests on are intact: checked against a signed checkpoint.

Two methods. ``full`` (the default) runs :func:`~opentelemetry_instrumentation_toolaudit.ledger.verify`
over the trail and accepts it when no record at or before the report's last record is wrong,
nothing is wrong with the trail as a whole (a truncated tail, a rewritten chain, a fork) and a
checkpoint signed by a trusted key covers that record: a record edited, deleted, inserted or
reordered anywhere up to it fails. ``proofs`` checks that each reported record is included
in the tree one such checkpoint signs, all records in one computation (their inclusion proofs'
nodes read at once, each shared node hashed once), which costs O(k log n) for k records rather than
a read of the whole trail, and shows that each reported record is unaltered; it cannot show that no
other record of the subject was deleted (``full`` does).
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Sequence
from typing import Any

from opentelemetry_instrumentation_toolaudit._exceptions import VerificationError
from opentelemetry_instrumentation_toolaudit.ledger import (
    NoteVerifier,
    ProblemKind,
    check_proof,
    prove,
    verify,
)
from opentelemetry_instrumentation_toolaudit.ledger._chain import leaf_hash
from opentelemetry_instrumentation_toolaudit.ledger._checkpoint import (
    open_checkpoint,
    readable_checkpoints,
)
from opentelemetry_instrumentation_toolaudit.ledger._merkle import root_from_leaves, sibling_ranges
from opentelemetry_instrumentation_toolaudit.ledger.schema import SEQ

METHODS = ("full", "proofs")
_RECORD_KINDS = frozenset(
    (
        ProblemKind.MODIFIED,
        ProblemKind.DELETED,
        ProblemKind.INSERTED,
        ProblemKind.LINK,
        ProblemKind.COLUMN,
    )
)


@dataclasses.dataclass(frozen=True)
class Integrity:
    """The verdict on the records up to ``last_seq``: ``verified`` only when they were checked
    against ``checkpoint`` (signed by a trusted key), and ``reason`` says why not."""

    verified: bool
    method: str
    last_seq: int | None
    reason: str | None = None
    checkpoint: dict[str, Any] | None = None
    """The checkpoint the verdict rests on: ``origin``, ``size``, ``root`` (hex)."""
    key_pinned: bool = False

    def to_json(self) -> dict[str, Any]:
        """The verdict as a JSON object."""
        return dataclasses.asdict(self)


def check_integrity(
    sink: Any,
    seqs: Sequence[int],
    verifiers: Sequence[NoteVerifier],
    *,
    method: str = "full",
    key_pinned: bool = False,
) -> Integrity:
    """Check the records ``seqs`` (sorted) of ``sink`` and the trail up to the last of them (the
    whole trail when ``seqs`` is empty); see the module docstring for the two methods."""
    if method not in METHODS:
        raise ValueError(f"integrity method {method!r}: choose one of {', '.join(METHODS)}")
    size = sink.size()
    last = seqs[-1] if seqs else size - 1
    verdict = functools.partial(Integrity, method=method, last_seq=last if last >= 0 else None)
    if not verifiers:
        return verdict(
            False,
            reason="no verifier key to check the checkpoints' signatures with (give "
            "--public-key, or set OTEL_PYTHON_TOOLAUDIT_TRUSTED_KEYS)",
        )
    if last < 0:
        return verdict(False, reason="the trail holds no records")
    checkpoint, note = _covering(sink, last, verifiers)
    if checkpoint is None or note is None:
        return verdict(
            False,
            reason=f"no checkpoint signed by a trusted key covers record #{last} yet (a checkpoint "
            "is written every N records, every T seconds and on close)",
        )
    shown = {"origin": checkpoint.origin, "size": checkpoint.size, "root": checkpoint.root.hex()}
    verdict = functools.partial(verdict, checkpoint=shown, key_pinned=key_pinned)
    if method == "proofs":
        signed, _ = open_checkpoint(note, verifiers)
        try:
            if _all_included(sink, seqs, signed):
                return verdict(True)
        except VerificationError:
            pass  # a node or leaf the paths need is missing: the proofs below say which
        # Something does not lead to the signed root: one proof per record says which and why.
        signer = next(v for v in verifiers if _signed_by(note, v))
        for seq in seqs:
            try:
                check_proof(prove(sink, seq, checkpoint=note), signer)
            except VerificationError as exc:
                return verdict(False, reason=f"record #{seq}: {exc}")
        return verdict(
            False, reason="the reported records do not lead to the signed checkpoint's root"
        )
    result = verify(sink, public_key=list(verifiers), key_pinned=key_pinned)
    # A problem of one record counts up to the report's last record; one of the whole trail (a
    # truncated tail, a rewritten chain, a fork, a replaced log) counts wherever it shows.
    problems = [
        p
        for p in result.problems
        if p.cause is None and (p.seq <= last or p.kind not in _RECORD_KINDS)
    ]
    if problems:
        first = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        return verdict(False, reason=f"record #{first.seq}: {first.message}{more}")
    return verdict(True)


def _all_included(sink: Any, seqs: Sequence[int], checkpoint: Any) -> bool:
    """Whether every record ``seqs`` is included in the tree ``checkpoint`` (already opened with
    a trusted key) signs, checked as one computation: each record's canonical bytes hash to its
    stored entry hash and name its own position, and those leaves with the hashes of their
    audit paths' other nodes (read at once: :meth:`AuditSink.subtree_hashes`) make the
    checkpoint's root. It proves what one inclusion proof per record (:func:`check_proof`)
    proves, the reported records' inclusion, with the nodes their paths share read and hashed
    once; a stored node stands for a whole 256-record block beside a reported record (as for
    every larger subtree), so a changed record there that is not reported is left to
    ``--integrity full``."""
    wanted = sorted(set(seqs))
    if not wanted or not 0 <= wanted[0] <= wanted[-1] < checkpoint.size:
        return False
    leaves: dict[int, bytes] = {}
    for run in _runs(wanted):
        for stored in sink.read(run[0], run[-1] + 1):
            if stored.seq in leaves or stored.seq not in run:
                return False
            leaf = leaf_hash(stored.canonical)
            if leaf.hex() != stored.entry_hash or _claimed_seq(stored.canonical) != stored.seq:
                return False
            leaves[stored.seq] = leaf
    if len(leaves) != len(wanted):
        return False
    siblings = sink.subtree_hashes(sibling_ranges(checkpoint.size, wanted))
    return bool(root_from_leaves(checkpoint.size, leaves, siblings) == checkpoint.root)


def _runs(seqs: Sequence[int]) -> list[range]:
    """``seqs`` (sorted, distinct) as runs of consecutive numbers, each read in one go."""
    runs: list[range] = []
    start = previous = seqs[0]
    for seq in seqs[1:]:
        if seq != previous + 1:
            runs.append(range(start, previous + 1))
            start = seq
        previous = seq
    runs.append(range(start, previous + 1))
    return runs


def _claimed_seq(canonical: bytes) -> Any:
    try:
        return json.loads(canonical).get(SEQ)
    except (ValueError, AttributeError, RecursionError):
        return None


def _covering(sink: Any, last: int, verifiers: Sequence[NoteVerifier]) -> tuple[Any, str | None]:
    """The smallest checkpoint a trusted key signed that covers record ``last``, and its note."""
    readable, _ = readable_checkpoints(sink.checkpoints(), sink.log_id())
    for checkpoint, note in sorted(readable, key=lambda pair: pair[0].size):
        if checkpoint.size <= last:
            continue
        try:
            open_checkpoint(note, verifiers)
        except VerificationError:
            continue
        return checkpoint, note
    return None, None


def _signed_by(note: str, verifier: NoteVerifier) -> bool:
    try:
        open_checkpoint(note, [verifier])
    except VerificationError:
        return False
    return True


def proof_status(
    sink: Any, seq: int, verifiers: Sequence[NoteVerifier], *, key_pinned: bool = False
) -> dict[str, Any]:
    """Whether record ``seq`` of ``sink`` is proven included under a checkpoint, as a JSON object:
    ``included``, ``signature_checked``, the ``checkpoint`` (``origin``, ``size``, ``root``) it is
    proven under (the smallest covering one signed by one of ``verifiers``), or the ``reason`` it
    is not. Without verifiers the proof is checked against the latest covering checkpoint's root
    only, and ``signature_checked`` is false."""
    if not verifiers:
        try:
            proof = prove(sink, seq)
        except VerificationError as exc:
            return {"included": False, "reason": str(exc)}
        return {
            "included": True,
            "signature_checked": False,
            "tree_size": proof.tree_size,
            "reason": "no verifier key: the checkpoint's signature was not checked",
        }
    checkpoint, note = _covering(sink, seq, verifiers)
    if checkpoint is None or note is None:
        return {
            "included": False,
            "reason": f"no checkpoint signed by a trusted key covers record #{seq} yet",
        }
    signer = next(v for v in verifiers if _signed_by(note, v))
    try:
        check_proof(prove(sink, seq, checkpoint=note), signer)
    except VerificationError as exc:
        return {"included": False, "reason": str(exc)}
    return {
        "included": True,
        "signature_checked": True,
        "key_pinned": key_pinned,
        "checkpoint": {
            "origin": checkpoint.origin,
            "size": checkpoint.size,
            "root": checkpoint.root.hex(),
        },
    }
