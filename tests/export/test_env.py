# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""The one environment parser: an invalid value is logged once by name and the default used."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from opentelemetry_instrumentation_toolaudit import (
    AuditLogExporter,
    ToolAuditInstrumentor,
    _env,
    audited_tool,
)
from opentelemetry_instrumentation_toolaudit._config import RecorderConfig
from opentelemetry_instrumentation_toolaudit.export import ExporterConfig
from opentelemetry_instrumentation_toolaudit.ledger import open_sink


@pytest.fixture(autouse=True)
def _fresh_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_env, "_warned", set())


def warnings_about(caplog: pytest.LogCaptureFixture, name: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if name in r.getMessage()]


@pytest.mark.parametrize(
    ("read", "raw", "expected"),
    [
        (lambda env: _env.read_int("X", 7, minimum=1, environ=env), "12", 12),
        (lambda env: _env.read_int("X", 7, minimum=1, environ=env), "0", 7),
        (lambda env: _env.read_int("X", 7, environ=env), "seven", 7),
        (lambda env: _env.read_float("X", 1.5, minimum=0.0, environ=env), "nan", 1.5),
        (lambda env: _env.read_float("X", 1.5, environ=env), " 2.5 ", 2.5),
        (lambda env: _env.read_bool("X", False, environ=env), "YES", True),
        (lambda env: _env.read_bool("X", False, environ=env), "maybe", False),
        (lambda env: _env.read_bool("X", False, on_invalid=True, environ=env), "maybe", True),
        (lambda env: _env.read_choice("X", "off", ("off", "all"), environ=env), "ALL", "all"),
        (lambda env: _env.read_choice("X", "off", ("off", "all"), environ=env), "some", "off"),
        (lambda env: _env.read_list("X", environ=env), " a, ,b ,", ("a", "b")),
        (lambda env: _env.read_path("X", environ=env), "", None),
    ],
)
def test_each_reader_parses_or_falls_back_to_its_default(read, raw, expected):
    """Each reader returns the parsed value, or its default for an empty or invalid one."""
    assert read({"X": raw}) == expected


def test_an_invalid_value_is_logged_once_by_name_never_by_value(caplog):
    """An invalid value is logged once, naming the variable and never quoting the value."""
    secret = "s3cr3t-not-a-number"
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            assert (
                _env.read_int(
                    "OTEL_PYTHON_TOOLAUDIT_BUFFER_SIZE",
                    10,
                    environ={"OTEL_PYTHON_TOOLAUDIT_BUFFER_SIZE": secret},
                )
                == 10
            )
    (message,) = warnings_about(caplog, "OTEL_PYTHON_TOOLAUDIT_BUFFER_SIZE")
    assert secret not in caplog.text
    assert "invalid" in message


def test_configs_are_typed_and_read_once():
    """The exporter's and the recorder's settings come from the environment as typed values."""
    env = {
        "OTEL_PYTHON_TOOLAUDIT_BUFFER_SIZE": "50",
        "OTEL_PYTHON_TOOLAUDIT_CHECKPOINT_EVERY": "often",
        "OTEL_PYTHON_TOOLAUDIT_REQUIRE_SINK": "perhaps",
        "OTEL_PYTHON_TOOLAUDIT_FAIL_CLOSED_TOOLS": "issue_refund, charge_payment",
        "OTEL_PYTHON_TOOLAUDIT_INTENT_RECORDS": "all",
        "OTEL_PYTHON_TOOLAUDIT_MAX_ARGUMENT_BYTES": "12",
    }
    exporter = ExporterConfig.from_env(env)
    recorder = RecorderConfig.from_env(env)
    assert (exporter.max_buffer, exporter.checkpoint_every, exporter.require_sink) == (
        50,
        1000,
        True,
    )
    assert recorder == RecorderConfig(
        fail_closed_tools=frozenset({"issue_refund", "charge_payment"}),
        intent_records=True,
        max_argument_bytes=8192,
    )


@audited_tool
def lookup_order(order_id: str) -> dict[str, str]:
    """Look an order up."""
    return {"order_id": order_id, "status": "open"}


def test_a_bad_checkpoint_setting_does_not_stop_records(monkeypatch, tmp_path: Path, caplog):
    """A bad OTEL_PYTHON_TOOLAUDIT_CHECKPOINT_EVERY is logged once by name and the default used:
    records are written, not buffered as if the sink were down."""
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_SINK", url)
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_CHECKPOINT_EVERY", "often")
    with caplog.at_level(logging.WARNING):
        exporter = AuditLogExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    instrumentor = ToolAuditInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        lookup_order("ORD-1")
    finally:
        instrumentor.uninstrument()
        exporter.shutdown()
    with open_sink(url, create=False) as sink:
        records = [r.record for r in sink.read()]
    assert [r["arguments"] for r in records] == [{"order_id": "ORD-1"}]
    assert "write_failures" not in exporter.stats()
    assert len(warnings_about(caplog, "OTEL_PYTHON_TOOLAUDIT_CHECKPOINT_EVERY")) == 1
    assert "often" not in caplog.text
