# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""RedactingSpanProcessor: every exporter sees redacted spans, whoever made them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, Status, StatusCode
from opentelemetry.util._once import Once

from opentelemetry_instrumentation_toolaudit import (
    ToolAuditInstrumentor,
    audit_context,
    audited_tool,
    error_counts,
)
from opentelemetry_instrumentation_toolaudit.redaction import (
    RedactingSpanProcessor,
    RedactionPolicy,
)

REDACTED = RedactionPolicy.REDACTED
KEY = b"processor-test-key-0123456789ab"
EMAIL = "jane.doe@example.com"
CARD = "4111 1111 1111 1111"
MESSAGES = json.dumps(
    [{"role": "user", "parts": [{"type": "text", "content": f"I am {EMAIL}, card {CARD}"}]}]
)


@pytest.fixture
def policy() -> RedactionPolicy:
    return RedactionPolicy(hash_key=KEY)


@pytest.fixture
def pipeline(policy) -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(
        RedactingSpanProcessor(SimpleSpanProcessor(exporter), policy=policy)
    )
    yield provider, exporter
    provider.shutdown()


def one_span(exporter: InMemorySpanExporter) -> Any:
    (span,) = exporter.get_finished_spans()
    return span


def content_hash(policy: RedactionPolicy, text: str) -> dict[str, Any]:
    data = text.encode()
    return {"hash": policy.pseudonym(data), "size": len(data)}


def test_semconv_messages_become_hashes(pipeline, policy):
    """gen_ai.input/output messages and system instructions leave only keyed hashes and sizes."""
    provider, exporter = pipeline
    with provider.get_tracer("openai-v2").start_as_current_span("chat gpt-4.1") as span:
        span.set_attributes(
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": "gpt-4.1",
                "gen_ai.input.messages": MESSAGES,
                "gen_ai.output.messages": '[{"role":"assistant","parts":[{"type":"text","content":"ok"}]}]',
                "gen_ai.system_instructions": "You help jane.doe@example.com",
                "gen_ai.usage.input_tokens": 12,
            }
        )
    out = one_span(exporter)
    output = '[{"role":"assistant","parts":[{"type":"text","content":"ok"}]}]'
    assert dict(out.attributes) == {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "gpt-4.1",
        "gen_ai.usage.input_tokens": 12,
        "gen_ai.input.messages_hash": content_hash(policy, MESSAGES)["hash"],
        "gen_ai.input.messages_size": content_hash(policy, MESSAGES)["size"],
        "gen_ai.output.messages_hash": content_hash(policy, output)["hash"],
        "gen_ai.output.messages_size": content_hash(policy, output)["size"],
        "gen_ai.system_instructions_hash": content_hash(policy, "You help jane.doe@example.com")[
            "hash"
        ],
        "gen_ai.system_instructions_size": 29,
        "toolaudit.redaction.count": 3,
        "toolaudit.redaction.kinds": ("message_content",),
    }


def test_openllmetry_and_openinference_content(pipeline, policy):
    """Indexed OpenLLMetry prompts/completions and OpenInference values are hashed; tool arguments
    they carry are redacted instead, so the audit keeps their shape."""
    provider, exporter = pipeline
    with provider.get_tracer("traceloop").start_as_current_span("openai.chat") as span:
        span.set_attributes(
            {
                "gen_ai.prompt.0.role": "user",
                "gen_ai.prompt.0.content": f"mail {EMAIL}",
                "gen_ai.completion.0.content": "done",
                "gen_ai.completion.0.tool_calls.0.arguments": json.dumps(
                    {"email": EMAIL, "order": "ORD-1"}
                ),
                "input.value": f"card {CARD}",
                "output.value": "ok",
                "llm.input_messages.0.message.content": f"hi {EMAIL}",
            }
        )
    attrs = dict(one_span(exporter).attributes)
    assert sorted(k for k in attrs if k.endswith("_hash")) == [
        "gen_ai.completion.0.content_hash",
        "gen_ai.prompt.0.content_hash",
        "input.value_hash",
        "llm.input_messages.0.message.content_hash",
        "output.value_hash",
    ]
    assert json.loads(attrs["gen_ai.completion.0.tool_calls.0.arguments"]) == {
        "email": policy.pseudonym(EMAIL),
        "order": "ORD-1",
    }
    assert attrs["gen_ai.prompt.0.role"] == "user"
    assert EMAIL not in json.dumps(attrs) and CARD not in json.dumps(attrs)
    assert attrs["toolaudit.redaction.kinds"] == ("message_content", "pii_key")


