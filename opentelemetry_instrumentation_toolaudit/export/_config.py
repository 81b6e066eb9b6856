# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The audit exporter's settings, read from the environment once per exporter."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

from opentelemetry_instrumentation_toolaudit._env import (
    read_bool,
    read_float,
    read_int,
    read_list,
    read_path,
    read_str,
)
from opentelemetry_instrumentation_toolaudit._log import logger
from opentelemetry_instrumentation_toolaudit.environment_variables import (
    OTEL_PYTHON_TOOLAUDIT_BUFFER_SIZE,
    OTEL_PYTHON_TOOLAUDIT_CHECKPOINT_DIR,
    OTEL_PYTHON_TOOLAUDIT_CHECKPOINT_EVERY,
    OTEL_PYTHON_TOOLAUDIT_CHECKPOINT_INTERVAL,
    OTEL_PYTHON_TOOLAUDIT_EVENT_TYPES,
    OTEL_PYTHON_TOOLAUDIT_REQUIRE_SINK,
    OTEL_PYTHON_TOOLAUDIT_SINK,
)
from opentelemetry_instrumentation_toolaudit.export._writer import DEFAULT_BUFFER_SIZE
from opentelemetry_instrumentation_toolaudit.ledger.schema import EVENT_TOOL_INTENT, EVENT_TYPES

DEFAULT_CHECKPOINT_EVERY = 1000
DEFAULT_CHECKPOINT_INTERVAL = 60.0


@dataclasses.dataclass(frozen=True)
class ExporterConfig:
    """What the audit exporter records, where, and how it fails."""

    event_types: frozenset[str] = frozenset(EVENT_TYPES)
    max_buffer: int = DEFAULT_BUFFER_SIZE
    require_sink: bool = False
    """Refuse to start when the sink cannot be opened, rather than run unaudited."""
    sink_url: str | None = None
    """``OTEL_PYTHON_TOOLAUDIT_SINK`` (None: the default sink)."""
    checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY
    checkpoint_interval: float = DEFAULT_CHECKPOINT_INTERVAL
    checkpoint_dir: Path | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ExporterConfig:
        """The settings in the environment; an invalid value is logged once and its default used."""
        event_types = frozenset(read_list(OTEL_PYTHON_TOOLAUDIT_EVENT_TYPES, environ=environ))
        unknown = event_types - set(EVENT_TYPES)
        if unknown:
            logger.warning(
                "toolaudit: %s lists unknown event types %s; known: %s",
                OTEL_PYTHON_TOOLAUDIT_EVENT_TYPES,
                ", ".join(sorted(unknown)),
                ", ".join(EVENT_TYPES),
            )
        return cls(
            event_types=(event_types or frozenset(EVENT_TYPES)) | {EVENT_TOOL_INTENT},
            max_buffer=read_int(
                OTEL_PYTHON_TOOLAUDIT_BUFFER_SIZE, DEFAULT_BUFFER_SIZE, minimum=1, environ=environ
            ),
            require_sink=read_bool(
                OTEL_PYTHON_TOOLAUDIT_REQUIRE_SINK, False, on_invalid=True, environ=environ
            ),
            sink_url=read_str(OTEL_PYTHON_TOOLAUDIT_SINK, environ=environ) or None,
            checkpoint_every=read_int(
                OTEL_PYTHON_TOOLAUDIT_CHECKPOINT_EVERY,
                DEFAULT_CHECKPOINT_EVERY,
                minimum=1,
                environ=environ,
            ),
            checkpoint_interval=read_float(
                OTEL_PYTHON_TOOLAUDIT_CHECKPOINT_INTERVAL,
                DEFAULT_CHECKPOINT_INTERVAL,
                minimum=0.0,
                environ=environ,
            ),
            checkpoint_dir=read_path(OTEL_PYTHON_TOOLAUDIT_CHECKPOINT_DIR, environ=environ),
        )
