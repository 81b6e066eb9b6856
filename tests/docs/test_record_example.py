# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The worked example in docs/record-format.md is what the package computes, and its hashes
follow from the bytes shown by the rules the page states."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import re
import sys
from pathlib import Path

from opentelemetry_instrumentation_toolaudit.ledger import NoteVerifier
from opentelemetry_instrumentation_toolaudit.ledger._checkpoint import open_checkpoint

DOCS = Path(__file__).resolve().parents[2] / "docs"
PAGE = DOCS / "record-format.md"


def _generator():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(
        "gen_record_example", DOCS / "gen_record_example.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("gen_record_example", module)
    spec.loader.exec_module(module)
    return module


def test_the_example_is_generated_by_the_package() -> None:
    """The page's example section is exactly what docs/gen_record_example.py prints now."""
    page = PAGE.read_text(encoding="utf-8")
    assert _generator().render(page) == page


def test_the_example_hashes_follow_from_the_bytes_shown() -> None:
    """Recomputed with hashlib from the page alone: payload hash, entry hashes, chain link, Merkle
    root and the checkpoint's signature."""
    page = PAGE.read_text(encoding="utf-8").split("## Worked example", 1)[1]
    blocks = re.findall(r"```json\n(\{\"[^\n]*)\n```", page)  # the canonical (one-line) blocks
    payload, envelope0, envelope1 = (b.encode() for b in blocks)
    assert f'"payload_hash":"{hashlib.sha256(payload).hexdigest()}"'.encode() in envelope0
    leaf0 = hashlib.sha256(b"\x00" + envelope0).digest()
    leaf1 = hashlib.sha256(b"\x00" + envelope1).digest()
    assert f'"prev_hash":"{leaf0.hex()}"'.encode() in envelope1
    hashes = re.findall(r"= `([0-9a-f]{64})`", page)
    root = hashlib.sha256(b"\x01" + leaf0 + leaf1).digest()
    assert hashes == [hashlib.sha256(payload).hexdigest(), leaf0.hex(), leaf1.hex(), root.hex()]
    vkey = re.search(r"verifier key: `([^`]+)`", page)
    note = re.search(r"```text\n(.*?)\n```", page, re.S)
    assert vkey is not None and note is not None
    checkpoint, _ = open_checkpoint(note.group(1) + "\n", [NoteVerifier.from_vkey(vkey.group(1))])
    assert (checkpoint.size, base64.b64encode(checkpoint.root).decode()) == (
        2,
        base64.b64encode(root).decode(),
    )
