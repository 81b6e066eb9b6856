# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Turn a finished (already redacted) span into the body of an audit record, or decide it is none.

Which spans become records:

* ``execute_tool`` spans, always (``tool.call``);
* LLM calls: ``gen_ai.operation.name`` ``chat``, ``generate_content``, ``text_completion`` or
  ``invoke_agent`` (``llm.request``: model, provider, token counts, prompt/response hashes);
* retrievals: ``gen_ai.operation.name = retrieval`` or OpenInference ``RETRIEVER`` spans (``rag.query``);
* app-declared events: any span carrying ``toolaudit.event_type`` (``guardrail.block``, ``auth``,
  ``admin``, or any of the others), as :func:`record_event` makes them.

The body holds the fields of the record schema that the span knows; unknown fields are left out.
Everything here reads a :class:`~._view.SpanView`, so an SDK span and a decoded OTLP span give the
same body.
"""

from __future__ import annotations

import datetime
import itertools
import json
import os
import time
from collections.abc import Collection, Iterator, Mapping
from typing import Any

import orjson

from opentelemetry_instrumentation_toolaudit import attributes as attrs
from opentelemetry_instrumentation_toolaudit._jsonable import int_value, to_jsonable
from opentelemetry_instrumentation_toolaudit.export._retention import RetentionPolicy
from opentelemetry_instrumentation_toolaudit.export._view import SpanView
from opentelemetry_instrumentation_toolaudit.ledger import schema as f

LLM_OPERATIONS = frozenset({"chat", "generate_content", "text_completion", "invoke_agent"})
RETRIEVAL_OPERATION = "retrieval"
OPENINFERENCE_SPAN_KIND = "openinference.span.kind"
OPENINFERENCE_RETRIEVER = "RETRIEVER"
OPENINFERENCE_GUARDRAIL = "GUARDRAIL"


# Event ids: 48 bits of Unix milliseconds, then 74 bits drawn once per process (42 fixed, and the
# start of a 32-bit counter), with the UUIDv7 version and variant bits in between. One random draw
# per process instead of one per record; a child process draws its own after ``fork``.
_COUNTER_MASK = 0xFFFF_FFFF


def _draw_id_bits() -> tuple[int, Iterator[int]]:
    bits = int.from_bytes(os.urandom(10), "big")  # 80 bits, 74 used
    fixed = (bits >> 68 & 0xFFF) << 64 | (bits >> 38 & 0x3FFF_FFFF) << 32
    return 0x7 << 76 | 0x2 << 62 | fixed, itertools.count(bits & _COUNTER_MASK)


_id_bits, _id_counter = _draw_id_bits()


def _redraw_id_bits() -> None:
    global _id_bits, _id_counter
    _id_bits, _id_counter = _draw_id_bits()


os.register_at_fork(after_in_child=_redraw_id_bits)


def new_event_id(now_ns: int | None = None) -> str:
    """A fresh event id: a UUIDv7 (RFC 9562) as 32 hex digits, made at ``now_ns`` (default: now).

    The leading 48 bits are Unix milliseconds, so ids land at the end of the unique ``event_id``
    index, where random (v4) ids would dirty a page anywhere in it on every insert. The other 74
    bits are random per process (drawn at start and after ``fork``), the low 32 of them a counter
    from a random start (RFC 9562 section 6.2, method 1, with a wrapping counter): ids from one
    process never repeat (that would take 2^32 ids in one millisecond), and ids from two processes
    collide only if both drew the same 42 fixed bits and overlapping counters in the same
    millisecond."""
    millis = (time.time_ns() if now_ns is None else now_ns) // 1_000_000
    return f"{millis << 80 | _id_bits | next(_id_counter) & _COUNTER_MASK:032x}"


# Span attribute → record field, for the fields every event type shares.
_COMMON: tuple[tuple[str, str], ...] = (
    (attrs.USER_ID, f.USER_ID),
    (attrs.SESSION_ID, f.SESSION_ID),
    (attrs.GEN_AI_CONVERSATION_ID, f.CONVERSATION_ID),
    (attrs.TOOLAUDIT_TURN_NUMBER, f.TURN_NUMBER),
    (attrs.GEN_AI_REQUEST_MODEL, f.MODEL),
    (attrs.GEN_AI_PROVIDER_NAME, f.PROVIDER),
    (attrs.TOOLAUDIT_TRIGGER, f.TRIGGER),
    (attrs.TOOLAUDIT_PURPOSE, f.PURPOSE),
    (attrs.TOOLAUDIT_ATTRIBUTION, f.ATTRIBUTION),
    (attrs.CLIENT_ADDRESS, f.CLIENT_ADDRESS),
    (attrs.USER_AGENT_ORIGINAL, f.USER_AGENT),
    (attrs.GEN_AI_TOOL_NAME, f.TOOL_NAME),
    (attrs.GEN_AI_TOOL_CALL_ID, f.CALL_ID),
    (attrs.ERROR_TYPE, f.ERROR_TYPE),
    (attrs.TOOLAUDIT_SUBJECT, f.SUBJECT),
    (attrs.TOOLAUDIT_TOOL_ACTION, f.TOOL_ACTION),
)

SINGLE_SOURCE_FIELDS: dict[str, str] = {
    **{field: key for key, field in _COMMON if field != f.PROVIDER},
    f.USER_ROLES: attrs.USER_ROLES,
    f.ARGUMENTS: attrs.GEN_AI_TOOL_CALL_ARGUMENTS,
    f.RESULT_SUMMARY: attrs.TOOLAUDIT_RESULT_SUMMARY,
}
"""Record field → the one span attribute it is made from (its value, or that value parsed as JSON)."""

# LLM-request attributes kept in ``details`` (the prompt itself never reaches here: redaction has
# replaced it with keyed hashes, which are kept).
_LLM_DETAILS: tuple[tuple[str, str], ...] = (
    (attrs.GEN_AI_RESPONSE_MODEL, "response_model"),
    (attrs.GEN_AI_RESPONSE_ID, "response_id"),
    (attrs.GEN_AI_RESPONSE_FINISH_REASONS, "finish_reasons"),
    (attrs.GEN_AI_USAGE_INPUT_TOKENS, "input_tokens"),
    (attrs.GEN_AI_USAGE_OUTPUT_TOKENS, "output_tokens"),
    (attrs.GEN_AI_AGENT_NAME, "agent_name"),
)
_TOOL_DETAILS: tuple[tuple[str, str], ...] = (
    (attrs.GEN_AI_AGENT_NAME, "agent_name"),
    (attrs.TOOLAUDIT_TWIN_REPLACED, "twin_replaced"),
)
_RAG_DETAILS: tuple[tuple[str, str], ...] = (
    (attrs.GEN_AI_DATA_SOURCE_ID, "data_source_id"),
    (attrs.GEN_AI_RETRIEVAL_DOCUMENTS, "documents"),
)
_HASH_SUFFIXES = ("_hash", ".hash", "_size", ".size")
_DETAIL_PAIRS: dict[str, tuple[tuple[str, str], ...]] = {
    f.EVENT_LLM_REQUEST: _LLM_DETAILS,
    f.EVENT_RAG_QUERY: _RAG_DETAILS,
    f.EVENT_TOOL_CALL: _TOOL_DETAILS,
}

# Where each attribute goes, decided once per attribute name (names repeat on every span), so that
# a record is built in one pass over the span's attributes.
_FIELD, _EVENT_DETAIL, _HASH_DETAIL, _ELSEWHERE = "field", "event", "hash", "elsewhere"
_FIELD_ROUTES: dict[str, tuple[str, str]] = {key: (_FIELD, field) for key, field in _COMMON}
_routes = dict(_FIELD_ROUTES)
_MAX_ROUTES = 4096


def _route(key: str) -> tuple[str, str]:
    """How the single pass of :func:`build_record` treats attribute ``key``: a record field, a
    ``details`` entry (``toolaudit.event.*`` without its prefix; ``*_hash``/``*_size`` under its
    own name, on events other than tool calls), or neither (read elsewhere, or not recorded)."""
    prefix = attrs.TOOLAUDIT_EVENT_PREFIX
    route = _FIELD_ROUTES.get(key)
    if route is not None:
        return route
    if key.startswith(prefix) and key != attrs.TOOLAUDIT_EVENT_TYPE:
        route = (_EVENT_DETAIL, key[len(prefix) :])
    elif key.endswith(_HASH_SUFFIXES):
        route = (_HASH_DETAIL, key)
    else:
        route = (_ELSEWHERE, "")
    if len(_routes) < _MAX_ROUTES:  # beyond that, rare names are routed afresh each time
        _routes[key] = route
    return route


def event_type_of(
    span_attrs: Mapping[str, Any],
    status_error: bool,
    enabled: Collection[str] = f.EVENT_TYPES,
) -> str | None:
    """The audit event type of a span with these attributes, or None (not audited, or not enabled)."""
    declared = span_attrs.get(attrs.TOOLAUDIT_EVENT_TYPE)
    if isinstance(declared, str) and declared:
        kind: str | None = declared
    else:
        operation = span_attrs.get(attrs.GEN_AI_OPERATION_NAME)
        if operation == attrs.OPERATION_EXECUTE_TOOL:
            kind = f.EVENT_TOOL_CALL
        elif operation in LLM_OPERATIONS:
            kind = f.EVENT_LLM_REQUEST
        elif (
            operation == RETRIEVAL_OPERATION
            or span_attrs.get(OPENINFERENCE_SPAN_KIND) == OPENINFERENCE_RETRIEVER
        ):
            kind = f.EVENT_RAG_QUERY
        elif span_attrs.get(OPENINFERENCE_SPAN_KIND) == OPENINFERENCE_GUARDRAIL:
            kind = f.EVENT_GUARDRAIL_BLOCK if _failed(span_attrs, status_error) else None
        else:
            kind = None
    return kind if kind in enabled else None


# Formatting a datetime per timestamp is most of the cost of a record's times; the part up to the
# second is shared by every span of that second, so it is made once.
_prefixes: dict[int, str] = {}
_MAX_PREFIXES = 4096


def _prefix(seconds: int) -> str:
    text = _prefixes.get(seconds)
    if text is None:
        moment = datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)
        text = f"{moment:%Y-%m-%dT%H:%M:%S}"
        if len(_prefixes) >= _MAX_PREFIXES:
            _prefixes.clear()
        _prefixes[seconds] = text
    return text


def timestamp(nanos: int | None) -> str | None:
    """RFC 3339 UTC with microseconds, ``2026-11-24T10:30:45.123456Z``."""
    if nanos is None:
        return None
    seconds, rest = divmod(nanos, 1_000_000_000)
    return f"{_prefix(seconds)}.{rest // 1000:06d}Z"


def now() -> str:
    """The current time in the record format."""
    return timestamp(time.time_ns())  # type: ignore[return-value]


def _json_value(text: Any) -> Any:
    """A JSON attribute (arguments, result summary) as a value; kept as the string if not JSON."""
    if not isinstance(text, str):
        return text
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        pass
    # orjson refuses what the stdlib reads (NaN, integers wider than 64 bits, lone surrogates):
    # the stdlib decides, so the body is the same whichever parser took it.
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # not JSON, or nested too deep to parse: keep the text
        return text


def _plain(value: Any) -> Any:
    """An attribute value as JSON: sequences become lists; bytes, mappings and integers too wide
    to print become what tool arguments make of them (a value the record cannot hold would keep
    the whole batch it is in from being written)."""
    kind = type(value)
    if kind is str or kind is bool or kind is float or value is None:
        return value
    if kind is int:
        return int_value(value)
    if kind is tuple or kind is list:
        return [_plain(item) for item in value]
    if isinstance(value, (str, bool, float)):
        return value
    return to_jsonable(value)


def _failed(span_attrs: Mapping[str, Any], status_error: bool) -> bool:
    return span_attrs.get(attrs.TOOLAUDIT_SUCCESS) is False or status_error


def _hex(value: int | bytes, width: int) -> str:
    if isinstance(value, bytes):
        return value.hex()
    return f"{value:0{width}x}"


def build_record(
    span: SpanView,
    event_type: str,
    *,
    phase_intent: bool = False,
    retention: RetentionPolicy | None = None,
) -> dict[str, Any]:
    """The record body (no chain fields) for ``span`` as an event of ``event_type``.

    ``phase_intent`` builds the ``tool.intent`` record of a span that has started but not ended;
    ``retention`` sets ``retain_until`` (by default the policy of ``OTEL_PYTHON_TOOLAUDIT_RETENTION_FILE``).
    """
    span_attrs = span.attributes
    recorded_ns = time.time_ns()
    body: dict[str, Any] = {
        f.EVENT_ID: new_event_id(recorded_ns),
        f.EVENT_TYPE: f.EVENT_TOOL_INTENT if phase_intent else event_type,
        f.RECORDED_AT: timestamp(recorded_ns),
    }
    trace_id = span.trace_id
    if trace_id is not None:
        body[f.TRACE_ID] = _hex(trace_id, 32)
    span_id = span.span_id
    if span_id is not None:
        body[f.SPAN_ID] = _hex(span_id, 16)
    parent = span.parent_span_id
    if parent:
        body[f.PARENT_SPAN_ID] = _hex(parent, 16)
    start_time = span.start_time
    if start_time is not None:
        body[f.START_TIME] = timestamp(start_time)
    end_time = span.end_time
    if not phase_intent and end_time is not None:
        body[f.END_TIME] = timestamp(end_time)
        if start_time is not None:
            body[f.DURATION_MS] = round((end_time - start_time) / 1e6, 3)
    extra: list[tuple[str, Any]] | None = None
    hashes = event_type != f.EVENT_TOOL_CALL
    routes = _routes
    for key, value in span_attrs.items():
        route = routes.get(key)
        if route is None:
            route = _route(key)
        kind, name = route
        if kind is _FIELD:
            if value is not None:
                body[name] = value if type(value) is str else _plain(value)
        elif kind is _EVENT_DETAIL or (hashes and kind is _HASH_DETAIL):
            if extra is None:
                extra = []
            extra.append((name, value))
    roles = span_attrs.get(attrs.USER_ROLES)
    if isinstance(roles, str):
        body[f.USER_ROLES] = [roles]
    elif isinstance(roles, (list, tuple)) and roles:
        body[f.USER_ROLES] = [str(r) for r in roles]
    if f.PROVIDER not in body and span_attrs.get(attrs.GEN_AI_SYSTEM) is not None:
        body[f.PROVIDER] = span_attrs[attrs.GEN_AI_SYSTEM]
    arguments = span_attrs.get(attrs.GEN_AI_TOOL_CALL_ARGUMENTS)
    if arguments is not None:
        body[f.ARGUMENTS] = _json_value(arguments)
    if not phase_intent:
        summary = span_attrs.get(attrs.TOOLAUDIT_RESULT_SUMMARY)
        if summary is not None:
            body[f.RESULT_SUMMARY] = _json_value(summary)
        body[f.SUCCESS] = not _failed(span_attrs, span.status_error)
    details = _details(span_attrs, event_type, extra)
    if details:
        body[f.DETAILS] = details
    _resource_fields(span.resource_attributes, body)
    policy = retention if retention is not None else RetentionPolicy.configured()
    tool = body.get(f.TOOL_NAME)
    body[f.RETAIN_UNTIL] = policy.retain_until_text(
        tool if isinstance(tool, str) else None, recorded_ns // 1_000_000_000
    )
    return body


def _details(
    span_attrs: Mapping[str, Any], event_type: str, extra: list[tuple[str, Any]] | None
) -> dict[str, Any]:
    """``details``: the event type's own attributes, then ``extra`` (event and hash attributes, in
    span order, which win over a same-named detail)."""
    details: dict[str, Any] = {}
    for key, name in _DETAIL_PAIRS.get(event_type, ()):
        value = span_attrs.get(key)
        if value is not None:
            details[name] = (
                _json_value(value) if key == attrs.TOOLAUDIT_TWIN_REPLACED else _plain(value)
            )
    source = span_attrs.get(attrs.TOOLAUDIT_ATTRIBUTION_SOURCE)
    if source is not None:
        details["attribution_source"] = source
    if span_attrs.get(attrs.TOOLAUDIT_BREAK_GLASS) is True:
        details["break_glass"] = {
            "reason": _plain(span_attrs.get(attrs.TOOLAUDIT_BREAK_GLASS_REASON)),
            "urgency": _plain(span_attrs.get(attrs.TOOLAUDIT_BREAK_GLASS_URGENCY)),
        }
    if extra:
        for name, value in extra:
            details[name] = _plain(value)
    return details


# The resource is one object shared by every span of a provider: its fields are read once. Only
# for immutable mappings (the SDK's); a plain dict could change between two spans.
_last_resource: tuple[Mapping[str, Any], dict[str, Any]] | None = None


def _resource_fields(resource: Mapping[str, Any], body: dict[str, Any]) -> None:
    global _last_resource
    last = _last_resource
    if last is not None and last[0] is resource:
        body.update(last[1])
        return
    fields: dict[str, Any] = {}
    _read_resource(resource, fields)
    body.update(fields)
    if type(resource) is not dict:
        _last_resource = (resource, fields)


def _read_resource(resource: Mapping[str, Any], body: dict[str, Any]) -> None:
    for key, field in (
        (attrs.SERVICE_NAME, f.SERVICE_NAME),
        (attrs.SERVICE_VERSION, f.SERVICE_VERSION),
    ):
        value = resource.get(key)
        if value is not None:
            body[field] = _plain(value)
    environment = resource.get(attrs.DEPLOYMENT_ENVIRONMENT)
    if environment is None:
        environment = resource.get(attrs.DEPLOYMENT_ENVIRONMENT_LEGACY)
    if environment is not None:
        body[f.DEPLOYMENT_ENVIRONMENT] = _plain(environment)
