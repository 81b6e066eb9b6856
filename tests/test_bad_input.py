# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Hostile tool arguments and broken telemetry never break the tool call."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from opentelemetry.trace import StatusCode

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
    stack trace stay bounded, the trace keeping its frames and ending with the cut message."""
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
    assert stacktrace.endswith(
        f'in explode\n    raise ValueError("boom " + "z" * size)\nValueError: {message}\n'
    )


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


HUGE = 10**5000
HUGE_MARKER = f"<int bits={HUGE.bit_length()}>"


@audited_tool
def pay(amount: Any) -> str:
    return "paid"


def test_huge_integers_in_arguments_become_markers(span_exporter):
    """Integers too wide to print, in flat or nested arguments and as keys, become '<int bits=N>'
    markers and the call keeps its span; integers that can be printed are kept."""
    assert pay(HUGE) == "paid"
    assert echo({"big": -HUGE, "wide": 2**3000, HUGE: "key", "ok": 2**64}) == "ok"
    flat, nested = tool_spans(span_exporter)
    assert json_attr(flat, "gen_ai.tool.call.arguments") == {"amount": HUGE_MARKER}
    assert json_attr(nested, "gen_ai.tool.call.arguments")["payload"] == {
        "big": HUGE_MARKER,
        "wide": "<int bits=3001>",
        HUGE_MARKER: "key",
        "ok": 2**64,
    }


def test_a_huge_integer_in_a_result_becomes_a_marker(span_exporter):
    """A result holding an integer too wide to print still gets its summary, with a marker."""

    @audited_tool
    def lookup() -> dict[str, Any]:
        return {"id": HUGE, "status": "ok"}

    assert lookup() == {"id": HUGE, "status": "ok"}
    (span,) = tool_spans(span_exporter)
    assert json_attr(span, "toolaudit.result.summary") == {
        "success": True,
        "id": HUGE_MARKER,
        "status": "ok",
    }
    assert span.attributes["toolaudit.success"] is True


class _UnprintableError(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no text for you")


def _nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("make", "error_type"),
    [
        (_UnprintableError, "_UnprintableError"),
        (lambda: ValueError(_nested(10_000)), "ValueError"),  # str() raises RecursionError
        (lambda: ValueError(HUGE), "ValueError"),  # str() raises ValueError (too many digits)
    ],
    ids=["str-raises", "nested-10k", "huge-int"],
)
def test_an_exception_without_text_is_recorded_as_a_failure(span_exporter, make, error_type):
    """An exception whose str() raises is re-raised unchanged and recorded as a failure, with a
    marker for its message."""
    raised = make()

    @audited_tool
    def failing() -> None:
        raise raised

    with pytest.raises(type(raised)) as caught:
        failing()
    assert caught.value is raised
    (span,) = tool_spans(span_exporter)
    assert (
        span.attributes["toolaudit.success"],
        span.attributes["error.type"],
        span.status.status_code,
        span.status.description,
    ) == (False, error_type, StatusCode.ERROR, error_type)
    assert json_attr(span, "toolaudit.result.summary") == {
        "success": False,
        "error": "<exception str() failed>",
        "error_type": error_type,
    }
    (event,) = span.events
    assert event.attributes["exception.message"] == "<exception str() failed>"
    assert event.attributes["exception.stacktrace"].endswith(
        f"{error_type}: <exception str() failed>\n"
    )


def test_a_recursing_tool_records_every_call_as_failed(span_exporter):
    """A tool that recurses until RecursionError: every one of its spans that was started says
    success false, even those ended with the stack nearly exhausted."""

    @audited_tool
    def descend(depth: int) -> int:
        return descend(depth + 1)

    with pytest.raises(RecursionError):
        descend(0)
    spans = tool_spans(span_exporter)
    assert len(spans) > 50
    outcomes = {
        (
            s.attributes.get("toolaudit.success"),
            s.attributes.get("error.type"),
            s.status.status_code,
        )
        for s in spans
    }
    assert outcomes == {(False, "RecursionError", StatusCode.ERROR)}


def test_a_long_exception_chain_is_cut(span_exporter):
    """An exception at the end of a 10,000-long __context__ chain: the stack trace shows the newest
    three, says how many it leaves out, and stays bounded."""

    @audited_tool
    def chained() -> None:
        error = ValueError("first")
        for i in range(10_000):
            newer = ValueError(f"error {i}")
            newer.__context__ = error
            error = newer
        raise error

    with pytest.raises(ValueError, match="error 9999"):
        chained()
    (span,) = tool_spans(span_exporter)
    (event,) = span.events
    stacktrace = event.attributes["exception.stacktrace"]
    assert stacktrace.startswith(
        "[9998 earlier chained exceptions not shown]\n\nValueError: error 9997\n"
    )
    assert stacktrace.count("During handling of the above exception") == 2
    assert stacktrace.endswith("ValueError: error 9999\n")
    assert span.attributes["toolaudit.success"] is False


@pytest.fixture
def redactor_inputs(monkeypatch) -> list[int]:
    """The length (in JSON characters) of every value handed to the redaction policy."""
    sizes: list[int] = []
    real = STATE.policy.redact_collect

    def measuring(value: Any, found: Any) -> Any:
        sizes.append(len(value) if isinstance(value, str) else len(json.dumps(value)))
        return real(value, found)

    monkeypatch.setattr(STATE.policy, "redact_collect", measuring)
    return sizes


def test_a_huge_exception_message_is_cut_before_it_is_redacted(span_exporter, redactor_inputs):
    """A 10 MB exception message: redaction is handed at most a bounded window of it, and a card
    number the cut crosses is still redacted, not half kept."""
    message = "x" * 500 + " card 4111 1111 1111 1111 " + "y" * 10_000_000

    @audited_tool
    def failing() -> None:
        raise ValueError(message)

    with pytest.raises(ValueError) as caught:
        failing()
    assert str(caught.value) is message
    assert max(redactor_inputs) <= 4096
    (span,) = tool_spans(span_exporter)
    (event,) = span.events
    recorded = event.attributes["exception.message"]
    assert recorded.startswith("x" * 500 + " card ")
    assert not any(digit in recorded for digit in "0123456789")
    assert span.attributes["toolaudit.redaction.kinds"] == ("credit_card",)


class _CountingDict(dict):  # type: ignore[type-arg]
    """A dict that counts how many times its items are read."""

    reads = 0

    def items(self):  # type: ignore[no-untyped-def]
        type(self).reads += 1
        return super().items()


def test_huge_arguments_and_results_cost_a_bounded_amount_of_work(span_exporter, redactor_inputs):
    """Arguments and a result of thousands of large rows: only what fits the bounds is copied and
    redacted, however many rows there are."""
    rows = [_CountingDict({f"k{j}": "v" * 1000 for j in range(20)}) for _ in range(2000)]

    @audited_tool
    def bulk(payload: Any) -> Any:
        return payload

    _CountingDict.reads = 0
    assert bulk(rows) is rows
    assert _CountingDict.reads <= 4
    assert max(redactor_inputs) <= 2 * STATE.max_argument_bytes
    (span,) = tool_spans(span_exporter)
    assert json_attr(span, "toolaudit.result.summary") == {
        "success": True,
        "count": 2000,
        "_result_size": json_attr(span, "toolaudit.result.summary")["_result_size"],
        "_truncated": True,
    }


def test_lone_surrogates_in_an_exception_are_escaped(span_exporter):
    """An exception message holding a lone surrogate is recorded escaped, in the message, the
    summary and the stack trace, so that exporters (UTF-8 only) keep them."""

    @audited_tool
    def failing() -> None:
        raise ValueError("bad \ud800 value")

    with pytest.raises(ValueError, match="bad \ud800 value"):
        failing()
    (span,) = tool_spans(span_exporter)
    (event,) = span.events
    assert event.attributes["exception.message"] == "bad \\ud800 value"
    assert event.attributes["exception.stacktrace"].endswith("ValueError: bad \\ud800 value\n")
    assert json_attr(span, "toolaudit.result.summary")["error"] == "bad \\ud800 value"


@pytest.mark.parametrize(
    ("arguments", "recorded"),
    [
        (
            "[" * 100_000 + "]" * 100_000,
            "[" * 2048 + "…[+197952 chars]",
        ),  # json.loads: RecursionError
        (json.dumps({"text": "z" * 10_000_000}), {"_truncated": True, "_size": 10_000_012}),
    ],
    ids=["nested-100k", "10-MB"],
)
def test_hostile_json_text_arguments(span_exporter, arguments, recorded):
    """Arguments given as JSON text nested too deep to parse are recorded as cut text, and JSON text
    far beyond the bound as a size marker without being parsed; the call keeps its span either way."""
    from opentelemetry_instrumentation_toolaudit._recorder import ToolCall, run_sync

    assert run_sync(ToolCall("dispatch", arguments=arguments), lambda: "ok", (), {}) == "ok"
    (span,) = tool_spans(span_exporter)
    assert json_attr(span, "gen_ai.tool.call.arguments") == recorded


def test_attribution_values_with_lone_surrogates_are_exportable(span_exporter):
    """A user id, role or purpose holding a lone surrogate is escaped, so OTLP keeps the "who"."""
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    from opentelemetry_instrumentation_toolaudit import audit_context

    with audit_context(user_id="jane\ud800doe", user_role="nurse\udfff", purpose="care\ud800"):
        assert echo(1) == "ok"
    (span,) = tool_spans(span_exporter)
    assert span.attributes["user.id"] == "jane\\ud800doe"
    assert span.attributes["toolaudit.purpose"] == "care\\ud800"
    encoded = encode_spans([span]).SerializeToString()
    assert b"jane\\ud800doe" in encoded


def test_attribution_values_of_the_wrong_type_still_record_the_call(span_exporter):
    """A dict given as the user id is recorded as its text: the call keeps its span."""
    from opentelemetry_instrumentation_toolaudit import audit_context

    with audit_context(user_id={"id": "u1"}):  # type: ignore[arg-type]
        assert echo(1) == "ok"
    (span,) = tool_spans(span_exporter)
    assert span.attributes["user.id"] == "{'id': 'u1'}"