def test_hash_and_size_names_are_skipped_only_when_ours(pipeline, policy):
    """Only the _hash/_size attributes content hashing makes, holding a keyed hash or an int, pass
    unscanned; password_hash, ssn_size and look-alikes holding other values are redacted."""
    provider, exporter = pipeline
    ours = content_hash(policy, MESSAGES)
    with provider.get_tracer("app").start_as_current_span("login") as span:
        span.set_attributes(
            {
                "gen_ai.input.messages_hash": ours["hash"],
                "gen_ai.input.messages_size": ours["size"],
                "gen_ai.output.messages_hash": f"raw {EMAIL}",
                "gen_ai.output.messages_size": f"{EMAIL}",
                "user.password_hash": "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
                "ssn_size": "219-09-9998",
                "note_hash": f"mail {EMAIL}",
                "file_size": 2048,
            }
        )
    assert dict(one_span(exporter).attributes) == {
        "gen_ai.input.messages_hash": ours["hash"],
        "gen_ai.input.messages_size": ours["size"],
        "gen_ai.output.messages_hash": f"raw <EMAIL:{policy.pseudonym(EMAIL)}>",
        "gen_ai.output.messages_size": f"<EMAIL:{policy.pseudonym(EMAIL)}>",
        "user.password_hash": REDACTED,
        "ssn_size": "<SSN>",
        "note_hash": f"mail <EMAIL:{policy.pseudonym(EMAIL)}>",
        "file_size": 2048,
        "toolaudit.redaction.count": 5,
        "toolaudit.redaction.kinds": ("email", "secret_key", "ssn"),
    }


def test_events_with_content_and_exceptions(pipeline, policy):
    """Event attributes are redacted too: content hashed, exception text scanned."""
    provider, exporter = pipeline
    with provider.get_tracer("legacy").start_as_current_span("chat") as span:
        span.add_event("gen_ai.content.prompt", {"gen_ai.prompt": f"I am {EMAIL}"})
        span.add_event(
            "gen_ai.choice", {"index": 0, "message": json.dumps({"content": f"card {CARD}"})}
        )
        span.add_event(
            "exception", {"exception.type": "ValueError", "exception.message": f"no user {EMAIL}"}
        )
    prompt, choice, exception = one_span(exporter).events
    assert dict(prompt.attributes) == {
        "gen_ai.prompt_hash": content_hash(policy, f"I am {EMAIL}")["hash"],
        "gen_ai.prompt_size": len(f"I am {EMAIL}"),
    }
    assert json.loads(choice.attributes["message"]) == {"content": "card <CREDIT_CARD>"}
    assert dict(exception.attributes) == {
        "exception.type": "ValueError",
        "exception.message": f"no user <EMAIL:{policy.pseudonym(EMAIL)}>",
    }


def test_event_names_are_redacted(pipeline, policy):
    """An event's name is free text too: personal data in it is replaced, with or without
    attributes beside it, and counted on the span."""
    provider, exporter = pipeline
    with provider.get_tracer("app").start_as_current_span("checkout") as span:
        span.add_event(f"receipt sent to {EMAIL}")
        span.add_event(f"card {CARD} charged", {"n": 1})
        span.add_event("cart emptied")
    out = one_span(exporter)
    assert [(e.name, dict(e.attributes or {})) for e in out.events] == [
        (f"receipt sent to <EMAIL:{policy.pseudonym(EMAIL)}>", {}),
        ("card <CREDIT_CARD> charged", {"n": 1}),
        ("cart emptied", {}),
    ]
    assert dict(out.attributes) == {
        "toolaudit.redaction.count": 2,
        "toolaudit.redaction.kinds": ("credit_card", "email"),
    }


