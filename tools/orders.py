"""The orders tool: ``{"orderId": "123456"}`` in, the order's status as one sentence out."""
from __future__ import annotations

import re
from typing import Any

from .lookup import LookupTool


def _money(amount: Any, currency: str = "USD") -> str:
    return f"${amount:,.2f}" if currency == "USD" else f"{amount:,.2f} {currency}"


def describe_order(order: dict[str, Any]) -> str:
    """One customer-facing sentence about an order, by its status."""
    what = f"Order {order['orderId']} ({order['quantity']} x {order['product']}, {_money(order['amount'], order.get('currency', 'USD'))})"
    status = order.get("status")
    if status == "processing":
        return f"{what} was placed on {order['orderDate']} and is being processed; it has not shipped yet."
    if status == "shipped":
        return (
            f"{what} shipped on {order['shipDate']} with {order['carrier']}, "
            f"tracking number {order['trackingNumber']}."
        )
    if status == "delivered":
        return f"{what} was delivered on {order['deliveryDate']} by {order['carrier']}."
    if status == "cancelled":
        return f"{what} was cancelled."
    return f"{what} has status {status}."


ORDERS = LookupTool(
    table="orders",
    id_field="orderId",
    noun="order",
    pattern=re.compile(r"[0-9]{6}"),
    id_hint="an order number is six digits, like 123456",
    describe=describe_order,
)


def lambda_handler(event: Any, context: Any = None) -> dict[str, Any]:
    return ORDERS.handle(event)
