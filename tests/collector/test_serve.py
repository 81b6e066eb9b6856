# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The real collector in front of a real ``toolaudit serve`` on PostgreSQL: an app under
``opentelemetry-instrument`` → agent → gateway → a stand-in tracing backend and ``serve``."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.apps import collector_app as app
from tests.collector.harness import (
    Collector,
    Receiver,
    collector_env,
    finish_app,
    start_app,
    stop_app,
    wait_until,
)
from tests.serve.conftest import Serve, records, verify

PII = [app.EMAIL, app.SSN, app.CARD, app.CARD.replace(" ", ""), "ops.lead@example.com"]


@pytest.fixture
def backend() -> Iterator[Receiver]:
    """The stand-in tracing backend, running."""
    receiver = Receiver()
    receiver.start()
    yield receiver
    receiver.stop()


def stored_spans(sink: str) -> list[tuple[str, str]]:
    """``(trace id, span id)`` of every record of a span in the sink, in chain order (the
    ``alert`` records serve's alert rules add are not spans: one user touching the app's 80
    customers raises ``many_subjects``)."""
    return [
        (str(r["trace_id"]), str(r["span_id"])) for r in records(sink) if r["event_type"] != "alert"
    ]


def test_every_audit_span_is_in_the_chain_once_across_a_kill9_of_serve(
    collector_binary: Path,
    tmp_path: Path,
    pg_url: str,
    serve_factory: type[Serve],
    backend: Receiver,
) -> None:
    """``toolaudit serve`` is killed with SIGKILL mid-load and restarted: every audit span the app
    emitted is in the PostgreSQL chain exactly once, with the app's trace ids, the chain verifies,
    and no email, SSN or card number is stored."""
    serve = serve_factory(pg_url).start()
    gw_env = collector_env(
        tmp_path,
        "gateway",
        TOOLAUDIT_TRACING_ENDPOINT=backend.url,
        TOOLAUDIT_AUDIT_ENDPOINT=serve.http_url,
    )
    gw = Collector("gateway.yaml", gw_env, tmp_path / "gateway.log")
    agent_env = collector_env(
        tmp_path, "agent", TOOLAUDIT_GATEWAY_ENDPOINT=gw_env["TOOLAUDIT_COLLECTOR_GRPC_ENDPOINT"]
    )
    agent = Collector("agent.yaml", agent_env, tmp_path / "agent.log")
    load = None
    try:
        gw.start()
        agent.start()
        load = start_app(f"http://{agent_env['TOOLAUDIT_COLLECTOR_HTTP_ENDPOINT']}", 80, 0.04)
        wait_until(lambda: len(stored_spans(pg_url)) >= 10, 60, "the first records")
        serve.kill9()
        before_kill = len(stored_spans(pg_url))
        time.sleep(0.5)
        serve.start()
        emitted = finish_app(load)
        wait_until(
            lambda: set(stored_spans(pg_url)) >= set(emitted["AUDIT"]), 90, "every audit record"
        )
        time.sleep(1)
        serve.stop()
    finally:
        stop_app(load)
        agent.stop()
        gw.stop()

    assert before_kill < len(emitted["AUDIT"])  # the kill came mid-load
    assert sorted(stored_spans(pg_url)) == sorted(emitted["AUDIT"])
    assert set(backend.span_ids()) >= set(emitted["AUDIT"]) | set(emitted["PLAIN"])
    checked = verify(pg_url, tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.startswith("OK")
    stored = json.dumps(records(pg_url))
    assert [p for p in PII if p in stored] == []
    assert [p for p in PII if p in serve.output()] == []