def test_content_redact_mode_keeps_redacted_text(policy):
    """With content='redact', prompts keep their text, with findings replaced."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(
        RedactingSpanProcessor(
            SimpleSpanProcessor(exporter), policy=RedactionPolicy(hash_key=KEY, content="redact")
        )
    )
    with provider.get_tracer("t").start_as_current_span("chat") as span:
        span.set_attribute("input.value", f"card {CARD} from {EMAIL}")
    assert dict(one_span(exporter).attributes) == {
        "input.value": f"card <CREDIT_CARD> from <EMAIL:{policy.pseudonym(EMAIL)}>",
        "toolaudit.redaction.count": 2,
        "toolaudit.redaction.kinds": ("credit_card", "email"),
    }


def test_clean_span_passes_through_unchanged(pipeline):
    """A span with nothing to redact is handed on as the same object, with no extra attributes."""
    provider, exporter = pipeline
    seen: list[Any] = []

    class Spy(SimpleSpanProcessor):
        def on_end(self, span: Any) -> None:
            seen.append(span)

    redactor = provider._active_span_processor._span_processors[0]
    redactor.add_span_processor(Spy(InMemorySpanExporter()))
    with provider.get_tracer("t").start_as_current_span("GET /orders/{id}") as span:
        span.set_attributes(
            {
                "http.request.method": "GET",
                "url.path": "/orders/ORD-12345",
                "http.response.status_code": 200,
            }
        )
    out = one_span(exporter)
    assert dict(out.attributes) == {
        "http.request.method": "GET",
        "url.path": "/orders/ORD-12345",
        "http.response.status_code": 200,
    }
    assert seen[0] is out


def test_headers_urls_names_status_and_links(pipeline, policy):
    """Header attributes under secret names, tokens in URLs, span names, status and links."""
    provider, exporter = pipeline
    linked = trace.SpanContext(1, 2, is_remote=True)
    with provider.get_tracer("http").start_as_current_span(
        f"lookup {EMAIL}", links=[Link(linked, {"peer.email": EMAIL})]
    ) as span:
        span.set_attributes(
            {
                "http.request.header.authorization": ("Bearer abc123",),
                "url.full": "https://api.example.com/v1/x?user=bob&token=abcd1234",
                "user.email": EMAIL,
            }
        )
        span.set_status(Status(StatusCode.ERROR, f"card {CARD} declined"))
    out = one_span(exporter)
    assert out.name == f"lookup <EMAIL:{policy.pseudonym(EMAIL)}>"
    assert dict(out.attributes) | {"toolaudit.redaction.kinds": None} == {
        "http.request.header.authorization": REDACTED,
        "url.full": "https://api.example.com/v1/x?user=bob&token=<SECRET>",
        "user.email": policy.pseudonym(EMAIL),
        "toolaudit.redaction.count": 6,
        "toolaudit.redaction.kinds": None,
    }
    assert out.attributes["toolaudit.redaction.kinds"] == (
        "credit_card",
        "email",
        "pii_key",
        "secret_assignment",
        "secret_key",
    )
    assert out.status.description == "card <CREDIT_CARD> declined"
    assert dict(out.links[0].attributes) == {"peer.email": policy.pseudonym(EMAIL)}


def test_clean_values_remembered_per_attribute_name(pipeline):
    """A value left alone under one name (remembered as clean) is still redacted under another."""
    provider, exporter = pipeline
    tracer = provider.get_tracer("app")
    for name in ("app.note", "app.note", "db.password", "app.note"):
        with tracer.start_as_current_span("s") as span:
            span.set_attribute(name, "hunter22")
    assert [dict(s.attributes) for s in exporter.get_finished_spans()][1:3] == [
        {"app.note": "hunter22"},
        {
            "db.password": REDACTED,
            "toolaudit.redaction.count": 1,
            "toolaudit.redaction.kinds": ("secret_key",),
        },
    ]


def test_dropped_counts_survive_the_copy(policy):
    """A redacted copy still reports the attributes and events the SDK had to drop."""
    from opentelemetry.sdk.trace import SpanLimits

    exporter = InMemorySpanExporter()
    provider = TracerProvider(span_limits=SpanLimits(max_span_attributes=2, max_events=1))
    provider.add_span_processor(
        RedactingSpanProcessor(SimpleSpanProcessor(exporter), policy=policy)
    )
    with provider.get_tracer("t").start_as_current_span("s") as span:
        span.set_attributes({"a": 1, "note": EMAIL, "b": 2, "c": 3})
        span.add_event("e1", {"x": EMAIL})
        span.add_event("e2", {"x": EMAIL})
    out = one_span(exporter)
    assert (out.dropped_attributes, out.dropped_events) == (2, 1)
    assert EMAIL not in str(dict(out.attributes)) + str([dict(e.attributes) for e in out.events])


def test_failure_drops_span_and_counts(pipeline, monkeypatch):
    """If redacting a span fails, the span is dropped (never exported raw) and the failure counted."""
    provider, exporter = pipeline
    redactor = provider._active_span_processor._span_processors[0]
    monkeypatch.setattr(redactor, "redact_attributes", lambda *a, **k: 1 / 0)
    before = error_counts().get("redacting a span", 0)
    with provider.get_tracer("t").start_as_current_span("x") as span:
        span.set_attribute("note", EMAIL)
    assert exporter.get_finished_spans() == ()
    assert error_counts()["redacting a span"] == before + 1


# --- our own spans and the instrumentor ----------------------------------------------------------
@audited_tool
def lookup_patient(patient_name: str, note: str) -> dict[str, Any]:
    """Find a patient."""
    return {"id": "P-1", "status": f"found, contact {EMAIL}"}


@audited_tool
def failing_tool(email: str) -> None:
    """Always fails."""
    raise LookupError(f"no account for {email}")


@pytest.fixture
def instrumented() -> Iterator[tuple[TracerProvider, InMemorySpanExporter, ToolAuditInstrumentor]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    instrumentor = ToolAuditInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    yield provider, exporter, instrumentor
    instrumentor.uninstrument()
    provider.shutdown()


def test_instrument_puts_redaction_before_existing_processors(instrumented):
    """A processor registered before instrument() receives redacted spans of any tracer."""
    provider, exporter, _ = instrumented
    with provider.get_tracer("other").start_as_current_span("s") as span:
        span.set_attribute("note", f"card {CARD}")
    assert one_span(exporter).attributes["note"] == "card <CREDIT_CARD>"


def test_processors_added_later_are_behind_redaction(instrumented):
    """A processor added after instrument() (e.g. the audit exporter's) also gets redacted spans."""
    provider, exporter, _ = instrumented
    late = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(late))
    with provider.get_tracer("other").start_as_current_span("s") as span:
        span.set_attribute("note", EMAIL)
    assert (
        EMAIL in str(one_span(late).attributes),
        EMAIL in str(one_span(exporter).attributes),
    ) == (False, False)


