# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The real collector with collector-config/: an app under ``opentelemetry-instrument`` sends OTLP
to the agent, the agent to the gateway, the gateway to a tracing backend and the audit service
(local OTLP/HTTP receivers standing in for both)."""

from __future__ import annotations

import hashlib
import hmac
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

from opentelemetry_instrumentation_toolaudit.export import event_type_of
from tests.apps import collector_app as app
from tests.collector.harness import (
    HMAC_KEY,
    Collector,
    Receiver,
    collector_env,
    finish_app,
    start_app,
    stop_app,
    wait_until,
)

PII = [app.EMAIL, app.SSN, app.CARD, app.CARD.replace(" ", ""), "ops.lead@example.com"]


def masked(value: str) -> str:
    """What the collector's redaction processor puts in place of ``value``."""
    return hmac.new(HMAC_KEY.encode(), value.encode(), hashlib.sha256).hexdigest()


@pytest.fixture
def receivers() -> Iterator[tuple[Receiver, Receiver]]:
    """The stand-in tracing backend and audit service, running."""
    backend, audit = Receiver(), Receiver()
    backend.start()
    audit.start()
    yield backend, audit
    backend.stop()
    audit.stop()


def gateway(tmp_path: Path, backend: Receiver, audit: Receiver) -> Collector:
    env = collector_env(
        tmp_path,
        "gateway",
        TOOLAUDIT_TRACING_ENDPOINT=backend.url,
        TOOLAUDIT_AUDIT_ENDPOINT=audit.url,
    )
    return Collector("gateway.yaml", env, tmp_path / "gateway.log")


def test_agent_and_gateway_deliver_redacted_spans_to_both_legs(
    collector_binary: Path, tmp_path: Path, receivers: tuple[Receiver, Receiver]
) -> None:
    """Through agent and gateway, the backend gets every span, the audit service only the audit
    spans, both with the app's trace ids, and neither receives an email, SSN or card number."""
    backend, audit = receivers
    gw = gateway(tmp_path, backend, audit)
    agent_env = collector_env(
        tmp_path,
        "agent",
        TOOLAUDIT_GATEWAY_ENDPOINT=gw.env["TOOLAUDIT_COLLECTOR_GRPC_ENDPOINT"],
    )
    agent = Collector("agent.yaml", agent_env, tmp_path / "agent.log")
    try:
        gw.start()
        agent.start()
        emitted = finish_app(
            start_app(f"http://{agent_env['TOOLAUDIT_COLLECTOR_HTTP_ENDPOINT']}", 20, 0.0)
        )
        every = set(emitted["AUDIT"]) | set(emitted["PLAIN"])
        wait_until(lambda: set(backend.span_ids()) >= every, 60, "every span at the backend")
        wait_until(lambda: set(audit.span_ids()) >= set(emitted["AUDIT"]), 60, "the audit spans")
        time.sleep(1)  # anything else on its way arrives now
    finally:
        agent.stop()
        gw.stop()

    assert len(emitted["AUDIT"]) == 24 and len(emitted["PLAIN"]) == 20
    assert sorted(backend.span_ids()) == sorted(every)
    assert sorted(audit.span_ids()) == sorted(emitted["AUDIT"])
    for receiver in (backend, audit):
        raw = b"".join(receiver.bodies)
        assert [p for p in PII if p.encode() in raw] == []
    # The app's own span reached the collector unredacted: the collector masked it, keyed.
    raw = b"".join(backend.bodies)
    assert masked(app.EMAIL).encode() in raw
    assert masked(app.CARD).encode() in raw


def test_audit_spans_wait_on_disk_while_the_audit_service_is_down(
    collector_binary: Path, tmp_path: Path, receivers: tuple[Receiver, Receiver]
) -> None:
    """The audit service stops mid-load and the gateway is killed (SIGKILL) while it is down:
    after both restart, every audit span arrives, exactly once, from the queue on disk."""
    backend, audit = receivers
    gw = gateway(tmp_path, backend, audit)
    endpoint = f"http://{gw.env['TOOLAUDIT_COLLECTOR_HTTP_ENDPOINT']}"
    load = None
    try:
        gw.start()
        load = start_app(endpoint, 60, 0.05)
        wait_until(lambda: len(audit.span_ids()) >= 5, 60, "the first audit spans")
        audit.stop()
        emitted = finish_app(load)
        wait_until(lambda: set(backend.span_ids()) >= set(emitted["AUDIT"]), 60, "the backend")
        before = set(audit.span_ids())
        assert before < set(emitted["AUDIT"])  # some audit spans are still queued
        gw.stop(signal.SIGKILL)
        gw.start()
        audit.start()
        wait_until(lambda: set(audit.span_ids()) >= set(emitted["AUDIT"]), 60, "every audit span")
        time.sleep(1)
    finally:
        stop_app(load)
        gw.stop()

    assert sorted(audit.span_ids()) == sorted(emitted["AUDIT"])


