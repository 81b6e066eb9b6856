# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Run the real otelcol-toolaudit binary, local OTLP receivers and the collector test app.

Every wait is bounded and every process started here is stopped by its owner (a fixture or a
``with`` block), so a failing test leaves nothing running.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from tests._ports import free_port
from tests.otlp_receiver import Received, serve

ROOT = Path(__file__).resolve().parents[2]
CONFIG_DIR = ROOT / "collector-config"
BUILD_SCRIPT = ROOT / "collector" / "build.sh"
BINARY = ROOT / "collector" / "_build" / "otelcol-toolaudit"
HMAC_KEY = "collector-tests-hmac-key-0123456789abcdef"


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``predicate`` every 0.1 s; fail naming ``what`` if it is still false after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.1)


class Receiver:
    """A stand-in OTLP/HTTP receiver on a fixed port that can be stopped and started again; what
    every run received is kept."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.runs: list[Received] = []
        self._server: Iterator[Received] | None = None

    def start(self) -> None:
        self._server = serve(self.port)
        self.runs.append(next(self._server))

    def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None

    @property
    def bodies(self) -> list[bytes]:
        return [body for run in self.runs for body in run.bodies]

    def spans(self) -> list[Any]:
        return [span for run in self.runs for span in run.spans()]

    def span_ids(self) -> list[tuple[str, str]]:
        """``(trace id, span id)`` in hex of every span received, in arrival order."""
        return [(span.trace_id.hex(), span.span_id.hex()) for span in self.spans()]


class Collector:
    """One otelcol-toolaudit process running ``config`` with ``env``; its log goes to ``log``."""

    def __init__(self, config: str, env: Mapping[str, str], log: Path) -> None:
        self.config = CONFIG_DIR / config
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("TOOLAUDIT_")},
            **env,
        }
        self.log = log
        self.health = f"http://{env['TOOLAUDIT_COLLECTOR_HEALTH_ENDPOINT']}/"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> None:
        """Start the collector and wait until its health check says it is ready."""
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [str(BINARY), "--config", str(self.config)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_until(self._healthy, timeout, f"the collector ({self.config.name}) to be ready")

    def _healthy(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(
                f"the collector exited with {self.process.returncode}: {self.log_tail()}"
            )
        try:
            with urllib.request.urlopen(self.health, timeout=1) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> None:
        """Send ``sig`` (SIGTERM: a graceful shutdown) and wait; SIGKILL if it does not exit."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(sig)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)

    def log_tail(self, lines: int = 20) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def collector_env(tmp: Path, name: str, **extra: str) -> dict[str, str]:
    """The environment of one collector: free ports, its own queue directory, quick retries."""
    return {
        "TOOLAUDIT_COLLECTOR_HMAC_KEY": HMAC_KEY,
        "TOOLAUDIT_COLLECTOR_GRPC_ENDPOINT": f"127.0.0.1:{free_port()}",
        "TOOLAUDIT_COLLECTOR_HTTP_ENDPOINT": f"127.0.0.1:{free_port()}",
        "TOOLAUDIT_COLLECTOR_HEALTH_ENDPOINT": f"127.0.0.1:{free_port()}",
        "TOOLAUDIT_COLLECTOR_METRICS_PORT": str(free_port()),
        "TOOLAUDIT_COLLECTOR_STORAGE_DIR": str(tmp / f"{name}-queue"),
        "TOOLAUDIT_COLLECTOR_RETRY_INITIAL": "100ms",
        "TOOLAUDIT_COLLECTOR_RETRY_MAX": "500ms",
        **extra,
    }


def start_app(
    endpoint: str, rounds: int, pause: float, *, service_name: str = "support-agent"
) -> subprocess.Popen[str]:
    """``tests/apps/collector_app.py`` under ``opentelemetry-instrument`` as ``service_name``,
    exporting OTLP/HTTP to ``endpoint``. The in-process span redaction is off, so the collector is
    what masks the app's own spans."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "PYTHONPATH"))} | {
        "PYTHONPATH": str(ROOT),
        "OTEL_SERVICE_NAME": service_name,
        "OTEL_RESOURCE_ATTRIBUTES": "service.owner=ops.lead@example.com",
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        "OTEL_PYTHON_TOOLAUDIT_REDACT_SPANS": "false",
    }
    instrument = Path(sys.executable).with_name("opentelemetry-instrument")
    return subprocess.Popen(
        [
            str(instrument),
            sys.executable,
            "-m",
            "tests.apps.collector_app",
            str(rounds),
            str(pause),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish_app(
    app: subprocess.Popen[str], timeout: float = 120
) -> dict[str, list[tuple[str, str]]]:
    """Wait for the app; its printed spans by kind (``AUDIT``, ``PLAIN``) as ``(trace, span)``."""
    try:
        stdout, stderr = app.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        app.kill()
        stdout, stderr = app.communicate()
        raise AssertionError(
            f"the app did not finish in {timeout:.0f} s: {stderr[-2000:]}"
        ) from None
    assert app.returncode == 0, stderr[-2000:]
    assert "APP-DONE" in stdout, stderr[-2000:]
    emitted: dict[str, list[tuple[str, str]]] = {"AUDIT": [], "PLAIN": []}
    for line in stdout.splitlines():
        kind, _, ids = line.partition(" ")
        if kind in emitted:
            trace_id, span_id = ids.split()
            emitted[kind].append((trace_id, span_id))
    return emitted


def stop_app(app: subprocess.Popen[str] | None) -> None:
    """Kill the app if it still runs (a test that failed before waiting for it)."""
    if app is not None and app.poll() is None:
        app.kill()
        app.communicate()
