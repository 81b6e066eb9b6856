"""Hostile tool arguments and broken telemetry never break the tool call."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from opentelemetry_instrumentation_toolaudit import audited_tool, error_counts
from opentelemetry_instrumentation_toolaudit._state import STATE

from .conftest import json_attr, tool_spans

pytestmark = pytest.mark.usefixtures("instrument")


@audited_tool
def echo(payload: Any) -> str:
    return "ok"


def recorded_payload(exporter) -> Any:
    (span,) = tool_spans(exporter)
    return json_attr(span, "gen_ai.tool.call.arguments")["payload"]


def test_cycle_is_recorded_as_marker(span_exporter):
    """A self-referencing structure records a '<cycle>' marker instead of recursing."""
    data: dict[str, Any] = {"a": 1}
    data["self"] = data
    assert echo(data) == "ok"
    assert recorded_payload(span_exporter) == {"a": 1, "self": "<cycle>"}


def test_bytes_nan_and_odd_keys(span_exporter):
    """Bytes, NaN, infinities, tuple keys and sets become safe JSON."""
    echo({"blob": b"\x00\xff" * 10, "nan": math.nan, "inf": -math.inf, (1, 2): {3}, 4: None})
    assert recorded_payload(span_exporter) == {
        "blob": "<bytes len=20>",
        "nan": "NaN",
        "inf": "-Infinity",
        "<tuple>": [3],
        "4": None,
    }


def test_lone_surrogates_and_unicode(span_exporter):
    """Lone surrogates (invalid UTF-8) are escaped; other unicode is kept as is."""
    echo({"s": "ok \ud800 end", "emoji": "😀", "rtl": "\u202eabc"})
    (span,) = tool_spans(span_exporter)
    raw = span.attributes["gen_ai.tool.call.arguments"]
    raw.encode("utf-8")  # exportable
    assert json.loads(raw)["payload"] == {"s": "ok \\ud800 end", "emoji": "😀", "rtl": "\u202eabc"}


def test_huge_arguments_are_bounded(span_exporter):
    """A multi-megabyte argument is recorded within the configured bound, as valid JSON."""
    echo({"text": "x" * 5_000_000, "rows": list(range(100_000))})
    (span,) = tool_spans(span_exporter)
    raw = span.attributes["gen_ai.tool.call.arguments"]
    assert len(raw.encode()) <= STATE.max_argument_bytes
    recorded = json.loads(raw)["payload"]
    assert recorded["text"].startswith("x" * 100)
    assert recorded["text"].endswith("…[+4997952 chars]")
    assert recorded["rows"][-1] == "<+99800 items>"


@audited_tool
def explode(size: int) -> str:
    raise ValueError("boom " + "z" * size)


def test_a_huge_exception_message_is_bounded(span_exporter):
    """A tool raising with a 200 KB message: re-raised unchanged; the span's exception message and
    stack trace stay bounded, the trace keeping its start (frames) and end (the exception line)."""
    with pytest.raises(ValueError) as caught:
        explode(200_000)
    assert len(str(caught.value)) == 200_005
    (span,) = tool_spans(span_exporter)
    (event,) = span.events
    message, stacktrace = (
        event.attributes["exception.message"],
        event.attributes["exception.stacktrace"],
    )
    assert (len(message), message.startswith("boom zzz")) == (512, True)
    assert len(stacktrace) < 16_500
    assert stacktrace.startswith("Traceback (most recent call last):")
    assert "characters cut]" in stacktrace and stacktrace.rstrip().endswith("z" * 100)


def test_over_budget_arguments_become_a_marker(span_exporter):
    """Arguments still too big after per-field caps become a valid JSON marker with the keys."""
    echo({f"k{i}": "y" * 2000 for i in range(50)})
    (span,) = tool_spans(span_exporter)
    marker = json_attr(span, "gen_ai.tool.call.arguments")
    assert marker["_truncated"] is True
    assert marker["_keys"] == ["payload"]
    assert marker["_size"] > STATE.max_argument_bytes


def test_hostile_objects_are_named_not_called(span_exporter):
    """An object whose __repr__ and model_dump raise is recorded by its type name."""

    class Hostile:
        def __repr__(self) -> str:
            raise RuntimeError("boom")

        def model_dump(self, **kwargs: Any) -> Any:
            raise RuntimeError("boom")

    echo(Hostile())
    assert recorded_payload(span_exporter) == "<Hostile>"


def test_broken_policy_does_not_break_the_tool(span_exporter, monkeypatch):
    """If our own redaction fails, the tool still runs and returns, and the failure is counted."""

    def explode(value: Any, found: Any) -> Any:
        raise RuntimeError("policy bug")

    monkeypatch.setattr(STATE.policy, "redact_collect", explode)
    before = error_counts().get("starting a tool span", 0)
    assert echo("x") == "ok"
    assert error_counts()["starting a tool span"] == before + 1


def test_broken_policy_does_not_mask_tool_exception(monkeypatch):
    """If recording the exception fails, the tool's own exception still propagates unchanged."""

    @audited_tool
    def failing() -> None:
        raise ValueError("tool's own")

    monkeypatch.setattr(STATE.policy, "redact_collect", lambda value, found: 1 / 0)
    with pytest.raises(ValueError, match="tool's own"):
        failing()


def test_keys_redacted_case_and_nesting(span_exporter):
    """The seed's sensitive names are redacted case-insensitively at any depth."""
    echo({"Password": "p", "nested": {"API-Key": "k", "list": [{"Authorization": "Bearer x"}]}})
    assert recorded_payload(span_exporter) == {
        "Password": "***REDACTED***",
        "nested": {"API-Key": "***REDACTED***", "list": [{"Authorization": "***REDACTED***"}]},
    }


def test_hostile_container_still_gets_its_span(span_exporter):
    """An argument whose items() raises is marked unreadable; the call still has its span."""

    class Hostile(dict):
        def items(self):  # type: ignore[override]
            raise RuntimeError("no")

    @audited_tool
    def store(payload: Any) -> str:
        return "ok"

    assert store(Hostile(a=1)) == "ok"
    (span,) = tool_spans(span_exporter)
    assert json_attr(span, "gen_ai.tool.call.arguments") == {"payload": "<Hostile: unreadable>"}
