# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""A witness's memory: the latest checkpoint it cosigned for each log origin, kept on disk.

The state is one JSON file, ``witness-state.json`` in the state directory, replaced atomically
(written to a temporary file, fsynced, renamed over the old one, and the directory fsynced) before
a cosignature is returned, so a restarted witness resumes from the last checkpoint it vouched for.
A lock file held for the life of the process keeps a second witness off the same directory.
Checkpoints the witness refused although their log signed them (two roots for one size, or a
history that is not an extension of the one cosigned) are kept in ``evidence/``.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import fcntl
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import IO

from opentelemetry_instrumentation_toolaudit._exceptions import ToolAuditError

STATE_FILE = "witness-state.json"
LOCK_FILE = "witness.lock"
EVIDENCE_DIR = "evidence"
STATE_FORMAT = "toolaudit-witness-state/1"
MAX_EVIDENCE = 1000
"""Refused checkpoints kept at most (only a holder of a log's key can produce them)."""


@dataclasses.dataclass(frozen=True)
class LogHead:
    """The latest checkpoint a witness cosigned for one origin."""

    size: int
    root: bytes
    note: str
    """The checkpoint as it was submitted (signed by the log)."""


class WitnessState:
    """The latest cosigned checkpoint per origin, persisted in ``directory``. Not thread-safe: the
    witness serialises its check-and-update."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        try:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._lock: IO[str] | None = open(self.directory / LOCK_FILE, "a", encoding="utf-8")  # noqa: SIM115 - held until close()
        except OSError as exc:
            raise ToolAuditError(
                f"cannot use the witness state directory {self.directory}: {exc.strerror}"
            ) from None
        try:
            fcntl.flock(self._lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lock.close()
            self._lock = None
            raise ToolAuditError(
                f"the witness state directory {self.directory} is in use by another witness"
            ) from None
        self.heads = self._load()

    def _load(self) -> dict[str, LogHead]:
        path = self.directory / STATE_FILE
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise ToolAuditError(f"cannot read the witness state {path}: {exc}") from None
        if not isinstance(document, dict) or document.get("format") != STATE_FORMAT:
            raise ToolAuditError(f"{path} is not a witness state file")
        try:
            return {
                origin: LogHead(int(h["size"]), base64.b64decode(h["root"]), str(h["note"]))
                for origin, h in document["logs"].items()
            }
        except (KeyError, TypeError, ValueError) as exc:
            raise ToolAuditError(f"{path}: malformed witness state ({exc})") from None

    def get(self, origin: str) -> LogHead | None:
        return self.heads.get(origin)

    def put(self, origin: str, head: LogHead) -> None:
        """Record ``head`` for ``origin`` durably (raises OSError when it cannot be written; the
        witness then cosigns nothing)."""
        heads = {**self.heads, origin: head}
        document = {
            "format": STATE_FORMAT,
            "logs": {
                o: {"size": h.size, "root": base64.b64encode(h.root).decode(), "note": h.note}
                for o, h in sorted(heads.items())
            },
        }
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".state-")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(document, f, indent=1)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.directory / STATE_FILE)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        dir_fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        self.heads = heads

    def keep_evidence(self, note: str) -> Path | None:
        """Keep a refused checkpoint that its log did sign (a fork or a rewritten history: proof
        of the log's misbehaviour) as ``evidence/<hash>.checkpoint``; None when it is already
        there, when MAX_EVIDENCE files are, or when it cannot be written."""
        directory = self.directory / EVIDENCE_DIR
        name = hashlib.sha256(note.encode()).hexdigest()[:32] + ".checkpoint"
        try:
            directory.mkdir(exist_ok=True, mode=0o700)
            if sum(1 for _ in directory.iterdir()) >= MAX_EVIDENCE:
                return None
            fd = os.open(directory / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
        except OSError:
            return None
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(note)
            f.flush()
            os.fsync(f.fileno())
        return directory / name

    def close(self) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None
