# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Turn one tool call into one ``execute_tool`` span: the only place such spans are made.

The decorator, the no-code dispatch targets and every framework integration describe the call as a
:class:`ToolCall` and hand it here. Telemetry failures are logged and counted, never raised; the
tool's own exception always propagates unchanged.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from opentelemetry_instrumentation_toolaudit import attributes as attrs
from opentelemetry_instrumentation_toolaudit._access import AccessRule, enforce
from opentelemetry_instrumentation_toolaudit._context import (
    Attribution,
    CallTrigger,
    attach_attribution,
    current_attribution,
)
from opentelemetry_instrumentation_toolaudit._exception_text import (
    MAX_ERROR_MESSAGE,
    exception_message,
    redacted_head,
    stacktrace,
    type_name,
)
from opentelemetry_instrumentation_toolaudit._exceptions import AuditUnavailableError
from opentelemetry_instrumentation_toolaudit._intent import IntentSink, find_intent_sink
from opentelemetry_instrumentation_toolaudit._jsonable import (
    bounded_dumps,
    dumps,
    exportable,
    to_jsonable,
)
from opentelemetry_instrumentation_toolaudit._log import internal_error
from opentelemetry_instrumentation_toolaudit._stamping import keep_identity
from opentelemetry_instrumentation_toolaudit._state import STATE
from opentelemetry_instrumentation_toolaudit._summary import (
    error_type_of,
    result_failed,
    summarize_result,
)
from opentelemetry_instrumentation_toolaudit.integrations._remembered import (
    REGISTRY,
    remembered_attributes,
    remembered_links,
)
from opentelemetry_instrumentation_toolaudit.redaction._policy import RedactionPolicy

R = TypeVar("R")


@dataclasses.dataclass
class ToolCall:
    """One tool call as an integration sees it, before it runs."""

    name: str
    arguments: Any = None
    """A mapping of argument names to values, a JSON object string, or None."""
    call_id: str | None = None
    description: str | None = None
    provider: str | None = None
    model: str | None = None
    trigger: CallTrigger | None = None
    """The tool's own trigger; it wins over the audit_context's."""
    links: Sequence[Link] = ()
    attributes: Mapping[str, Any] | None = None
    """Extra attributes an integration wants on the span."""
    user_id: str | None = None
    """The user the model request named (attribution source ``request``): used where neither an
    audit_context nor the incoming HTTP request names one."""
    conversation_id: str | None = None
    """The conversation the model request named, used likewise."""
    access: AccessRule | None = None
    """The tool's access rule: a call it refuses raises :class:`AccessDeniedError` before the tool
    runs (unless under break-the-glass)."""
    action: str | None = None
    """What the tool declared it does (``read``...); else ``OTEL_PYTHON_TOOLAUDIT_TOOL_ACTIONS``."""


def redaction_attributes(found: dict[str, int]) -> dict[str, Any]:
    """``toolaudit.redaction.count`` and ``.kinds`` for what redaction at the source removed."""
    return {
        attrs.TOOLAUDIT_REDACTION_COUNT: sum(found.values()),
        attrs.TOOLAUDIT_REDACTION_KINDS: tuple(sorted(found)),
    }


