# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The built wheel ships the type marker and takes its version from version.py alone."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from opentelemetry_instrumentation_toolaudit.version import __version__

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    (path,) = out.glob("*.whl")
    return zipfile.ZipFile(path)


def test_wheel_ships_py_typed(wheel):
    """The wheel holds opentelemetry_instrumentation_toolaudit/py.typed, so type checkers use its hints."""
    assert "opentelemetry_instrumentation_toolaudit/py.typed" in wheel.namelist()


def test_wheel_version_is_version_py(wheel):
    """The wheel's metadata version is the one in version.py."""
    (metadata,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
    version = re.search(r"^Version: (.+)$", wheel.read(metadata).decode(), re.MULTILINE)
    assert version is not None and version.group(1) == __version__


def test_version_is_defined_once():
    """pyproject.toml reads the version from version.py and states none of its own."""
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert ("version" in project["project"], project["project"]["dynamic"]) == (False, ["version"])
    assert project["tool"]["hatch"]["version"]["path"].endswith("version.py")


def test_no_homepage_of_another_project():
    """The project's URLs, if any, do not point at another project's repository."""
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    urls = project.get("urls", {})
    assert [u for u in urls.values() if "opentelemetry-python-contrib" in u] == []
