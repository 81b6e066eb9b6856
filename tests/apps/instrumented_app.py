# Copyright The toolaudit Authors
# SPDX-License-Identifier: Apache-2.0

"""An app with no tracing code of its own: run under `opentelemetry-instrument` by the tests."""

from __future__ import annotations

from opentelemetry_instrumentation_toolaudit import audit_context, audited_tool
from tests.apps import support_tools


@audited_tool
def issue_refund(order_id: str, amount: float, card_number: str) -> dict:
    """Refund an order to the card on file."""
    return {"id": "RF-1", "order_id": order_id, "status": "refunded"}


def main() -> None:
    with audit_context(
        user_id="usr_98765",
        user_role="support_agent",
        conversation_id="conv_abc123",
        turn_number=7,
        model="gpt-4.1",
    ):
        support_tools.dispatch("lookup_order", {"order_id": "ORD-123"})
        issue_refund("ORD-123", 19.99, card_number="4111 1111 1111 1111")
    print("APP-DONE")


if __name__ == "__main__":
    main()
