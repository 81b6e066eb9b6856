# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The seeds' naive audit log, as the baseline the durable sinks are measured against.

This is the ``ImmutableAuditLog`` of the domain seed (a lesson on auditing tool calls): an in-memory
list of ``AuditEntry`` dicts, each chained with ``sha256(json.dumps(entry, sort_keys=True))`` over
the entry plus the previous hash. It loses everything on exit, cannot detect a truncated tail or a
rewritten chain, and its JSON is not canonical; it is here only to be beaten.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class AuditEntry:
    """A single audit log entry for a tool call (the seed's fields)."""

    timestamp: str
    conversation_id: str
    turn_number: int
    user_id: str
    tool_name: str
    arguments: dict[str, Any]
    result_summary: dict[str, Any]
    duration_ms: float
    model: str
    success: bool
    session_metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class ImmutableAuditLog:
    """Append-only audit log with hash chain integrity (the seed's, unchanged in substance)."""

    def __init__(self) -> None:
        self._entries: list[dict[str, Any]] = []
        self._previous_hash = "genesis"

    def append(self, entry: AuditEntry) -> dict[str, Any]:
        entry_dict = entry.to_dict()
        entry_dict["_previous_hash"] = self._previous_hash
        entry_dict["_hash"] = hashlib.sha256(
            json.dumps(entry_dict, sort_keys=True, default=str).encode()
        ).hexdigest()
        self._previous_hash = entry_dict["_hash"]
        self._entries.append(entry_dict)
        return entry_dict

    def verify_integrity(self) -> bool:
        expected_prev = "genesis"
        for entry in self._entries:
            if entry["_previous_hash"] != expected_prev:
                return False
            verify_entry = dict(entry)
            stored_hash = verify_entry.pop("_hash")
            recalculated = hashlib.sha256(
                json.dumps(verify_entry, sort_keys=True, default=str).encode()
            ).hexdigest()
            if recalculated != stored_hash:
                return False
            expected_prev = stored_hash
        return True
