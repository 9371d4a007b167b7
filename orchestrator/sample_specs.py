"""Run the claude-tools-chatbot sample's four tool specs, unchanged, against our tools and store.

The sample (``shared/data/claude-tools-chatbot/tool_config.json``) declares ``get_user {key:
email|phone|username, value}``, ``get_order_by_id {order_id}``, ``get_customer_orders
{customer_id}`` and ``cancel_order {order_id}``. ``orchestrator.toolspecs`` turns those specs into
registry tools with no handler; ``SampleSpecTransport`` is a ``Transport`` (see
``orchestrator.dispatcher``) that answers their calls with OUR handlers, translating only the
payload:

* ``get_user {key, value}`` -> ``tools.customers.find_user({key: value})``;
* ``get_order_by_id {order_id}`` -> ``tools.orders`` ``{"orderId": order_id}``: the TRACKING VIEW
  (no owner, no amount), because a spec-driven call identifies no customer, so nobody is entitled
  to the owner's view;
* ``get_customer_orders {customer_id}`` -> ``tools.orders.list_orders({"customerId": ...})``;
* ``cancel_order {order_id}`` NEVER runs: it answers 403 "a change needs an identified customer and
  a confirmation". The sample cancels on the model's word alone, with nothing but an order id; our
  cancel tool changes an order only for the customer who owns it, once they have confirmed, under
  an idempotency key (``tools.cancel``, ``orchestrator.confirm``). A spec call carries none of
  that, so the honest answer is a refusal, and the order is left as it was.

Any other tool is a 404; a payload that is not an object of strings, or lacks a field the spec
requires, is a 400; a store failure is the handler's own 500; a handler that raises is a 502; a
handler slower than the time given is a 504. ``invoke`` never raises. The ``tools`` package is
imported on the first call, not at import (and never boto3, unless the store is DynamoDB).
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

from .budget import DeadlineExceeded, run_within
from .dispatcher import result_from_response
from .registry import Tool
from .turn import ToolResult

SAMPLE_TOOLS = ("get_user", "get_order_by_id", "get_customer_orders", "cancel_order")
USER_KEYS = ("email", "phone", "username")
CANCEL_REFUSAL = "a change needs an identified customer and a confirmation"


def _fields(payload: Any, *names: str) -> dict[str, str] | str:
    """The named fields, stripped, or what is wrong with the payload (a 400's reason)."""
    if not isinstance(payload, Mapping):
        return "the payload must be a JSON object"
    values = {}
    for name in names:
        raw = payload.get(name)
        if not isinstance(raw, str) or not raw.strip():
            return f"{name} is required and must be a non-empty string"
        values[name] = raw.strip()
    return values


class SampleSpecTransport:
    """Answers calls of the sample's four spec tools from our handlers; ``store`` defaults to the
    handlers' own (``tools.store.shared_store()``, from STORE_BACKEND / STORE_PATH)."""

    name = "sample-specs"

    def __init__(self, store: Any = None) -> None:
        self._store = store

    def _call(self, tool_name: str, payload: Any) -> Callable[[], Any] | ToolResult:
        """The handler call for this tool and payload, or the ToolResult that answers without one."""
        if tool_name == "cancel_order":
            # Refused before anything is read or written: see the module docstring.
            return ToolResult(403, "", error=CANCEL_REFUSAL)
        if tool_name == "get_user":
            fields = _fields(payload, "key", "value")
            if isinstance(fields, str):
                return ToolResult(400, "", error=f"get_user: {fields}")
            key = fields["key"].lower()
            if key not in USER_KEYS:
                return ToolResult(400, "", error=f"get_user: key must be one of {', '.join(USER_KEYS)}")
            from tools import customers

            return lambda: customers.find_user({key: fields["value"]}, self._store)
        if tool_name == "get_order_by_id":
            fields = _fields(payload, "order_id")
            if isinstance(fields, str):
                return ToolResult(400, "", error=f"get_order_by_id: {fields}")
            from tools import orders

            # {"orderId"} alone: the tracking view (what tools.orders.lambda_handler answers for it).
            return lambda: orders.ORDERS.handle({"orderId": fields["order_id"]}, self._store)
        if tool_name == "get_customer_orders":
            fields = _fields(payload, "customer_id")
            if isinstance(fields, str):
                return ToolResult(400, "", error=f"get_customer_orders: {fields}")
            from tools import orders

            return lambda: orders.list_orders({"customerId": fields["customer_id"]}, self._store)
        return ToolResult(404, "", error=f"unknown tool {tool_name!r}: this transport serves {', '.join(SAMPLE_TOOLS)}")

    def invoke(self, tool: Tool, payload: dict[str, str], timeout_s: float) -> ToolResult:
        try:
            call = self._call(str(getattr(tool, "name", "")), payload)
            if isinstance(call, ToolResult):
                return call
            if timeout_s <= 0:
                return ToolResult(504, "", error="no time left for the tool call")
            return result_from_response(run_within(timeout_s, call, name="tool call", target=f"sample:{tool.name}"))
        except DeadlineExceeded:
            return ToolResult(504, "", error=f"tool did not answer in {timeout_s:.1f}s")
        except Exception as exc:  # noqa: BLE001 - a transport never raises
            return ToolResult(502, "", error=f"tool raised {type(exc).__name__}")
