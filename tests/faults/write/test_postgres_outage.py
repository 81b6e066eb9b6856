# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""PostgreSQL outages against the real server: a terminated backend, a database that goes away."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pytest

from opentelemetry_instrumentation_toolaudit.ledger import AuditLog, open_sink
from tests.audit.conftest import PG_BASE, _pg_admin, body, pg_url  # noqa: F401 - fixture

from .conftest import REFUNDS, make_exporter, order_ids, tool_span, verified_size


def _with(url: str, **params: str) -> str:
    return url + ("&" if "?" in url else "?") + "&".join(f"{k}={v}" for k, v in params.items())


def terminate(application_name: str) -> int:
    """End every backend of sessions named ``application_name``, as a restart or failover does."""
    admin = _pg_admin()
    try:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
            (application_name,),
        ).fetchall()
    finally:
        admin.close()
    return len(rows)


@pytest.fixture
def named_url(pg_url: str) -> tuple[str, str]:  # noqa: F811 - the fixture imported above
    """A fresh schema's URL whose sessions carry an application name of their own."""
    name = f"toolaudit_fault_{uuid.uuid4().hex[:8]}"
    return _with(pg_url, application_name=name), name


class Database:
    """A database of this test's own that can be taken away (renamed) and brought back."""

    def __init__(self) -> None:
        self.name = f"toolaudit_away_{uuid.uuid4().hex[:8]}"
        self.admin = _pg_admin()
        self.admin.execute(f'CREATE DATABASE "{self.name}"')
        self.url = PG_BASE.rsplit("/", 1)[0] + f"/{self.name}"

    def away(self) -> None:
        """Rename the database away, ending its sessions: new connections fail as for a database
        that is down."""
        self.admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
            (self.name,),
        )
        self.admin.execute(f'ALTER DATABASE "{self.name}" RENAME TO "{self.name}_away"')

    def back(self) -> None:
        self.admin.execute(f'ALTER DATABASE "{self.name}_away" RENAME TO "{self.name}"')

    def drop(self) -> None:
        for name in (self.name, f"{self.name}_away"):
            self.admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.admin.close()


@pytest.fixture
def database() -> Iterator[Database]:
    db = Database()
    try:
        yield db
    finally:
        db.drop()


def test_a_terminated_backend_is_replaced_on_the_next_append(named_url, signer):
    """After the sink's backend is terminated the next append opens a new session and commits;
    the trail verifies and its final checkpoint covers every record."""
    url, name = named_url
    log = AuditLog(open_sink(url), signer=signer, checkpoint_interval=3600)
    log.append([body(0), body(1)])
    assert terminate(name) == 1
    log.append([body(2)])
    assert terminate(name) == 1
    log.close()
    assert verified_size(url, signer) == 3


def test_backends_terminated_during_a_run_lose_no_record(named_url, signer):
    """300 calls with the backend terminated after every 50: all 300 are stored once, nothing is
    dropped, and the trail is anchored to its end."""
    url, name = named_url
    exporter = make_exporter(url, signer)
    try:
        for i in range(300):
            exporter.export([tool_span(i)])
            if i % 50 == 49:
                terminate(name)
    finally:
        exporter.shutdown()
    assert order_ids(url) == [f"ORD-{i}" for i in range(300)]
    assert (exporter.stats()["records"], exporter.stats().get("dropped", 0)) == (300, 0)
    assert verified_size(url, signer) == 300


def test_fail_closed_tools_run_after_the_backend_is_terminated(named_url, signer, fail_closed):
    """A fail-closed tool whose session was terminated while idle runs (its intent is written on a
    new session), every time."""
    url, name = named_url
    exporter = make_exporter(url, signer)
    tools = fail_closed(exporter)
    try:
        ran = []
        for i in range(3):
            terminate(name)
            ran.append(tools.runs(f"ORD-{i}"))
    finally:
        exporter.shutdown()
    assert (ran, REFUNDS) == ([True] * 3, ["ORD-0", "ORD-1", "ORD-2"])
    assert order_ids(url) == ["ORD-0", "ORD-1", "ORD-2"]


def test_records_written_while_the_database_is_away_arrive_once_it_is_back(
    database, signer, fail_closed
):
    """While the database is away records wait in the buffer and fail-closed tools are refused;
    once it is back every record arrives exactly once, none dropped, and the tools run again."""
    exporter = make_exporter(database.url, signer)
    tools = fail_closed(exporter)
    try:
        for i in range(10):
            exporter.export([tool_span(i)])
        database.away()
        for i in range(10, 20):
            exporter.export([tool_span(i)])
        refused = tools.runs("ORD-refused")
        during = exporter.stats()
        assert exporter.force_flush() is False
        database.back()
        assert exporter.force_flush() is True
        again = tools.runs("ORD-after")
    finally:
        exporter.shutdown()
    # Buffered: the 10 calls and the refused call's own record (its outcome, AuditUnavailableError).
    assert (during["buffered"], during["refused_intents"]) == (11, 1)
    assert (refused, again, REFUNDS) == (False, True, ["ORD-after"])
    expected = [f"ORD-{i}" for i in range(20)]
    assert sorted(order_ids(database.url)) == sorted([*expected, "ORD-refused", "ORD-after"])
    stats = exporter.stats()
    # 20 calls, the refused call's record, and the intent and outcome of the call that ran.
    assert (stats["records"], stats.get("dropped", 0), stats["buffered"]) == (23, 0, 0)
    assert verified_size(database.url, signer) == 23


def test_an_outage_longer_than_the_buffer_loses_exactly_what_is_counted(database, signer):
    """With the database away for longer than the buffer holds, the records stored are exactly
    those exported less those stats() counts as dropped."""
    exporter = make_exporter(database.url, signer, max_buffer=5)
    try:
        exporter.export([tool_span(0)])
        database.away()
        for i in range(1, 13):
            exporter.export([tool_span(i)])
        database.back()
    finally:
        exporter.shutdown()
    stored = order_ids(database.url)
    assert stored == [f"ORD-{i}" for i in range(6)]
    assert exporter.stats()["dropped"] == 13 - len(stored) == 7


def test_a_backend_terminated_while_its_append_waits_is_replaced(named_url, signer):
    """A backend terminated in the middle of an append (waiting for the append lock another
    session holds) is replaced: the batch commits once the lock is free, each record once."""
    url, name = named_url
    log = AuditLog(open_sink(url), signer=signer, checkpoint_interval=3600)
    schema = url.split("%3D", 1)[1].split("&", 1)[0]
    admin = _pg_admin()
    admin.execute("SELECT pg_advisory_lock(hashtext(%s || '.toolaudit_append'))", (schema,))
    errors: list[BaseException] = []

    def append() -> None:
        try:
            log.append([body(0), body(1)])
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    writer = threading.Thread(target=append)
    writer.start()
    try:
        _wait_for_lock_waiter(admin, name)
        assert terminate(name) == 1
        _wait_for_lock_waiter(admin, name)
    finally:
        admin.execute("SELECT pg_advisory_unlock_all()")
        admin.close()
        writer.join(timeout=30)
    log.close()
    assert errors == []
    assert verified_size(url, signer) == 2


def _wait_for_lock_waiter(admin, application_name: str) -> None:  # type: ignore[no-untyped-def]
    """Until a session named ``application_name`` waits for a lock (at most 10 s)."""
    for _ in range(1000):
        waiting = admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s "
            "AND wait_event_type = 'Lock'",
            (application_name,),
        ).fetchone()[0]
        if waiting:
            return
        time.sleep(0.01)
    raise AssertionError("the append never waited for the lock")
