# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Checking witness cosignatures on a trail: ``toolaudit verify --witness VKEY --quorum N``.

The check is made on the log's latest checkpoint in the sink (the widest one): it must carry valid
cosignatures from at least ``quorum`` of the given witnesses. A witness cosigns a checkpoint only
when it is consistent with every checkpoint of that log it cosigned before, so a quorum on the
latest checkpoint vouches for every record under it: a rewritten and re-signed history cannot
collect it. Records appended after that checkpoint are not witnessed yet.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from opentelemetry_instrumentation_toolaudit.witness._core import (
    AuditSink,
    parse_note,
    readable_checkpoints,
)
from opentelemetry_instrumentation_toolaudit.witness._cosign import (
    Cosignature,
    CosignerVerifier,
    cosignatures,
)


@dataclasses.dataclass(frozen=True)
class WitnessReport:
    """What the witness check found on the latest checkpoint."""

    size: int | None
    """The latest checkpoint's size; None when the log has no checkpoint."""
    quorum: int
    cosigned_by: tuple[Cosignature, ...]
    witnessed_size: int
    """The widest checkpoint that has the quorum (0 when none has)."""

    @property
    def ok(self) -> bool:
        return self.size is not None and len(self.cosigned_by) >= self.quorum

    def message(self) -> str:
        if self.size is None:
            return "no checkpoint in the sink for witnesses to have cosigned"
        names = ", ".join(c.name for c in self.cosigned_by) or "none"
        if self.ok:
            return (
                f"the latest checkpoint (size {self.size}) is cosigned by {len(self.cosigned_by)} "
                f"of the given witnesses ({names}; quorum {self.quorum})"
            )
        return (
            f"the latest checkpoint (size {self.size}) has {len(self.cosigned_by)} valid witness "
            f"cosignature(s) ({names}), {self.quorum} required: records from "
            f"#{self.witnessed_size} on are not witnessed (not submitted yet, or a history "
            "the witnesses refused)"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checkpoint_size": self.size,
            "quorum": self.quorum,
            "witnessed_size": self.witnessed_size,
            "cosignatures": [dataclasses.asdict(c) for c in self.cosigned_by],
        }


def check_witnesses(
    sink: AuditSink,
    witnesses: Sequence[CosignerVerifier],
    quorum: int,
    *,
    log_id: str | None = None,
) -> WitnessReport:
    """Count the valid cosignatures by ``witnesses`` on the latest checkpoint of the log in
    ``sink`` (every stored note of that checkpoint counts: the writer stores the cosigned note
    beside the log's own)."""
    readable, _ = readable_checkpoints(sink.checkpoints(), log_id or sink.log_id())
    by_size: dict[int, dict[str, dict[tuple[str, int], Cosignature]]] = {}
    for checkpoint, note in readable:
        text = parse_note(note).text
        found = by_size.setdefault(checkpoint.size, {}).setdefault(text, {})
        for cosignature in cosignatures(note, witnesses):
            found.setdefault((cosignature.name, cosignature.key_id), cosignature)
    if not by_size:
        return WitnessReport(None, quorum, (), 0)
    latest = max(by_size)
    # Two notes of one size with different texts are a fork (verify reports it): the latest
    # checkpoint passes only if one of them has the quorum.
    best = max(by_size[latest].values(), key=len)
    witnessed = [
        size
        for size, texts in by_size.items()
        if any(len(found) >= quorum for found in texts.values())
    ]
    return WitnessReport(latest, quorum, tuple(best.values()), max(witnessed, default=0))