class ActiveCall:
    """A started tool call: its span and the context token to restore when it ends."""

    __slots__ = ("_found", "_owned", "_token", "span")

    def __init__(
        self,
        span: trace.Span,
        token: object | None,
        owned: bool,
        found: dict[str, int] | None = None,
    ) -> None:
        self.span = span
        self._token = token
        self._owned = owned
        # What redaction removed from the arguments; the result's findings are added at the end.
        self._found = found if found is not None else collections.defaultdict(int)

    def succeeded(self, result: Any) -> None:
        """Record a normal return (a result dict with an ``error`` key still counts as a failure)."""
        try:
            span = self.span
            if span.is_recording():
                found = self._found
                before = sum(found.values())
                summary = STATE.policy.redact_collect(
                    summarize_result(result, STATE.result_keys), found
                )
                failed = result_failed(result)
                values: dict[str, Any] = {
                    attrs.TOOLAUDIT_RESULT_SUMMARY: dumps(summary),
                    attrs.TOOLAUDIT_SUCCESS: not failed,
                }
                if sum(found.values()) != before:
                    values.update(redaction_attributes(found))
                if failed:
                    values[attrs.ERROR_TYPE] = error_type_of(result)
                    span.set_status(Status(StatusCode.ERROR, values[attrs.ERROR_TYPE]))
                span.set_attributes(values)
        except Exception as exc:  # noqa: BLE001 - telemetry never breaks the app
            internal_error("recording a tool result", exc)
        self._close()

    def failed(self, exc: BaseException) -> None:
        """Record the tool's exception; the caller re-raises it unchanged.

        The outcome (``toolaudit.success`` false, ``error.type``, the error status) is set first and
        alone, so that it holds whatever happens to the description of the exception after it."""
        error_type = type(exc).__qualname__
        span = self.span
        try:
            if span.is_recording():
                span.set_attributes({attrs.TOOLAUDIT_SUCCESS: False, attrs.ERROR_TYPE: error_type})
                span.set_status(Status(StatusCode.ERROR, error_type))
        except Exception as err:  # noqa: BLE001
            internal_error("recording a tool exception", err)
        try:
            if span.is_recording():
                self._describe(exc, error_type)
        except Exception as err:  # noqa: BLE001
            internal_error("describing a tool exception", err)
        self._close()

    def _describe(self, exc: BaseException, error_type: str) -> None:
        """The redacted, bounded message and stack trace of ``exc`` on the span. The span's own
        ``record_exception`` is not used: it formats the whole exception, message and all."""
        policy = STATE.policy
        found = self._found
        before = sum(found.values())

        def redact(text: str) -> str:
            # Only cut windows of the exception's text come here; lone surrogates in them would
            # make the exporters drop the attribute.
            return exportable(policy.redact_collect(text, found))

        message = redacted_head(exception_message(exc), MAX_ERROR_MESSAGE, redact)
        summary = {"success": False, "error": message, "error_type": error_type}
        values: dict[str, Any] = {attrs.TOOLAUDIT_RESULT_SUMMARY: dumps(summary)}
        # The stack trace ends with the message: it is built from the redacted one.
        trace_text = stacktrace(exc, message, redact)
        if sum(found.values()) != before:
            values.update(redaction_attributes(found))
        self.span.set_attributes(values)
        self.span.add_event(
            attrs.EXCEPTION_EVENT,
            {
                attrs.EXCEPTION_TYPE: type_name(exc),
                attrs.EXCEPTION_MESSAGE: message,
                attrs.EXCEPTION_STACKTRACE: trace_text,
                attrs.EXCEPTION_ESCAPED: "True",
            },
        )

    def _close(self) -> None:
        try:
            if self._token is not None:
                otel_context.detach(self._token)  # type: ignore[arg-type]
                self._token = None
            if self._owned:
                self.span.end()
        except Exception as exc:  # noqa: BLE001
            internal_error("ending a tool span", exc)


MAX_PARSED_ARGUMENTS = 64
"""Arguments given as JSON text longer than this many times the argument bound are not parsed."""


def _arguments_json(arguments: Any, found: dict[str, int]) -> str | None:
    if arguments is None:
        return None
    if isinstance(arguments, str):
        if len(arguments) > MAX_PARSED_ARGUMENTS * STATE.max_argument_bytes:
            # Not parsed on the app's thread: whatever it holds, it is far beyond the bound.
            return dumps({"_truncated": True, "_size": len(arguments.encode("utf-8", "replace"))})
        # Not JSON, or nested too deep to parse: recorded as the (cut) text it is.
        with contextlib.suppress(ValueError, RecursionError):
            arguments = json.loads(arguments)
    # Bounded before redaction: a huge argument costs no more to record than one of the bound's size.
    safe = STATE.policy.redact_collect(to_jsonable(arguments, STATE.max_argument_bytes), found)
    return bounded_dumps(safe, STATE.max_argument_bytes)


MAX_DERIVED = 256
MAX_STATIC_VALUES = 4096


class _StaticRedaction:
    """The redacted form of each (attribute, value) pair of the static attributes, under one policy.

    A service opens a new audit_context per request, and most of its values (user, role, model,
    address, the attribution summary) repeat from request to request: each distinct pair is redacted
    once, exactly as the whole mapping would be (keys are redacted independently of each other).
    """

    def __init__(self) -> None:
        self._policy: RedactionPolicy | None = None
        self._pairs: dict[tuple[str, Any], tuple[tuple[tuple[Any, Any], ...], tuple[str, ...]]] = {}

    def redact(
        self, policy: RedactionPolicy, values: dict[str, Any]
    ) -> tuple[dict[str, Any], tuple[str, ...]]:
        """``values`` redacted by ``policy``, and one kind per finding."""
        pairs = self._pairs
        if policy is not self._policy:
            pairs = self._pairs = {}
            self._policy = policy
        out: dict[str, Any] = {}
        kinds: list[str] = []
        for key, value in values.items():
            value = _attribute_value(value)
            pair = (key, tuple(value) if type(value) is list else value)
            entry = pairs.get(pair)
            if entry is None:
                found: dict[str, int] = collections.defaultdict(int)
                redacted = policy.redact_collect({key: value}, found)
                entry = (
                    tuple(redacted.items()),
                    tuple(kind for kind, count in found.items() for _ in range(count)),
                )
                if len(pairs) >= MAX_STATIC_VALUES:
                    pairs.clear()
                pairs[pair] = entry
            out.update(entry[0])
            kinds.extend(entry[1])
        return out, tuple(kinds)


