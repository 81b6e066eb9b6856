# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The witness: C2SP tlog-witness ``add-checkpoint`` (https://c2sp.org/tlog-witness), transport-free.

:meth:`Witness.add_checkpoint` takes a request body (``old <size>``, consistency proof lines, a
blank line, a signed checkpoint) and answers as the spec says: 200 with a cosignature line
(https://c2sp.org/tlog-cosignature), 400 for a malformed request or an old size beyond the
checkpoint's, 404 for an origin it does not witness, 403 when no trusted key of that log signed the
checkpoint, 409 (``text/x.tlog.size`` body: the size it last cosigned) when the old size is not the
size it last cosigned or when it repeats that size with another root, 422 when the consistency
proof does not verify. Only a checkpoint consistent with the last one cosigned for its origin is
cosigned, and the new state is persisted before the answer. A signed checkpoint refused with 409
for another root at the same size, or with 422, is kept as evidence of the log's misbehaviour.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import re
import threading
from collections.abc import Sequence

from opentelemetry_instrumentation_toolaudit._exceptions import VerificationError
from opentelemetry_instrumentation_toolaudit._log import logger
from opentelemetry_instrumentation_toolaudit.witness._core import (
    Checkpoint,
    NoteVerifier,
    parse_note,
    verify_consistency,
)
from opentelemetry_instrumentation_toolaudit.witness._cosign import Cosigner
from opentelemetry_instrumentation_toolaudit.witness._state import LogHead, WitnessState

SIZE_CONTENT_TYPE = "text/x.tlog.size"
MAX_PROOF_LINES = 63
MAX_BODY_BYTES = 64 * 1024
_OLD = re.compile(r"old (0|[1-9][0-9]{0,19})")


@dataclasses.dataclass(frozen=True)
class Response:
    status: int
    body: str
    content_type: str = "text/plain; charset=utf-8"


@dataclasses.dataclass(frozen=True)
class LogKey:
    """A log the witness vouches for: its verifier key, and the one origin it may use (None: the
    key's name, or ``<key name>/<log id>`` for any log id, each origin witnessed on its own)."""

    verifier: NoteVerifier
    origin: str | None = None

    @classmethod
    def parse(cls, spec: str) -> LogKey:
        """``VKEY`` or ``ORIGIN=VKEY``; VerificationError when malformed."""
        origin, sep, vkey = spec.rpartition("=")
        if sep and not origin:
            raise VerificationError("empty origin before '='")
        return cls(NoteVerifier.from_vkey(vkey), origin or None)

    def covers(self, origin: str) -> bool:
        if self.origin is not None:
            return origin == self.origin
        name = self.verifier.name
        return origin == name or origin.startswith(f"{name}/")


def _conflict(size: int) -> Response:
    return Response(409, f"{size}\n", SIZE_CONTENT_TYPE)


class Witness:
    """Cosigns checkpoints of the logs in ``log_keys`` with ``cosigner``, remembering in
    ``state`` the latest one it cosigned for each origin. Thread-safe."""

    def __init__(self, cosigner: Cosigner, log_keys: Sequence[LogKey], state: WitnessState) -> None:
        self.cosigner = cosigner
        self.log_keys = list(log_keys)
        self.state = state
        self._lock = threading.Lock()

    def add_checkpoint(self, body: bytes) -> Response:
        """Answer one ``POST /add-checkpoint``."""
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return Response(400, "the request is not UTF-8 text\n")
        head, sep, note = text.partition("\n\n")
        lines = head.split("\n")
        match = _OLD.fullmatch(lines[0])
        if not sep or match is None:
            return Response(400, "expected 'old <size>', proof lines, a blank line, a checkpoint\n")
        old_size = int(match.group(1))
        if len(lines) - 1 > MAX_PROOF_LINES:
            return Response(400, f"more than {MAX_PROOF_LINES} consistency proof lines\n")
        proof = []
        for line in lines[1:]:
            try:
                digest = base64.b64decode(line, validate=True)
            except binascii.Error:
                return Response(400, "a consistency proof line is not base64\n")
            if len(digest) != 32:
                return Response(400, "a consistency proof line is not a SHA-256 hash\n")
            proof.append(digest)
        try:
            parsed = parse_note(note)
            checkpoint = Checkpoint.parse(parsed.text)
        except VerificationError as exc:
            return Response(400, f"malformed checkpoint: {exc}\n")
        keys = [k.verifier for k in self.log_keys if k.covers(checkpoint.origin)]
        if not keys:
            return Response(404, "unknown log origin\n")
        try:
            signed = parsed.verified_by(keys)
        except VerificationError:
            signed = []
        if not signed:
            return Response(403, "no trusted key of this log signed the checkpoint\n")
        if old_size > checkpoint.size:
            return Response(400, "the old size is beyond the checkpoint's size\n")
        with self._lock:
            return self._update(checkpoint, parsed.text, note, old_size, proof)

    def _update(
        self, checkpoint: Checkpoint, text: str, note: str, old_size: int, proof: list[bytes]
    ) -> Response:
        # Check and persist under one lock: two requests must never roll the state back.
        latest = self.state.get(checkpoint.origin)
        latest_size = latest.size if latest is not None else 0
        if old_size != latest_size:
            return _conflict(latest_size)
        if latest is not None and checkpoint.size == latest.size:
            if checkpoint.root != latest.root:
                logger.warning(
                    "toolaudit witness: %s presented two roots for size %d (kept in %s)",
                    checkpoint.origin,
                    checkpoint.size,
                    self.state.keep_evidence(note),
                )
                return _conflict(latest_size)
        elif latest is not None:
            try:
                verify_consistency(
                    latest.size, checkpoint.size, proof, latest.root, checkpoint.root
                )
            except VerificationError:
                logger.warning(
                    "toolaudit witness: %s: checkpoint %d is not consistent with %d (kept in %s)",
                    checkpoint.origin,
                    checkpoint.size,
                    latest.size,
                    self.state.keep_evidence(note),
                )
                return Response(422, "the consistency proof does not verify\n")
        elif proof:
            return Response(422, "a consistency proof from size 0 must be empty\n")
        try:
            self.state.put(checkpoint.origin, LogHead(checkpoint.size, checkpoint.root, note))
        except OSError as exc:
            logger.error("toolaudit witness: cannot persist its state: %s", exc.strerror)
            return Response(503, "the witness cannot persist its state\n")
        return Response(200, self.cosigner.cosign(text))
