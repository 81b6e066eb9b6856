# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Where a remembered tool call waits: the latest response of its scope, carried by the context.

The real openai and anthropic SDKs talk HTTP to the local fake API; threads are carried by the real
opentelemetry-instrumentation-threading package.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars

import anthropic
import anyio
import httpx
import openai
import pytest
from opentelemetry.instrumentation.threading import ThreadingInstrumentor

from opentelemetry_instrumentation_toolaudit import audit_context
from opentelemetry_instrumentation_toolaudit.integrations import _remembered
from opentelemetry_instrumentation_toolaudit.integrations._remembered import REGISTRY
from tests.apps import llm_tools

from ..conftest import tool_spans
from .conftest import fake_api

ORD1 = {"order_id": "ORD-1"}
ORD2 = {"order_id": "ORD-2"}

pytestmark = pytest.mark.usefixtures("instrument")


def ids_of(exporter) -> list[tuple[str | None, str | None]]:
    """(call id, response id) of each finished tool span, in end order."""
    return [
        (s.attributes.get("gen_ai.tool.call.id"), s.attributes.get("gen_ai.response.id"))
        for s in tool_spans(exporter)
    ]


def users_of(exporter) -> list[str | None]:
    return [s.attributes.get("user.id") for s in tool_spans(exporter)]


def turns(*calls_per_turn):
    """One Chat Completions reply per turn, each with its own response id."""
    return [
        fake_api.chat_completion(calls, response_id=f"chatcmpl-{n}")
        for n, calls in enumerate(calls_per_turn, start=1)
    ]


def ask(client) -> None:
    client.chat.completions.create(model="gpt-4.1", messages=[])


@pytest.mark.parametrize("attributed", [True, False], ids=["audit_context", "no_context"])
def test_declined_call_is_not_claimed_by_the_next_turn(span_exporter, attributed):
    """A call the app declined is retired by the next response: the same tool and arguments asked
    again are tied to the new call, not the declined one."""
    replies = turns([("call_1", "lookup_order", ORD1)], [("call_2", "lookup_order", ORD1)])
    with fake_api.FakeLLMAPI(replies) as server:
        client = openai.OpenAI(base_url=server.openai_url, api_key="test")
        with audit_context(user_id="usr_1") if attributed else contextlib.nullcontext():
            ask(client)  # the app declines call_1
            ask(client)
            llm_tools.lookup_order(**ORD1)
    assert ids_of(span_exporter) == [("call_2", "chatcmpl-2")]
    # The declined call stays claimable by its own id.
    assert REGISTRY.claim("lookup_order", "call_1", None).call_id == "call_1"


def test_declined_call_does_not_shift_later_claims(span_exporter):
    """One call left unclaimed does not shift the calls of later responses by one."""
    replies = turns(
        [("call_1", "lookup_order", ORD1)],
        [("call_2", "lookup_order", ORD2)],
        [("call_3", "lookup_order", ORD1)],
    )
    with fake_api.FakeLLMAPI(replies) as server:
        client = openai.OpenAI(base_url=server.openai_url, api_key="test")
        ask(client)  # declined
        ask(client)
        llm_tools.lookup_order(order_id="ORD-2")
        ask(client)
        # A dispatch whose arguments were rewritten by the app matches by name alone.
        llm_tools.lookup_order(order_id="ORD-3")
    assert ids_of(span_exporter) == [("call_2", "chatcmpl-2"), ("call_3", "chatcmpl-3")]


def test_declined_anthropic_tool_use_is_retired(span_exporter, tracer_provider):
    """The same holds for anthropic: a newer message retires the declined tool_use block."""
    replies = [
        fake_api.anthropic_message([("toolu_1", "lookup_order", ORD1)], message_id="msg_1"),
        fake_api.anthropic_message([("toolu_2", "lookup_order", ORD1)], message_id="msg_2"),
    ]
    with fake_api.FakeLLMAPI(replies) as server, audit_context(user_id="usr_1"):
        client = anthropic.Anthropic(base_url=server.url, api_key="test")
        for _ in range(2):
            client.messages.create(model="claude-opus-4-6", max_tokens=100, messages=[])
        llm_tools.lookup_order(**ORD1)
    assert ids_of(span_exporter) == [("toolu_2", "msg_2")]


