# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""What the instrumentor configured, read by every wrapper at call time.

Decorators are applied at import time, usually before ``instrument()`` runs, so they look the tracer
and policy up here on each call rather than capturing them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from opentelemetry import trace

from opentelemetry_instrumentation_toolaudit._log import logger
from opentelemetry_instrumentation_toolaudit._summary import ResultKeys
from opentelemetry_instrumentation_toolaudit.audit._config import ExporterConfig
from opentelemetry_instrumentation_toolaudit.environment_variables import (
    OTEL_PYTHON_TOOLAUDIT_MAX_ARGUMENT_BYTES,
    OTEL_PYTHON_TOOLAUDIT_METADATA_CONVERSATION_KEY,
    OTEL_PYTHON_TOOLAUDIT_METADATA_USER_KEY,
    OTEL_PYTHON_TOOLAUDIT_RESULT_KEYS,
    OTEL_PYTHON_TOOLAUDIT_SUBJECT_KEYS,
    OTEL_PYTHON_TOOLAUDIT_TOOL_ACTIONS,
)
from opentelemetry_instrumentation_toolaudit.redaction import RedactionPolicy
from opentelemetry_instrumentation_toolaudit.version import __version__

SCHEMA_URL = "https://opentelemetry.io/schemas/1.37.0"
SCOPE_NAME = "opentelemetry_instrumentation_toolaudit"
DEFAULT_MAX_ARGUMENT_BYTES = 8192
DEFAULT_METADATA_USER_KEY = "user_id"
DEFAULT_METADATA_CONVERSATION_KEY = "conversation_id"
DEFAULT_SUBJECT_KEYS = ("patient_id", "customer_id", "account_id", "subject_id", "mrn")
TOOL_ACTIONS = ("create", "read", "update", "delete", "execute")


def _env_int(name: str, default: int) -> int:
    try:
        return max(256, int(os.environ.get(name, default)))
    except ValueError:
        return default


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
        "max_argument_bytes",
        "metadata_conversation_key",
        "metadata_user_key",
        "policy",
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
    ) -> None:
        self.tracer = tracer
        self.policy = policy if policy is not None else RedactionPolicy.from_env()
        self.max_argument_bytes = _env_int(
            OTEL_PYTHON_TOOLAUDIT_MAX_ARGUMENT_BYTES, DEFAULT_MAX_ARGUMENT_BYTES
        )
        audit = ExporterConfig.from_env()
        self.fail_closed_tools = audit.fail_closed_tools | frozenset(fail_closed_tools)
        self.intent_records = audit.intent_records
        self.result_keys = ResultKeys.parse(os.environ.get(OTEL_PYTHON_TOOLAUDIT_RESULT_KEYS))
        self.subject_keys = _subject_keys()
        self.tool_actions = _tool_actions()
        self.metadata_user_key = (
            os.environ.get(OTEL_PYTHON_TOOLAUDIT_METADATA_USER_KEY, "").strip()
            or DEFAULT_METADATA_USER_KEY
        )
        self.metadata_conversation_key = (
            os.environ.get(OTEL_PYTHON_TOOLAUDIT_METADATA_CONVERSATION_KEY, "").strip()
            or DEFAULT_METADATA_CONVERSATION_KEY
        )

    def reset(self) -> None:
        self.tracer = None
        self.policy = RedactionPolicy()
        self.max_argument_bytes = DEFAULT_MAX_ARGUMENT_BYTES
        self.fail_closed_tools = frozenset()
        self.intent_records = False
        self._zero_code_defaults()

    def current_tracer(self) -> trace.Tracer:
        return self.tracer or self.default_tracer


STATE = _State()
