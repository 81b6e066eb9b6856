# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""A small app with its own tool dispatcher, for the no-code (OTEL_PYTHON_TOOLAUDIT_TOOLS) tests."""

from __future__ import annotations

import json
from typing import Any


def lookup_order(order_id: str) -> dict[str, Any]:
    """Look an order up."""
    if order_id == "ORD-BAD":
        raise KeyError(order_id)
    return {"order_id": order_id, "status": "shipped", "items": 3}


HANDLERS = {"lookup_order": lookup_order}


def dispatch(tool_name: str, arguments: dict[str, Any]) -> Any:
    """Run the tool the model asked for."""
    return HANDLERS[tool_name](**arguments)


def dispatch_json(name: str, arguments: str, tool_call_id: str | None = None) -> Any:
    """Run a tool from an OpenAI-style call (arguments as a JSON string)."""
    return HANDLERS[name](**json.loads(arguments))


async def dispatch_async(tool_name: str, arguments: dict[str, Any]) -> Any:
    """The async dispatcher."""
    return HANDLERS[tool_name](**arguments)


class Registry:
    """Tools registered on an object."""

    def __init__(self) -> None:
        self.calls = 0

    def call(self, tool_name: str, **kwargs: Any) -> Any:
        """Call a registered tool."""
        self.calls += 1
        return HANDLERS[tool_name](**kwargs)

    @classmethod
    def call_cls(cls, tool_name: str, arguments: dict[str, Any]) -> Any:
        return HANDLERS[tool_name](**arguments)

    @staticmethod
    def call_static(tool_name: str, arguments: dict[str, Any]) -> Any:
        return HANDLERS[tool_name](**arguments)
