# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The audit exporter's settings, read from the environment once per exporter or instrumentor."""

from __future__ import annotations

import dataclasses
import os

from opentelemetry_instrumentation_toolaudit._log import logger
from opentelemetry_instrumentation_toolaudit.environment_variables import (
    OTEL_PYTHON_TOOLAUDIT_BUFFER_SIZE,
    OTEL_PYTHON_TOOLAUDIT_EVENT_TYPES,
    OTEL_PYTHON_TOOLAUDIT_FAIL_CLOSED_TOOLS,
    OTEL_PYTHON_TOOLAUDIT_INTENT_RECORDS,
    OTEL_PYTHON_TOOLAUDIT_REQUIRE_SINK,
)
from opentelemetry_instrumentation_toolaudit.ledger.schema import EVENT_TOOL_INTENT, EVENT_TYPES

DEFAULT_BUFFER_SIZE = 10_000
INTENT_MODES = ("off", "all")
_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")


def _names(value: str | None) -> frozenset[str]:
    return frozenset(n.strip() for n in (value or "").split(",") if n.strip())


@dataclasses.dataclass(frozen=True)
class ExporterConfig:
    """What the audit exporter records and how it fails."""

    event_types: frozenset[str] = frozenset(EVENT_TYPES)
    max_buffer: int = DEFAULT_BUFFER_SIZE
    fail_closed_tools: frozenset[str] = frozenset()
    intent_records: bool = False
    """Write a ``tool.intent`` record when every tool starts (fail-closed tools always get one)."""
    require_sink: bool = False
    """Refuse to start when the sink cannot be opened, rather than run unaudited."""

    @classmethod
    def from_env(cls) -> ExporterConfig:
        event_types = _names(os.environ.get(OTEL_PYTHON_TOOLAUDIT_EVENT_TYPES)) or frozenset(
            EVENT_TYPES
        )
        unknown = event_types - set(EVENT_TYPES)
        if unknown:
            logger.warning(
                "toolaudit: %s lists unknown event types %s; known: %s",
                OTEL_PYTHON_TOOLAUDIT_EVENT_TYPES,
                ", ".join(sorted(unknown)),
                ", ".join(EVENT_TYPES),
            )
        try:
            max_buffer = max(1, int(os.environ.get(OTEL_PYTHON_TOOLAUDIT_BUFFER_SIZE, "")))
        except ValueError:
            max_buffer = DEFAULT_BUFFER_SIZE
        mode = os.environ.get(OTEL_PYTHON_TOOLAUDIT_INTENT_RECORDS, "off").strip().lower()
        if mode not in INTENT_MODES:
            logger.warning(
                "toolaudit: %s=%r is not one of %s; using off",
                OTEL_PYTHON_TOOLAUDIT_INTENT_RECORDS,
                mode,
                ", ".join(INTENT_MODES),
            )
            mode = "off"
        require = os.environ.get(OTEL_PYTHON_TOOLAUDIT_REQUIRE_SINK, "").strip().lower()
        if require not in ("", *_TRUE, *_FALSE):
            logger.warning(
                "toolaudit: %s=%r is not true or false; using true",
                OTEL_PYTHON_TOOLAUDIT_REQUIRE_SINK,
                require,
            )
        return cls(
            require_sink=require not in ("", *_FALSE),
            event_types=event_types | {EVENT_TOOL_INTENT},
            max_buffer=max_buffer,
            fail_closed_tools=_names(os.environ.get(OTEL_PYTHON_TOOLAUDIT_FAIL_CLOSED_TOOLS)),
            intent_records=mode == "all",
        )