_STATIC_REDACTION = _StaticRedaction()


def _attribute_value(value: Any) -> Any:
    """``value`` as an attribute value an exporter can send: text with its lone surrogates escaped
    (OTLP drops an attribute that is not UTF-8), and whatever is neither text, a number nor a list
    of text (a dict given as a user id) as its text, so that the call is still recorded."""
    if type(value) is str:
        return exportable(value)
    if isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, (list, tuple)):
        return [_text(item) for item in value]
    return _text(value)


def _text(value: Any) -> str:
    if type(value) is str:
        return exportable(value)
    try:
        return exportable(str(value))
    except Exception:  # noqa: BLE001 - a value whose str() fails is named by its type
        return f"<{type(value).__name__}>"


def _static_attributes(call: ToolCall) -> tuple[Attribution, dict[str, Any], tuple[str, ...]]:
    """The attribution for ``call``, the span attributes that do not vary from call to call (redacted
    at the source), and the kinds that redaction removed from them.

    They depend only on the context's attribution, the tool and the policy, so they are computed
    once per (audit_context, tool) and reused: a tool called in a loop pays for them once.
    """
    base = current_attribution()
    policy = STATE.policy
    key = (
        call.name,
        call.model,
        call.provider,
        call.trigger,
        call.description,
        call.user_id,
        call.conversation_id,
        id(policy),
    )
    derived = base._derived
    cached = derived.get(key)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    attribution = base
    if call.user_id is not None or call.conversation_id is not None:
        attribution = attribution.requested(call.user_id, call.conversation_id)
    attribution = attribution.merged(tool_name=call.name, model=call.model, provider=call.provider)
    trigger = call.trigger or attribution.trigger or CallTrigger.USER_REQUEST
    if call.trigger is not None:
        attribution = attribution.merged(trigger=trigger)
    values = attribution.span_attributes()
    values[attrs.GEN_AI_OPERATION_NAME] = attrs.OPERATION_EXECUTE_TOOL
    values[attrs.GEN_AI_TOOL_NAME] = call.name
    values[attrs.GEN_AI_TOOL_TYPE] = attrs.TOOL_TYPE_FUNCTION
    values[attrs.TOOLAUDIT_TRIGGER] = trigger.value
    values[attrs.TOOLAUDIT_ATTRIBUTION] = attribution.summary()
    if call.description:
        values[attrs.GEN_AI_TOOL_DESCRIPTION] = call.description
    # Attribution values come from the app or from upstream baggage: redact them here, once.
    values, kinds = _STATIC_REDACTION.redact(policy, values)
    if len(derived) >= MAX_DERIVED:
        derived.clear()
    derived[key] = (attribution, values, kinds)
    return attribution, values, kinds


def _call_attributes(
    call: ToolCall, static: dict[str, Any], found: dict[str, int]
) -> dict[str, Any]:
    values = dict(static)
    policy = STATE.policy
    if call.call_id:
        values[attrs.GEN_AI_TOOL_CALL_ID] = policy.redact_collect(call.call_id, found)
    arguments = _arguments_json(call.arguments, found)
    if arguments is not None:
        values[attrs.GEN_AI_TOOL_CALL_ARGUMENTS] = arguments
    if call.attributes:
        values.update(policy.redact_collect(dict(call.attributes), found))
    action = call.action or STATE.tool_actions.get(call.name)
    if action:
        values[attrs.TOOLAUDIT_TOOL_ACTION] = action
    subject = _subject_value(call.arguments)
    if subject is not None:
        # The raw value never reaches the span: only its keyed pseudonym, as reports look it up.
        values[attrs.TOOLAUDIT_SUBJECT] = policy.pseudonym(subject)
    if found:
        values.update(redaction_attributes(found))
    return values


def _subject_value(arguments: Any) -> str | None:
    """The text of the first argument (in the call's order) named in ``STATE.subject_keys``, or None."""
    if not STATE.subject_keys or arguments is None:
        return None
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except (ValueError, RecursionError):
            return None
    if not isinstance(arguments, Mapping):
        return None
    keys = STATE.subject_keys
    for key, value in arguments.items():
        if key in keys and value is not None and not isinstance(value, (Mapping, list, tuple)):
            return str(value)
    return None