def test_the_agent_keeps_spans_on_disk_until_the_gateway_is_up(
    collector_binary: Path, tmp_path: Path, receivers: tuple[Receiver, Receiver]
) -> None:
    """Spans the agent accepted while no gateway ran, kept across a SIGKILL of the agent, all
    reach both legs once the gateway starts."""
    backend, audit = receivers
    gw = gateway(tmp_path, backend, audit)
    agent_env = collector_env(
        tmp_path,
        "agent",
        TOOLAUDIT_GATEWAY_ENDPOINT=gw.env["TOOLAUDIT_COLLECTOR_GRPC_ENDPOINT"],
    )
    agent = Collector("agent.yaml", agent_env, tmp_path / "agent.log")
    try:
        agent.start()
        emitted = finish_app(
            start_app(f"http://{agent_env['TOOLAUDIT_COLLECTOR_HTTP_ENDPOINT']}", 10, 0.0)
        )
        agent.stop(signal.SIGKILL)
        assert backend.span_ids() == []
        agent.start()
        gw.start()
        every = set(emitted["AUDIT"]) | set(emitted["PLAIN"])
        wait_until(lambda: set(backend.span_ids()) >= every, 60, "every span at the backend")
        wait_until(lambda: set(audit.span_ids()) >= set(emitted["AUDIT"]), 60, "the audit spans")
        time.sleep(1)
    finally:
        agent.stop()
        gw.stop()

    assert sorted(audit.span_ids()) == sorted(emitted["AUDIT"])
    assert set(backend.span_ids()) == every


def test_the_audit_filter_keeps_exactly_the_spans_that_become_records(
    collector_binary: Path, tmp_path: Path, receivers: tuple[Receiver, Receiver]
) -> None:
    """The gateway's audit filter passes a span exactly when the audit exporter would make it a
    record (``event_type_of``), for every kind of audited span and its near misses."""
    backend, audit = receivers
    gw = gateway(tmp_path, backend, audit)
    recorded = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(recorded))
    operation = "gen_ai.operation.name"
    kind = "openinference.span.kind"
    cases: dict[str, tuple[dict[str, Any], bool]] = {
        "tool": ({operation: "execute_tool"}, False),
        "chat": ({operation: "chat"}, False),
        "generate_content": ({operation: "generate_content"}, False),
        "text_completion": ({operation: "text_completion"}, False),
        "invoke_agent": ({operation: "invoke_agent"}, False),
        "embeddings": ({operation: "embeddings"}, False),
        "retrieval": ({operation: "retrieval"}, False),
        "retriever": ({kind: "RETRIEVER"}, False),
        "guardrail failed": ({kind: "GUARDRAIL"}, True),
        "guardrail refused": ({kind: "GUARDRAIL", "toolaudit.success": False}, False),
        "guardrail passed": ({kind: "GUARDRAIL", "toolaudit.success": True}, False),
        "declared auth": ({"toolaudit.event_type": "auth"}, False),
        "plain": ({"http.request.method": "GET"}, False),
    }
    try:
        gw.start()
        endpoint = f"http://{gw.env['TOOLAUDIT_COLLECTOR_HTTP_ENDPOINT']}/v1/traces"
        provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
        tracer = provider.get_tracer("filter-test")
        for name, (attributes, failed) in cases.items():
            with tracer.start_as_current_span(name, attributes=attributes) as span:
                if failed:
                    span.set_status(Status(StatusCode.ERROR))
        provider.shutdown()
        wait_until(lambda: len(backend.spans()) >= len(cases), 60, "every span at the backend")
        expected = {
            span.name
            for span in recorded.get_finished_spans()
            if event_type_of(span.attributes or {}, not span.status.is_ok) is not None
        }
        wait_until(lambda: len(audit.spans()) >= len(expected), 60, "the audit spans")
        time.sleep(1)
    finally:
        gw.stop()

    assert sorted(span.name for span in audit.spans()) == sorted(expected)
    assert "guardrail passed" not in expected and "plain" not in expected
