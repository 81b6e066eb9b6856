# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The checkpoint directory: signed checkpoints kept as files outside the sink.

Each checkpoint is one file, ``<size, 12 digits>-<first 16 hex of SHA-256(checkpoint body)>.checkpoint``,
holding the signed note as UTF-8 text, created with ``O_EXCL`` (mode 0444, fsynced with its
directory) and never rewritten. The name is unique per origin, size and root, so logs may share a
directory and the same checkpoint written twice is one file. Point the directory at storage the
writer may add files to but not change (a WORM mount, a directory with the sticky bit).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from opentelemetry_instrumentation_toolaudit._exceptions import SinkError
from opentelemetry_instrumentation_toolaudit.ledger._checkpoint import open_checkpoint
from opentelemetry_instrumentation_toolaudit.ledger.stores._base import create_once

CHECKPOINT_SUFFIX = ".checkpoint"


def write_checkpoint_file(directory: str | os.PathLike[str], note: str) -> Path | None:
    """Write ``note`` as a new file in ``directory`` (``O_EXCL``, fsynced); never rewrites a file.
    Returns the path, or None when the same checkpoint is already there."""
    checkpoint, _ = open_checkpoint(note)
    # Named by size and a hash of origin, size and root: logs sharing the directory never collide
    # (even at equal roots), and the same checkpoint twice is one file.
    body_hash = hashlib.sha256(checkpoint.text().encode()).hexdigest()[:16]
    name = f"{checkpoint.size:012d}-{body_hash}{CHECKPOINT_SUFFIX}"
    path = Path(directory) / name
    try:
        return path if create_once(path, note.encode(), 0o444) else None
    except OSError as exc:
        raise SinkError(f"cannot write a checkpoint in {directory}: {exc.strerror}") from None


def read_checkpoint_dir(directory: str | os.PathLike[str]) -> list[tuple[str, str | None]]:
    """``(file name, note)`` for every checkpoint file in ``directory``, by name; the note is None
    for a file that cannot be read. Raises OSError when the directory cannot be listed."""
    out: list[tuple[str, str | None]] = []
    for path in sorted(Path(directory).glob(f"*{CHECKPOINT_SUFFIX}")):
        try:
            out.append((path.name, path.read_text(encoding="utf-8", errors="replace")))
        except OSError:
            out.append((path.name, None))
    return out


__all__ = ["CHECKPOINT_SUFFIX", "read_checkpoint_dir", "write_checkpoint_file"]
