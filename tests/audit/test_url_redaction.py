# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""A sink URL's password never reaches a message, a log line or the CLI's output."""

from __future__ import annotations

import collections
import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from opentelemetry_instrumentation_toolaudit import (
    AuditLogExporter,
    ToolAuditInstrumentor,
    audited_tool,
    cli,
)
from opentelemetry_instrumentation_toolaudit.ledger import NoteSigner, open_sink
from opentelemetry_instrumentation_toolaudit.ledger.stores import SinkError, redact_url

from .conftest import PG_BASE, write_log

SECRET = "Pa55-w0rd-never-shown"
LOGGER = "opentelemetry_instrumentation_toolaudit"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://user:secret@host/db", "postgresql://user:***@host/db"),
        (
            "postgres://user:secret@host:5433/db?sslmode=require",
            "postgres://user:***@host:5433/db?sslmode=require",
        ),
        ("postgresql://:secret@host/db", "postgresql://:***@host/db"),
        ("postgresql://u:p@ss/w?rd@host/db", "postgresql://u:***@host/db"),
        (
            "postgresql://host/db?user=u&password=secret&x=1",
            "postgresql://host/db?user=u&password=***&x=1",
        ),
        ("postgresql://host/db?PASSWORD=secret", "postgresql://host/db?PASSWORD=***"),
        ("host=h password=secret user=u", "host=h password=*** user=u"),
        ("host=h password='sec ret' user=u", "host=h password=*** user=u"),
        ("postgresql://h/db?sslpassword=secret", "postgresql://h/db?sslpassword=***"),
        ('in URI: "postgresql://u:secret@[::1/db"', 'in URI: "postgresql://u:***@[::1/db"'),
        ("postgresql://user@host/db", "postgresql://user@host/db"),
        ("postgresql://host:5432/db", "postgresql://host:5432/db"),
        ("sqlite:////var/lib/audit.db", "sqlite:////var/lib/audit.db"),
        ("jsonl:///audit.jsonl", "jsonl:///audit.jsonl"),
    ],
)
def test_redact_url(url, shown):
    """The password (userinfo or password= parameter) is masked; the rest of the URL is kept."""
    assert redact_url(url) == shown


def _bad_pg_urls() -> list[str]:
    base = PG_BASE.split("://", 1)[1]  # postgres@127.0.0.1:5432/test
    user, rest = base.split("@", 1)
    return [
        # unreachable server
        f"postgresql://{user}:{SECRET}@127.0.0.1:1/test",
        # a URI libpq cannot parse, and quotes whole in its error
        f"postgresql://{user}:{SECRET}@[::1/test",
        # reachable (trust auth accepts any password), but no toolaudit tables in this schema
        f"postgresql://{user}:{SECRET}@{rest}?options=-csearch_path%3Dno_such_toolaudit_schema",
        # a bad percent-escape: libpq quotes the token alone ("invalid percent-encoded token")
        f"postgresql://{user}:{SECRET}%zz@127.0.0.1:1/test",
        # a password with a space in it
        f"postgresql://{user}:{SECRET} x@127.0.0.1:1/test",
        # the password as a query parameter
        f"postgresql://{rest.split('/')[0].split(':')[0]}:1/test?user={user}&password={SECRET}",
    ]


@pytest.mark.parametrize("url", _bad_pg_urls())
def test_bad_postgres_url_error_hides_the_password(url):
    """SinkError's text names the sink with its password masked."""
    pytest.importorskip("psycopg")
    with pytest.raises(SinkError) as caught:
        open_sink(url, create=False)
    assert SECRET not in str(caught.value)
    assert "***" in str(caught.value)


@pytest.mark.parametrize("url", _bad_pg_urls())
def test_cli_verify_bad_postgres_url_hides_the_password(url, capsys, caplog):
    """`toolaudit verify` of a bad PostgreSQL URL exits 2; the password is in no output nor log."""
    pytest.importorskip("psycopg")
    with caplog.at_level(logging.DEBUG):
        code = cli.main(["verify", url])
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert err.startswith("toolaudit verify: error: postgresql://")
    assert SECRET not in err + caplog.text


def test_console_script_bad_postgres_url_hides_the_password():
    """The same through the installed console script: nothing on stdout or stderr shows it."""
    pytest.importorskip("psycopg")
    script = Path(sys.executable).with_name("toolaudit")
    for url in _bad_pg_urls()[:2]:
        proc = subprocess.run(
            [str(script), "verify", url], capture_output=True, text=True, timeout=120, check=False
        )
        assert (proc.returncode, proc.stdout) == (2, "")
        assert proc.stderr.count("\n") == 1 and "***@" in proc.stderr
        assert SECRET not in proc.stderr


def test_verify_json_shows_the_sink_without_its_password(pg_url, capsys):
    """A readable PostgreSQL sink reached with a password: the JSON report's sink is masked."""
    scheme, rest = pg_url.split("://", 1)
    user, host = rest.split("@", 1)
    url = f"{scheme}://{user}:{SECRET}@{host}"
    write_log(url, NoteSigner.generate("test.example/audit"), 3)
    code = cli.main(["verify", url, "--format", "json"])
    out, err = capsys.readouterr()
    assert (code, json.loads(out)["sink"]) == (0, f"{scheme}://{user}:***@{host}")
    assert SECRET not in out + err


@audited_tool
def lookup_order(order_id: str) -> dict[str, Any]:
    """Look an order up."""
    return {"order_id": order_id}


def test_exporter_log_line_hides_the_password(caplog, monkeypatch):
    """The exporter's once-per-kind warning about an unreachable sink masks the password."""
    pytest.importorskip("psycopg")
    from opentelemetry_instrumentation_toolaudit import _log

    monkeypatch.setattr(_log, "_counts", collections.Counter())
    exporter = AuditLogExporter(sink_url=_bad_pg_urls()[0], retry_interval=3600)
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    instrumentor = ToolAuditInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        with caplog.at_level(logging.DEBUG):
            lookup_order("ORD-1")
    finally:
        instrumentor.uninstrument()
        exporter.shutdown()
    (line,) = [
        r.getMessage() for r in caplog.records if "writing to the audit sink" in r.getMessage()
    ]
    assert "cannot connect" in line and ":***@127.0.0.1:1/test" in line
    assert SECRET not in caplog.text
