# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The trail's lifecycle: removing expired payloads (retention), a subject's payloads (erasure),
and archives of a trail's prefix that verify on their own.

Only payloads (record format 2) are removed: envelopes, and so the hash chain, the Merkle tree and
every signed checkpoint, stay as they were, and ``verify`` reports the removed payloads. Each
removal is recorded as an ``admin`` event, followed by a signed checkpoint.
"""

from __future__ import annotations

from opentelemetry_instrumentation_toolaudit.lifecycle._apply import Removal, admin_body, remove
from opentelemetry_instrumentation_toolaudit.lifecycle._archive import (
    ArchiveSink,
    is_archive,
    signed_end,
    write_archive,
)
from opentelemetry_instrumentation_toolaudit.lifecycle._plan import (
    Plan,
    expired,
    of_subject,
    seq_ranges,
)

__all__ = [
    "ArchiveSink",
    "Plan",
    "Removal",
    "admin_body",
    "expired",
    "is_archive",
    "of_subject",
    "remove",
    "seq_ranges",
    "signed_end",
    "write_archive",
]
