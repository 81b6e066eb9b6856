# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Exported proof material that other implementations read.

- :func:`to_tlog_proof` / :func:`from_tlog_proof`: the C2SP ``tlog-proof`` format
  (https://c2sp.org/tlog-proof@v1): the header line, an ``extra`` line carrying the record's
  canonical bytes (base64; the leaf is their RFC 9162 leaf hash, so the proof is self-contained),
  ``index N``, the inclusion proof hashes in base64 (leaf's sibling first), a blank line and the
  signed checkpoint verbatim.
- :func:`consistency_document`: a consistency proof between two signed checkpoints of one log
  (``toolaudit-consistency-proof/1``, JSON).
- :func:`tree_document`: every leaf hash (and optionally every record's bytes) and the stored signed
  checkpoints of a log (``toolaudit-tree/1``, JSON), for a verifier that rebuilds the tree on its own.
  For a pruned trail it starts at the cut, with the signed pruning checkpoint whose Merkle frontier
  stands in for the pruned records.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from opentelemetry_instrumentation_toolaudit._exceptions import ToolAuditError, VerificationError
from opentelemetry_instrumentation_toolaudit.witness._core import (
    AuditSink,
    InclusionProof,
    Pruning,
    consistency_proof,
    leaf_hash,
    open_checkpoint,
    readable_checkpoints,
    verify_consistency,
)

TLOG_PROOF_HEADER = "c2sp.org/tlog-proof@v1"
CONSISTENCY_FORMAT = "toolaudit-consistency-proof/1"
TREE_FORMAT = "toolaudit-tree/1"
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,19}")


def to_tlog_proof(proof: InclusionProof) -> str:
    """``proof`` in the C2SP tlog-proof text format (https://c2sp.org/tlog-proof@v1#format)."""
    lines = [
        TLOG_PROOF_HEADER,
        "extra " + base64.b64encode(proof.record.encode("utf-8")).decode(),
        f"index {proof.seq}",
        *(base64.b64encode(bytes.fromhex(h)).decode() for h in proof.path),
    ]
    return "\n".join(lines) + "\n\n" + proof.checkpoint


def is_tlog_proof(data: bytes) -> bool:
    return data.startswith(TLOG_PROOF_HEADER.encode() + b"\n")


def from_tlog_proof(text: str, *, record: bytes | None = None) -> InclusionProof:
    """Parse a tlog-proof; VerificationError naming what is malformed. The leaf is the hash of
    ``record`` when given, else of the ``extra`` data (the record this package writes there)."""
    head, sep, checkpoint = text.partition("\n\n")
    lines = head.split("\n")
    if not sep or lines[0] != TLOG_PROOF_HEADER:
        raise VerificationError(f"not a {TLOG_PROOF_HEADER} proof")
    lines = lines[1:]
    text_record = ""
    if lines and lines[0].startswith("extra "):
        try:
            text_record = base64.b64decode(lines[0][len("extra ") :], validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise VerificationError("the extra line is not base64 of UTF-8 text") from None
        lines = lines[1:]
    if not lines or not lines[0].startswith("index "):
        raise VerificationError("no index line")
    index = lines[0][len("index ") :]
    if not _DECIMAL.fullmatch(index):
        raise VerificationError("the index is not a decimal number without leading zeroes")
    path = []
    for line in lines[1:]:
        try:
            digest = base64.b64decode(line, validate=True)
        except binascii.Error:
            raise VerificationError("a proof line is not base64") from None
        if len(digest) != 32:
            raise VerificationError("a proof line is not a SHA-256 hash")
        path.append(digest.hex())
    cp, _ = open_checkpoint(checkpoint)
    leaf = leaf_hash(text_record.encode("utf-8") if record is None else record)
    return InclusionProof(
        seq=int(index),
        tree_size=cp.size,
        leaf_hash=leaf.hex(),
        path=tuple(path),
        record=text_record,
        checkpoint=checkpoint,
    )


def _signed_checkpoints(sink: AuditSink) -> dict[int, str]:
    """The stored checkpoint notes of this log by size (the last stored one for a size: a note
    the writer stored again with cosignatures added)."""
    readable, _ = readable_checkpoints(sink.checkpoints(), sink.log_id())
    return {cp.size: note for cp, note in readable}


def consistency_document(sink: AuditSink, old_size: int, new_size: int | None) -> dict[str, Any]:
    """A consistency proof from the signed checkpoint for ``old_size`` to the one for
    ``new_size`` (default: the widest), checked before it is returned. ToolAuditError when a size
    has no checkpoint or the sizes are out of order; VerificationError when the proof built from
    the stored records does not lead from one signed root to the other."""
    notes = _signed_checkpoints(sink)
    if new_size is None:
        if not notes:
            raise ToolAuditError("the log has no checkpoint yet")
        new_size = max(notes)
    if old_size > new_size:
        raise ToolAuditError(f"the old size {old_size} is beyond the new size {new_size}")
    for size in (old_size, new_size):
        if size not in notes:
            sizes = ", ".join(str(s) for s in sorted(notes)[-8:]) or "none"
            raise ToolAuditError(
                f"no signed checkpoint for size {size} (latest checkpoint sizes: {sizes})"
            )
    old_cp, _ = open_checkpoint(notes[old_size])
    new_cp, _ = open_checkpoint(notes[new_size])
    proof = consistency_proof(old_size, new_size, sink.subtree_hash)
    try:
        verify_consistency(old_size, new_size, proof, old_cp.root, new_cp.root)
    except VerificationError as exc:
        raise VerificationError(
            f"the proof built from the stored records does not lead from the checkpoint for "
            f"size {old_size} to the one for {new_size} ({exc}): run `toolaudit verify`"
        ) from None
    return {
        "format": CONSISTENCY_FORMAT,
        "old_size": old_size,
        "new_size": new_size,
        "proof": [base64.b64encode(h).decode() for h in proof],
        "old_checkpoint": notes[old_size],
        "new_checkpoint": notes[new_size],
    }


def _pruning_note(sink: AuditSink, first: int) -> str | None:
    """The stored pruning checkpoint note with the widest cut at or before ``first`` (of several
    notes for that cut, the last stored: the one with cosignatures added); None when none is."""
    best: tuple[int, str] | None = None
    readable, _ = readable_checkpoints(sink.checkpoints(), sink.log_id())
    for cp, note in readable:
        try:
            pruning = Pruning.of(cp)
        except VerificationError:
            continue
        if (
            pruning is not None
            and pruning.cut <= first
            and (best is None or pruning.cut >= best[0])
        ):
            best = (pruning.cut, note)
    return best[1] if best is not None else None


def tree_document(sink: AuditSink, *, entries: bool = False) -> dict[str, Any]:
    """Every stored leaf hash of the log (hex, by sequence number) and its stored signed
    checkpoints; with ``entries``, every record's canonical bytes too (base64), so a verifier
    hashes the records itself rather than trusting the stored hashes.

    For a pruned trail the leaves start at ``first``, the first stored record, and
    ``pruning_checkpoint`` is the signed pruning checkpoint for that cut (absent when none is
    stored: a verifier must then fail the document); only the checkpoints at or after ``first``
    are listed, as the leaves under an earlier one are gone."""
    records = list(sink.read(0, None))
    first = records[0].seq if records else 0
    document: dict[str, Any] = {
        "format": TREE_FORMAT,
        "first": first,
        "size": first + len(records),
        "leaf_hashes": [r.entry_hash for r in records],
        "checkpoints": [
            note for size, note in sorted(_signed_checkpoints(sink).items()) if size >= first
        ],
    }
    if first:
        document["pruning_checkpoint"] = _pruning_note(sink, first)
    if entries:
        document["entries"] = [base64.b64encode(r.canonical).decode() for r in records]
    return document
