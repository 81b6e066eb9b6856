# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The names of the audit core that the witness modules use, imported in this one place."""

from __future__ import annotations

from opentelemetry_instrumentation_toolaudit.ledger import (
    AuditSink,
    Checkpoint,
    InclusionProof,
    NoteVerifier,
    Problem,
    ProblemKind,
)
from opentelemetry_instrumentation_toolaudit.ledger._chain import leaf_hash
from opentelemetry_instrumentation_toolaudit.ledger._checkpoint import (
    load_verifier,
    open_checkpoint,
    parse_note,
    readable_checkpoints,
)
from opentelemetry_instrumentation_toolaudit.ledger._merkle import (
    consistency_proof,
    verify_consistency,
)
from opentelemetry_instrumentation_toolaudit.ledger._prune import Pruning
from opentelemetry_instrumentation_toolaudit.ledger.stores._base import reinit_in_forked_child
from opentelemetry_instrumentation_toolaudit.ledger.stores._url import redact_url

__all__ = [
    "AuditSink",
    "Checkpoint",
    "InclusionProof",
    "NoteVerifier",
    "Problem",
    "ProblemKind",
    "Pruning",
    "consistency_proof",
    "leaf_hash",
    "load_verifier",
    "open_checkpoint",
    "parse_note",
    "readable_checkpoints",
    "redact_url",
    "reinit_in_forked_child",
    "verify_consistency",
]
