# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Every span attribute name this package reads or writes, defined once.

Names under ``gen_ai.*``, ``user.*``, ``session.*``, ``client.*``, ``user_agent.*`` and ``error.*``
follow the OpenTelemetry semantic conventions. They are spelled out here rather than imported from
``opentelemetry-semantic-conventions`` because its ``gen_ai`` constants are marked deprecated and warn
on import. Names under ``toolaudit.*`` are this package's own.
"""

from __future__ import annotations

from typing import Final

# --- OpenTelemetry semantic conventions -------------------------------------------------------
GEN_AI_OPERATION_NAME: Final = "gen_ai.operation.name"
GEN_AI_TOOL_NAME: Final = "gen_ai.tool.name"
GEN_AI_TOOL_TYPE: Final = "gen_ai.tool.type"
GEN_AI_TOOL_CALL_ID: Final = "gen_ai.tool.call.id"
GEN_AI_TOOL_DESCRIPTION: Final = "gen_ai.tool.description"
GEN_AI_TOOL_CALL_ARGUMENTS: Final = "gen_ai.tool.call.arguments"
GEN_AI_TOOL_CALL_RESULT: Final = "gen_ai.tool.call.result"
GEN_AI_CONVERSATION_ID: Final = "gen_ai.conversation.id"
GEN_AI_REQUEST_MODEL: Final = "gen_ai.request.model"
GEN_AI_RESPONSE_MODEL: Final = "gen_ai.response.model"
GEN_AI_RESPONSE_ID: Final = "gen_ai.response.id"
GEN_AI_RESPONSE_FINISH_REASONS: Final = "gen_ai.response.finish_reasons"
GEN_AI_PROVIDER_NAME: Final = "gen_ai.provider.name"
GEN_AI_SYSTEM: Final = "gen_ai.system"
GEN_AI_USAGE_INPUT_TOKENS: Final = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS: Final = "gen_ai.usage.output_tokens"
GEN_AI_AGENT_NAME: Final = "gen_ai.agent.name"
GEN_AI_DATA_SOURCE_ID: Final = "gen_ai.data_source.id"
GEN_AI_RETRIEVAL_DOCUMENTS: Final = "gen_ai.retrieval.documents"

# Prompt and response content captured by other instrumentations (semconv, OpenLLMetry, OpenInference).
GEN_AI_INPUT_MESSAGES: Final = "gen_ai.input.messages"
GEN_AI_OUTPUT_MESSAGES: Final = "gen_ai.output.messages"
GEN_AI_SYSTEM_INSTRUCTIONS: Final = "gen_ai.system_instructions"
GEN_AI_PROMPT: Final = "gen_ai.prompt"
GEN_AI_COMPLETION: Final = "gen_ai.completion"
OPENINFERENCE_INPUT_VALUE: Final = "input.value"
OPENINFERENCE_OUTPUT_VALUE: Final = "output.value"
LLM_PROMPTS: Final = "llm.prompts"
TRACELOOP_ENTITY_INPUT: Final = "traceloop.entity.input"
TRACELOOP_ENTITY_OUTPUT: Final = "traceloop.entity.output"
CONTENT_HASH_SUFFIX: Final = "_hash"
"""``gen_ai.input.messages`` becomes ``gen_ai.input.messages_hash`` (a keyed hash of the text)..."""
CONTENT_SIZE_SUFFIX: Final = "_size"
"""...and ``gen_ai.input.messages_size`` (its length in UTF-8 bytes)."""
GEN_AI_INPUT_MESSAGES_HASH: Final = GEN_AI_INPUT_MESSAGES + CONTENT_HASH_SUFFIX
GEN_AI_OUTPUT_MESSAGES_HASH: Final = GEN_AI_OUTPUT_MESSAGES + CONTENT_HASH_SUFFIX
GEN_AI_SYSTEM_INSTRUCTIONS_HASH: Final = GEN_AI_SYSTEM_INSTRUCTIONS + CONTENT_HASH_SUFFIX

EXCEPTION_EVENT: Final = "exception"
"""The name of the span event that records an exception."""
EXCEPTION_TYPE: Final = "exception.type"
EXCEPTION_MESSAGE: Final = "exception.message"
EXCEPTION_ESCAPED: Final = "exception.escaped"
EXCEPTION_STACKTRACE: Final = "exception.stacktrace"

USER_ID: Final = "user.id"
USER_ROLES: Final = "user.roles"
SESSION_ID: Final = "session.id"
CLIENT_ADDRESS: Final = "client.address"
USER_AGENT_ORIGINAL: Final = "user_agent.original"
ERROR_TYPE: Final = "error.type"

SERVICE_NAME: Final = "service.name"
SERVICE_VERSION: Final = "service.version"
DEPLOYMENT_ENVIRONMENT: Final = "deployment.environment.name"
DEPLOYMENT_ENVIRONMENT_LEGACY: Final = "deployment.environment"

# Values of gen_ai.operation.name / gen_ai.tool.type used here.
OPERATION_EXECUTE_TOOL: Final = "execute_tool"
TOOL_TYPE_FUNCTION: Final = "function"

# google-genai and MCP integrations.
MCP_METHOD_NAME: Final = "mcp.method.name"
JSONRPC_REQUEST_ID: Final = "jsonrpc.request.id"
MCP_METHOD_TOOLS_CALL: Final = "tools/call"
# gen_ai.provider.name values for Google's backends (semconv GenAiProviderNameValues).
PROVIDER_GCP_GEMINI: Final = "gcp.gemini"
PROVIDER_GCP_VERTEX_AI: Final = "gcp.vertex_ai"
PROVIDER_GCP_GEN_AI: Final = "gcp.gen_ai"
# error.type of a tool result that reports a failure without an exception (also MCP's isError).
ERROR_TYPE_TOOL_ERROR: Final = "tool_error"

# --- toolaudit.* --------------------------------------------------------------------------------
TOOLAUDIT_TURN_NUMBER: Final = "toolaudit.turn_number"
TOOLAUDIT_TRIGGER: Final = "toolaudit.trigger"
TOOLAUDIT_PURPOSE: Final = "toolaudit.purpose"
TOOLAUDIT_SEQ: Final = "toolaudit.seq"
"""On an emitted audit log record: the record's sequence number in the trail."""
TOOLAUDIT_ENTRY_HASH: Final = "toolaudit.entry_hash"
"""On an emitted audit log record: the record's entry hash (hex), for ``toolaudit show --entry-hash``."""
TOOLAUDIT_ATTRIBUTION: Final = "toolaudit.attribution"
TOOLAUDIT_ATTRIBUTION_SOURCE: Final = "toolaudit.attribution.source"
"""Which source supplied the user (or, with no user, the conversation): one of the values below."""
SOURCE_CONTEXT: Final = "context"
"""An ``audit_context`` in the app's code."""
SOURCE_HTTP: Final = "http"
"""The incoming HTTP request (configured headers)."""
SOURCE_REQUEST: Final = "request"
"""The model request that asked for the tool call (``user``, ``metadata``...)."""
SOURCE_BAGGAGE: Final = "baggage"
"""W3C baggage from an upstream service."""
TOOLAUDIT_TWIN_REPLACED: Final = "toolaudit.twin.replaced"
"""JSON object of the identity attributes another instrumentation's ``execute_tool`` span had before
this package put its better-known values there (``{"gen_ai.agent.name": "OpenAI Agent"}``)."""
TOOLAUDIT_RESULT_SUMMARY: Final = "toolaudit.result.summary"
TOOLAUDIT_SUBJECT: Final = "toolaudit.subject"
"""The keyed pseudonym of the subject the tool call is about (a patient, a customer, an account)."""
TOOLAUDIT_TOOL_ACTION: Final = "toolaudit.tool.action"
"""What the tool declared it does: ``create``, ``read``, ``update``, ``delete`` or ``execute``."""
TOOLAUDIT_SUCCESS: Final = "toolaudit.success"
TOOLAUDIT_EVENT_TYPE: Final = "toolaudit.event_type"
"""Declares a span an audit event of this type (``auth``, ``admin``, ``guardrail.block``...)."""
TOOLAUDIT_EVENT_PREFIX: Final = "toolaudit.event."
"""Prefix of a declared event's own values (``toolaudit.event.action``...), kept in the record's details."""
TOOLAUDIT_EVENT_ACTION: Final = "toolaudit.event.action"
TOOLAUDIT_REDACTION_COUNT: Final = "toolaudit.redaction.count"
"""How many values were redacted on this span (by our recorder and the redacting processor)."""
TOOLAUDIT_REDACTION_KINDS: Final = "toolaudit.redaction.kinds"
"""The kinds found (string[], sorted), e.g. ``("credit_card", "email")``; never the values."""
TOOLAUDIT_SERVE_TRANSPORT: Final = "toolaudit.serve.transport"
"""On ``toolaudit serve``'s own metrics: the OTLP transport of the request, ``http`` or ``grpc``."""

