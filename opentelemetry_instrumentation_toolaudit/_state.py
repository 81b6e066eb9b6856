# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""What the instrumentor configured, read by every wrapper at call time.

Decorators are applied at import time, usually before ``instrument()`` runs, so they look the tracer
and policy up here on each call rather than capturing them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING

from opentelemetry import trace

from opentelemetry_instrumentation_toolaudit._config import (
    DEFAULT_MAX_ARGUMENT_BYTES,
    DEFAULT_METADATA_CONVERSATION_KEY,
    DEFAULT_METADATA_USER_KEY,
    RecorderConfig,
)
from opentelemetry_instrumentation_toolaudit._env import read_str
from opentelemetry_instrumentation_toolaudit._log import logger
from opentelemetry_instrumentation_toolaudit._summary import ResultKeys
from opentelemetry_instrumentation_toolaudit.environment_variables import (
    OTEL_PYTHON_TOOLAUDIT_RESULT_KEYS,
    OTEL_PYTHON_TOOLAUDIT_SUBJECT_KEYS,
    OTEL_PYTHON_TOOLAUDIT_TOOL_ACTIONS,
)
from opentelemetry_instrumentation_toolaudit.redaction import RedactionPolicy
from opentelemetry_instrumentation_toolaudit.version import __version__

SCHEMA_URL = "https://opentelemetry.io/schemas/1.37.0"
SCOPE_NAME = "opentelemetry_instrumentation_toolaudit"
DEFAULT_SUBJECT_KEYS = ("patient_id", "customer_id", "account_id", "subject_id", "mrn")
TOOL_ACTIONS = ("create", "read", "update", "delete", "execute")

if TYPE_CHECKING:
    from opentelemetry_instrumentation_toolaudit.export import IntentSink


def _subject_keys() -> tuple[str, ...]:
    names = os.environ.get(OTEL_PYTHON_TOOLAUDIT_SUBJECT_KEYS)
    if names is None:
        return DEFAULT_SUBJECT_KEYS
    return tuple(n.strip() for n in names.split(",") if n.strip())


def _tool_actions() -> dict[str, str]:
    """``tool:action`` pairs; a pair naming no known action is logged once and left out."""
    actions: dict[str, str] = {}
    for pair in os.environ.get(OTEL_PYTHON_TOOLAUDIT_TOOL_ACTIONS, "").split(","):
        tool, _, action = pair.strip().rpartition(":")
        action = action.strip().lower()
        if not pair.strip():
            continue
        if tool.strip() and action in TOOL_ACTIONS:
            actions[tool.strip()] = action
        else:
            logger.warning(
                "toolaudit: %s: %r is not tool:action with an action of %s; ignored",
                OTEL_PYTHON_TOOLAUDIT_TOOL_ACTIONS,
                pair.strip(),
                ", ".join(TOOL_ACTIONS),
            )
    return actions


class _State:
    __slots__ = (
        "default_tracer",
        "fail_closed_tools",
        "intent_records",
        "intent_sink",
        "max_argument_bytes",
        "metadata_conversation_key",
        "metadata_user_key",
        "policy",
        "provider",
        "result_keys",
        "subject_keys",
        "tool_actions",
        "tracer",
    )

    def __init__(self) -> None:
        # A ProxyTracer until the app sets a global TracerProvider; it follows that provider after.
        self.default_tracer: trace.Tracer = trace.get_tracer(
            SCOPE_NAME, __version__, schema_url=SCHEMA_URL
        )
        self.tracer: trace.Tracer | None = None
        # Until instrument() loads the configured policy: same rules, an ephemeral hash key.
        self.policy: RedactionPolicy = RedactionPolicy()
        self.max_argument_bytes = DEFAULT_MAX_ARGUMENT_BYTES
        self.fail_closed_tools: frozenset[str] = frozenset()
        self.intent_records = False
        # Where intent records go: handed to instrument() or found among the provider's exporters.
        self.intent_sink: IntentSink | None = None
        self.provider: object = None
        self._zero_code_defaults()

    def _zero_code_defaults(self) -> None:
        self.subject_keys: tuple[str, ...] = DEFAULT_SUBJECT_KEYS
        self.tool_actions: dict[str, str] = {}
        self.result_keys = ResultKeys()
        self.metadata_user_key = DEFAULT_METADATA_USER_KEY
        self.metadata_conversation_key = DEFAULT_METADATA_CONVERSATION_KEY

    def configure(
        self,
        tracer: trace.Tracer,
        policy: RedactionPolicy | None,
        fail_closed_tools: Iterable[str] = (),
        *,
        intent_sink: IntentSink | None = None,
        provider: object = None,
    ) -> None:
        self.tracer = tracer
        self.policy = policy if policy is not None else RedactionPolicy.from_env()
        config = RecorderConfig.from_env()
        self.max_argument_bytes = config.max_argument_bytes
        self.fail_closed_tools = config.fail_closed_tools | frozenset(fail_closed_tools)
        self.intent_records = config.intent_records
        self.intent_sink = intent_sink
        self.provider = provider
        self.result_keys = ResultKeys.parse(read_str(OTEL_PYTHON_TOOLAUDIT_RESULT_KEYS) or None)
        self.subject_keys = _subject_keys()
        self.tool_actions = _tool_actions()
        self.metadata_user_key = config.metadata_user_key
        self.metadata_conversation_key = config.metadata_conversation_key

    def reset(self) -> None:
        self.tracer = None
        self.policy = RedactionPolicy()
        self.max_argument_bytes = DEFAULT_MAX_ARGUMENT_BYTES
        self.fail_closed_tools = frozenset()
        self.intent_records = False
        self.intent_sink = None
        self.provider = None
        self._zero_code_defaults()

    def current_tracer(self) -> trace.Tracer:
        return self.tracer or self.default_tracer


STATE = _State()
