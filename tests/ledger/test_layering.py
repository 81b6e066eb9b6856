# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The ledger is a core without OpenTelemetry, and loads its heavy dependencies only when used."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from opentelemetry_instrumentation_toolaudit import ledger

LEDGER_DIR = Path(ledger.__file__).parent


def _imported_modules(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def _forbidden(path: Path) -> list[str]:
    return [
        name
        for name in _imported_modules(path)
        if name == "opentelemetry"
        or name.startswith("opentelemetry.")
        or name.startswith("opentelemetry_instrumentation_toolaudit.audit")
        or name.startswith("opentelemetry_instrumentation_toolaudit.redaction")
    ]


@pytest.mark.parametrize(
    "path", sorted(LEDGER_DIR.rglob("*.py")), ids=lambda p: str(p.relative_to(LEDGER_DIR))
)
def test_no_ledger_module_imports_opentelemetry(path: Path) -> None:
    """No module under ledger/ imports OpenTelemetry, the exporter side or the redaction package."""
    assert _forbidden(path) == []


def test_the_import_walker_sees_an_opentelemetry_import(tmp_path: Path) -> None:
    """The layering check finds a plain, a from- and a nested OpenTelemetry import."""
    source = tmp_path / "m.py"
    source.write_text(
        "import opentelemetry.trace\n"
        "def f():\n    from opentelemetry.sdk.trace import ReadableSpan\n",
        encoding="utf-8",
    )
    assert _forbidden(source) == ["opentelemetry.trace", "opentelemetry.sdk.trace"]


def _modules_after(statement: str) -> set[str]:
    code = f"import sys\n{statement}\nprint('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    return set(out.split())


def test_importing_the_ledger_does_not_import_cryptography() -> None:
    """Importing the ledger loads neither cryptography nor a database driver."""
    loaded = _modules_after("import opentelemetry_instrumentation_toolaudit.ledger")
    assert set() == {m for m in loaded if m.split(".")[0] in ("cryptography", "psycopg")}


def test_using_a_key_imports_cryptography() -> None:
    """cryptography is loaded once a signing key is made (the lazy import still works)."""
    loaded = _modules_after(
        "from opentelemetry_instrumentation_toolaudit.ledger import NoteSigner\n"
        "NoteSigner.generate('example.org/log')"
    )
    assert "cryptography" in loaded
