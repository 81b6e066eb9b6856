# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from opentelemetry_instrumentation_toolaudit.ledger import AuditLog, NoteSigner, open_sink
from opentelemetry_instrumentation_toolaudit.redaction._hashkey import HashKey

from ..audit.conftest import SINK_KINDS, make_url, pg_url, sink_url  # noqa: F401 - fixtures

PATIENT = "P-1234"
OTHER = "P-5678"
MONTHS = ("2026-01", "2026-02", "2026-03", "2026-05", "2026-06", "2026-08")
TOOLS = (
    ("access_patient_record", "read"),
    ("update_treatment", "update"),
    ("search_patients", "read"),
)
USERS = (
    ("dr_chen", "physician", "treatment"),
    ("nurse_okafor", "nurse", "treatment"),
    ("clerk_ruiz", "billing", "payment"),
)
N = 36


def pseudonym(value: str) -> str:
    """The subject pseudonym under the tests' hash key (as the recorder makes it)."""
    return HashKey.from_env().pseudonym(value)


def medical_body(i: int) -> dict[str, Any]:
    """The i-th record of a records assistant: six months of calls about two patients."""
    tool, action = TOOLS[i % 3]
    user, role, purpose = USERS[i % 3]
    month = MONTHS[i % len(MONTHS)]
    failed = i % 5 == 4
    body: dict[str, Any] = {
        "event_id": f"{i + 1:032x}",
        "event_type": "tool.call",
        "recorded_at": f"{month}-{1 + i % 27:02d}T09:{i % 60:02d}:00.000000Z",
        "start_time": f"{month}-{1 + i % 27:02d}T09:{i % 60:02d}:00.000000Z",
        "trace_id": f"{0x4BF92F3577B34DA6A3CE929D0E0E4736 + i:032x}",
        "span_id": f"{0x00F067AA0BA902B7 + i:016x}",
        "tool_name": tool,
        "tool_action": action,
        "user_id": user,
        "user_roles": [role],
        "conversation_id": f"conv_{i % 4}",
        "turn_number": i // 4 + 1,
        "model": "gpt-4.1" if i % 2 else "claude-sonnet-4",
        "provider": "openai" if i % 2 else "anthropic",
        "purpose": purpose,
        "subject": pseudonym(PATIENT if i % 2 == 0 else OTHER),
        "arguments": {"patient_id": pseudonym(PATIENT if i % 2 == 0 else OTHER)},
        "result_summary": {"error": "access denied"} if failed else {"status": "ok"},
        "success": not failed,
        "duration_ms": float(10 + i),
        "service_name": "records-assistant",
    }
    if failed:
        body["error_type"] = "PermissionError"
    return body


def write_trail(url: str, signer: NoteSigner, n: int = N, every: int = 8) -> None:
    """``n`` medical records in ``url``, a signed checkpoint every ``every`` and on close."""
    log = AuditLog(open_sink(url), signer=signer, checkpoint_every=every, checkpoint_interval=3600)
    for i in range(n):
        log.append([medical_body(i)])
    log.close()


@pytest.fixture
def key(tmp_path: Path) -> tuple[NoteSigner, str]:
    """A signer and its public key in a file."""
    signer = NoteSigner.generate("test.example/audit")
    pub = tmp_path / "audit.pub"
    pub.write_text(signer.verifier.vkey() + "\n")
    return signer, str(pub)


@pytest.fixture(params=SINK_KINDS)
def trail(
    request: pytest.FixtureRequest, tmp_path: Path, key: tuple[NoteSigner, str]
) -> tuple[str, str]:
    """A written medical trail of each sink kind: its URL and the public key file."""
    url = make_url(request.param, tmp_path, request)
    write_trail(url, key[0])
    return url, key[1]


def bare(url: str) -> str:
    """A file sink's bare path (the CLI accepts it for a URL); other URLs as they are."""
    return url.split(":///", 1)[1] if url.startswith(("sqlite:", "jsonl:")) else url


def env_without(*names: str) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in names}
