# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""What tying a dispatch to the model's remembered request costs, beside the audited call alone.

Measured in one run, on one TracerProvider (batch processor, discarding exporter):

* ``audited call``: an ``@audited_tool`` call, nothing remembered (the recorder's fast path);
* ``remember + claim by name``: the model's call is remembered, then the dispatch claims it by name
  and arguments (call id, model, provider, response id and a link are added to the span);
* ``dispatch target``: the same tool through a no-code dispatch target, nothing remembered;
* ``remember + claim by id``: a remembered call claimed by that target, which passes the call id;
* ``remember only``: what reading one tool call out of a response costs the SDK call.

No HTTP: the calls are remembered directly, as the openai integration does after parsing a response.

Usage: ``python bench/remembered.py [--calls N] [--repeat R]``
"""

from __future__ import annotations

import argparse
import itertools
from typing import Any

from overhead import ATTRIBUTION, per_call_us, provider_for

from opentelemetry_instrumentation_toolaudit import (
    ToolAuditInstrumentor,
    audit_context,
    audited_tool,
)
from opentelemetry_instrumentation_toolaudit._targets import make_dispatch_wrapper
from opentelemetry_instrumentation_toolaudit.integrations._remembered import (
    REGISTRY,
    RememberedCall,
    current_chat_context,
)


def update_order_status(order_id: str, status: str) -> dict[str, Any]:
    """Change an order's status."""
    return {"order_id": order_id, "status": status}


def dispatch(name: str, arguments: dict[str, Any], tool_call_id: str | None = None) -> Any:
    return update_order_status(**arguments)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args(argv)

    provider = provider_for("batch")
    tracer = provider.get_tracer("bench")
    instrumentor = ToolAuditInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    audited = audited_tool(update_order_status)
    wrapper = make_dispatch_wrapper(dispatch)
    ids = (f"call_{n}" for n in itertools.count())
    arguments = {"order_id": "ORD-123", "status": "shipped"}

    def remember(call_id: str) -> None:
        REGISTRY.remember(
            [
                RememberedCall(
                    call_id=call_id,
                    name="update_order_status",
                    arguments='{"order_id": "ORD-123", "status": "shipped"}',
                    provider="openai",
                    model="gpt-4.1",
                    response_id="chatcmpl-1",
                    chat_context=current_chat_context(),
                )
            ]
        )

    def audited_call() -> Any:
        return audited("ORD-123", "shipped")

    def claim_by_name() -> Any:
        remember(next(ids))
        return audited("ORD-123", "shipped")

    def dispatch_target() -> Any:
        return wrapper(dispatch, None, ("update_order_status", arguments, None), {})

    def claim_by_id() -> Any:
        call_id = next(ids)
        remember(call_id)
        return wrapper(dispatch, None, ("update_order_status", arguments, call_id), {})

    def remember_only() -> Any:
        remember(next(ids))

    try:
        with audit_context(**ATTRIBUTION), tracer.start_as_current_span("chat gpt-4.1"):
            figures = per_call_us(
                {
                    "audited call": audited_call,
                    "remember + claim by name": claim_by_name,
                    "dispatch target": dispatch_target,
                    "remember + claim by id": claim_by_id,
                    "remember only": remember_only,
                },
                args.calls,
                args.repeat,
            )
            REGISTRY.clear()
    finally:
        instrumentor.uninstrument()
        provider.shutdown()
    base = figures["audited call"]
    print(f"calls={args.calls} repeat={args.repeat} (median of means)")
    for name, value in figures.items():
        print(f"  {name:26s} {value:8.2f} µs/call  {value / base:5.2f}x audited call")


if __name__ == "__main__":
    main()
