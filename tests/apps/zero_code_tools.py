# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""An app's own tool handlers and dispatcher, with no telemetry code: named in OTEL_PYTHON_TOOLAUDIT_TOOLS."""

from __future__ import annotations

import json
from typing import Any

ORDERS = {"ORD-1": "shipped", "ORD-2": "processing"}


def lookup_order(order_id: str) -> dict[str, Any]:
    return {"order_id": order_id, "status": ORDERS[order_id]}


HANDLERS = {"lookup_order": lookup_order}


def dispatch(name: str, arguments: str, tool_call_id: str | None = None) -> Any:
    """Run one tool call the model asked for."""
    return HANDLERS[name](**json.loads(arguments))
