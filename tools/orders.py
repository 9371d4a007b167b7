"""The orders tool: one order by id, or one customer's orders.

``{"orderId": "123456"}`` in, the order's status as one sentence out (``lambda_handler``); an order
id is five or six ASCII digits. ``{"customerId": "345678"}`` in, that customer's orders out
(``list_handler``), read from the orders table's ``customerId-index``. One Lambda serves both:
``lambda_handler`` hands an event with a ``customerId`` and no ``orderId`` to ``list_handler``.
"""
from __future__ import annotations

import logging
import re
from typing import Any, Mapping

from .lookup import LookupTool, answer
from .store import Store, StoreError, canonical_status, shared_store, status_is

logger = logging.getLogger(__name__)

CUSTOMER_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
CUSTOMER_INDEX = "customerId-index"
MAX_LISTED = 100  # orders one list answer carries in data
MAX_SPOKEN = 10  # orders its sentence names


def _money(amount: Any, currency: str = "USD") -> str:
    return f"${amount:,.2f}" if currency == "USD" else f"{amount:,.2f} {currency}"


def describe_order(order: dict[str, Any]) -> str:
    """One customer-facing sentence about an order, by its status (compared ignoring case).

    The blog's orders carry dates, a carrier and a tracking number, and their sentences say them;
    an order without them still reads as a sentence ("Order 32057 (...) has shipped.").
    """
    what = f"Order {order['orderId']} ({order['quantity']} x {order['product']}, {_money(order['amount'], order.get('currency', 'USD'))})"
    status = order.get("status")
    if status_is(status, "processing"):
        placed = f" was placed on {order['orderDate']} and" if order.get("orderDate") else ""
        return f"{what}{placed} is being processed; it has not shipped yet."
    if status_is(status, "shipped"):
        sentence = f"{what} shipped on {order['shipDate']}" if order.get("shipDate") else f"{what} has shipped"
        if order.get("carrier"):
            sentence += f" with {order['carrier']}"
        if order.get("trackingNumber"):
            sentence += f", tracking number {order['trackingNumber']}"
        return sentence + "."
    if status_is(status, "delivered"):
        sentence = f"{what} was delivered"
        if order.get("deliveryDate"):
            sentence += f" on {order['deliveryDate']}"
        if order.get("carrier"):
            sentence += f" by {order['carrier']}"
        return sentence + "."
    if status_is(status, "cancelled"):
        return f"{what} was cancelled."
    return f"{what} has status {status}."


ORDERS = LookupTool(
    table="orders",
    id_field="orderId",
    noun="order",
    pattern=re.compile(r"[0-9]{5,6}"),
    id_hint="an order number is five or six digits, like 123456",
    describe=describe_order,
    hidden=("cancelKey",),  # the idempotency key of a cancellation stays with the cancel tool
)


def _summary(order: Mapping[str, Any]) -> dict[str, Any]:
    return {"orderId": order["orderId"], "product": order.get("product"), "quantity": order.get("quantity"),
            "amount": order.get("amount"), "status": canonical_status(order.get("status"))}


def _newest_first(order: Mapping[str, Any]) -> tuple[int, str]:
    order_id = str(order["orderId"])
    return (len(order_id), order_id)


def describe_orders(orders: list[dict[str, Any]]) -> str:
    """"You have 2 orders: 86420 (Fitness Tracker, Delivered) and 81695 (Wireless Keyboard, Processing)." """
    if not orders:
        return "You have no orders."
    named = [f"{o['orderId']} ({o['product']}, {o['status']})" for o in orders[:MAX_SPOKEN]]
    if len(orders) > MAX_SPOKEN:
        named.append(f"{len(orders) - MAX_SPOKEN} more")
    listed = named[0] if len(named) == 1 else ", ".join(named[:-1]) + " and " + named[-1]
    return f"You have {len(orders)} order{'s' if len(orders) != 1 else ''}: {listed}."


def list_orders(event: Any, store: Store | None = None) -> dict[str, Any]:
    if not isinstance(event, Mapping):
        return answer(400, "The request must be a JSON object with the field customerId.")
    raw = event.get("customerId")
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return answer(400, "customerId is required: the customer's account id.")
    if not isinstance(raw, str):
        return answer(400, "customerId must be a string: the customer's account id.")
    customer_id = raw.strip()
    if not CUSTOMER_ID.fullmatch(customer_id):
        return answer(400, "customerId is not valid: letters, digits, '-' or '_', at most 64.")
    try:
        found = (store or shared_store()).query("orders", CUSTOMER_INDEX, customer_id, limit=MAX_LISTED)
    except StoreError as exc:
        logger.error("store query failed for orders: %s", exc)
        return answer(500, "Sorry, I can't look up orders right now. Please try again in a few minutes.")
    orders = sorted((_summary(o) for o in found if o.get("customerId") == customer_id), key=_newest_first,
                    reverse=True)
    logger.info("listed %d orders", len(orders))
    return answer(200, describe_orders(orders), {"customerId": customer_id, "orders": orders})


def list_handler(event: Any, context: Any = None) -> dict[str, Any]:
    return list_orders(event)


def lambda_handler(event: Any, context: Any = None) -> dict[str, Any]:
    if isinstance(event, Mapping) and event.get("orderId") is None and event.get("customerId") is not None:
        return list_orders(event)
    return ORDERS.handle(event)