TOOLAUDIT_BREAK_GLASS: Final = "toolaudit.break_glass"
"""``true`` on a call made under break-the-glass emergency access (``audit_context(break_glass=...)``)."""
TOOLAUDIT_BREAK_GLASS_REASON: Final = "toolaudit.break_glass.reason"
"""Why emergency access was invoked, as the user stated it (redacted like any free text)."""
TOOLAUDIT_BREAK_GLASS_URGENCY: Final = "toolaudit.break_glass.urgency"
"""How urgent the emergency is (``emergency`` unless the app says otherwise)."""
TOOLAUDIT_ACCESS_RULE: Final = "toolaudit.access.rule"
"""The access rule a tool declares, e.g. ``roles=physician,nurse; purposes=TREAT``."""
TOOLAUDIT_ACCESS_DECISION: Final = "toolaudit.access.decision"
"""What the access rule decided: ``allowed``, ``denied`` or ``break_glass`` (refused, but let
through under break-the-glass)."""
ACCESS_ALLOWED: Final = "allowed"
ACCESS_DENIED: Final = "denied"
ACCESS_BREAK_GLASS: Final = "break_glass"
BREAK_GLASS_PURPOSE: Final = "ETREAT"
"""The purpose of use recorded for break-the-glass calls: HL7 ``ETREAT``, emergency treatment."""

