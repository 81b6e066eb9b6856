# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Fenced code blocks of a Markdown file, with the ``<!-- not run: why -->`` marker before them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_FENCE = re.compile(r"^```(?P<lang>[\w+-]*)\n(?P<code>.*?)^```$", re.MULTILINE | re.DOTALL)
_NOT_RUN = re.compile(r"<!--\s*not run:(?P<why>.*?)-->\s*$")


@dataclass
class Block:
    """One fenced block: its language, its code, its line, and why it is not run (or None)."""

    lang: str
    code: str
    line: int
    not_run: str | None


def code_blocks(path: Path) -> list[Block]:
    text = path.read_text(encoding="utf-8")
    blocks = []
    for match in _FENCE.finditer(text):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        marker = _NOT_RUN.search(before)
        blocks.append(
            Block(
                lang=match["lang"],
                code=match["code"],
                line=text.count("\n", 0, match.start()) + 1,
                not_run=marker["why"].strip() if marker else None,
            )
        )
    return blocks