def test_uninstrument_restores_processors(instrumented):
    """uninstrument() puts every processor back in place, including those added meanwhile."""
    provider, _, instrumentor = instrumented
    multi = provider._active_span_processor
    (original,) = multi._span_processors[0].downstream
    late = SimpleSpanProcessor(InMemorySpanExporter())
    provider.add_span_processor(late)
    instrumentor.uninstrument()
    assert multi._span_processors == (original, late)
    assert "add_span_processor" not in vars(multi)
    instrumentor.instrument(tracer_provider=provider)


def test_own_spans_redacted_at_source_and_attribution_scanned(instrumented):
    """Our tool spans: arguments and summary redacted at the source, attribution values scanned,
    counts from both added up."""
    _, exporter, _ = instrumented
    with audit_context(user_id=EMAIL, user_role="nurse", client_address="10.0.1.5"):
        lookup_patient("Jane Doe", note=f"card {CARD}")
    (span,) = exporter.get_finished_spans()
    attrs = dict(span.attributes)
    policy = RedactionPolicy.from_env()
    assert json.loads(attrs["gen_ai.tool.call.arguments"]) == {
        "patient_name": policy.pseudonym("Jane Doe"),
        "note": "card <CREDIT_CARD>",
    }
    assert attrs["user.id"] == f"<EMAIL:{policy.pseudonym(EMAIL)}>"
    assert attrs["client.address"] == "10.0.1.5"
    assert EMAIL not in json.dumps(attrs)
    assert (attrs["toolaudit.redaction.count"], attrs["toolaudit.redaction.kinds"]) == (
        2 + 1 + 2,  # arguments: name, card; summary: the status's email; user.id, attribution line
        ("credit_card", "email", "pii_key"),
    )


