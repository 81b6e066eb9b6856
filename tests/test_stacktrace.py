"""The redacted stack trace of a tool's exception: the same text as redacting the whole traceback."""

from __future__ import annotations

import collections
import traceback

import pytest
from opentelemetry.sdk.trace import TracerProvider

from opentelemetry_instrumentation_toolaudit import audited_tool
from opentelemetry_instrumentation_toolaudit._stacktrace import (
    exception_event_attributes,
    redacted_stacktrace,
)
from opentelemetry_instrumentation_toolaudit.redaction import RedactionPolicy

from .conftest import tool_spans


class CardDeclinedError(Exception):
    pass


def _charge(email: str) -> None:
    raise CardDeclinedError(f"card 4111 1111 1111 1111 of {email} declined")


def _raised(fn, *args) -> BaseException:
    try:
        fn(*args)
    except BaseException as exc:  # noqa: BLE001 - the test inspects it
        return exc
    raise AssertionError("no exception")


def _chained(email: str) -> None:
    try:
        _charge(email)
    except CardDeclinedError as exc:
        raise RuntimeError(f"refund for {email} failed") from exc


def _noted(email: str) -> None:
    try:
        _charge(email)
    except CardDeclinedError as exc:
        exc.add_note(f"customer {email}")
        raise


def _whole(exc: BaseException, policy: RedactionPolicy) -> tuple[str, dict[str, int]]:
    found: dict[str, int] = collections.defaultdict(int)
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return policy.redact_collect(text, found), dict(found)


@pytest.mark.parametrize("raiser", [_charge, _chained, _noted])
def test_stacktrace_equals_the_whole_traceback_redacted(raiser):
    """Each raise, the first and the ones that reuse the frames' text, gives exactly the whole
    traceback redacted, with the same findings, whatever personal data its message holds."""
    policy = RedactionPolicy(hash_key=b"k" * 32)
    for email in ("jane@example.com", "joe@example.org", "jane@example.com"):
        exc = _raised(raiser, email)
        found: dict[str, int] = collections.defaultdict(int)
        text = redacted_stacktrace(exc, policy, found)
        assert (text, dict(found)) == _whole(exc, policy)
        assert email not in text and "4111" not in text


def test_exception_event_is_the_sdks_with_redacted_text():
    """The exception event has the attributes the SDK's record_exception gives it, with the
    redacted message and stack trace in place of the raw ones."""
    exc = _raised(_charge, "jane@example.com")
    provider = TracerProvider()
    with provider.get_tracer("t").start_as_current_span("s") as span:
        span.record_exception(exc, escaped=True)
    (sdk_event,) = span.events
    ours = exception_event_attributes(exc, "<message>", "<stacktrace>")
    expected = {
        **sdk_event.attributes,
        "exception.message": "<message>",
        "exception.stacktrace": "<stacktrace>",
    }
    assert expected == ours


@pytest.mark.usefixtures("instrument")
def test_tool_exception_event_is_redacted(span_exporter):
    """A raising tool's span carries one exception event, its message and stack trace redacted."""

    @audited_tool
    def charge(email: str) -> None:
        _charge(email)

    for _ in range(2):
        with pytest.raises(CardDeclinedError):
            charge("jane@example.com")
    for span in tool_spans(span_exporter):
        (event,) = span.events
        assert event.name == "exception"
        assert event.attributes["exception.type"] == f"{__name__}.CardDeclinedError"
        assert "jane@example.com" not in str(dict(event.attributes))
        assert "4111 1111" not in str(dict(event.attributes))
        assert event.attributes["exception.stacktrace"].startswith(
            "Traceback (most recent call last):\n"
        )
