"""The returns tool: ``{"returnId": "rtn001"}`` in, the return's status as one sentence out.

A return id is 'rtn' and three digits (any case), so all of them can be tried in a thousand
guesses: the answer is for anyone, and says only what the return is and where it stands: "Return
rtn003 (Ceramic Mug) has been refunded: $19.50 on 2026-10-17." ``data`` carries only
``RETURN_FIELDS`` (returnId, item, status, reason, requestDate, receivedDate, refundAmount,
refundDate, those present). Never the order the return belongs to: an order id read from a return
was the way into that order (and its owner) for whoever scanned rtn000..rtn999. Nothing about the
customer or the return is logged.
"""
from __future__ import annotations

import re
from typing import Any

from .lookup import LookupTool

# What a return's answer may carry in data: not orderId, nor anything about who made it.
RETURN_FIELDS = ("returnId", "item", "status", "reason", "requestDate", "receivedDate", "refundAmount",
                 "refundDate")


def describe_return(item: dict[str, Any]) -> str:
    """One customer-facing sentence about a return, by its status."""
    what = f"Return {item['returnId']} ({item['item']})"
    status = item.get("status")
    if status == "requested":
        return f"{what} was requested on {item['requestDate']}; we are waiting to receive the item."
    if status == "received":
        return f"{what} was received on {item['receivedDate']} and is waiting to be processed."
    if status == "processed":
        return f"{what} has been processed; a refund of ${item['refundAmount']:,.2f} is on its way."
    if status == "refunded":
        return f"{what} has been refunded: ${item['refundAmount']:,.2f} on {item['refundDate']}."
    if status == "rejected":
        return f"{what} was rejected, so no refund was issued. Please contact us if you have questions."
    return f"{what} has status {status}."


RETURNS = LookupTool(
    table="returns",
    id_field="returnId",
    noun="return",
    pattern=re.compile(r"rtn[0-9]{3}"),
    id_hint="a return id is 'rtn' followed by three digits, like rtn001",
    describe=describe_return,
    normalise=lambda raw: raw.strip().lower(),
    shown=RETURN_FIELDS,
)


def lambda_handler(event: Any, context: Any = None) -> dict[str, Any]:
    return RETURNS.handle(event)
