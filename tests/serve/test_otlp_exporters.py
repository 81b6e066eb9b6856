# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""An app under `opentelemetry-instrument` exports over OTLP (HTTP and gRPC) to `toolaudit serve`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.serve.conftest import EMAIL, ROOT, records, verify


def run_app(env: dict[str, str], calls: int = 5) -> list[tuple[str, str]]:
    """Run tests/apps/serve_app.py under opentelemetry-instrument; the (trace id, span id) pairs."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "PYTHONPATH"))}
    proc = subprocess.run(
        [
            str(Path(sys.executable).with_name("opentelemetry-instrument")),
            sys.executable,
            "-m",
            "tests.apps.serve_app",
            str(calls),
        ],
        cwd=ROOT,
        env=base
        | {
            "PYTHONPATH": str(ROOT),
            "OTEL_SERVICE_NAME": "support-agent",
            "OTEL_RESOURCE_ATTRIBUTES": "service.version=2.1.0,deployment.environment.name=staging",
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_METRICS_EXPORTER": "none",
            "OTEL_LOGS_EXPORTER": "none",
            "OTEL_PYTHON_TOOLAUDIT_HASH_KEY": os.environ["OTEL_PYTHON_TOOLAUDIT_HASH_KEY"],
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "APP-DONE" in proc.stdout
    return [
        tuple(line.split()[1:3]) for line in proc.stdout.splitlines() if line.startswith("SPAN ")
    ]  # type: ignore[misc]


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_instrumented_app_spans_become_verified_records(
    protocol, serve_sink, serve_factory, tmp_path
):
    """Tool spans exported by the real OTLP exporter become records with the app's ids and resource, verified."""
    serve = serve_factory(serve_sink).start()
    endpoint = serve.http_url if protocol == "http/protobuf" else f"http://{serve.grpc_address}"
    ids = run_app(
        {"OTEL_EXPORTER_OTLP_PROTOCOL": protocol, "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint}
    )
    assert serve.stop() == 0
    stored = records(serve_sink)
    assert len(ids) == 5
    assert sorted((r["trace_id"], r["span_id"]) for r in stored) == sorted(ids)
    for record in stored:
        assert record["event_type"] == "tool.call"
        assert record["tool_name"] == "lookup_customer"
        assert record["service_name"] == "support-agent"
        assert record["service_version"] == "2.1.0"
        assert record["deployment_environment"] == "staging"
        assert str(record["user_id"]).startswith("usr_")
    assert EMAIL not in repr(stored)
    assert EMAIL not in serve.output()
    result = verify(serve_sink, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK" in result.stdout and "5 records" in result.stdout
