"""The returns tool: ``{"returnId": "rtn001"}`` in, the return's status as one sentence out."""
from __future__ import annotations

import re
from typing import Any

from .lookup import LookupTool


def describe_return(item: dict[str, Any]) -> str:
    """One customer-facing sentence about a return, by its status."""
    what = f"Return {item['returnId']} ({item['item']}, order {item['orderId']})"
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
)


def lambda_handler(event: Any, context: Any = None) -> dict[str, Any]:
    return RETURNS.handle(event)
