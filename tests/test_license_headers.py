# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Every Python file carries the license header, as the OpenTelemetry contrib packages do."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEADER = "# Copyright The toolaudit Authors\n# SPDX-License-Identifier: Apache-2.0\n"


def test_every_python_file_has_the_license_header():
    """Each tracked .py file starts with the copyright and SPDX lines (after a shebang)."""
    tracked = subprocess.run(
        ["git", "ls-files", "*.py"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    missing = []
    for name in tracked:
        text = (ROOT / name).read_text(encoding="utf-8")
        if text.startswith("#!"):
            text = text.split("\n", 1)[1]
        if not text.startswith(HEADER):
            missing.append(name)
    assert missing == []
    assert (ROOT / "LICENSE").read_text(encoding="utf-8").lstrip().startswith("Apache License")
