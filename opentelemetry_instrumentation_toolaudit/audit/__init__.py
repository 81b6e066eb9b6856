# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Deprecated aliases of :mod:`opentelemetry_instrumentation_toolaudit.ledger`, kept for one release.

The audit trail's core (records, chain, checkpoints, stores, verification, proofs) lives in
:mod:`opentelemetry_instrumentation_toolaudit.ledger`; import it from there. Reading a name from this
module still works and emits a :class:`DeprecationWarning` naming the new place.
"""

from __future__ import annotations

import warnings
from typing import Any

_MOVED = frozenset(
    {
        "DEFAULT_SINK_URL",
        "GENESIS_HASH",
        "AuditLog",
        "AuditSink",
        "Checkpoint",
        "InclusionProof",
        "NoteSigner",
        "NoteVerifier",
        "Problem",
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
    }
)

__all__ = sorted(_MOVED)


def __getattr__(name: str) -> Any:
    # Resolved on first use, so importing this module neither warns nor loads the ledger.
    if name not in _MOVED:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    warnings.warn(
        f"opentelemetry_instrumentation_toolaudit.audit.{name} is deprecated; import it from "
        "opentelemetry_instrumentation_toolaudit.ledger",
        DeprecationWarning,
        stacklevel=2,
    )
    from opentelemetry_instrumentation_toolaudit import ledger

    return getattr(ledger, name)
