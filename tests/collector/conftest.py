# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.audit.conftest import pg_url  # noqa: F401 - a fixture used by this directory's tests
from tests.collector.harness import BINARY, BUILD_SCRIPT
from tests.serve.conftest import serve_factory  # noqa: F401 - a fixture used here too


@pytest.fixture(scope="session")
def collector_binary() -> Path:
    """The otelcol-toolaudit binary, built by collector/build.sh (quick when it is up to date)."""
    if shutil.which("go") is None:
        reason = "Go is not installed: collector/build.sh cannot build the collector"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    proc = subprocess.run(
        ["bash", str(BUILD_SCRIPT)], capture_output=True, text=True, timeout=1800, check=False
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert BINARY.is_file()
    return BINARY
