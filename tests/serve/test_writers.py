# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Several `toolaudit serve` processes keep one linear PostgreSQL chain, and a kill -9 loses nothing
that was acknowledged (SQLite and PostgreSQL)."""

from __future__ import annotations

import collections
import contextlib
import os
import threading
import time

import httpx

from tests.serve.conftest import records, verify
from tests.serve.otlp_requests import request_protobuf, tool_span

PROTOBUF = {"Content-Type": "application/x-protobuf"}


def batches(n: int, size: int) -> list[tuple[bytes, list[str]]]:
    """``n`` protobuf requests of ``size`` tool spans each, with the span ids each holds."""
    out = []
    for _ in range(n):
        spans = [tool_span(span_id=os.urandom(8).hex()) for _ in range(size)]
        out.append((request_protobuf(spans), [span["spanId"] for span in spans]))
    return out


def send_all(url: str, requests: list[tuple[bytes, list[str]]], acknowledged: list[str]) -> None:
    """Post each request once; the span ids of those answered 200 go to ``acknowledged``."""
    with httpx.Client(timeout=30) as client:
        for body, span_ids in requests:
            try:
                response = client.post(f"{url}/v1/traces", content=body, headers=PROTOBUF)
            except httpx.HTTPError:
                return  # the server went away: what was not acknowledged is the client's to retry
            if response.status_code == 200:
                acknowledged.extend(span_ids)


def test_two_serve_processes_keep_one_linear_chain(pg_url, serve_factory, tmp_path):
    """Two serve processes committing the same requests at once to one PostgreSQL chain store each span once, verified."""
    first = serve_factory(pg_url).start()
    second = serve_factory(pg_url).start()
    work = batches(30, 20)
    acknowledged: list[str] = []
    threads = [
        threading.Thread(target=send_all, args=(serve.http_url, part, acknowledged))
        for serve in (first, second)
        for part in (work[::2], work[1::2])
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert first.stop() == 0
    assert second.stop() == 0
    stored = records(pg_url)
    expected = sorted(span_id for _, span_ids in work for span_id in span_ids)
    assert sorted(acknowledged) == sorted(expected * 2)
    assert sorted(r["span_id"] for r in stored) == expected
    assert [r["seq"] for r in stored] == list(range(len(expected)))
    result = verify(pg_url, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_kill_9_loses_nothing_acknowledged(serve_sink, serve_factory, tmp_path):
    """After a kill -9 mid-load and a restart, every span serve acknowledged is in the chain exactly once."""
    serve = serve_factory(serve_sink).start()
    work = batches(400, 20)
    acknowledged: list[str] = []
    threads = [
        threading.Thread(target=send_all, args=(serve.http_url, work[i::4], acknowledged))
        for i in range(4)
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 60
    while len(acknowledged) < 400 and time.monotonic() < deadline:
        time.sleep(0.01)
    serve.kill9()
    for thread in threads:
        thread.join()
    assert 400 <= len(acknowledged) < 8000
    restarted = serve_factory(serve_sink).start()
    counts = collections.Counter(r["span_id"] for r in records(serve_sink))
    assert [span_id for span_id in acknowledged if counts[span_id] != 1] == []
    # The clients retry everything (as a Collector's queue does): still each span exactly once.
    retried: list[str] = []
    send_all(restarted.http_url, work, retried)
    assert len(retried) == 8000
    assert restarted.stop() == 0
    stored = records(serve_sink)
    assert sorted(r["span_id"] for r in stored) == sorted(s for _, ids in work for s in ids)
    result = verify(serve_sink, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_sink_outage_answers_503_then_recovers(serve_factory, tmp_path):
    """While the PostgreSQL database cannot be reached the request is refused 503 with Retry-After, and its retry is committed."""
    import psycopg

    from tests.audit.conftest import PG_BASE, _pg_admin

    name = f"toolaudit_serve_{os.urandom(4).hex()}"
    sink = PG_BASE.rsplit("/", 1)[0] + f"/{name}"
    admin = _pg_admin()
    admin.execute(f'CREATE DATABASE "{name}"')
    gone = f"{name}_gone"

    def disconnect(database: str) -> None:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (database,)
        )

    try:
        serve = serve_factory(sink).start()
        first, retried = batches(2, 5)
        response = httpx.post(f"{serve.http_url}/v1/traces", content=first[0], headers=PROTOBUF)
        assert response.status_code == 200
        disconnect(name)
        admin.execute(f'ALTER DATABASE "{name}" RENAME TO "{gone}"')
        response = httpx.post(
            f"{serve.http_url}/v1/traces", content=retried[0], headers=PROTOBUF, timeout=60
        )
        assert (response.status_code, response.headers["retry-after"]) == (503, "1")
        admin.execute(f'ALTER DATABASE "{gone}" RENAME TO "{name}"')
        response = httpx.post(
            f"{serve.http_url}/v1/traces", content=retried[0], headers=PROTOBUF, timeout=60
        )
        assert response.status_code == 200
        assert serve.stop() == 0
        assert sorted(r["span_id"] for r in records(sink)) == sorted(first[1] + retried[1])
        result = verify(sink, tmp_path)
        assert result.returncode == 0, result.stdout + result.stderr
    finally:
        for database in (name, gone):
            disconnect(database)
            with contextlib.suppress(psycopg.Error):
                admin.execute(f'DROP DATABASE IF EXISTS "{database}"')
        admin.close()
