# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""examples/medical_records.py runs end to end: report, timeline and FHIR export, all verified."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_medical_records_example(tmp_path: Path) -> None:
    """The example's report is verified, its timeline and FHIR export are printed, and no patient
    identifier, name or birth date appears outside the commands it echoes."""
    from fhir.resources.R4B.auditevent import AuditEvent

    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_PYTHON_TOOLAUDIT_HASH")}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "medical_records.py"), str(tmp_path / "demo")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=env,
        cwd=tmp_path,
    )
    assert (proc.returncode, proc.stdout.splitlines()[-1]) == (0, "all verified"), proc.stderr
    lines = proc.stdout.splitlines()
    assert "Integrity verified: yes" in lines
    assert "Total accesses: 4  Unique users: 3" in lines
    assert sum(line.startswith("[Turn ") for line in lines) == 3
    (fhir,) = [line for line in lines if line.startswith('{"resourceType":"AuditEvent"')]
    event = AuditEvent.model_validate(json.loads(fhir))
    assert (event.action, event.outcome) == ("U", "0")
    shown = "\n".join(line for line in lines if not line.startswith("$ toolaudit")) + proc.stderr
    for value in ("P-1234", "P-5678", "Jane Doe", "1961-04-12"):
        assert value not in shown
