# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""One audit log per service: the real gateway with ``gateway-per-service.yaml`` (the
``load_balancing`` exporter, ``routing_key: service``) in front of two ``toolaudit serve``
processes, each with its own SQLite trail and signing key."""

from __future__ import annotations

import itertools
from pathlib import Path

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

CANDIDATES = [f"{team}-agent" for team in ("support", "billing", "claims", "refunds", "sales")]


def stored(sink: str) -> list[tuple[str, str, str]]:
    """``(service name, trace id, span id)`` of every record in the sink, in chain order."""
    return [
        (str(r.get("service_name")), str(r["trace_id"]), str(r["span_id"])) for r in records(sink)
    ]


def test_each_service_has_its_own_log(collector_binary: Path, tmp_path: Path) -> None:
    """Two apps (two service names) through the gateway reach two serve processes: each trail
    holds exactly its service's audit spans, once each, and verifies with its own key."""
    serves = []
    for name in ("a", "b"):
        workdir = tmp_path / name
        workdir.mkdir()
        serves.append(Serve(f"sqlite:///{workdir}/audit.db", workdir))
    endpoints = [serve.grpc_address for serve in serves]
    # The hash decides which service goes where: take the first two names it puts apart.
    service_of = {}
    for name in CANDIDATES:
        service_of.setdefault(endpoint_for_service(endpoints, name), name)
    assert len(service_of) == 2, "no two candidate names hash to different endpoints"
    backend = Receiver()
    gw_env = collector_env(
        tmp_path,
        "gateway",
        TOOLAUDIT_TRACING_ENDPOINT=backend.url,
        TOOLAUDIT_AUDIT_GRPC_ENDPOINTS="[" + ", ".join(endpoints) + "]",
    )
    gateway = Collector("gateway-per-service.yaml", gw_env, tmp_path / "gateway.log")
    apps = []
    try:
        backend.start()
        for serve in serves:
            serve.start()
        gateway.start()
        target = f"http://{gw_env['TOOLAUDIT_COLLECTOR_HTTP_ENDPOINT']}"
        apps = [
            start_app(target, 10, 0.02, service_name=service_of[serve.grpc_address])
            for serve in serves
        ]
        emitted = [finish_app(app)["AUDIT"] for app in apps]
        wait_until(
            lambda: all(
                len(stored(serve.sink)) >= len(audit)
                for serve, audit in zip(serves, emitted, strict=True)
            ),
            60,
            "the records of both services",
        )
        gateway.stop()
        for serve in serves:
            assert serve.stop() == 0, serve.output()
        for serve, audit in zip(serves, emitted, strict=True):
            service = service_of[serve.grpc_address]
            trail = stored(serve.sink)
            assert len(audit) == 12  # ten tool calls and two chat spans
            assert sorted(trail) == sorted((service, *ids) for ids in audit)
            result = verify(serve.sink, serve.workdir)
            assert result.returncode == 0, result.stdout + result.stderr
        keys = {(serve.workdir / "signing.key.pub").read_text() for serve in serves}
        assert len(keys) == 2  # two logs, two signing keys
        spans = list(itertools.chain.from_iterable(emitted))
        assert set(spans) <= set(backend.span_ids())
    finally:
        for app in apps:
            stop_app(app)
        gateway.stop()
        for serve in serves:
            if serve.proc is not None and serve.proc.poll() is None:
                serve.kill9()
        backend.stop()