@audited_tool
def tags_its_own_span(order_id: str) -> str:
    """Set attribution on the current span (our execute_tool span), as app code may."""
    trace.get_current_span().set_attributes({"user.id": EMAIL, "session.id": f"sess {EMAIL}"})
    return "ok"


def test_attribution_set_inside_the_tool_is_scanned(instrumented):
    """Attribution that code inside the tool sets on our span, after our recorder redacted its own,
    is redacted like any other attribute."""
    _, exporter, _ = instrumented
    with audit_context(user_id="usr_1"):
        tags_its_own_span("ORD-1")
    (span,) = exporter.get_finished_spans()
    policy = RedactionPolicy.from_env()
    assert {k: span.attributes[k] for k in ("user.id", "session.id")} == {
        "user.id": f"<EMAIL:{policy.pseudonym(EMAIL)}>",
        "session.id": f"sess <EMAIL:{policy.pseudonym(EMAIL)}>",
    }


def test_tool_exception_message_and_stacktrace_redacted(instrumented):
    """The tool's exception propagates unchanged; its recorded message and stack trace are redacted."""
    _, exporter, _ = instrumented
    with pytest.raises(LookupError, match=EMAIL):
        failing_tool(EMAIL)
    (span,) = exporter.get_finished_spans()
    (event,) = span.events
    assert event.name == "exception"
    assert EMAIL not in json.dumps(dict(event.attributes))
    assert "<EMAIL:" in event.attributes["exception.stacktrace"]
    assert EMAIL not in span.attributes["toolaudit.result.summary"]


def test_user_redactor_stays_in_front_and_is_not_wrapped(policy):
    """A RedactingSpanProcessor the app added itself stays in front; ours wraps only the others."""
    provider = TracerProvider()
    mine = RedactingSpanProcessor(SimpleSpanProcessor(InMemorySpanExporter()), policy=policy)
    raw = SimpleSpanProcessor(InMemorySpanExporter())
    provider.add_span_processor(mine)
    provider.add_span_processor(raw)
    instrumentor = ToolAuditInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        # Last comes the processor stamping attribution on LLM spans (it only adds attributes).
        first, ours, stamper = provider._active_span_processor._span_processors
        assert (first is mine, ours.downstream) == (True, (raw,))
        assert type(stamper).__name__ == "AttributionStampingProcessor"
    finally:
        instrumentor.uninstrument()
    assert provider._active_span_processor._span_processors == (mine, raw)


def test_redact_spans_can_be_turned_off(monkeypatch):
    """OTEL_PYTHON_TOOLAUDIT_REDACT_SPANS=false leaves the provider's processors alone."""
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_REDACT_SPANS", "false")
    provider = TracerProvider()
    raw = SimpleSpanProcessor(InMemorySpanExporter())
    provider.add_span_processor(raw)
    instrumentor = ToolAuditInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        names = [type(p).__name__ for p in provider._active_span_processor._span_processors]
        assert names == ["SimpleSpanProcessor", "AttributionStampingProcessor"]
    finally:
        instrumentor.uninstrument()
    assert provider._active_span_processor._span_processors == (raw,)


@pytest.fixture
def unset_global_provider() -> Iterator[None]:
    saved = (trace._TRACER_PROVIDER, trace._TRACER_PROVIDER_SET_ONCE)
    trace._TRACER_PROVIDER, trace._TRACER_PROVIDER_SET_ONCE = None, Once()
    yield
    trace._TRACER_PROVIDER, trace._TRACER_PROVIDER_SET_ONCE = saved


