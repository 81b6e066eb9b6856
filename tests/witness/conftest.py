# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from opentelemetry_instrumentation_toolaudit.ledger import NoteSigner
from opentelemetry_instrumentation_toolaudit.witness import CosignerVerifier
from tests.audit.conftest import pg_url  # noqa: F401 - a fixture for the PostgreSQL sink

pytest.importorskip("uvicorn")
pytest.importorskip("starlette")

_LISTENING = re.compile(r"listening on (https?://127\.0\.0\.1:\d+)")


class WitnessProcess:
    """A ``toolaudit witness`` subprocess on a free loopback port."""

    def __init__(self, directory: Path, log_vkey: Path, *extra: str) -> None:
        self.directory = directory
        self.log_vkey = log_vkey
        self.extra = extra
        self.key = directory / "witness.key"
        self.state = directory / "state"
        self.process: subprocess.Popen[str] | None = None
        self.url = ""
        self.verifier: CosignerVerifier | None = None

    def start(self) -> WitnessProcess:
        stderr = self.directory / "witness.stderr"
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "opentelemetry_instrumentation_toolaudit.cli",
                "witness",
                "--key",
                str(self.key),
                "--state",
                str(self.state),
                "--listen",
                "127.0.0.1:0",
                "--log-key",
                str(self.log_vkey),
                "--name",
                "witness.test/w1",
                *self.extra,
            ],
            stdout=subprocess.PIPE,
            stderr=stderr.open("w"),
            text=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            found = _LISTENING.search(stderr.read_text())
            if found:
                self.url = found.group(1)
                assert self.process.stdout is not None
                self.verifier = CosignerVerifier.from_vkey(self.process.stdout.readline())
                return self
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise AssertionError(f"the witness did not start: {stderr.read_text()}")

    def stop(self) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)
        if self.process.stdout is not None:
            self.process.stdout.close()
        code = self.process.returncode
        self.process = None
        return code


@pytest.fixture
def log_signer(tmp_path: Path) -> NoteSigner:
    """The log's signing key; its verifier key is in tmp_path/log.vkey."""
    signer = NoteSigner.generate("test.example/audit")
    (tmp_path / "log.vkey").write_text(signer.verifier.vkey() + "\n")
    return signer


@pytest.fixture
def witness(tmp_path: Path, log_signer: NoteSigner) -> Iterator[WitnessProcess]:
    """A running witness that vouches for the log of ``log_signer``."""
    process = WitnessProcess(tmp_path, tmp_path / "log.vkey").start()
    try:
        yield process
    finally:
        process.stop()
