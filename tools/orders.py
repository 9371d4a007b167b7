"""The orders tool: one order by id, or one customer's orders.

One Lambda (``lambda_handler``), three call shapes; an order id is five or six ASCII digits:

* ``{"orderId": "123456"}``: the TRACKING VIEW, what a shop's tracking page shows anyone holding
  the order number: "Order 123456 (3 x Herbal Handsoap) shipped on 2026-10-10 with UPS, tracking
  number 1Z30824628194821." ``data`` carries only ``TRACKING_FIELDS`` (orderId, product,
  quantity, status, orderDate, shipDate, deliveryDate, carrier, trackingNumber, those present):
  never the owner, the amount, the cancellation's key, nor any attribute added later. Whoever
  asks may be a stranger guessing numbers, so the answer names nobody and nothing else.
* ``{"orderId": "37129", "customerId": "901235"}``: the FULL VIEW, for the identified customer
  who owns the order: "Order 37129 (2 x Sunglasses, $99.98) is being processed; it has not shipped
  yet." with ``data`` the whole order (customerId and amount included; never ``cancelKey``). When
  the order is another customer's, or nobody's (the blog's 24 orders have no owner), the answer is
  the 404 of a missing order, byte for byte ("I couldn't find order 37129. Please check the order
  number and try again.", ``data`` ``{"orderId": ...}``): a caller cannot tell "not yours" from
  "not there". A ``customerId`` that is not a string of 1-64 letters, digits, '-' or '_' is a 400.
* ``{"customerId": "345678"}`` (no orderId): that customer's orders (``list_orders``, also
  ``list_handler``), read from the orders table's ``customerId-index``.

Statuses are compared ignoring case. Nothing about the customer or the order is logged.
"""
from __future__ import annotations

import logging
import re
from typing import Any, Mapping

from .lookup import LookupTool, OwnerView, answer
from .store import Store, StoreError, canonical_status, shared_store, status_is

logger = logging.getLogger(__name__)

CUSTOMER_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
CUSTOMER_ID_HINT = "the customer's account id: letters, digits, '-' or '_', at most 64"
CUSTOMER_INDEX = "customerId-index"
MAX_LISTED = 100  # orders one list answer carries in data
MAX_SPOKEN = 10  # orders its sentence names


def _money(amount: Any, currency: str = "USD") -> str:
    return f"${amount:,.2f}" if currency == "USD" else f"{amount:,.2f} {currency}"


def _sentence(what: str, order: dict[str, Any]) -> str:
    """The status sentence about ``what`` ("Order 37129 (2 x Sunglasses)"), by the order's status
    (compared ignoring case).

    The blog's orders carry dates, a carrier and a tracking number, and their sentences say them;
    an order without them still reads as a sentence ("Order 32057 (...) has shipped.").
    """
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


def describe_tracking(order: dict[str, Any]) -> str:
    """The tracking view's sentence: item, status, dates, carrier and tracking number; no amount."""
    return _sentence(f"Order {order['orderId']} ({order['quantity']} x {order['product']})", order)


def describe_order(order: dict[str, Any]) -> str:
    """The owner's sentence: the tracking view's, with the amount paid."""
    money = _money(order['amount'], order.get('currency', 'USD'))
    return _sentence(f"Order {order['orderId']} ({order['quantity']} x {order['product']}, {money})", order)


# What anyone holding an order number is told: what a shop's tracking page shows.
TRACKING_FIELDS = ("orderId", "product", "quantity", "status", "orderDate", "shipDate", "deliveryDate", "carrier",
                   "trackingNumber")

ORDERS = LookupTool(
    table="orders",
    id_field="orderId",
    noun="order",
    pattern=re.compile(r"[0-9]{5,6}"),
    id_hint="an order number is five or six digits, like 123456",
    describe=describe_tracking,
    shown=TRACKING_FIELDS,
    owner=OwnerView(
        field="customerId",
        pattern=CUSTOMER_ID,
        hint=CUSTOMER_ID_HINT,
        describe=describe_order,
        hidden=("cancelKey",),  # the idempotency key of a cancellation stays with the cancel tool
    ),
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
