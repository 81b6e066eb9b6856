# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The audit record's field names, event types and indexed columns, defined once.

A record is one JSON object in RFC 8785 canonical form. The exporter builds the *body* (every field
below except the chain fields) from a span; the sink seals it (``_chain.seal`` adds ``schema``,
``seq`` and ``prev_hash``) and stores the canonical bytes. Fields whose value is unknown are left out
rather than stored as null. Sinks with columns copy :data:`INDEXED_COLUMNS` out of the canonical
record, and verification checks that every column still says what the canonical bytes say.
"""

from __future__ import annotations

from typing import Final

SCHEMA_V1: Final = 1
"""Record format 1: the whole record is chained and hashed (trails written before format 2)."""
SCHEMA_V2: Final = 2
"""Record format 2: a chained envelope that commits to an erasable payload stored beside it."""
SCHEMA_VERSION: Final = SCHEMA_V2
"""The format new trails are written in."""

# --- chain fields (added by _chain.seal) -------------------------------------------------------
SCHEMA: Final = "schema"
SEQ: Final = "seq"
PREV_HASH: Final = "prev_hash"

PAYLOAD_HASH: Final = "payload_hash"
"""Format 2: hex SHA-256 of the payload's canonical bytes (the payload fields plus ``salt``)."""
SALT: Final = "salt"
"""Format 2: 32 random hex characters in the payload, so a guessed payload cannot be confirmed."""
PAYLOAD_ERASED: Final = "payload_erased"
"""Added (``true``) by ``StoredRecord.record`` when a format 2 record's payload was erased; never
stored."""

# --- identity and time ---------------------------------------------------------------------------
EVENT_ID: Final = "event_id"
"""Unique per record: 32 hex characters."""
EVENT_TYPE: Final = "event_type"
"""One of :data:`EVENT_TYPES`."""
RECORDED_AT: Final = "recorded_at"
"""When the exporter built the record: RFC 3339 UTC with microseconds, e.g. ``2026-11-24T10:30:45.123456Z``."""
START_TIME: Final = "start_time"
END_TIME: Final = "end_time"
"""The span's start and end, in the same format as ``recorded_at``."""
DURATION_MS: Final = "duration_ms"

# --- correlation with the tracing backend (lower-case hex, as backends show them) ----------------
TRACE_ID: Final = "trace_id"
SPAN_ID: Final = "span_id"
PARENT_SPAN_ID: Final = "parent_span_id"

GENERATED: Final = frozenset(
    {
        EVENT_ID,
        EVENT_TYPE,
        RECORDED_AT,
        START_TIME,
        END_TIME,
        DURATION_MS,
        TRACE_ID,
        SPAN_ID,
        PARENT_SPAN_ID,
    }
)
"""Fields the exporter writes itself from the span's context and the clock: never content, so the
exporter's redaction guard leaves them alone (a span id of 16 decimal digits can pass Luhn)."""

# --- who, what, why ------------------------------------------------------------------------------
TOOL_NAME: Final = "tool_name"
CALL_ID: Final = "call_id"
USER_ID: Final = "user_id"
USER_ROLES: Final = "user_roles"
"""A list of strings."""
SESSION_ID: Final = "session_id"
CONVERSATION_ID: Final = "conversation_id"
TURN_NUMBER: Final = "turn_number"
MODEL: Final = "model"
PROVIDER: Final = "provider"
TRIGGER: Final = "trigger"
PURPOSE: Final = "purpose"
ATTRIBUTION: Final = "attribution"
"""The one-line attribution summary, ``User … → model → tool [trigger]``."""
CLIENT_ADDRESS: Final = "client_address"
USER_AGENT: Final = "user_agent"
SUBJECT: Final = "subject"
"""The keyed pseudonym (``hmac-sha256:<key id>:<32 hex>``) of the subject a tool call is about."""
TOOL_ACTION: Final = "tool_action"
"""What the tool does to its subject, when it declared it: ``create``, ``read``, ``update``,
``delete`` or ``execute``."""
RETAIN_UNTIL: Final = "retain_until"
"""The date (``YYYY-MM-DD``, UTC) until which the record must be kept, from the retention policy."""

# --- outcome -------------------------------------------------------------------------------------
ARGUMENTS: Final = "arguments"
"""The redacted arguments as a JSON value (parsed, not a string)."""
RESULT_SUMMARY: Final = "result_summary"
"""The result summary as a JSON object."""
SUCCESS: Final = "success"
ERROR_TYPE: Final = "error_type"

# --- the service (from the span's resource) ------------------------------------------------------
SERVICE_NAME: Final = "service_name"
SERVICE_VERSION: Final = "service_version"
DEPLOYMENT_ENVIRONMENT: Final = "deployment_environment"

DETAILS: Final = "details"
"""Event-type specific values as a JSON object (LLM token counts and prompt hash, retrieved document
ids, the guardrail rule...)."""

