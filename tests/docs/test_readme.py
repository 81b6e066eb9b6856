# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Every Python and bash block of the README runs, in order, unless it says why it cannot."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ._blocks import code_blocks

ROOT = Path(__file__).resolve().parents[2]
RUNNABLE = ("python", "bash")


def isolated_env(home: Path) -> dict[str, str]:
    """The environment of a new user: its own home (keys are created there), this venv first on PATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    return env | {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
    }


def run_blocks(path: Path, workdir: Path, langs: tuple[str, ...] = RUNNABLE) -> list[int]:
    """Run the blocks of ``path`` in ``langs`` in ``workdir``; returns the lines of those that ran."""
    env = isolated_env(workdir)
    ran = []
    for block in code_blocks(path):
        if block.lang not in langs or block.not_run is not None:
            continue
        if block.lang == "python":
            args = [sys.executable, "-c", block.code]
        else:
            args = ["bash", "-euo", "pipefail", "-c", block.code]
        proc = subprocess.run(
            args, cwd=workdir, env=env, capture_output=True, text=True, timeout=300, check=False
        )
        assert proc.returncode == 0, f"{path.name} line {block.line}: {proc.stdout}{proc.stderr}"
        ran.append(block.line)
    return ran


def test_readme_blocks_run(tmp_path):
    """Every Python and bash block of the README not marked `not run` runs and exits 0."""
    ran = run_blocks(ROOT / "README.md", tmp_path)
    assert len(ran) >= 2
    assert (tmp_path / "toolaudit.db").exists()


def test_readme_blocks_not_run_say_why():
    """A README block is skipped only with a `<!-- not run: why -->` marker that gives a reason."""
    blocks = [b for b in code_blocks(ROOT / "README.md") if b.lang in RUNNABLE]
    assert blocks
    assert [b.line for b in blocks if b.not_run == ""] == []


def test_quickstart_page_python_runs(tmp_path):
    """The Python example of docs/quickstart.md runs as printed."""
    assert run_blocks(ROOT / "docs" / "quickstart.md", tmp_path, ("python",))
