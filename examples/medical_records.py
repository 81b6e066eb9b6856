# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""A hospital records assistant, audited; then the compliance officer's questions, answered.

The assistant's tools read and change patient records: ``access_patient_record`` (a read),
``update_treatment`` (an update) and ``search_patients``. Every call runs in an ``audit_context``
naming the clinician, their role and the purpose of use, and becomes a record in a signed,
hash-chained SQLite trail:

* the patient a call is about is stored as a keyed pseudonym (``toolaudit.subject``), and so are
  the patient id, name and date of birth in the arguments: the trail holds no PHI in clear;
* ``access_patient_record`` is fail-closed: it runs only once its intent is durably recorded;
* a billing clerk's attempt to read a chart is refused by the app, and the refusal is recorded.

Then, with the ``toolaudit`` command line (as a compliance officer would run it), it prints a
six-month access report for patient P-1234 with its integrity verified against a signed checkpoint,
the timeline of one conversation, and the calls as FHIR AuditEvents (NDJSON), after checking the
whole trail with ``toolaudit verify``.

Run it with ``python examples/medical_records.py [DIR]`` (a new folder; a temporary one by default).
"""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from opentelemetry_instrumentation_toolaudit import (
    AuditLogExporter,
    ToolAuditInstrumentor,
    audit_context,
    audited_tool,
    current_attribution,
)
from opentelemetry_instrumentation_toolaudit.environment_variables import (
    OTEL_PYTHON_TOOLAUDIT_HASH_KEY_FILE,
    OTEL_PYTHON_TOOLAUDIT_PSEUDONYM_KEYS,
)
from opentelemetry_instrumentation_toolaudit.ledger import AuditLog, NoteSigner, open_sink

CHARTS: dict[str, dict[str, Any]] = {
    "P-1234": {"allergies": ["penicillin"], "medication": "metformin 500 mg"},
    "P-5678": {"allergies": [], "medication": "lisinopril 10 mg"},
}
CLINICAL_ROLES = {"physician", "nurse"}


class NotPermittedError(PermissionError):
    """The user's role may not do this."""


def _require_clinical_role() -> None:
    """The app's own access rule, on the role the audit context names."""
    if not CLINICAL_ROLES & set(current_attribution().user_roles):
        raise NotPermittedError("this role may not read clinical records")


# --- the tools the assistant may call --------------------------------------------------------
@audited_tool(action="read")
def access_patient_record(patient_id: str, fields: list[str]) -> dict[str, Any]:
    """Read fields of a patient's chart (fail-closed: runs only once its intent is on record)."""
    _require_clinical_role()
    return {"status": "ok", "count": len(fields)}


@audited_tool(action="update")
def update_treatment(patient_id: str, medication: str) -> dict[str, Any]:
    """Change a patient's medication."""
    _require_clinical_role()
    CHARTS[patient_id]["medication"] = medication
    return {"status": "updated"}


@audited_tool(action="read")
def search_patients(full_name: str, dob: str) -> dict[str, Any]:
    """Find patients by name and date of birth."""
    return {"count": 1, "patient_id": "P-1234"}


# --- the visits ------------------------------------------------------------------------------
VISITS: list[tuple[str, str, str, str, list[tuple[Any, dict[str, Any]]]]] = [
    (
        "dr_chen",
        "physician",
        "treatment",
        "conv_ward_7",
        [
            (search_patients, {"full_name": "Jane Doe", "dob": "1961-04-12"}),
            (access_patient_record, {"patient_id": "P-1234", "fields": ["allergies"]}),
            (update_treatment, {"patient_id": "P-1234", "medication": "metformin 1000 mg"}),
        ],
    ),
    (
        "nurse_okafor",
        "nurse",
        "treatment",
        "conv_ward_8",
        [(access_patient_record, {"patient_id": "P-1234", "fields": ["medication"]})],
    ),
    (
        "clerk_ruiz",
        "billing",
        "payment",
        "conv_billing_2",
        [
            (access_patient_record, {"patient_id": "P-1234", "fields": ["allergies"]}),
            (access_patient_record, {"patient_id": "P-5678", "fields": ["medication"]}),
        ],
    ),
]


def run_visits() -> None:
    for user, role, purpose, conversation, calls in VISITS:
        for turn, (tool, arguments) in enumerate(calls, 1):
            with audit_context(
                user_id=user,
                user_role=role,
                purpose=purpose,
                conversation_id=conversation,
                turn_number=turn,
                model="gpt-4.1",
            ):
                try:
                    tool(**arguments)
                    print(f"  {user:<13} {tool.__name__}: done")
                except NotPermittedError as exc:
                    print(f"  {user:<13} {tool.__name__}: refused ({exc})")


def toolaudit(*argv: str) -> int:
    """Run the ``toolaudit`` command line as a user would, showing its output."""
    print(f"\n$ toolaudit {' '.join(argv)}", flush=True)
    command = [sys.executable, "-m", "opentelemetry_instrumentation_toolaudit.cli", *argv]
    return subprocess.run(command, check=False).returncode


def main(argv: list[str]) -> int:
    folder = Path(argv[0]) if argv else Path(tempfile.mkdtemp(prefix="toolaudit-records-"))
    folder.mkdir(parents=True, exist_ok=True)
    trail = folder / "records-audit.db"
    if trail.exists():
        sys.exit(f"{folder} holds a trail from an earlier run: give a new or empty folder")
    os.environ[OTEL_PYTHON_TOOLAUDIT_HASH_KEY_FILE] = str(folder / "hash.key")
    # Patient ids in arguments become pseudonyms too (names and dates of birth do by default).
    os.environ[OTEL_PYTHON_TOOLAUDIT_PSEUDONYM_KEYS] = "patient_id"
    signer = NoteSigner.from_file(folder / "signing.key")
    public_key = str(folder / "signing.key.pub")

    provider = TracerProvider(resource=Resource.create({"service.name": "records-assistant"}))
    log = AuditLog(open_sink(f"sqlite:///{trail}"), signer=signer)
    provider.add_span_processor(SimpleSpanProcessor(AuditLogExporter(log)))
    instrumentor = ToolAuditInstrumentor()
    instrumentor.instrument(tracer_provider=provider, fail_closed_tools=["access_patient_record"])
    print(f"audit trail: {trail}")
    try:
        run_visits()
    finally:
        instrumentor.uninstrument()
        provider.shutdown()  # a final signed checkpoint

    today = datetime.datetime.now(datetime.timezone.utc).date()
    six_months_ago = today - datetime.timedelta(days=183)
    codes = [
        toolaudit("verify", str(trail), "--public-key", public_key),
        toolaudit(
            "report",
            "access",
            str(trail),
            "--subject",
            "P-1234",
            "--from",
            six_months_ago.isoformat(),
            "--to",
            today.isoformat(),
            "--public-key",
            public_key,
        ),
        toolaudit("timeline", str(trail), "conv_ward_7"),
        toolaudit(
            "export",
            str(trail),
            "--format",
            "fhir",
            "--fhir-form",
            "ndjson",
            "--subject",
            "P-1234",
            "--tool",
            "update_treatment",
        ),
    ]
    print("\nall verified" if not any(codes) else f"\nexit codes {codes}")
    return max(codes)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