def test_stale_calls_expire(span_exporter, monkeypatch):
    """A call not dispatched within MAX_AGE_SECONDS is not claimed, by name or by id."""
    now = [1000.0]
    monkeypatch.setattr(_remembered, "_clock", lambda: now[0])
    replies = turns([("call_1", "lookup_order", ORD1), ("call_2", "lookup_order", ORD2)])
    with fake_api.FakeLLMAPI(replies) as server, audit_context(user_id="usr_1"):
        ask(openai.OpenAI(base_url=server.openai_url, api_key="test"))
        now[0] += _remembered.MAX_AGE_SECONDS + 1
        llm_tools.lookup_order(**ORD1)
    assert ids_of(span_exporter) == [(None, None)]
    assert (REGISTRY.claim("lookup_order", "call_2", None), REGISTRY.pending) == (None, 0)


# --- asyncio child tasks ------------------------------------------------------------------------


async def fresh(coro):
    """Await ``coro`` in a task started from an empty context, as a server starts each request's
    task (nothing left in the context by earlier tests)."""
    return await asyncio.get_running_loop().create_task(coro, context=contextvars.Context())


async def _ask_async(client) -> None:
    await client.chat.completions.create(model="gpt-4.1", messages=[])


async def _in_wait_for(client) -> None:
    await asyncio.wait_for(_ask_async(client), timeout=30)


async def _in_create_task(client) -> None:
    await asyncio.create_task(_ask_async(client))


async def _in_task_group(client) -> None:
    async with anyio.create_task_group() as group:
        group.start_soon(_ask_async, client)


@pytest.mark.parametrize("spawn", [_in_wait_for, _in_create_task, _in_task_group])
async def test_call_asked_in_a_child_task_is_claimed_by_the_parent(span_exporter, spawn):
    """A model response read in a child task (wait_for, create_task, an anyio task group) is found
    by the parent's dispatch."""

    async def request(server) -> None:
        with audit_context(user_id="usr_1"):
            await spawn(openai.AsyncOpenAI(base_url=server.openai_url, api_key="test"))
            await llm_tools.lookup_order_async(**ORD1)

    with fake_api.FakeLLMAPI(turns([("call_1", "lookup_order", ORD1)])) as server:
        await fresh(request(server))
    assert ids_of(span_exporter) == [("call_1", "chatcmpl-1")]


async def test_call_asked_in_to_thread_is_claimed_by_the_caller(span_exporter):
    """A sync client called through asyncio.to_thread remembers its calls where the caller finds them."""

    async def request(server) -> None:
        with audit_context(user_id="usr_1"):
            client = openai.OpenAI(base_url=server.openai_url, api_key="test")
            await asyncio.to_thread(ask, client)
            llm_tools.lookup_order(**ORD1)

    with fake_api.FakeLLMAPI(turns([("call_1", "lookup_order", ORD1)])) as server:
        await fresh(request(server))
    assert ids_of(span_exporter) == [("call_1", "chatcmpl-1")]


async def test_child_task_under_a_span_without_audit_context(span_exporter, tracer_provider):
    """With no audit_context, a call asked in a child task is found by a dispatch in the same trace."""

    async def request(server) -> None:
        with tracer_provider.get_tracer("app").start_as_current_span("request"):
            await _in_wait_for(openai.AsyncOpenAI(base_url=server.openai_url, api_key="test"))
            await llm_tools.lookup_order_async(**ORD1)

    with fake_api.FakeLLMAPI(turns([("call_1", "lookup_order", ORD1)])) as server:
        await fresh(request(server))
    assert ids_of(span_exporter) == [("call_1", "chatcmpl-1")]


async def test_anthropic_call_asked_in_wait_for(span_exporter, tracer_provider):
    """An anthropic message read under asyncio.wait_for is found by the parent's dispatch."""

    async def request(server) -> None:
        with audit_context(user_id="usr_1"):
            client = anthropic.AsyncAnthropic(
                base_url=server.url,
                api_key="test",
                open_telemetry={"tracer_provider": tracer_provider},
            )
            create = client.messages.create(model="claude-opus-4-6", max_tokens=100, messages=[])
            await asyncio.wait_for(create, timeout=30)
            await llm_tools.lookup_order_async(**ORD1)

    replies = [fake_api.anthropic_message([("toolu_1", "lookup_order", ORD1)], message_id="msg_1")]
    with fake_api.FakeLLMAPI(replies) as server:
        await fresh(request(server))
    assert ids_of(span_exporter) == [("toolu_1", "msg_1")]


