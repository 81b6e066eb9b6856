# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The OpenTelemetry JavaScript SDK (interop/node) sends tool spans to `toolaudit serve` over OTLP/HTTP."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.serve.conftest import ROOT, records, verify

NODE_DIR = ROOT / "interop" / "node"


def _unavailable(reason: str) -> None:
    """Outside CI a missing Node.js toolchain skips the test; under CI=true it fails it."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def test_node_sdk_spans_become_verified_records(serve_sink, serve_factory, tmp_path):
    """Spans from the Node.js SDK's OTLP/HTTP exporter become records carrying its trace ids, and verify."""
    node = shutil.which("node")
    if node is None or shutil.which("npm") is None:
        _unavailable("node and npm are needed for the Node.js interop test")
    if not (NODE_DIR / "node_modules").is_dir():
        _unavailable("interop/node has no node_modules: run `npm ci` there (.ci/run does)")
    serve = serve_factory(serve_sink, "--grpc", "").start()
    proc = subprocess.run(
        [str(node), "emit_tool_spans.mjs", "4"],
        cwd=NODE_DIR,
        env={**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": serve.http_url},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "DONE" in proc.stdout
    sent = sorted(
        tuple(line.split()[1:3]) for line in proc.stdout.splitlines() if line.startswith("SPAN ")
    )
    assert len(sent) == 4
    assert serve.stop() == 0
    stored = records(serve_sink)
    assert sorted((r["trace_id"], r["span_id"]) for r in stored) == sent
    for record in stored:
        assert record["event_type"] == "tool.call"
        assert record["tool_name"] == "lookup_order"
        assert record["service_name"] == "node-support-agent"
        assert record["deployment_environment"] == "interop"
        assert str(record["user_id"]).startswith("usr_node_")
        assert record["success"] is True
    result = verify(serve_sink, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
