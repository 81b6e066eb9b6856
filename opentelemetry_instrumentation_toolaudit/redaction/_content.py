# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Which span attributes hold prompt or response content, and which are safe structure.

Content attributes (the whole conversation, as other instrumentations capture it) are replaced by a
keyed hash and a size: ``gen_ai.input.messages`` becomes ``gen_ai.input.messages_hash`` and
``gen_ai.input.messages_size``. The hash proves what was said, to whoever holds the text and the key,
without carrying it.
"""

from __future__ import annotations

import functools
import re

from opentelemetry_instrumentation_toolaudit import attributes as attrs
from opentelemetry_instrumentation_toolaudit.redaction._hashkey import PSEUDONYM_RE

CONTENT_ATTRIBUTES = frozenset(
    {
        # OpenTelemetry GenAI semantic conventions (official OpenAI, google-genai instrumentations).
        attrs.GEN_AI_INPUT_MESSAGES,
        attrs.GEN_AI_OUTPUT_MESSAGES,
        attrs.GEN_AI_SYSTEM_INSTRUCTIONS,
        attrs.GEN_AI_TOOL_CALL_RESULT,
        # Older semconv span events (gen_ai.content.prompt / gen_ai.content.completion).
        attrs.GEN_AI_PROMPT,
        attrs.GEN_AI_COMPLETION,
        # OpenInference (Arize Phoenix).
        attrs.OPENINFERENCE_INPUT_VALUE,
        attrs.OPENINFERENCE_OUTPUT_VALUE,
        attrs.LLM_PROMPTS,
        # OpenLLMetry (Traceloop) workflow and task spans.
        attrs.TRACELOOP_ENTITY_INPUT,
        attrs.TRACELOOP_ENTITY_OUTPUT,
    }
)
_INDEXED_CONTENT = re.compile(
    # OpenLLMetry: gen_ai.prompt.0.content, gen_ai.completion.1.content (and reasoning/refusal).
    r"gen_ai\.(?:prompt|completion)\.\d+\.(?:content|reasoning|refusal)"
    # OpenInference: llm.input_messages.0.message.content and multi-part contents.
    r"|llm\.(?:input|output)_messages\.\d+\.message\.(?:content|contents\.\d+\.message_content\.text)"
)

# Structure our spans and the GenAI conventions carry: names, ids, enums, counts. Never scanned.
SAFE_ATTRIBUTES = frozenset(
    {
        attrs.GEN_AI_OPERATION_NAME,
        attrs.GEN_AI_TOOL_NAME,
        attrs.GEN_AI_TOOL_TYPE,
        attrs.GEN_AI_TOOL_CALL_ID,
        attrs.GEN_AI_REQUEST_MODEL,
        attrs.GEN_AI_RESPONSE_MODEL,
        attrs.GEN_AI_RESPONSE_ID,
        attrs.GEN_AI_PROVIDER_NAME,
        attrs.GEN_AI_SYSTEM,
        attrs.GEN_AI_USAGE_INPUT_TOKENS,
        attrs.GEN_AI_USAGE_OUTPUT_TOKENS,
        attrs.TOOLAUDIT_TRIGGER,
        attrs.TOOLAUDIT_SUCCESS,
        attrs.TOOLAUDIT_TURN_NUMBER,
        attrs.TOOLAUDIT_ATTRIBUTION_SOURCE,
        attrs.TOOLAUDIT_REDACTION_COUNT,
        attrs.TOOLAUDIT_REDACTION_KINDS,
        attrs.ERROR_TYPE,
        "exception.type",
        "exception.escaped",
        "gen_ai.response.finish_reasons",
    }
)

# On spans our own recorder made, it set these per call and redacted them at the source with the
# same policy: scanning them again would cost a full scan of each call's arguments. Every other
# attribute of such a span is scanned as usual, the attribution too (``user.id``...): code inside the
# tool can set those on the current span, and scanning them costs a cache look-up, since the
# recorder's redacted values repeat call after call.
SOURCE_REDACTED_ATTRIBUTES = frozenset(
    {
        attrs.GEN_AI_TOOL_CALL_ARGUMENTS,
        attrs.TOOLAUDIT_RESULT_SUMMARY,
    }
)

SCAN, SAFE, CONTENT, CONTENT_HASH, CONTENT_SIZE = 0, 1, 2, 3, 4


def is_content_attribute(name: str) -> bool:
    """Whether ``name`` holds prompt or response content."""
    return name in CONTENT_ATTRIBUTES or _INDEXED_CONTENT.fullmatch(name) is not None


@functools.lru_cache(maxsize=4096)
def attribute_rule(name: str) -> int:
    """SCAN (redact as a value), SAFE (leave alone), CONTENT (hash, or redact as text), or
    CONTENT_HASH / CONTENT_SIZE: a name our content hashing makes (``gen_ai.input.messages_hash``),
    left alone only while its value has the shape we give it (see :func:`is_our_content_value`).

    Any other ``…_hash`` or ``…_size`` (``password_hash``, ``ssn_size``) is scanned like any value.
    """
    if is_content_attribute(name):
        return CONTENT
    if name in SAFE_ATTRIBUTES:
        return SAFE
    for suffix, rule in (
        (attrs.CONTENT_HASH_SUFFIX, CONTENT_HASH),
        (attrs.CONTENT_SIZE_SUFFIX, CONTENT_SIZE),
    ):
        if name.endswith(suffix) and is_content_attribute(name[: -len(suffix)]):
            return rule
    return SCAN


def is_our_content_value(rule: int, value: object) -> bool:
    """Whether ``value`` is what content hashing puts under a CONTENT_HASH / CONTENT_SIZE name: a
    keyed hash (``hmac-sha256:<key id>:<32 hex>``), or a size (an int)."""
    if rule == CONTENT_HASH:
        return type(value) is str and PSEUDONYM_RE.fullmatch(value) is not None
    return type(value) is int