def test_provider_set_after_instrument_gets_redaction(unset_global_provider):
    """instrument() before the app sets its global provider: redaction is installed when it does."""
    instrumentor = ToolAuditInstrumentor()
    instrumentor.instrument()
    try:
        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
        with trace.get_tracer("app").start_as_current_span("s") as span:
            span.set_attribute("note", EMAIL)
        assert EMAIL not in str(one_span(exporter).attributes)
    finally:
        instrumentor.uninstrument()


def test_concurrent_multi_processor_supported(policy):
    """A provider with concurrent processors gets redaction in front of them too."""
    from opentelemetry.sdk.trace import ConcurrentMultiSpanProcessor

    from opentelemetry_instrumentation_toolaudit.redaction import install_redaction

    exporter = InMemorySpanExporter()
    provider = TracerProvider(active_span_processor=ConcurrentMultiSpanProcessor(2))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    installation = install_redaction(provider, policy)
    try:
        with provider.get_tracer("t").start_as_current_span("s") as span:
            span.set_attribute("note", EMAIL)
        assert EMAIL not in str(dict(one_span(exporter).attributes))
    finally:
        installation.remove()
        provider.shutdown()


def test_non_sdk_provider_is_reported(policy, caplog):
    """A provider that is not the SDK's cannot be redacted by us: that is logged, not raised."""
    from opentelemetry_instrumentation_toolaudit.redaction import install_redaction

    with caplog.at_level("WARNING"):
        assert install_redaction(trace.NoOpTracerProvider(), policy) is None
    assert any("RedactingSpanProcessor yourself" in r.getMessage() for r in caplog.records)


def test_start_and_ending_hooks_forwarded(policy):
    """on_start and _on_ending reach the processors behind the redactor, with the live span."""
    calls: list[str] = []

    class Hooks(SimpleSpanProcessor):
        def on_start(self, span: Any, parent_context: Any = None) -> None:
            calls.append("start")

        def _on_ending(self, span: Any) -> None:
            calls.append("ending")

        def on_end(self, span: Any) -> None:
            calls.append("end")

    provider = TracerProvider()
    provider.add_span_processor(
        RedactingSpanProcessor(Hooks(InMemorySpanExporter()), policy=policy)
    )
    with provider.get_tracer("t").start_as_current_span("s"):
        pass
    # The SDK calls _on_ending since 1.40; older ones (the floor is 1.37) never do.
    ending = ["ending"] if hasattr(SpanProcessor, "_on_ending") else []
    assert calls == ["start", *ending, "end"]


def test_default_policy_comes_from_env(monkeypatch):
    """RedactingSpanProcessor() with no policy loads RedactionPolicy.from_env()."""
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_HASH_KEY", "env-key-for-processor-0123")
    processor = RedactingSpanProcessor()
    assert processor.policy.pseudonym("x") == RedactionPolicy(
        hash_key="env-key-for-processor-0123"
    ).pseudonym("x")


def test_resource_attributes_are_redacted(policy):
    """Resource attributes (service.name and the rest) are redacted like span attributes."""
    from opentelemetry.sdk.resources import Resource

    exporter = InMemorySpanExporter()
    provider = TracerProvider(
        resource=Resource.create(
            {
                "service.name": "billing",
                "deployment.environment.name": "production",
                "service.owner": EMAIL,
                "process.command_args": ("worker", "--api-key=sk-live-abcdef0123456789abcdef"),
            }
        )
    )
    provider.add_span_processor(
        RedactingSpanProcessor(SimpleSpanProcessor(exporter), policy=policy)
    )
    for _ in range(2):
        with provider.get_tracer("t").start_as_current_span("work"):
            pass
    provider.shutdown()
    first, second = exporter.get_finished_spans()
    resource = dict(first.resource.attributes)
    assert resource["service.name"] == "billing"
    assert resource["deployment.environment.name"] == "production"
    assert EMAIL not in json.dumps(resource)
    assert "sk-live-abcdef0123456789abcdef" not in json.dumps(resource)
    assert second.resource is first.resource
    assert "email" in first.attributes["toolaudit.redaction.kinds"]
