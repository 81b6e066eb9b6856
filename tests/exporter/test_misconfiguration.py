# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""A misconfigured audit sink shows when the exporter is built, not as records quietly lost."""

from __future__ import annotations

import logging
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export import SpanExportResult

from opentelemetry_instrumentation_toolaudit import AuditLogExporter
from opentelemetry_instrumentation_toolaudit._exceptions import SinkError
from opentelemetry_instrumentation_toolaudit.ledger import open_sink

from ..audit.conftest import _pg_admin, pg_url  # noqa: F401 - fixture
from ..faults.write.conftest import tool_span
from ..test_auto_instrumentation import ROOT
from .test_crash_and_auto import clean_env

SECRET = "s3cr3t-Pa55"
UNREACHABLE = f"postgresql://audit:{SECRET}@127.0.0.1:1/audit"


def stored_order_ids(url: str) -> list[str]:
    with open_sink(url, create=False) as sink:
        return [r.record["arguments"]["order_id"] for r in sink.read()]


def sink_errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.ERROR and "audit sink cannot be used" in r.getMessage()
    ]


def test_a_sink_url_given_positionally_is_used(tmp_path):
    """AuditLogExporter("sqlite:///…") writes its records to that sink."""
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    exporter = AuditLogExporter(url)
    try:
        assert exporter.export([tool_span(1)]) is SpanExportResult.SUCCESS
    finally:
        exporter.shutdown()
    assert (stored_order_ids(url), exporter.stats().get("dropped", 0)) == (["ORD-1"], 0)


@pytest.mark.parametrize("argument", [42, b"sqlite:///audit.db", object()])
def test_anything_but_a_url_or_an_audit_log_is_a_type_error(argument):
    """The first argument is a sink URL, a path or an AuditLog; anything else fails at construction."""
    with pytest.raises(TypeError, match="sink URL \\(str\\), a path or an AuditLog"):
        AuditLogExporter(argument)


def test_a_url_given_twice_is_a_type_error(tmp_path):
    """A URL given both positionally and as sink_url is refused rather than one of them ignored."""
    with pytest.raises(TypeError, match="once"):
        AuditLogExporter("sqlite:///a.db", sink_url=f"sqlite:///{tmp_path / 'b.db'}")


@pytest.mark.parametrize(
    "url", ["sqlite3:///audit.db", "jsonl:///{tmp}/file/audit.jsonl", UNREACHABLE]
)
def test_an_unusable_sink_is_reported_when_the_exporter_is_built(
    url, tmp_path, monkeypatch, caplog
):
    """A wrong scheme, an impossible path or an unreachable server: one error, logged as the
    exporter is built, names the variable to fix and `toolaudit doctor`, never the password."""
    (tmp_path / "file").write_text("a file where a directory should be")
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_SINK", url.format(tmp=tmp_path))
    exporter = AuditLogExporter(retry_interval=3600)
    exporter.shutdown()
    (line,) = sink_errors(caplog)
    assert "OTEL_PYTHON_TOOLAUDIT_SINK" in line and "toolaudit doctor" in line
    assert SECRET not in caplog.text


def test_require_sink_refuses_to_build_the_exporter(monkeypatch, caplog):
    """With OTEL_PYTHON_TOOLAUDIT_REQUIRE_SINK=true an unusable sink raises SystemExit saying why."""
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_SINK", UNREACHABLE)
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_REQUIRE_SINK", "true")
    with pytest.raises(SystemExit, match=r"refusing to start.*cannot connect") as raised:
        AuditLogExporter()
    assert SECRET not in str(raised.value) + caplog.text


