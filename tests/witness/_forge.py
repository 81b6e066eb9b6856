# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The log operator's attack: rewrite history and sign it again with the real key."""

from __future__ import annotations

import urllib.error
import urllib.request

from opentelemetry_instrumentation_toolaudit.ledger import Checkpoint, NoteSigner
from opentelemetry_instrumentation_toolaudit.ledger._checkpoint import (
    open_checkpoint,
    sign_checkpoint,
)
from opentelemetry_instrumentation_toolaudit.ledger._merkle import root_from_leaf_hashes
from tests.audit._tamper import (
    read_checkpoints,
    read_rows,
    reseal_from,
    write_checkpoints,
    write_rows,
)


def rewrite_and_resign(url: str, signer: NoteSigner, seq: int) -> list[str]:
    """Change record ``seq``, re-seal the chain from there, store the new head, and replace every
    checkpoint (cosigned ones included) by one for the same size signed with ``signer`` over the
    forged records. Returns the forged notes, oldest first."""
    old_notes = read_checkpoints(url)
    checkpoints = [open_checkpoint(note)[0] for note in old_notes]
    rows = read_rows(url)
    rows[seq]["canonical"] = rows[seq]["canonical"].replace(b'"ORD-', b'"ORD-X')
    rows = reseal_from(rows, seq)
    write_rows(url, rows)
    leaves = [row["entry_hash"] for row in rows]
    sizes = sorted({cp.size for cp in checkpoints})
    origin = checkpoints[0].origin
    notes = [
        sign_checkpoint(Checkpoint(origin, size, root_from_leaf_hashes(leaves[:size])), signer)
        for size in sizes
    ]
    write_checkpoints(url, notes)
    return notes


def add_checkpoint(url: str, body: str) -> tuple[int, str, str]:
    """POST ``body`` to a witness's add-checkpoint; (status, content type, body)."""
    request = urllib.request.Request(f"{url}/add-checkpoint", data=body.encode(), method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers["Content-Type"], error.read().decode()
