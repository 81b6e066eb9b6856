# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""One audit log per service: the real gateway with ``gateway-per-service.yaml`` (the
``load_balancing`` exporter, ``routing_key: service``) in front of two ``toolaudit serve``
processes, each with its own SQLite trail and signing key."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.collector._ring import endpoint_for_service
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

# Enough names that two of them land on different endpoints whatever the (random) ports: with
# the ring's two halves, all 40 on one endpoint has a chance of 2**-39.
CANDIDATES = [
    f"{team}-agent-{i}"
    for i in range(8)
    for team in ("support", "billing", "claims", "refunds", "sales")
]


class Logs:
    """Two ``serve`` processes (two logs), the service name the gateway routes to each, the
    gateway in front of them and the stand-in tracing backend."""

    def __init__(self, tmp_path: Path) -> None:
        self.serves = []
        for name in ("a", "b"):
            workdir = tmp_path / name
            workdir.mkdir()
            self.serves.append(Serve(f"sqlite:///{workdir}/audit.db", workdir))
        endpoints = [serve.grpc_address for serve in self.serves]
        # The hash decides which service goes where: take the first two names it puts apart.
        by_endpoint: dict[str, str] = {}
        for name in CANDIDATES:
            by_endpoint.setdefault(endpoint_for_service(endpoints, name), name)
        assert len(by_endpoint) == 2, "no two candidate names hash to different endpoints"
        self.services = [by_endpoint[endpoint] for endpoint in endpoints]
        self.backend = Receiver()
        env = collector_env(
            tmp_path,
            "gateway",
            TOOLAUDIT_TRACING_ENDPOINT=self.backend.url,
            TOOLAUDIT_AUDIT_GRPC_ENDPOINTS="[" + ", ".join(endpoints) + "]",
        )
        self.gateway = Collector("gateway-per-service.yaml", env, tmp_path / "gateway.log")
        self.target = f"http://{env['TOOLAUDIT_COLLECTOR_HTTP_ENDPOINT']}"

    def run_apps(self, rounds: int) -> list[list[tuple[str, str]]]:
        """Run one app per service to the end; each app's audit spans ``(trace, span)``."""
        apps = [start_app(self.target, rounds, 0.02, service_name=s) for s in self.services]
        try:
            return [finish_app(app)["AUDIT"] for app in apps]
        finally:
            for app in apps:
                stop_app(app)

    def check(self, emitted: list[list[tuple[str, str]]]) -> None:
        """Stop everything; each trail holds exactly its service's audit spans, once each, and
        verifies with its own key."""
        self.gateway.stop()
        for serve in self.serves:
            assert serve.stop() == 0, serve.output()
        for serve, service, audit in zip(self.serves, self.services, emitted, strict=True):
            assert sorted(stored(serve.sink)) == sorted((service, *ids) for ids in audit)
            result = verify(serve.sink, serve.workdir)
            assert result.returncode == 0, result.stdout + result.stderr
        keys = {(serve.workdir / "signing.key.pub").read_text() for serve in self.serves}
        assert len(keys) == 2  # two logs, two signing keys

    def close(self) -> None:
        self.gateway.stop()
        for serve in self.serves:
            if serve.proc is not None and serve.proc.poll() is None:
                serve.kill9()
        self.backend.stop()


@pytest.fixture
def logs(collector_binary: Path, tmp_path: Path) -> Iterator[Logs]:
    """Both serve processes, the gateway and the backend, running."""
    setup = Logs(tmp_path)
    try:
        setup.backend.start()
        for serve in setup.serves:
            serve.start()
        setup.gateway.start()
        yield setup
    finally:
        setup.close()


def stored(sink: str) -> list[tuple[str, str, str]]:
    """``(service name, trace id, span id)`` of every record in the sink, in chain order."""
    return [
        (str(r.get("service_name")), str(r["trace_id"]), str(r["span_id"])) for r in records(sink)
    ]


def has_all(sink: str, audit: list[tuple[str, str]]) -> bool:
    return {(t, s) for _, t, s in stored(sink)} >= set(audit)


def test_each_service_has_its_own_log(logs: Logs) -> None:
    """Two apps (two service names) through the gateway reach two serve processes: each trail
    holds exactly its service's audit spans, once each, and verifies with its own key."""
    emitted = logs.run_apps(10)
    assert [len(audit) for audit in emitted] == [12, 12]  # ten tool calls, two chat spans each
    wait_until(
        lambda: all(has_all(s.sink, a) for s, a in zip(logs.serves, emitted, strict=True)),
        60,
        "the records of both services",
    )
    assert set(emitted[0] + emitted[1]) <= set(logs.backend.span_ids())
    logs.check(emitted)


def test_a_log_down_across_a_gateway_kill_loses_nothing(logs: Logs) -> None:
    """While one service's serve is down the gateway is killed (SIGKILL): after both restart,
    that service's audit spans arrive from the queue on disk, once each, in its own log only."""
    down, up = logs.serves
    assert down.stop() == 0
    emitted = logs.run_apps(8)
    wait_until(lambda: has_all(up.sink, emitted[1]), 60, "the records of the running log")
    wait_until(
        lambda: set(emitted[0]) <= set(logs.backend.span_ids()), 60, "the gateway to take them"
    )
    logs.gateway.stop(signal.SIGKILL)
    logs.gateway.start()
    down.start()
    wait_until(lambda: has_all(down.sink, emitted[0]), 90, "the queued records")
    logs.check(emitted)
