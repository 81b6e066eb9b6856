# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Audit sinks, opened from a URL.

=============================  ================================================================
``sqlite:///toolaudit.db``     SQLite file, relative to the working directory (the default)
``sqlite:////var/audit.db``    SQLite file, absolute path (four slashes)
``jsonl:///audit.jsonl``       JSON Lines file, relative; ``jsonl:////abs/audit.jsonl`` absolute
``postgresql://user@host/db``  PostgreSQL (libpq URL; ``?options=-csearch_path%3Dschema`` picks a schema)
``memory://``                  in memory, for tests only (nothing is durable)
=============================  ================================================================

The CLI also accepts a bare file path: ``*.jsonl`` is a JSONL sink, anything else SQLite.
"""

from __future__ import annotations

import os

from opentelemetry_instrumentation_toolaudit.ledger.stores._base import (
    AuditSink,
    SinkError,
    TreeHead,
)
from opentelemetry_instrumentation_toolaudit.ledger.stores._url import redact_url

DEFAULT_SINK_URL = "sqlite:///toolaudit.db"


def open_sink(url: str, *, create: bool = True) -> AuditSink:
    """Open the sink a URL names; raises SinkError (naming the URL's scheme) when it cannot.

    With ``create=False`` (verification) a missing file is an error instead of a new empty log."""
    scheme = url.split(":", 1)[0].lower() if "://" in url else ""
    if scheme == "sqlite":
        from opentelemetry_instrumentation_toolaudit.ledger.stores.sqlite import SQLiteSink

        return SQLiteSink.from_url(url, create=create)
    if scheme == "jsonl":
        from opentelemetry_instrumentation_toolaudit.ledger.stores.jsonl import JSONLSink

        return JSONLSink.from_url(url, create=create)
    if scheme == "memory":
        from opentelemetry_instrumentation_toolaudit.ledger.stores.memory import MemorySink

        return MemorySink(url)
    if scheme in ("postgresql", "postgres"):
        from opentelemetry_instrumentation_toolaudit.ledger.stores.postgres import PostgresSink

        return PostgresSink.from_url(url, create=create)
    shown = scheme or url.split(":", 1)[0] if "://" in url else url
    raise SinkError(
        f"unknown sink {redact_url(shown)!r}: use sqlite:///path.db, jsonl:///path.jsonl or "
        "postgresql://…"
    )


def sink_url_for(target: str) -> str:
    """A sink URL for what a user typed: a URL is kept, a bare file path becomes ``jsonl:///`` when
    it ends in ``.jsonl`` and ``sqlite:///`` otherwise (absolute, so the URL means the same file)."""
    if "://" in target:
        return target
    path = os.path.abspath(os.path.expanduser(target))
    scheme = "jsonl" if path.lower().endswith((".jsonl", ".ndjson")) else "sqlite"
    return f"{scheme}:///{path}"


__all__ = [
    "DEFAULT_SINK_URL",
    "AuditSink",
    "SinkError",
    "TreeHead",
    "open_sink",
    "redact_url",
    "sink_url_for",
]
