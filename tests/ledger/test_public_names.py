# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The ledger's public names, the problem kinds, and the deprecated ``audit`` aliases."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from opentelemetry_instrumentation_toolaudit import ledger
from opentelemetry_instrumentation_toolaudit.ledger import Problem, ProblemKind, VerifyResult


def test_problem_kinds_compare_and_serialize_as_strings() -> None:
    """A ProblemKind equals its lower-case name, prints as it, and is that string in JSON."""
    problem = Problem(3, ProblemKind.MODIFIED, "its bytes do not match its entry hash")
    result = VerifyResult(sink="memory://", size=4, root="00", problems=[problem])
    assert problem.kind == "modified"
    assert f"{problem.kind}" == "modified"
    assert json.loads(json.dumps(result.to_json()))["problems"][0]["kind"] == "modified"


def test_every_public_name_is_exported() -> None:
    """Every name in ``ledger.__all__`` is there, the problem kinds among them."""
    assert "ProblemKind" in ledger.__all__
    assert [name for name in ledger.__all__ if not hasattr(ledger, name)] == []


def test_audit_aliases_warn_and_resolve_to_the_ledger() -> None:
    """A name read from the old ``audit`` module warns once and is the ledger's own object."""
    from opentelemetry_instrumentation_toolaudit import audit

    with pytest.warns(
        DeprecationWarning, match="import it from opentelemetry_instrumentation_toolaudit.ledger"
    ):
        alias = audit.AuditLog
    assert ledger.AuditLog is alias


def test_importing_the_package_does_not_warn() -> None:
    """Importing the package (as opentelemetry-instrument does) emits no DeprecationWarning."""
    proc = subprocess.run(
        [
            sys.executable,
            "-W",
            "error::DeprecationWarning",
            "-c",
            "import opentelemetry_instrumentation_toolaudit",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (proc.returncode, proc.stderr) == (0, "")