# --- alerts (OpenTelemetry log records and metrics, see docs/alerts.md) ---------------------------
TOOLAUDIT_ALERT_EVENT: Final = "toolaudit.alert"
"""The event name of the log record each alert is emitted as (severity WARN)."""
TOOLAUDIT_ALERTS_METRIC: Final = "toolaudit.alerts"
"""Counter of alerts raised, by ``toolaudit.alert.rule``."""
TOOLAUDIT_ALERT_RULE: Final = "toolaudit.alert.rule"
"""Which rule fired: ``repeated_subject_access``, ``many_subjects``, ``unusual_hours``,
``failure_spike`` or ``break_glass``."""
TOOLAUDIT_ALERT_USER: Final = "toolaudit.alert.user"
"""The keyed pseudonym of the user whose records triggered the alert."""
TOOLAUDIT_ALERT_SUBJECT: Final = "toolaudit.alert.subject"
"""The subject pseudonym the records are about, when the rule concerns one."""
TOOLAUDIT_ALERT_TOOL: Final = "toolaudit.alert.tool"
"""The tool, for rules about one (``failure_spike``)."""
TOOLAUDIT_ALERT_SEQS: Final = "toolaudit.alert.seqs"
"""The sequence numbers of the records that triggered the alert (int[], the latest 200)."""
TOOLAUDIT_ALERT_COUNT: Final = "toolaudit.alert.count"
"""How many accesses, subjects or failures the rule counted."""

# W3C baggage keys carrying attribution to downstream services (opt-in). They reuse the span
# attribute names so that a BaggageSpanProcessor downstream produces correctly named attributes.
BAGGAGE_KEYS: Final = (
    USER_ID,
    USER_ROLES,
    SESSION_ID,
    GEN_AI_CONVERSATION_ID,
    GEN_AI_REQUEST_MODEL,
    TOOLAUDIT_TURN_NUMBER,
    TOOLAUDIT_TRIGGER,
    TOOLAUDIT_PURPOSE,
    TOOLAUDIT_BREAK_GLASS_REASON,
)
