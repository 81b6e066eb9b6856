# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Reading an audit trail: search, statistics, timelines, access reports and FHIR exports.

Usage
-----

.. code-block:: python

    from opentelemetry_instrumentation_toolaudit.ledger import open_sink
    from opentelemetry_instrumentation_toolaudit.query import AuditQuery, Filter, parse_time

    with open_sink("sqlite:///toolaudit.db", create=False) as sink:
        query = AuditQuery(sink)
        failures = Filter(tool="issue_refund", success=False, since=parse_time("24h"))
        for result in query.search(failures, limit=20, descending=True):
            print(result.seq, result.entry_hash, result.trace_id, result.record["user_id"])
        page = query.page(Filter(user="usr_1"), limit=50)          # then cursor=page.next_cursor
        print(query.stats(Filter(event_type="tool.call"), by="tool").to_json())

Each result carries its sequence number, entry hash, trace id and span id. Queries run through a
:class:`QueryBackend`: the store port's ``select`` (one indexed query on SQLite and PostgreSQL),
or a scan for an object that only offers ``read()``; conditions on fields no column indexes
(``subject``, ``purpose``, ``role``) are checked on what the store returns.
The ``toolaudit`` command line offers the same capabilities (``search``, ``show``, ``timeline``,
``stats``, ``report access``, ``export``, ``tail``).
"""

from __future__ import annotations

from opentelemetry_instrumentation_toolaudit.ledger._stats import Stats
from opentelemetry_instrumentation_toolaudit.query._backend import (
    QueryBackend,
    ScanBackend,
    StoreBackend,
    backend_for,
)
from opentelemetry_instrumentation_toolaudit.query._fhir import (
    audit_event,
    fhir_bundle,
    fhir_ndjson,
)
from opentelemetry_instrumentation_toolaudit.query._filter import (
    Filter,
    Selection,
    end_of_day,
    parse_time,
)
from opentelemetry_instrumentation_toolaudit.query._html import report_html
from opentelemetry_instrumentation_toolaudit.query._integrity import (
    Integrity,
    check_integrity,
    proof_status,
)
from opentelemetry_instrumentation_toolaudit.query._links import trace_link
from opentelemetry_instrumentation_toolaudit.query._query import AuditQuery, Page, QueryResult
from opentelemetry_instrumentation_toolaudit.query._report import access_report
from opentelemetry_instrumentation_toolaudit.query._timeline import timeline_line

__all__ = [
    "AuditQuery",
    "Filter",
    "Integrity",
    "Page",
    "QueryBackend",
    "QueryResult",
    "ScanBackend",
    "Selection",
    "Stats",
    "StoreBackend",
    "access_report",
    "audit_event",
    "backend_for",
    "check_integrity",
    "end_of_day",
    "fhir_bundle",
    "fhir_ndjson",
    "parse_time",
    "proof_status",
    "report_html",
    "timeline_line",
    "trace_link",
]
