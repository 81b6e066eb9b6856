# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""An app that dispatches the tool calls its model returns to audited handlers."""

from __future__ import annotations

import json
from typing import Any

from opentelemetry_instrumentation_toolaudit import audited_tool

ORDERS = {"ORD-1": "shipped", "ORD-2": "processing", "ORD-3": "delivered"}


@audited_tool
def lookup_order(order_id: str) -> dict[str, Any]:
    """Look an order up."""
    return {"order_id": order_id, "status": ORDERS[order_id]}


@audited_tool
def cancel_order(order_id: str) -> dict[str, Any]:
    """Cancel an order that has not shipped."""
    if ORDERS[order_id] == "shipped":
        raise PermissionError("orders that shipped cannot be cancelled")
    return {"order_id": order_id, "status": "cancelled"}


@audited_tool(name="lookup_order")
async def lookup_order_async(order_id: str) -> dict[str, Any]:
    """Look an order up."""
    return {"order_id": order_id, "status": ORDERS[order_id]}


HANDLERS = {"lookup_order": lookup_order, "cancel_order": cancel_order}


def dispatch(name: str, arguments: str, tool_call_id: str | None = None) -> Any:
    """Run one tool call the model asked for (a target for OTEL_PYTHON_TOOLAUDIT_TOOLS)."""
    return HANDLERS[name](**json.loads(arguments))
