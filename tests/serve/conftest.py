# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""`toolaudit serve` as a real subprocess on free local ports, and the sinks it writes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests._ports import free_port
from tests.audit.conftest import pg_url  # noqa: F401 - a fixture used by this directory's tests

ROOT = Path(__file__).resolve().parents[2]
TOOLAUDIT = str(Path(sys.executable).with_name("toolaudit"))
EMAIL = "jane.doe@example.com"


class Serve:
    """One `toolaudit serve` process; its stderr goes to a file the tests read."""

    def __init__(self, sink: str, workdir: Path, *extra: str, env: dict[str, str] | None = None):
        self.sink = sink
        self.workdir = workdir
        self.extra = extra
        self.env = env or {}
        self.http_port = free_port()
        self.grpc_port = free_port()
        self.scheme = "https" if "--tls-cert" in extra else "http"
        self.proc: subprocess.Popen[bytes] | None = None
        self.logs: list[Path] = []

    @property
    def http_url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.http_port}"

    @property
    def grpc_address(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def start(self) -> Serve:
        log = self.workdir / f"serve-{len(self.logs)}-{self.http_port}.log"
        self.logs.append(log)
        env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
        env |= {
            "OTEL_PYTHON_TOOLAUDIT_SIGNING_KEY_FILE": str(self.workdir / "signing.key"),
            "OTEL_PYTHON_TOOLAUDIT_HASH_KEY": os.environ["OTEL_PYTHON_TOOLAUDIT_HASH_KEY"],
            **self.env,
        }
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                [
                    TOOLAUDIT,
                    "serve",
                    "--sink",
                    self.sink,
                    "--http",
                    f"127.0.0.1:{self.http_port}",
                    "--grpc",
                    self.grpc_address,
                    *self.extra,
                ],
                cwd=self.workdir,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while "listening on" not in log.read_text():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"toolaudit serve did not start: {log.read_text()}")
            time.sleep(0.05)
        return self

    def stop(self) -> int:
        """SIGTERM and wait: in-flight requests finish, the log closes with a checkpoint."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=60)

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=30)

    def output(self) -> str:
        return "".join(log.read_text() for log in self.logs)


@pytest.fixture
def serve_factory(tmp_path: Path) -> Iterator[type[Serve]]:
    """Start `toolaudit serve` processes (``serve_factory(sink, *flags).start()``); all are
    stopped at the end of the test."""
    started: list[Serve] = []

    class _Serve(Serve):
        def __init__(self, sink: str, *extra: str, env: dict[str, str] | None = None):
            super().__init__(sink, tmp_path, *extra, env=env)
            started.append(self)

    yield _Serve
    for serve in started:
        if serve.proc is not None and serve.proc.poll() is None:
            serve.kill9()


@pytest.fixture(params=["sqlite", "postgres"])
def serve_sink(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty SQLite or PostgreSQL sink."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/audit.db"
    return str(request.getfixturevalue("pg_url"))


def verify(sink: str, workdir: Path) -> subprocess.CompletedProcess[str]:
    """`toolaudit verify` on the sink, pinned to the serve processes' key."""
    return subprocess.run(
        [TOOLAUDIT, "verify", sink, "--public-key", str(workdir / "signing.key.pub")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def records(sink: str) -> list[dict[str, object]]:
    """Every stored record, in order."""
    from opentelemetry_instrumentation_toolaudit.ledger import open_sink

    store = open_sink(sink, create=False)
    try:
        return [stored.record for stored in store.read()]
    finally:
        store.close()


def health(url: str, **kwargs: object) -> httpx.Response:
    return httpx.get(f"{url}/healthz", timeout=10, **kwargs)  # type: ignore[arg-type]
