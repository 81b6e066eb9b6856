# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from opentelemetry_instrumentation_toolaudit.ledger import AuditLog, NoteSigner, open_sink

PG_BASE = os.environ.get("TOOLAUDIT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
RUN_ID = uuid.uuid4().hex[:8]
SINK_KINDS = ("sqlite", "jsonl", "postgres")


def _pg_admin():  # type: ignore[no-untyped-def]
    """An autocommit admin connection; under CI=true a missing server fails the test."""
    in_ci = os.environ.get("CI", "").lower() == "true"
    if in_ci:
        import psycopg
    else:
        psycopg = pytest.importorskip("psycopg")
    try:
        return psycopg.connect(PG_BASE, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError:
        if in_ci:
            pytest.fail("PostgreSQL is not reachable on 127.0.0.1:5432 (run .ci/services.sh)")
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432 (run .ci/services.sh)")


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped after the test."""
    admin = _pg_admin()
    schema = f"toolaudit_test_{RUN_ID}_{uuid.uuid4().hex[:6]}"
    admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{PG_BASE}?options=-csearch_path%3D{schema}"
    finally:
        admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        admin.close()


def make_url(kind: str, tmp_path: os.PathLike[str], request: pytest.FixtureRequest) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path}/audit.db"
    if kind == "jsonl":
        return f"jsonl:///{tmp_path}/audit.jsonl"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture(params=SINK_KINDS)
def sink_url(request: pytest.FixtureRequest, tmp_path: os.PathLike[str]) -> str:
    """The URL of an empty sink of each kind."""
    return make_url(request.param, tmp_path, request)


@pytest.fixture
def signer() -> NoteSigner:
    return NoteSigner.generate("test.example/audit")


def body(i: int, **extra: object) -> dict[str, object]:
    """A realistic record body for the i-th tool call."""
    return {
        "event_id": f"{i:032x}",
        "event_type": "tool.call",
        "recorded_at": f"2026-11-24T10:{i // 60 % 60:02d}:{i % 60:02d}.000000Z",
        "trace_id": f"{i * 7919:032x}",
        "span_id": f"{i:016x}",
        "tool_name": ("lookup_order", "issue_refund", "get_customer")[i % 3],
        "user_id": f"usr_{i % 7}",
        "user_roles": ["support_agent"],
        "conversation_id": f"conv_{i % 5}",
        "turn_number": i % 11,
        "model": "gpt-4.1",
        "trigger": "user_request",
        "arguments": {"order_id": f"ORD-{i}", "amount": i * 1.25},
        "result_summary": {"success": True, "order_id": f"ORD-{i}"},
        "success": i % 4 != 0,
        "duration_ms": 1.5 + i,
        "service_name": "support-agent",
        **extra,
    }


def write_log(
    url: str,
    signer: NoteSigner,
    n: int,
    *,
    every: int = 5,
    checkpoint_dir: object = None,
    start: int = 0,
) -> None:
    """Append records body(start)..body(start + n - 1) one by one (a checkpoint every `every`) and
    close (final checkpoint)."""
    log = AuditLog(
        open_sink(url),
        signer=signer,
        checkpoint_every=every,
        checkpoint_interval=3600,
        checkpoint_dir=checkpoint_dir,
    )  # type: ignore[arg-type]
    for i in range(start, start + n):
        log.append([body(i)])
    log.close()