# --- event types ---------------------------------------------------------------------------------
EVENT_TOOL_CALL: Final = "tool.call"
EVENT_TOOL_INTENT: Final = "tool.intent"
"""Written before a tool runs (fail-closed tools, or every tool when intent records are on)."""
EVENT_LLM_REQUEST: Final = "llm.request"
EVENT_RAG_QUERY: Final = "rag.query"
EVENT_GUARDRAIL_BLOCK: Final = "guardrail.block"
EVENT_AUTH: Final = "auth"
EVENT_ADMIN: Final = "admin"
EVENT_BREAK_GLASS: Final = "break_glass"
"""Emergency access declared by the app itself (``record_event("break_glass", ...)``)."""
EVENT_ALERT: Final = "alert"
"""An alert rule fired on the trail (see the ``alerts`` package)."""
EVENT_AUDIT_READ: Final = "audit.read"
"""Someone read the trail (``toolaudit … --log-access``)."""
EVENT_TYPES: Final = (
    EVENT_TOOL_CALL,
    EVENT_TOOL_INTENT,
    EVENT_LLM_REQUEST,
    EVENT_RAG_QUERY,
    EVENT_GUARDRAIL_BLOCK,
    EVENT_AUTH,
    EVENT_ADMIN,
    EVENT_BREAK_GLASS,
    EVENT_ALERT,
    EVENT_AUDIT_READ,
)

FIELDS: Final = frozenset(
    {
        SCHEMA,
        SEQ,
        PREV_HASH,
        PAYLOAD_HASH,
        EVENT_ID,
        EVENT_TYPE,
        RECORDED_AT,
        START_TIME,
        END_TIME,
        DURATION_MS,
        TRACE_ID,
        SPAN_ID,
        PARENT_SPAN_ID,
        TOOL_NAME,
        CALL_ID,
        USER_ID,
        USER_ROLES,
        SESSION_ID,
        CONVERSATION_ID,
        TURN_NUMBER,
        MODEL,
        PROVIDER,
        TRIGGER,
        PURPOSE,
        ATTRIBUTION,
        CLIENT_ADDRESS,
        USER_AGENT,
        SUBJECT,
        TOOL_ACTION,
        RETAIN_UNTIL,
        ARGUMENTS,
        RESULT_SUMMARY,
        SUCCESS,
        ERROR_TYPE,
        SERVICE_NAME,
        SERVICE_VERSION,
        DEPLOYMENT_ENVIRONMENT,
        DETAILS,
    }
)
"""Every top-level field name of a record (all ASCII: canonicalization need not check them)."""

PAYLOAD_FIELDS: Final = frozenset(
    {ARGUMENTS, RESULT_SUMMARY, DETAILS, ATTRIBUTION, CLIENT_ADDRESS, USER_AGENT}
)
"""Format 2: the fields stored in the erasable payload rather than the chained envelope (content
and personal data); every other field is envelope, in clear."""

INDEXED_COLUMNS_V1: Final = (
    SEQ,
    EVENT_ID,
    EVENT_TYPE,
    RECORDED_AT,
    TRACE_ID,
    SPAN_ID,
    TOOL_NAME,
    USER_ID,
    CONVERSATION_ID,
    SUCCESS,
)
"""The indexed columns of a store created before record format 2 (it keeps them)."""

INDEXED_COLUMNS: Final = (
    SEQ,
    EVENT_ID,
    EVENT_TYPE,
    RECORDED_AT,
    TRACE_ID,
    SPAN_ID,
    TOOL_NAME,
    USER_ID,
    CONVERSATION_ID,
    SUBJECT,
    PURPOSE,
    MODEL,
    RETAIN_UNTIL,
    USER_ROLES,
    DURATION_MS,
    SUCCESS,
)
"""Fields a sink with columns copies out of the canonical record so queries can use an index (a
store created in record format 2; one created before keeps :data:`INDEXED_COLUMNS_V1`). A record
lacking a field stores NULL in its column. ``user_roles`` holds the canonical JSON text of the
list, ``duration_ms`` a real number, ``success`` a boolean; the others are text."""

INDEXES_V1: Final = (
    (RECORDED_AT,),
    (TRACE_ID,),
    (TOOL_NAME, RECORDED_AT),
    (USER_ID, RECORDED_AT),
    (CONVERSATION_ID,),
)
"""The indexes of a store with :data:`INDEXED_COLUMNS_V1`."""

INDEXES: Final = (*INDEXES_V1, (SUBJECT, RECORDED_AT))
"""The indexes stores with columns keep (besides ``seq`` and the unique ``event_id``): few, so that
append stays fast, and composite where a query filters one column and a time range (one tool's
failures over a day, one user over months, every call about one subject)."""

LEAF_HASH_INDEX: Final = (SEQ, "entry_hash")
"""A narrow covering index every SQL store keeps over the records' entry hashes in sequence order,
so that the leaf hashes an inclusion proof needs (up to 255 neighbours of each record, below the
lowest stored Merkle node) are read from a few index pages rather than from the wide records. It
grows only at its right edge, as records are appended in sequence order."""

STATS_INDEXES: Final = (
    (TOOL_NAME, DURATION_MS, EVENT_TYPE, SUCCESS, USER_ID),
    (DURATION_MS, EVENT_TYPE),
)
"""Covering indexes a store created in record format 2 keeps for statistics over many records:
each tool's durations in order (with what its counts need), and all durations in order, so that
percentiles are an index read at a rank rather than a sort."""
