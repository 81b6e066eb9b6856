# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The audit exporter in real processes: `opentelemetry-instrument` with env vars, and kill -9 under load."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from opentelemetry_instrumentation_toolaudit.ledger import open_sink, public_key_path, verify

from ..otlp_receiver import Received, attributes
from ..test_auto_instrumentation import ROOT, console_spans

TRIALS = int(os.environ.get("TOOLAUDIT_KILL_TRIALS", "2"))


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "PYTHONPATH"))}
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "OTEL_SERVICE_NAME": "support-agent",
            "OTEL_METRICS_EXPORTER": "none",
            "OTEL_LOGS_EXPORTER": "none",
            "OTEL_PYTHON_TOOLAUDIT_SIGNING_KEY_FILE": str(tmp_path / "signing.key"),
            "OTEL_PYTHON_TOOLAUDIT_HASH_KEY_FILE": str(tmp_path / "hash.key"),
        }
    )
    env.update(extra)
    return env


@pytest.mark.parametrize("traces_exporter", ["console,toolaudit", "otlp,toolaudit"])
def test_opentelemetry_instrument_writes_the_audit_trail(
    tmp_path: Path, otlp_server: Received, traces_exporter: str
) -> None:
    """OTEL_TRACES_EXPORTER=console|otlp,toolaudit: every tool span is shipped (printed, or sent by the
    real OTLP/HTTP exporter to a local receiver) and is also a verified, redacted record carrying the
    shipped span's trace and span ids."""
    db = tmp_path / "audit.db"
    env = clean_env(
        tmp_path,
        OTEL_TRACES_EXPORTER=traces_exporter,
        OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=f"{otlp_server.url}/v1/traces",
        OTEL_PYTHON_TOOLAUDIT_SINK=f"sqlite:///{db}",
        OTEL_PYTHON_TOOLAUDIT_TOOLS="tests.apps.support_tools:dispatch",
    )
    instrument = Path(sys.executable).with_name("opentelemetry-instrument")
    proc = subprocess.run(
        [str(instrument), sys.executable, "-m", "tests.apps.instrumented_app"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    if traces_exporter.startswith("otlp"):
        shipped = {
            span.span_id.hex(): (span.trace_id.hex(), attributes(span.attributes))
            for span in otlp_server.spans()
        }
        assert b"4111" not in b"".join(otlp_server.bodies)
    else:
        shipped = {
            s["context"]["span_id"][2:]: (s["context"]["trace_id"][2:], s["attributes"])
            for s in console_spans(proc.stdout)
        }
    with open_sink(f"sqlite:///{db}", create=False) as sink:
        records = [r.record for r in sink.read()]
        result = verify(sink, public_key=str(public_key_path(tmp_path / "signing.key")))
    assert result.ok, result.summary()
    assert result.signatures_checked and result.checkpoints >= 1
    assert sorted(r["tool_name"] for r in records) == ["issue_refund", "lookup_order"]
    for record in records:
        trace_id, span_attributes = shipped[record["span_id"]]
        assert record["trace_id"] == trace_id
        assert span_attributes["gen_ai.tool.name"] == record["tool_name"]
        assert span_attributes["user.id"] == record["user_id"]
        assert record["service_name"] == "support-agent"
        assert record["user_id"] == "usr_98765"
    assert b"4111" not in db.read_bytes()
    cli = Path(sys.executable).with_name("toolaudit")
    check = subprocess.run(
        [
            str(cli),
            "verify",
            str(db),
            "--public-key",
            str(public_key_path(tmp_path / "signing.key")),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert check.returncode == 0, check.stderr
    assert "OK: 2 records" in check.stdout + check.stderr


@pytest.mark.parametrize("scheme", ["sqlite", "jsonl"])
def test_kill_9_under_load_loses_nothing_acknowledged(tmp_path, scheme):
    """Killed at a random moment while four threads write, the sink still holds every acknowledged
    record and verifies (a torn tail is repaired and reported, never silently dropped)."""
    rng = random.Random()
    for trial in range(TRIALS):
        path = tmp_path / f"audit-{trial}.{'db' if scheme == 'sqlite' else 'jsonl'}"
        url = f"{scheme}:///{path}"
        env = clean_env(tmp_path, OTEL_PYTHON_TOOLAUDIT_SINK=url)
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.apps.audit_load_app"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        wanted = rng.randint(30, 300)
        acked: set[str] = set()
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("ACK "):
                acked.add(line.split()[1])
                if len(acked) >= wanted:
                    break
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        # Lines already printed (acknowledged) but not yet read still count.
        rest = proc.stdout.read()
        acked |= {line.split()[1] for line in rest.splitlines() if line.startswith("ACK ")}
        assert len(acked) >= wanted, proc.stderr.read() if proc.stderr else ""
        with open_sink(url) as sink:
            stored = {r.record["span_id"] for r in sink.read()}
            result = verify(sink)
        assert acked <= stored, f"trial {trial}: {len(acked - stored)} acknowledged records lost"
        assert result.ok, result.summary()
