# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from opentelemetry_instrumentation_toolaudit import ToolAuditInstrumentor
from tests.otlp_receiver import Received, serve

# instrument() loads the redaction policy from the environment: give it a key, so that tests never
# create a hash key file in the developer's home directory.
os.environ.setdefault("OTEL_PYTHON_TOOLAUDIT_HASH_KEY", "tests-only-hash-key-0123456789abcdef")


@pytest.fixture(autouse=True)
def _isolated_key_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No test (nor a subprocess it starts) writes a signing or hash key under the real home."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("config")))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("data")))
    monkeypatch.delenv("OTEL_PYTHON_TOOLAUDIT_SIGNING_KEY_FILE", raising=False)


@pytest.fixture
def otlp_server() -> Iterator[Received]:
    """A local OTLP/HTTP receiver; point a real OTLP exporter at ``otlp_server.url``."""
    yield from serve()


@pytest.fixture
def span_exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def tracer_provider(span_exporter: InMemorySpanExporter) -> TracerProvider:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(span_exporter))
    return provider


@pytest.fixture
def instrument(tracer_provider: TracerProvider) -> Iterator[ToolAuditInstrumentor]:
    instrumentor = ToolAuditInstrumentor()
    instrumentor.instrument(tracer_provider=tracer_provider)
    yield instrumentor
    instrumentor.uninstrument()


def tool_spans(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    """The finished execute_tool spans, in end order."""
    return [
        s
        for s in exporter.get_finished_spans()
        if (s.attributes or {}).get("gen_ai.operation.name") == "execute_tool"
    ]


def json_attr(span: ReadableSpan, key: str) -> Any:
    return json.loads(str((span.attributes or {})[key]))