def _is_twin(span: trace.Span, call: ToolCall) -> bool:
    """Whether ``span`` is already an ``execute_tool`` span for this call.

    That is a live span with ``gen_ai.operation.name = execute_tool`` and the same
    ``gen_ai.tool.name``, whose ``gen_ai.tool.call.id`` (when both sides know one) is the same. The
    official google-genai instrumentation (``execute_tool {name}``, current while the tool body runs)
    and the MCP SDK's server span (``tools/call {name}``) set both attributes when they start. Some
    instrumentations (the contrib openai-agents processor) name the tool only in the span name when
    the span starts, so a span without ``gen_ai.tool.name`` is matched on its name.
    """
    span_attrs = getattr(span, "attributes", None)
    if (
        span_attrs is None
        or not span.is_recording()
        or span_attrs.get(attrs.GEN_AI_OPERATION_NAME) != attrs.OPERATION_EXECUTE_TOOL
    ):
        return False
    tool_name = span_attrs.get(attrs.GEN_AI_TOOL_NAME)
    if tool_name is None:
        return getattr(span, "name", None) == f"{attrs.OPERATION_EXECUTE_TOOL} {call.name}"
    if tool_name != call.name:
        return False
    twin_id = span_attrs.get(attrs.GEN_AI_TOOL_CALL_ID)
    return not (twin_id and call.call_id and twin_id != call.call_id)


def _with_remembered(call: ToolCall) -> ToolCall:
    """``call`` completed from the model's remembered request for it, when one matches."""
    found = REGISTRY.claim(call.name, call.call_id, call.arguments)
    if found is None:
        return call
    return dataclasses.replace(
        call,
        call_id=call.call_id or found.call_id,
        model=call.model or found.model,
        provider=call.provider or found.provider,
        user_id=call.user_id or found.user_id,
        conversation_id=call.conversation_id or found.conversation_id,
        links=(*call.links, *remembered_links(found)),
        attributes={**remembered_attributes(found), **(call.attributes or {})},
    )


# The tool function running in the current context (set around its body): a tool that calls itself
# opens a new span, while an audited dispatcher calling the tool of the same name shares one.
_RUNNING_KEY = otel_context.create_key("toolaudit-running-tool")


def start_call(call: ToolCall, fn: Callable[..., Any] | None = None) -> ActiveCall | None:
    """Start the span for ``call`` (about to run ``fn``) and make it current; None if telemetry
    itself failed.

    When the current span is already an ``execute_tool`` span for the same tool (another
    instrumentation's, or an outer dispatcher of ours), it is enriched with our attribution instead of
    opening a nested twin; unless ``fn`` is the very function already running there (recursion).
    """
    try:
        parent = trace.get_current_span()
        twin = _is_twin(parent, call) and (
            fn is None or otel_context.get_value(_RUNNING_KEY) is not fn
        )
        if REGISTRY.pending:
            # A twin that knows its call id names the call (already claimed, if the twin is ours).
            twin_call_id = parent.attributes.get(attrs.GEN_AI_TOOL_CALL_ID) if twin else None  # type: ignore[attr-defined]
            if isinstance(twin_call_id, str) and not call.call_id:
                call = dataclasses.replace(call, call_id=twin_call_id)
            call = _with_remembered(call)
        attribution, static, static_kinds = _static_attributes(call)
        found: dict[str, int] = collections.defaultdict(int)
        for kind in static_kinds:
            found[kind] += 1
        values = _call_attributes(call, static, found)
        if twin:
            # Keep the twin's own ids and arguments when it has them; add what it lacks.
            existing = parent.attributes  # type: ignore[attr-defined]
            parent.set_attributes({k: v for k, v in values.items() if k not in existing})
            keep_identity(parent, values)
            for link in call.links:
                parent.add_link(link.context, link.attributes)
            ctx = attach_attribution(attribution)
            if fn is not None:
                ctx = otel_context.set_value(_RUNNING_KEY, fn, ctx)
            return ActiveCall(parent, otel_context.attach(ctx), owned=False, found=found)
        span = STATE.current_tracer().start_span(
            f"{attrs.OPERATION_EXECUTE_TOOL} {call.name}",
            kind=SpanKind.INTERNAL,
            attributes=values,
            links=call.links or None,
        )
        ctx = attach_attribution(attribution, trace.set_span_in_context(span))
        if fn is not None:
            ctx = otel_context.set_value(_RUNNING_KEY, fn, ctx)
        return ActiveCall(span, otel_context.attach(ctx), owned=True, found=found)
    except Exception as exc:  # noqa: BLE001
        internal_error("starting a tool span", exc)
        return None


