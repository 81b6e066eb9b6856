# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""An openai app's tool dispatch, audited, beside the official GenAI tool span (util-genai).

The app asks the model (the real openai SDK against a local fake of the API) and gets two tool calls
per turn, with personal data in their arguments; it runs them, and the second tool raises. Only the
dispatch of each call is timed (the HTTP round trip is not), for:

* ``no telemetry``: the handler alone;
* ``util-genai``: the handler inside ``opentelemetry-util-genai``'s ``TelemetryHandler.tool()`` span
  (content capture off, its default), the same-run baseline;
* ``audited``: the ``@audited_tool`` handler, which claims the remembered call (call id, response id,
  model, link to the chat span), redacts its arguments and result, and records the exception.

Each provider has a ``BatchSpanProcessor`` and an exporter that discards; the audited one also has
this package's redacting and stamping processors. Turns of each kind alternate, so a machine that
slows down slows all alike; the ratios are taken within each round.

Usage: ``python bench/peers_openai.py [--turns N] [--repeat R]`` (needs the ``bench`` extra)
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openai
from opentelemetry.util.genai.handler import TelemetryHandler
from overhead import provider_for, ratio

from opentelemetry_instrumentation_toolaudit import (
    ToolAuditInstrumentor,
    audit_context,
    audited_tool,
)

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _fake_api() -> Any:
    spec = importlib.util.spec_from_file_location("fake_llm_api", EXAMPLES / "fake_llm_api.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["fake_llm_api"] = module
    spec.loader.exec_module(module)
    return module


class CardDeclinedError(Exception):
    """The payment provider refused the card."""


def lookup_customer(email: str, phone: str, note: str) -> dict[str, Any]:
    """Find a customer by email and phone."""
    return {"id": "cus_4821", "status": "active", "count": 3, "tier": "gold"}


def refund_order(order_id: str, card_number: str, holder: str, amount: float) -> dict[str, Any]:
    """Refund an order to the card it was paid with."""
    raise CardDeclinedError(
        f"card {card_number} of {holder} declined for refund of {amount} on {order_id}"
    )


LOOKUP_ARGS = {
    "email": "jane.doe@example.com",
    "phone": "+1 415 555 0134",
    "note": "Customer Jane Doe called from 10.20.30.40 about order ORD-88213",
}
REFUND_ARGS = {
    "order_id": "ORD-88213",
    "card_number": "4111 1111 1111 1111",
    "holder": "Jane Doe",
    "amount": 129.5,
}
HANDLERS: dict[str, Callable[..., Any]] = {
    "lookup_customer": lookup_customer,
    "refund_order": refund_order,
}


def turn_reply(fake: Any, n: int) -> Any:
    return fake.chat_completion(
        [
            (f"call_{n}_a", "lookup_customer", LOOKUP_ARGS),
            (f"call_{n}_b", "refund_order", REFUND_ARGS),
        ],
        response_id=f"chatcmpl-{n}",
    )


def timed(run: Callable[[str, str, str], Any], tool_call: Any) -> float:
    """Seconds to dispatch one tool call with ``run`` (its exception caught)."""
    start = time.perf_counter()
    with contextlib.suppress(CardDeclinedError):
        run(tool_call.function.name, tool_call.id, tool_call.function.arguments)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=300, help="turns per kind per round")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args(argv)
    fake = _fake_api()

    plain_provider = provider_for("batch")
    audited_provider = provider_for("batch")
    instrumentor = ToolAuditInstrumentor()
    instrumentor.instrument(tracer_provider=audited_provider)
    handler = TelemetryHandler(tracer_provider=plain_provider)
    audited = {name: audited_tool(fn) for name, fn in HANDLERS.items()}

    def no_telemetry(name: str, call_id: str, arguments: str) -> Any:
        return HANDLERS[name](**json.loads(arguments))

    def util_genai(name: str, call_id: str, arguments: str) -> Any:
        with handler.tool(name, tool_type="function") as invocation:
            invocation.tool_call_id = call_id
            return HANDLERS[name](**json.loads(arguments))

    def audited_dispatch(name: str, call_id: str, arguments: str) -> Any:
        return audited[name](**json.loads(arguments))

    kinds = {"no telemetry": no_telemetry, "util-genai": util_genai, "audited": audited_dispatch}
    ok: dict[str, list[float]] = {kind: [] for kind in kinds}
    raising: dict[str, list[float]] = {kind: [] for kind in kinds}
    turn = iter(range(1 << 62))
    with fake.FakeLLMAPI(lambda path, body: turn_reply(fake, next(turn))) as server:
        client = openai.OpenAI(base_url=server.openai_url, api_key="test")
        tracer = audited_provider.get_tracer("app")

        def one_turn(run: Callable[[str, str, str], Any]) -> tuple[float, float]:
            with (
                audit_context(user_id="usr_4821", conversation_id="conv_7", model="gpt-4.1"),
                tracer.start_as_current_span("chat gpt-4.1"),
            ):
                completion = client.chat.completions.create(model="gpt-4.1", messages=[])
            first, second = completion.choices[0].message.tool_calls
            with audit_context(user_id="usr_4821", conversation_id="conv_7", model="gpt-4.1"):
                return timed(run, first), timed(run, second)

        for _ in range(min(args.turns, 100)):
            for run in kinds.values():
                one_turn(run)
        for _ in range(args.repeat):
            sums = {kind: [0.0, 0.0] for kind in kinds}
            for _ in range(args.turns):
                for kind, run in kinds.items():
                    a, b = one_turn(run)
                    sums[kind][0] += a
                    sums[kind][1] += b
            for kind, (a, b) in sums.items():
                ok[kind].append(a / args.turns * 1e6)
                raising[kind].append(b / args.turns * 1e6)
    instrumentor.uninstrument()
    plain_provider.shutdown()
    audited_provider.shutdown()

    print(f"turns={args.turns} per kind per round, repeat={args.repeat} (median of round means)")
    for kind in kinds:
        print(
            f"  {kind:<13} succeeding {statistics.median(ok[kind]):8.1f} µs"
            f"   raising {statistics.median(raising[kind]):8.1f} µs"
        )
    print("ratios, median of the same round (spread):")
    print(f"  audited / util-genai, succeeding call  {ratio(ok['audited'], ok['util-genai'])}")
    print(
        f"  audited / util-genai, raising call     {ratio(raising['audited'], raising['util-genai'])}"
    )
    print(f"  audited raising / audited succeeding   {ratio(raising['audited'], ok['audited'])}")


if __name__ == "__main__":
    main()
