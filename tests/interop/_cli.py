# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Run the ``toolaudit`` CLI as a real subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def toolaudit(*argv: object, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``toolaudit ARGV...`` in a subprocess; stdout and stderr captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "opentelemetry_instrumentation_toolaudit.cli", *map(str, argv)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        check=False,
    )