def before_tool(call: ToolCall, active: ActiveCall | None) -> None:
    """Write the intent record of a call that has started but not run yet.

    A fail-closed tool runs only once its intent record is durable: when it cannot be written, the
    span records ``AuditUnavailableError`` and the error is raised to the caller instead of running
    the tool (the one place this package raises into the app, on purpose). With intent records on
    for every tool, the record is queued without blocking.
    """
    fail_closed = call.name in STATE.fail_closed_tools
    exporter = _intent_sink()
    span = active.span if active is not None else None
    recording = isinstance(span, ReadableSpan) and span.is_recording()
    if not fail_closed:
        if STATE.intent_records and exporter is not None and recording:
            exporter.enqueue_intent(span)  # type: ignore[arg-type]
        return
    if exporter is None:
        error = AuditUnavailableError(
            f"fail-closed tool {call.name!r} needs an audit exporter (OTEL_TRACES_EXPORTER=…,toolaudit)"
        )
    elif not recording:
        error = AuditUnavailableError(
            f"the span of fail-closed tool {call.name!r} is not recorded (sampled out); "
            "keep execute_tool spans in the sampler"
        )
    else:
        try:
            exporter.write_intent(span)  # type: ignore[arg-type]
            return
        except AuditUnavailableError as exc:
            error = exc
    if active is not None:
        active.failed(error)
    raise error


def _intent_sink() -> IntentSink | None:
    """The sink handed to ``instrument()``, else the audit exporter behind the tracer provider
    (looked up on each call, so that one added or shut down after ``instrument()`` is seen)."""
    sink = STATE.intent_sink
    if sink is not None and not sink.is_shut_down:
        return sink
    provider = STATE.provider if STATE.provider is not None else trace.get_tracer_provider()
    return find_intent_sink(provider)


def begin_call(call: ToolCall, fn: Callable[..., Any] | None = None) -> ActiveCall | None:
    """Start the span for ``call``, then write its intent record when asked to (see
    :func:`before_tool`). Every path that runs a tool, integrations included, starts here, so that
    fail-closed tools and calls their access rule refuses are refused whichever way they are
    reached. The access rule is checked first; break-the-glass lets a refused call through, but
    never past a fail-closed tool's intent record."""
    active = start_call(call, fn)
    if call.access is not None:
        denied = enforce(call.access, call.name, active.span if active is not None else None)
        if denied is not None:
            if active is not None:
                active.failed(denied)
            raise denied
    if STATE.fail_closed_tools or STATE.intent_records:
        before_tool(call, active)
    return active


def _identity(value: Any) -> Any:
    return value


def run_sync(
    call: ToolCall | None,
    fn: Callable[..., R],
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
    *,
    exception: Callable[[BaseException], BaseException] = _identity,
    outcome: Callable[[R], Any] = _identity,
) -> R:
    """Run ``fn(*args, **kwargs)`` inside the span for ``call`` (just run it when ``call`` is None).

    ``exception`` maps what ``fn`` raised to the exception to record (e.g. the tool's own inside a
    framework's wrapper); ``outcome`` maps its result to what the summary describes. What ``fn``
    raised or returned reaches the caller unchanged either way.
    """
    active = begin_call(call, fn) if call is not None else None
    if active is None:
        return fn(*args, **kwargs)
    try:
        result = fn(*args, **kwargs)
    except BaseException as exc:
        active.failed(_mapped(exception, exc))
        raise
    active.succeeded(_mapped(outcome, result))
    return result


async def run_async(
    call: ToolCall | None,
    fn: Callable[..., Awaitable[R]],
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
    *,
    exception: Callable[[BaseException], BaseException] = _identity,
    outcome: Callable[[R], Any] = _identity,
) -> R:
    """Await ``fn(*args, **kwargs)`` inside the span for ``call``; see :func:`run_sync`."""
    active = begin_call(call, fn) if call is not None else None
    if active is None:
        return await fn(*args, **kwargs)
    try:
        result = await fn(*args, **kwargs)
    except BaseException as exc:
        active.failed(_mapped(exception, exc))
        raise
    active.succeeded(_mapped(outcome, result))
    return result


def _mapped(mapping: Callable[[Any], Any], value: Any) -> Any:
    """``mapping(value)``, or ``value`` itself when the mapping fails (it is ours: never raise)."""
    if mapping is _identity:
        return value
    try:
        return mapping(value)
    except Exception as exc:  # noqa: BLE001
        internal_error("describing a tool outcome", exc)
        return value
