# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Under `opentelemetry-instrument` with env vars only, every exporter receives redacted spans.

A real subprocess runs ``tests/apps/redaction_app.py`` with ``OTEL_TRACES_EXPORTER=otlp,console``
(and the same for logs): the OTLP/HTTP exporters post protobuf to a local receiver
(``tests/otlp_receiver.py``), and the console exporters print JSON. The test checks the raw bytes that arrive, then the decoded attributes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from opentelemetry_instrumentation_toolaudit.redaction import RedactionPolicy
from tests.apps import redaction_app as app
from tests.otlp_receiver import Received, attributes
from tests.test_auto_instrumentation import console_spans

ROOT = Path(__file__).resolve().parents[2]
HASH_KEY = "subprocess-test-hash-key-0123456789"
PII = [app.EMAIL, app.CARD, app.CARD.replace(" ", ""), app.SSN, app.PHONE, "555-2671", "Jane Doe"]


def run_app(url: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "PYTHONPATH"))} | {
        "PYTHONPATH": str(ROOT),
        "OTEL_SERVICE_NAME": "support-agent",
        "OTEL_TRACES_EXPORTER": "otlp,console",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"{url}/v1/traces",
        "OTEL_LOGS_EXPORTER": "otlp,console",
        "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": f"{url}/v1/logs",
        "OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED": "true",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_PYTHON_TOOLAUDIT_HASH_KEY": HASH_KEY,
    }
    instrument = Path(sys.executable).with_name("opentelemetry-instrument")
    return subprocess.run(
        [str(instrument), sys.executable, "-m", "tests.apps.redaction_app"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_every_exporter_receives_redacted_spans(otlp_server: Received) -> None:
    """OTLP bytes (traces and logs) and console output hold no PII; LLM content arrives as keyed
    hashes only."""
    proc = run_app(otlp_server.url)
    assert proc.returncode == 0, proc.stderr
    assert "APP-DONE" in proc.stdout
    raw = b"".join(otlp_server.bodies)
    assert {p.rsplit("/", 1)[-1] for p in otlp_server.paths} == {"traces", "logs"}
    assert [p for p in PII if p.encode() in raw] == []
    assert [p for p in PII if p in proc.stdout] == []

    policy = RedactionPolicy(hash_key=HASH_KEY)
    spans = {span.name: span for span in otlp_server.spans()}
    assert {"execute_tool update_contact", "chat gpt-4.1", "llm call"} <= set(spans)

    tool = attributes(spans["execute_tool update_contact"].attributes)
    assert json.loads(tool["gen_ai.tool.call.arguments"]) == {
        "customer_id": "C-123",
        "email": policy.pseudonym(app.EMAIL),
        "note": f"card <CREDIT_CARD>, call <PHONE:{policy.pseudonym('4155552671')}>",
    }
    assert tool["client.address"] == "10.0.1.5"

    chat = attributes(spans["chat gpt-4.1"].attributes)
    assert {k for k in chat if k.startswith("gen_ai.") and "messages" in k} == {
        "gen_ai.input.messages_hash",
        "gen_ai.input.messages_size",
        "gen_ai.output.messages_hash",
        "gen_ai.output.messages_size",
    }
    messages = json.dumps(
        [
            {
                "role": "user",
                "parts": [{"type": "text", "content": f"I am {app.EMAIL}, SSN {app.SSN}"}],
            }
        ]
    )
    assert chat["gen_ai.input.messages_hash"] == policy.pseudonym(messages.encode())
    assert chat["gen_ai.input.messages_size"] == len(messages.encode())
    assert (chat["server.address"], chat["toolaudit.redaction.kinds"]) == (
        "127.0.0.1",
        ("message_content",),
    )

    hand = spans["llm call"]
    assert attributes(hand.attributes) == {
        "gen_ai.prompt.0.content_hash": policy.pseudonym(f"my card is {app.CARD}".encode()),
        "gen_ai.prompt.0.content_size": len(f"my card is {app.CARD}"),
        "input.value_hash": policy.pseudonym(f"mail {app.EMAIL}".encode()),
        "input.value_size": len(f"mail {app.EMAIL}"),
        "toolaudit.redaction.count": 3,
        "toolaudit.redaction.kinds": ("message_content",),
    }
    assert attributes(hand.events[0].attributes) == {
        "gen_ai.prompt_hash": policy.pseudonym(f"ssn {app.SSN}".encode()),
        "gen_ai.prompt_size": len(f"ssn {app.SSN}"),
    }

    logs = [
        record
        for path, body in otlp_server.requests
        if path.endswith("/v1/logs")
        for resource_logs in ExportLogsServiceRequest.FromString(body).resource_logs
        for scope_logs in resource_logs.scope_logs
        for record in scope_logs.log_records
    ]
    event = next(r for r in logs if r.event_name == "gen_ai.user.message")
    body = {kv.key: kv.value for kv in event.body.kvlist_value.values}
    assert body["body_hash"].string_value == policy.pseudonym(
        json.dumps({"content": f"I am {app.EMAIL}"}, separators=(",", ":")).encode()
    )
    line = next(r for r in logs if r.body.string_value.startswith("refund"))
    assert (
        line.body.string_value
        == f"refund to card <CREDIT_CARD> for <EMAIL:{policy.pseudonym(app.EMAIL)}>"
    )

    printed = {s["name"]: s for s in console_spans(proc.stdout)}
    assert printed["llm call"]["attributes"] == {
        k: list(v) if isinstance(v, tuple) else v for k, v in attributes(hand.attributes).items()
    }
