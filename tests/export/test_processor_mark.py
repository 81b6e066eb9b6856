# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The content guard does not rescan what a redacting processor with equal rules already checked,
and still scans every span that did not pass through one, or passed under other rules."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from opentelemetry_instrumentation_toolaudit import AuditLogExporter
from opentelemetry_instrumentation_toolaudit.ledger import AuditLog, NoteSigner, open_sink
from opentelemetry_instrumentation_toolaudit.redaction import (
    PatternDetector,
    RedactingSpanProcessor,
    RedactionPolicy,
)

EMAIL = "jane.doe@example.com"
KEY = "tests-only-hash-key-0123456789abcdef"


class CountingPolicy(RedactionPolicy):
    """The real policy, recording the field of every value it is asked to scan."""

    scanned: list[str]

    def findings(self, value: Any) -> list[str]:
        self.scanned.extend(value)
        return super().findings(value)


def _policy(**kwargs: Any) -> CountingPolicy:
    policy = CountingPolicy(hash_key=KEY, **kwargs)
    policy.scanned = []
    return policy


@pytest.fixture
def audit_path(tmp_path: Path) -> Path:
    return tmp_path / "audit.jsonl"


def _exporter(audit_path: Path, policy: RedactionPolicy) -> AuditLogExporter:
    log = AuditLog(
        open_sink(f"jsonl:///{audit_path}"),
        signer=NoteSigner.from_file(audit_path.parent / "signing.key"),
    )
    return AuditLogExporter(log, policy=policy)


def _records(audit_path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in audit_path.read_text().splitlines()]


def _tool_spans(provider: TracerProvider, attributions: list[str], **extra: Any) -> None:
    tracer = provider.get_tracer("another.instrumentation")
    for n, attribution in enumerate(attributions):
        with tracer.start_as_current_span("execute_tool lookup") as span:
            span.set_attribute("gen_ai.operation.name", "execute_tool")
            span.set_attribute("gen_ai.tool.name", extra.get("tool", "lookup"))
            span.set_attribute("user.id", extra.get("user", f"usr_{n}"))
            span.set_attribute("toolaudit.attribution", attribution)


@pytest.fixture
def behind_processor(audit_path: Path) -> Iterator[Any]:
    """A provider whose spans pass a RedactingSpanProcessor (policy A) on their way to an audit
    exporter (policy B): ``make(A, B)`` returns (provider, exporter)."""
    made: list[AuditLogExporter] = []

    def make(
        processor_policy: RedactionPolicy, exporter_policy: RedactionPolicy
    ) -> tuple[TracerProvider, AuditLogExporter]:
        exporter = _exporter(audit_path, exporter_policy)
        made.append(exporter)
        provider = TracerProvider()
        provider.add_span_processor(
            RedactingSpanProcessor(SimpleSpanProcessor(exporter), policy=processor_policy)
        )
        return provider, exporter

    yield make
    for exporter in made:
        exporter.shutdown()


def test_fields_the_processor_checked_under_equal_rules_are_not_scanned_again(behind_processor):
    """Behind a processor whose policy has equal rules (another object, same configuration), the
    guard leaves the attribution and user id alone and still scans the tool name it never checks."""
    guard_policy = _policy()
    provider, exporter = behind_processor(RedactionPolicy(hash_key=KEY), guard_policy)
    _tool_spans(provider, [f"User usr_{n} → gpt-4.1 → lookup" for n in range(20)])
    assert "attribution" not in guard_policy.scanned
    assert "user_id" not in guard_policy.scanned
    assert "tool_name" in guard_policy.scanned
    assert exporter.stats()["records"] == 20


def test_a_span_that_bypasses_the_processor_is_scanned_in_full(audit_path, span_exporter):
    """A span handed to the exporter without passing a redacting processor (here: collected by
    another exporter, then exported) is scanned, and the email in its attribution is redacted."""
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(span_exporter))
    _tool_spans(provider, [f"User {EMAIL} → gpt-4.1 → lookup"])
    guard_policy = _policy()
    exporter = _exporter(audit_path, guard_policy)
    exporter.export(span_exporter.get_finished_spans())
    exporter.shutdown()
    assert "attribution" in guard_policy.scanned
    assert exporter.stats()["guarded"] == 1
    (record,) = _records(audit_path)
    assert EMAIL not in json.dumps(record)


def test_a_span_checked_under_other_rules_is_scanned_in_full(behind_processor, audit_path):
    """A span the processor checked with a policy of other rules (here the guard's has one more
    detector) is scanned in full: what only the guard's policy flags is redacted."""
    order = PatternDetector("order_number", r"ORD-[0-9]{6}")
    guard_policy = _policy(extra_detectors=[order])
    provider, exporter = behind_processor(RedactionPolicy(hash_key=KEY), guard_policy)
    _tool_spans(provider, ["User usr_1 → gpt-4.1 → lookup ORD-123456"])
    assert "attribution" in guard_policy.scanned
    assert exporter.stats()["guarded"] == 1
    exporter.shutdown()
    (record,) = _records(audit_path)
    assert "ORD-123456" not in json.dumps(record)


def test_a_field_the_processor_leaves_alone_is_scanned_on_a_checked_span(
    behind_processor, audit_path
):
    """On a span the processor checked under equal rules, a field it never scans (the tool name,
    kept as structure) is still scanned by the guard and redacted."""
    guard_policy = _policy()
    provider, exporter = behind_processor(RedactionPolicy(hash_key=KEY), guard_policy)
    _tool_spans(provider, ["User usr_1 → gpt-4.1 → lookup"], tool=f"mail {EMAIL}")
    exporter.shutdown()
    (record,) = _records(audit_path)
    assert EMAIL not in json.dumps(record)
    assert exporter.stats()["guarded"] == 1


def test_rules_id_is_equal_only_for_policies_that_redact_alike():
    """Two policies built alike have equal rules ids; another key, key vocabulary, detector or
    address mode makes them differ."""
    same = RedactionPolicy(hash_key=KEY).rules_id
    assert RedactionPolicy(hash_key=KEY).rules_id == same
    others = [
        RedactionPolicy(hash_key=KEY + "x"),
        RedactionPolicy(hash_key=KEY, extra_secret_keys=["order_id"]),
        RedactionPolicy(hash_key=KEY, keep_keys=["email"]),
        RedactionPolicy(hash_key=KEY, disabled_kinds=["phone"]),
        RedactionPolicy(hash_key=KEY, extra_detectors=[PatternDetector("x", "ORD-[0-9]+")]),
        RedactionPolicy(hash_key=KEY, attribution_addresses="redact"),
        RedactionPolicy(hash_key=KEY, content="redact"),
        RedactionPolicy(),
    ]
    assert [other.rules_id == same for other in others] == [False] * len(others)
    assert KEY not in repr(same)
