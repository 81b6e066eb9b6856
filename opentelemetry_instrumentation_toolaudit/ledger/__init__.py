# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The audit trail: spans become append-only, hash-chained, signed, verifiable records.

Usage
-----

.. code-block:: python

    from opentelemetry_instrumentation_toolaudit.ledger import AuditLog, open_sink, verify, prove

    log = AuditLog.from_env()            # OTEL_PYTHON_TOOLAUDIT_SINK, signing key, checkpoints
    stored = log.append([body, ...])     # durably committed on return, one write per batch
    log.close()                          # final signed checkpoint

    result = verify(open_sink("sqlite:///toolaudit.db", create=False), public_key="signing.key.pub")
    result.ok, result.summary()          # 'OK: N records, root …' or 'FAIL: record #i: what'
"""

from __future__ import annotations

from opentelemetry_instrumentation_toolaudit.ledger._auditlog import AuditLog
from opentelemetry_instrumentation_toolaudit.ledger._chain import GENESIS_HASH, StoredRecord
from opentelemetry_instrumentation_toolaudit.ledger._checkpoint import (
    Checkpoint,
    NoteSigner,
    NoteVerifier,
    default_key_path,
    load_trusted_keys,
    public_key_path,
)
from opentelemetry_instrumentation_toolaudit.ledger._problems import (
    Problem,
    ProblemKind,
    VerifyResult,
)
from opentelemetry_instrumentation_toolaudit.ledger._proof import InclusionProof, check_proof, prove
from opentelemetry_instrumentation_toolaudit.ledger._selection import Selection
from opentelemetry_instrumentation_toolaudit.ledger._verify import verify
from opentelemetry_instrumentation_toolaudit.ledger.stores import (
    DEFAULT_SINK_URL,
    AuditSink,
    TreeHead,
    open_sink,
    sink_url_for,
)

__all__ = [
    "DEFAULT_SINK_URL",
    "GENESIS_HASH",
    "AuditLog",
    "AuditSink",
    "Checkpoint",
    "InclusionProof",
    "NoteSigner",
    "NoteVerifier",
    "Problem",
    "ProblemKind",
    "Selection",
    "StoredRecord",
    "TreeHead",
    "VerifyResult",
    "check_proof",
    "default_key_path",
    "load_trusted_keys",
    "open_sink",
    "prove",
    "public_key_path",
    "sink_url_for",
    "verify",
]
