# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Witnesses: cosignatures that hold a log to one history, even against its operator.

A hash chain and signed checkpoints prove nothing against whoever holds the signing key: they can
rewrite the records and sign again. A witness (C2SP tlog-witness) remembers the latest checkpoint it
cosigned for each log and cosigns a new one only with a consistency proof from it, so a rewritten
history never gets its cosignature.

Usage
-----

Run a witness (``pip install 'opentelemetry-instrumentation-toolaudit[witness]'``)::

    toolaudit witness --key witness.key --state /var/lib/toolaudit-witness \\
        --listen 127.0.0.1:7380 --log-key "$(cat ~/.config/toolaudit/signing.key.pub)"

Point the writer at it, and require its cosignature when verifying::

    OTEL_PYTHON_TOOLAUDIT_WITNESSES="http://127.0.0.1:7380=$(cat witness.key.pub)"
    toolaudit verify sqlite:///toolaudit.db --witness witness.key.pub --quorum 1

Configuration: ``OTEL_PYTHON_TOOLAUDIT_WITNESSES``, ``OTEL_PYTHON_TOOLAUDIT_WITNESS_TIMEOUT``.
"""

from __future__ import annotations

from opentelemetry_instrumentation_toolaudit.witness._client import (
    WitnessEndpoint,
    WitnessSubmitter,
    parse_witnesses,
    witnesses_from_env,
)
from opentelemetry_instrumentation_toolaudit.witness._cosign import (
    Cosignature,
    Cosigner,
    CosignerVerifier,
    cosignatures,
)
from opentelemetry_instrumentation_toolaudit.witness._formats import (
    consistency_document,
    from_tlog_proof,
    to_tlog_proof,
    tree_document,
)
from opentelemetry_instrumentation_toolaudit.witness._quorum import WitnessReport, check_witnesses
from opentelemetry_instrumentation_toolaudit.witness._state import WitnessState
from opentelemetry_instrumentation_toolaudit.witness._witness import LogKey, Response, Witness

__all__ = [
    "Cosignature",
    "Cosigner",
    "CosignerVerifier",
    "LogKey",
    "Response",
    "Witness",
    "WitnessEndpoint",
    "WitnessReport",
    "WitnessState",
    "WitnessSubmitter",
    "check_witnesses",
    "consistency_document",
    "cosignatures",
    "from_tlog_proof",
    "parse_witnesses",
    "to_tlog_proof",
    "tree_document",
    "witnesses_from_env",
]
