# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The recorder's settings: which tools fail closed, intent records, the bound on arguments.

They belong to the recording side (the app's thread), read once by ``instrument()``; the audit
exporter's own settings are in :mod:`opentelemetry_instrumentation_toolaudit.export`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from opentelemetry_instrumentation_toolaudit._env import read_choice, read_int, read_list, read_str
from opentelemetry_instrumentation_toolaudit.environment_variables import (
    OTEL_PYTHON_TOOLAUDIT_FAIL_CLOSED_TOOLS,
    OTEL_PYTHON_TOOLAUDIT_INTENT_RECORDS,
    OTEL_PYTHON_TOOLAUDIT_MAX_ARGUMENT_BYTES,
    OTEL_PYTHON_TOOLAUDIT_METADATA_CONVERSATION_KEY,
    OTEL_PYTHON_TOOLAUDIT_METADATA_USER_KEY,
)

DEFAULT_MAX_ARGUMENT_BYTES = 8192
MIN_ARGUMENT_BYTES = 256
DEFAULT_METADATA_USER_KEY = "user_id"
DEFAULT_METADATA_CONVERSATION_KEY = "conversation_id"
INTENT_MODES = ("off", "all")


@dataclasses.dataclass(frozen=True)
class RecorderConfig:
    """How tool calls are recorded on the app's side."""

    fail_closed_tools: frozenset[str] = frozenset()
    """Tools that run only once their intent record is durable."""
    intent_records: bool = False
    """Queue a ``tool.intent`` record when every tool starts (fail-closed tools always get one)."""
    max_argument_bytes: int = DEFAULT_MAX_ARGUMENT_BYTES
    metadata_user_key: str = DEFAULT_METADATA_USER_KEY
    metadata_conversation_key: str = DEFAULT_METADATA_CONVERSATION_KEY

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> RecorderConfig:
        """The settings in the environment; an invalid value is logged once and its default used."""
        return cls(
            fail_closed_tools=frozenset(
                read_list(OTEL_PYTHON_TOOLAUDIT_FAIL_CLOSED_TOOLS, environ=environ)
            ),
            intent_records=read_choice(
                OTEL_PYTHON_TOOLAUDIT_INTENT_RECORDS, "off", INTENT_MODES, environ=environ
            )
            == "all",
            max_argument_bytes=read_int(
                OTEL_PYTHON_TOOLAUDIT_MAX_ARGUMENT_BYTES,
                DEFAULT_MAX_ARGUMENT_BYTES,
                minimum=MIN_ARGUMENT_BYTES,
                environ=environ,
            ),
            metadata_user_key=read_str(
                OTEL_PYTHON_TOOLAUDIT_METADATA_USER_KEY, DEFAULT_METADATA_USER_KEY, environ=environ
            ),
            metadata_conversation_key=read_str(
                OTEL_PYTHON_TOOLAUDIT_METADATA_CONVERSATION_KEY,
                DEFAULT_METADATA_CONVERSATION_KEY,
                environ=environ,
            ),
        )
