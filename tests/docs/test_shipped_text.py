# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Shipped text speaks to users: no words about how the project was made."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "opentelemetry_instrumentation_toolaudit"

PROCESS_WORDS = re.compile(
    r"\bthe issue\b|\bissue #?\d+|\bthe issue's\b|\bprevious session\b|\bthis session\b"
    r"|\bthe seeds?\b|\bseeds'|\bseed's\b|\bthis branch\b|\btarget (?:is |was )?not met\b"
    r"|\bmain before\b|\bthe lead\b|\bthis PR\b|\bitem \d+\b",
    re.IGNORECASE,
)


def shipped_files() -> list[Path]:
    files = [ROOT / "README.md", ROOT / "CHANGELOG.md"]
    files += sorted((ROOT / "docs").rglob("*.md"))
    files += sorted((ROOT / "examples").rglob("*.py"))
    return files


def package_strings(path: Path) -> list[tuple[int, str]]:
    """Docstrings and message strings of a module (comments are not shipped text)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    ]


@pytest.mark.parametrize("path", shipped_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_process_words_in_shipped_files(path):
    """README, CHANGELOG, docs and examples never speak of how the project was made."""
    found = [
        (number, match.group(0))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        for match in PROCESS_WORDS.finditer(line)
    ]
    assert found == []


def test_no_process_words_in_package_strings():
    """The package's docstrings and messages never speak of how the project was made."""
    found = [
        (str(path.relative_to(ROOT)), line, match.group(0))
        for path in sorted(PACKAGE.rglob("*.py"))
        for line, text in package_strings(path)
        for match in PROCESS_WORDS.finditer(text)
    ]
    assert found == []


def test_the_word_list_catches_process_words():
    """The word list finds the phrases it is meant to find, and leaves ordinary words alone."""
    caught = [
        "as the issue asks",
        "the seeds' naive chain",
        "measured in the previous session",
        "main before this change",
        "the target not met",
    ]
    assert [text for text in caught if not PROCESS_WORDS.search(text)] == []
    assert PROCESS_WORDS.search("a card issuer prefix; the Ed25519 seed bytes") is None
