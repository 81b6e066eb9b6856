"""Audit sinks, opened from a URL: ``sqlite:///path.db``, ``jsonl:///path.jsonl``, ``postgresql://…``."""

from __future__ import annotations

from opentelemetry_instrumentation_toolaudit.audit.sinks._base import AuditSink, SinkError

DEFAULT_SINK_URL = "sqlite:///toolaudit.db"


def open_sink(url: str) -> AuditSink:
    """Open the sink a URL names; raises SinkError (naming the URL's scheme) when it cannot."""
    scheme = url.split(":", 1)[0].lower()
    if scheme == "sqlite":
        from opentelemetry_instrumentation_toolaudit.audit.sinks.sqlite import SQLiteSink

        return SQLiteSink.from_url(url)
    if scheme == "jsonl":
        from opentelemetry_instrumentation_toolaudit.audit.sinks.jsonl import JSONLSink

        return JSONLSink.from_url(url)
    if scheme in ("postgresql", "postgres"):
        from opentelemetry_instrumentation_toolaudit.audit.sinks.postgres import PostgresSink

        return PostgresSink.from_url(url)
    raise SinkError(f"unknown sink scheme {scheme!r}: use sqlite:///, jsonl:/// or postgresql://")


__all__ = ["DEFAULT_SINK_URL", "AuditSink", "SinkError", "open_sink"]
