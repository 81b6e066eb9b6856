# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""Per-request cost of each attribution source beside an ``audit_context``, in the same run.

Each case serves one request for a user not seen just before (1000 users in turn) and makes one
audited tool call in it, as a service does:

* ``audit_context``: the app opens ``audit_context(user_id=..., conversation_id=...,
  client_address=...)``;
* ``http headers``: the HTTP hook opens the attribution from the request's configured headers (the
  same three values);
* ``model request``: no context; the call carries the user and conversation its model request named;
* ``no attribution``: the same call with no source at all (the floor).

Usage: ``python bench/attribution_sources.py [--calls N] [--repeat R] [--processor batch|simple|none]``
"""

from __future__ import annotations

import argparse
import itertools
from typing import Any

from opentelemetry import context as otel_context
from overhead import per_call_us, provider_for, update_order_status

from opentelemetry_instrumentation_toolaudit import ToolAuditInstrumentor, audit_context
from opentelemetry_instrumentation_toolaudit._http import HeaderNames, request_context
from opentelemetry_instrumentation_toolaudit._recorder import ToolCall, run_sync

USERS = 1000
ARGUMENTS = ("ORD-123", "shipped")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--processor", choices=["batch", "simple", "none"], default="batch")
    args = parser.parse_args(argv)

    provider = provider_for(args.processor)
    instrumentor = ToolAuditInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    users = itertools.cycle([f"usr_{n:05d}" for n in range(USERS)])
    names = HeaderNames(user="x-authenticated-user", conversation="x-conversation-id")

    def call(user: str | None = None) -> Any:
        tool_call = ToolCall(
            name="update_order_status",
            arguments={"order_id": "ORD-123", "status": "shipped"},
            user_id=user,
            conversation_id=f"conv_{user}" if user else None,
        )
        return run_sync(tool_call, update_order_status, ARGUMENTS, {})

    def with_audit_context() -> Any:
        user = next(users)
        with audit_context(user_id=user, conversation_id=f"conv_{user}", client_address="10.0.1.5"):
            return call()

    def with_http_headers() -> Any:
        user = next(users)
        headers = {"x-authenticated-user": user, "x-conversation-id": f"conv_{user}"}
        token = otel_context.attach(request_context(names, headers.get, "10.0.1.5"))
        try:
            return call()
        finally:
            otel_context.detach(token)

    def with_model_request() -> Any:
        return call(next(users))

    try:
        figures = per_call_us(
            {
                "no attribution": call,
                "audit_context": with_audit_context,
                "http headers": with_http_headers,
                "model request": with_model_request,
            },
            args.calls,
            args.repeat,
        )
    finally:
        instrumentor.uninstrument()
        provider.shutdown()

    baseline = figures["audit_context"]
    print(f"processor={args.processor} calls={args.calls} repeat={args.repeat} (median of means)")
    for name, value in figures.items():
        print(f"  {name:<15} {value:8.2f} µs/request   {value / baseline:5.2f}x audit_context")


if __name__ == "__main__":
    main()