def run_instrumented(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    instrument = Path(sys.executable).with_name("opentelemetry-instrument")
    return subprocess.run(
        [str(instrument), sys.executable, "-m", "tests.apps.instrumented_app"],
        cwd=ROOT,
        env=clean_env(tmp_path, OTEL_TRACES_EXPORTER="toolaudit", **env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_require_sink_stops_an_app_under_opentelemetry_instrument(tmp_path):
    """Under opentelemetry-instrument with OTEL_PYTHON_TOOLAUDIT_REQUIRE_SINK=true and an
    unreachable sink, the app never runs: the process exits with status 1 saying why."""
    proc = run_instrumented(
        tmp_path, OTEL_PYTHON_TOOLAUDIT_SINK=UNREACHABLE, OTEL_PYTHON_TOOLAUDIT_REQUIRE_SINK="true"
    )
    assert (proc.returncode, "APP-DONE" in proc.stdout) == (1, False)
    assert "toolaudit: refusing to start: the audit sink cannot be used" in proc.stderr
    assert "SystemExit: toolaudit: refusing to start" in proc.stderr
    assert SECRET not in proc.stdout + proc.stderr


def test_without_require_sink_the_app_runs_and_says_once_why_it_is_unaudited(tmp_path):
    """Without OTEL_PYTHON_TOOLAUDIT_REQUIRE_SINK the app runs; stderr says once, at start, that
    the sink cannot be used and what to fix."""
    proc = run_instrumented(tmp_path, OTEL_PYTHON_TOOLAUDIT_SINK=UNREACHABLE)
    assert (proc.returncode, "APP-DONE" in proc.stdout) == (0, True)
    assert proc.stderr.count("the audit sink cannot be used") == 1
    assert "OTEL_PYTHON_TOOLAUDIT_SINK" in proc.stderr
    assert SECRET not in proc.stdout + proc.stderr


def test_a_missing_postgres_schema_is_created(pg_url):  # noqa: F811 - the fixture imported above
    """A URL whose search_path names a schema that does not exist yet: the sink creates it."""
    schema = f"toolaudit_new_{uuid.uuid4().hex[:8]}"
    url = pg_url.rsplit("%3D", 1)[0] + f"%3D{schema}"
    admin = _pg_admin()
    try:
        exporter = AuditLogExporter(url)
        try:
            assert exporter.export([tool_span(1)]) is SpanExportResult.SUCCESS
        finally:
            exporter.shutdown()
        assert stored_order_ids(url) == ["ORD-1"]
    finally:
        admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.close()


def test_a_role_that_may_not_create_the_schema_is_told_which_create_schema_to_run(pg_url):  # noqa: F811
    """A role without the right to create the missing schema gets the exact CREATE SCHEMA to run."""
    role = f"toolaudit_app_{uuid.uuid4().hex[:8]}"
    schema = f"toolaudit_new_{uuid.uuid4().hex[:8]}"
    url = pg_url.rsplit("%3D", 1)[0].replace("postgres@", f"{role}@") + f"%3D{schema}"
    admin = _pg_admin()
    admin.execute(f'CREATE ROLE "{role}" LOGIN')
    try:
        with pytest.raises(SinkError) as raised:
            open_sink(url)
    finally:
        admin.execute(f'DROP ROLE "{role}"')
        admin.close()
    assert f'run CREATE SCHEMA "{schema}" AUTHORIZATION "{role}";' in str(raised.value)


def test_a_role_that_may_not_insert_is_reported_when_the_exporter_is_built(
    pg_url,  # noqa: F811 - the fixture imported above
    caplog,
):
    """A role that may read the audit tables but not insert into them: the exporter says so when
    it is built, naming the tables and the grant to run."""
    role = f"toolaudit_reader_{uuid.uuid4().hex[:8]}"
    schema = pg_url.rsplit("%3D", 1)[1]
    open_sink(pg_url).close()
    admin = _pg_admin()
    admin.execute(f'CREATE ROLE "{role}" LOGIN')
    admin.execute(f'GRANT USAGE ON SCHEMA "{schema}" TO "{role}"')
    admin.execute(f'GRANT SELECT ON ALL TABLES IN SCHEMA "{schema}" TO "{role}"')
    try:
        exporter = AuditLogExporter(pg_url.replace("postgres@", f"{role}@"), retry_interval=3600)
        exporter.shutdown()
    finally:
        admin.execute(f'DROP OWNED BY "{role}"')
        admin.execute(f'DROP ROLE "{role}"')
        admin.close()
    (line,) = sink_errors(caplog)
    assert "may not INSERT into audit_records, audit_heads, audit_nodes, audit_checkpoints" in line
    assert "grant_writer" in line


@pytest.mark.parametrize("as_path", [False, True], ids=["str", "pathlib"])
@pytest.mark.parametrize("name", ["audit.db", "audit.jsonl"])
def test_a_bare_path_is_a_file_sink(tmp_path, as_path, name):
    """A bare file path (str or pathlib.Path) names a SQLite or JSONL sink, as the CLI reads it."""
    path = tmp_path / name
    exporter = AuditLogExporter(path if as_path else str(path))
    try:
        assert exporter.export([tool_span(1)]) is SpanExportResult.SUCCESS
    finally:
        exporter.shutdown()
    scheme = "jsonl" if name.endswith(".jsonl") else "sqlite"
    assert stored_order_ids(f"{scheme}:///{path}") == ["ORD-1"]