# --- thread pools --------------------------------------------------------------------------------


@pytest.fixture
def threading_instrumented():
    instrumentor = ThreadingInstrumentor()
    instrumentor.instrument()
    yield
    instrumentor.uninstrument()


def _dispatch_in_pool(tool_call) -> None:
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(llm_tools.dispatch, "lookup_order", tool_call.function.arguments).result()


@pytest.mark.usefixtures("threading_instrumented")
def test_pool_dispatch_with_the_threading_instrumentation(span_exporter):
    """With opentelemetry-instrumentation-threading, a dispatch submitted to a thread pool gets the
    call id and the user, both carried in the OpenTelemetry context."""
    replies = turns([("call_1", "lookup_order", ORD1)])
    with fake_api.FakeLLMAPI(replies) as server, audit_context(user_id="usr_1"):
        client = openai.OpenAI(base_url=server.openai_url, api_key="test")
        completion = client.chat.completions.create(model="gpt-4.1", messages=[])
        _dispatch_in_pool(completion.choices[0].message.tool_calls[0])
    assert (ids_of(span_exporter), users_of(span_exporter)) == (
        [("call_1", "chatcmpl-1")],
        ["usr_1"],
    )


@pytest.mark.usefixtures("threading_instrumented")
def test_pool_dispatch_under_a_span_with_the_threading_instrumentation(
    span_exporter, tracer_provider
):
    """With no audit_context, the threading instrumentation's carried span ties the pool's dispatch
    to the call asked in the same trace."""
    replies = turns([("call_1", "lookup_order", ORD1)])
    with (
        fake_api.FakeLLMAPI(replies) as server,
        tracer_provider.get_tracer("app").start_as_current_span("request"),
    ):
        client = openai.OpenAI(base_url=server.openai_url, api_key="test")
        completion = client.chat.completions.create(model="gpt-4.1", messages=[])
        _dispatch_in_pool(completion.choices[0].message.tool_calls[0])
    assert ids_of(span_exporter) == [("call_1", "chatcmpl-1")]


def test_bare_pool_dispatch_is_not_guessed(span_exporter):
    """A bare ThreadPoolExecutor carries no context: its dispatch gets neither the user nor a call
    id, rather than a guess that could belong to another request."""
    replies = turns([("call_1", "lookup_order", ORD1)])
    with fake_api.FakeLLMAPI(replies) as server, audit_context(user_id="usr_1"):
        client = openai.OpenAI(base_url=server.openai_url, api_key="test")
        completion = client.chat.completions.create(model="gpt-4.1", messages=[])
        _dispatch_in_pool(completion.choices[0].message.tool_calls[0])
    assert (ids_of(span_exporter), users_of(span_exporter)) == ([(None, None)], [None])


async def test_call_asked_in_a_child_task_of_an_http_request(
    span_exporter, tracer_provider, instrument, monkeypatch
):
    """An HTTP request attributed from its headers has a call scope of its own: a model response
    read in a child task of the request's handler is found by the handler's dispatch."""
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    instrument.uninstrument()
    monkeypatch.setenv("OTEL_PYTHON_TOOLAUDIT_USER_HEADER", "x-authenticated-user")
    instrument.instrument(tracer_provider=tracer_provider)

    with fake_api.FakeLLMAPI(turns([("call_1", "lookup_order", ORD1)])) as server:

        async def handler(request) -> JSONResponse:
            await _in_wait_for(openai.AsyncOpenAI(base_url=server.openai_url, api_key="test"))
            return JSONResponse(await llm_tools.lookup_order_async(**ORD1))

        app = Starlette(routes=[Route("/orders", handler)])

        async def request() -> None:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
                response = await client.get("/orders", headers={"x-authenticated-user": "usr_h"})
            assert response.status_code == 200

        await fresh(request())
    assert (ids_of(span_exporter), users_of(span_exporter)) == (
        [("call_1", "chatcmpl-1")],
        ["usr_h"],
    )
