# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Inclusion proofs: show one record is in the log a signed checkpoint commits to.

A proof is a JSON object holding everything but the trust anchor: the record's canonical bytes, its
position, the RFC 9162 audit path and the signed checkpoint. :func:`check_proof` needs only that and
the log's public key, not the log itself, so a record can be handed to an auditor on its own.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

from opentelemetry_instrumentation_toolaudit._exceptions import VerificationError
from opentelemetry_instrumentation_toolaudit.ledger._chain import leaf_hash
from opentelemetry_instrumentation_toolaudit.ledger._checkpoint import (
    Checkpoint,
    NoteVerifier,
    open_checkpoint,
    readable_checkpoints,
)
from opentelemetry_instrumentation_toolaudit.ledger._merkle import inclusion_proof, verify_inclusion
from opentelemetry_instrumentation_toolaudit.ledger.schema import SEQ
from opentelemetry_instrumentation_toolaudit.ledger.stores._base import AuditSink
from opentelemetry_instrumentation_toolaudit.ledger.stores._url import redact_url

PROOF_FORMAT = "toolaudit-inclusion-proof/1"


@dataclasses.dataclass(frozen=True)
class InclusionProof:
    """Record ``seq`` is leaf ``seq`` of the tree of ``tree_size`` records the checkpoint signs."""

    seq: int
    tree_size: int
    leaf_hash: str
    path: tuple[str, ...]
    """Hex hashes, leaf-adjacent first (RFC 9162 ``PATH``)."""
    record: str
    """The record's canonical bytes (UTF-8 text)."""
    checkpoint: str
    """The signed checkpoint note for ``tree_size``."""

    def to_json(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["path"] = list(self.path)
        return {"format": PROOF_FORMAT, **out}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> InclusionProof:
        if not isinstance(data, Mapping) or data.get("format") != PROOF_FORMAT:
            raise VerificationError(f"not a {PROOF_FORMAT} document")
        try:
            return cls(
                seq=int(data["seq"]),
                tree_size=int(data["tree_size"]),
                leaf_hash=str(data["leaf_hash"]),
                path=tuple(str(h) for h in data["path"]),
                record=str(data["record"]),
                checkpoint=str(data["checkpoint"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise VerificationError(
                f"malformed inclusion proof ({type(exc).__name__}: {exc})"
            ) from None


def prove(sink: AuditSink, seq: int, *, checkpoint: str | None = None) -> InclusionProof:
    """An inclusion proof for record ``seq`` against ``checkpoint`` (a signed note), by default the
    latest checkpoint in the sink that covers ``seq``. Costs O(log n) reads on sinks that store
    Merkle nodes (SQLite, PostgreSQL). The proof is checked against the checkpoint's root before
    it is returned (not its signature: that needs the verifier's trusted key); VerificationError
    when it does not lead there."""
    if checkpoint is None:
        readable, _ = readable_checkpoints(sink.checkpoints(), sink.log_id())
        covering = [(cp.size, note) for cp, note in readable if cp.size > seq]
        if not covering:
            raise VerificationError(
                f"no checkpoint covers record #{seq} yet (a checkpoint is written every N records, "
                "every T seconds and on close)"
            )
        checkpoint = max(covering)[1]
    cp, _ = open_checkpoint(checkpoint)
    if not 0 <= seq < cp.size:
        raise VerificationError(
            f"record #{seq} is not covered by the checkpoint for size {cp.size}"
        )
    records = list(sink.read(seq, seq + 1))
    if not records:
        from opentelemetry_instrumentation_toolaudit.ledger._prune import latest

        pruning = latest(sink.checkpoints(), sink.log_id())
        if pruning is not None and seq < pruning.cut:
            raise VerificationError(f"it was pruned ({pruning.summary()})")
        raise VerificationError(f"record #{seq} is not in {redact_url(sink.url)}")
    try:
        text = records[0].canonical.decode("utf-8")
    except UnicodeDecodeError:
        raise VerificationError(
            f"record #{seq} is not UTF-8 text: a modified record (run `toolaudit verify`)"
        ) from None
    path = inclusion_proof(seq, cp.size, sink.subtree_hash)
    # Built from what the sink stored (entry hash, Merkle nodes): checked against the signed root
    # before it is handed out, so a proof that check_proof would reject is never returned.
    try:
        if leaf_hash(records[0].canonical).hex() != records[0].entry_hash:
            raise VerificationError("its bytes do not match its entry hash")
        verify_inclusion(seq, cp.size, bytes.fromhex(records[0].entry_hash), path, cp.root)
    except (VerificationError, ValueError) as exc:
        raise VerificationError(
            f"the proof built from the stored record and Merkle nodes does not lead to the signed "
            f"checkpoint for size {cp.size} ({exc}): the trail was altered (run `toolaudit verify`)"
        ) from None
    return InclusionProof(
        seq=seq,
        tree_size=cp.size,
        leaf_hash=records[0].entry_hash,
        path=tuple(h.hex() for h in path),
        record=text,
        checkpoint=checkpoint,
    )


def check_proof(
    proof: InclusionProof,
    public_key: NoteVerifier,
    *,
    record: bytes | None = None,
) -> Checkpoint:
    """Check ``proof`` offline: the checkpoint is signed by ``public_key``, the record (``record`` if
    given, else the one in the proof) hashes to the leaf, and the path leads from the leaf to the
    checkpoint's root. Returns the checkpoint; raises VerificationError saying what failed."""
    checkpoint, _ = open_checkpoint(proof.checkpoint, [public_key])
    if checkpoint.size != proof.tree_size:
        raise VerificationError(
            f"the proof is for a tree of {proof.tree_size} records but the checkpoint signs {checkpoint.size}"
        )
    data = record if record is not None else proof.record.encode("utf-8")
    leaf = leaf_hash(data)
    if leaf.hex() != proof.leaf_hash:
        raise VerificationError("the record does not hash to the proof's leaf hash")
    try:
        claimed_seq = json.loads(data).get(SEQ)
    except (ValueError, AttributeError, RecursionError):
        raise VerificationError("the record is not a JSON object") from None
    if claimed_seq != proof.seq:
        raise VerificationError(
            f"the record says it is #{claimed_seq}, the proof places it at #{proof.seq}"
        )
    try:
        path = [bytes.fromhex(h) for h in proof.path]
    except ValueError:
        raise VerificationError("the proof's path is not hex") from None
    verify_inclusion(proof.seq, checkpoint.size, leaf, path, checkpoint.root)
    return checkpoint
