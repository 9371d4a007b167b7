"""The cancel tool (cancel_order): cancel one of the customer's own orders while it is Processing.

``{"orderId": "37129", "customerId": "901235", "idempotencyKey": "<16-64 of A-Z a-z 0-9 _ ->"}``
in. The store makes one conditional write (status Processing and owned by the customer ->
Cancelled, with the key and the time), so of any number of concurrent requests at most one
cancels; when the write does not apply, the order as it is now says why:

* 200 "Order 37129 has been cancelled." ``data`` = ``{orderId, status: "Cancelled", cancelledAt,
  replayed: false}``; the same answer with ``replayed: true`` when the order was already cancelled
  with this same key (a retried or repeated request is reported, never applied twice);
* 404 "I couldn't find order 37129 among your orders." when there is no such order or it is
  another customer's (the answer does not tell the two apart);
* 409 "Order 37129 was already cancelled." (another request cancelled it), "Order 54321 has
  already shipped, so it can't be cancelled." / "... was already delivered, ..." ;
* 400 saying which field was wrong; 500 when the store cannot answer (a retry with the same key
  is then safe: it reports the cancellation if the first attempt did apply).

Whether the customer asked for this, and confirmed it, is the orchestrator's business; this tool
only guarantees the write's conditions. Nothing about the customer or the order is logged.
"""
from __future__ import annotations

import logging
import re
from datetime import datetime, timezone
from typing import Any, Callable, Mapping

from .lookup import answer
from .orders import CUSTOMER_ID, ORDERS
from .store import CANCELLED, CancelOutcome, Store, StoreError, shared_store

logger = logging.getLogger(__name__)

IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9_-]{16,64}")

FIELDS: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("orderId", ORDERS.pattern, "an order number is five or six digits, like 123456"),
    ("customerId", CUSTOMER_ID, "the customer's account id: letters, digits, '-' or '_', at most 64"),
    ("idempotencyKey", IDEMPOTENCY_KEY, "16 to 64 letters, digits, '-' or '_', the same for every retry"),
)


def _utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _problem(event: Any) -> str | None:
    """What is wrong with the event (the 400's body), or None."""
    if not isinstance(event, Mapping):
        return "The request must be a JSON object with the fields orderId, customerId and idempotencyKey."
    for field, pattern, hint in FIELDS:
        raw = event.get(field)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return f"{field} is required: {hint}."
        if not isinstance(raw, str):
            return f"{field} must be a string: {hint}."
        if not pattern.fullmatch(raw.strip()):
            return f"{field} is not valid: {hint}."
    return None


def _reply(order_id: str, outcome: CancelOutcome) -> dict[str, Any]:
    if outcome.result in ("cancelled", "replayed"):
        return answer(200, f"Order {order_id} has been cancelled.",
                      {"orderId": order_id, "status": CANCELLED, "cancelledAt": outcome.cancelled_at,
                       "replayed": outcome.result == "replayed"})
    if outcome.result == "not_found":
        return answer(404, f"I couldn't find order {order_id} among your orders.", {"orderId": order_id})
    data = {"orderId": order_id, "status": outcome.status}
    if outcome.result == "already_cancelled":
        return answer(409, f"Order {order_id} was already cancelled.", data)
    if outcome.result == "shipped":
        return answer(409, f"Order {order_id} has already shipped, so it can't be cancelled.", data)
    if outcome.result == "delivered":
        return answer(409, f"Order {order_id} was already delivered, so it can't be cancelled.", data)
    return answer(409, f"Order {order_id} can't be cancelled: only an order that is still being processed can be.",
                  data)


def cancel_order(event: Any, store: Store | None = None, now: Callable[[], str] = _utc_now) -> dict[str, Any]:
    problem = _problem(event)
    if problem is not None:
        return answer(400, problem)
    values = {field: event[field].strip() for field, _, _ in FIELDS}
    try:
        outcome = (store or shared_store()).cancel(values["orderId"], values["customerId"],
                                                   values["idempotencyKey"], now())
    except StoreError as exc:
        logger.error("store cancel failed: %s", exc)
        return answer(500, "Sorry, I can't cancel orders right now. Please try again in a few minutes.")
    logger.info("cancel_order: %s", outcome.result)
    return _reply(values["orderId"], outcome)


def lambda_handler(event: Any, context: Any = None) -> dict[str, Any]:
    return cancel_order(event)
