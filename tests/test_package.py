# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The package's public surface: __all__, the entry points, the CLI."""

from __future__ import annotations

import subprocess
import sys
import types
from importlib.metadata import entry_points
from pathlib import Path

import pytest

import opentelemetry_instrumentation_toolaudit as pkg
from opentelemetry_instrumentation_toolaudit import ToolAuditInstrumentor, cli

ROOT = Path(__file__).resolve().parent.parent


def test_all_is_sorted_and_complete():
    """Every public name in the package namespace is in __all__, and __all__ is sorted."""
    public = {
        name
        for name, value in vars(pkg).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and name != "annotations"
    }
    assert sorted(pkg.__all__) == pkg.__all__
    assert set(pkg.__all__) - {"__version__"} == public | set(pkg._LAZY)


def test_importing_the_package_loads_no_audit_trail_machinery():
    """Importing the package loads neither cryptography nor the audit trail's verifier, prover or
    exporter; the exporter is loaded when first named."""
    code = (
        "import sys, opentelemetry_instrumentation_toolaudit as t\n"
        "heavy = ('cryptography', 'opentelemetry_instrumentation_toolaudit.ledger',"
        " 'opentelemetry_instrumentation_toolaudit.export')\n"
        "print(sorted({m.split('.')[0] if m.startswith('crypto') else m for m in sys.modules"
        " if m.startswith(heavy)}))\n"
        "t.AuditLogExporter\n"
        "print('opentelemetry_instrumentation_toolaudit.ledger._verify' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.splitlines() == ["[]", "True"]


def test_instrumentor_entry_point():
    """opentelemetry-instrument finds the instrumentor under the name 'toolaudit'."""
    (ep,) = [e for e in entry_points(group="opentelemetry_instrumentor") if e.name == "toolaudit"]
    assert ep.load() is ToolAuditInstrumentor


def test_loads_without_any_framework():
    """The instrumentor declares no framework dependency, so auto-instrumentation always loads it."""
    assert ToolAuditInstrumentor().instrumentation_dependencies() == ()


def test_cli_version(capsys):
    """`toolaudit --version` prints the package version and exits 0."""
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"toolaudit {pkg.__version__}"


def test_cli_console_script():
    """The installed `toolaudit` console script runs."""
    script = Path(sys.executable).with_name("toolaudit")
    proc = subprocess.run([str(script), "--version"], capture_output=True, text=True, check=False)
    assert (proc.returncode, proc.stdout.strip()) == (0, f"toolaudit {pkg.__version__}")
