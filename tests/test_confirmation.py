"""Confirmation before any change: stated, kept server-side, run once on a clear yes, else dropped.

A test registry adds a data-changing tool (``cancel_order``, previewed by the order look-up) to the
real ones; the transport is scripted, so each test sees exactly which calls ran, with which key.
"""
import dataclasses
import time

import pytest

from orchestrator.agent import Agent
from orchestrator.confirm import PendingAction
from orchestrator.registry import DEFAULT_REGISTRY, IdParameter, Tool
from orchestrator.turn import ToolResult
from tests.fakes import ScriptedModel, calls, says

CUSTOMER = IdParameter("customer_id", "customerId", "The identified customer.", r"[0-9]{6}", from_identity=True,
                       names_its_tool=False)
LOOKUP = dataclasses.replace(DEFAULT_REGISTRY.get("order_inquiry"))
CANCEL = Tool(
    name="cancel_order", description="Cancel one of the customer's orders that is still processing.",
    parameters=(LOOKUP.parameters[0], CUSTOMER), examples=(), function_name_env="CANCEL_ORDER_FUNCTION_NAME",
    local_handler="tests.test_confirmation:unused", noun="order", mutates=True, preview="order_inquiry",
    confirm="Cancel order {orderId}: {quantity} x {product}, {amount}? Say yes to confirm.",
    idempotency_field="idempotencyKey", conflict="Order {orderId} can't be cancelled: it has already {status}.",
)
REGISTRY = DEFAULT_REGISTRY.with_tools([LOOKUP, DEFAULT_REGISTRY.get("returns_inquiry"), CANCEL])
ME = {"customer_id": "654321"}
ORDER = {"orderId": "371290", "customerId": "654321", "product": "Sunglasses", "quantity": 2, "amount": 99.98,
         "status": "Processing"}


class Transport:
    name = "scripted"

    def __init__(self, cancel_status=200, order=ORDER):
        self.calls, self.cancel_status, self.order = [], cancel_status, order

    def invoke(self, tool, payload, timeout_s):
        self.calls.append((tool.name, dict(payload)))
        if tool.name == "order_inquiry":
            return ToolResult(200, "Order 371290 is being processed.", dict(self.order))
        if self.cancel_status == 409:
            return ToolResult(409, "Traceback: internal text", {"orderId": "371290", "status": "shipped"})
        return ToolResult(self.cancel_status, "Order 371290 has been cancelled.", {"orderId": "371290"})


def asked_to_cancel(transport=None, identity=ME):
    transport = transport or Transport()
    model = ScriptedModel(calls(("cancel_order", {"order_id": "371290"})))
    agent = Agent(REGISTRY, model, transport)
    record = agent.run_turn("Please cancel my order 371290", identity=identity)
    return agent, transport, record


def cancels(transport):
    return [payload for name, payload in transport.calls if name == "cancel_order"]


def test_a_change_is_stated_and_kept_pending_not_run():
    agent, transport, record = asked_to_cancel()
    assert record.answer == "Cancel order 371290: 2 x Sunglasses, $99.98? Say yes to confirm."
    assert record.action == "clarify" and record.reason == "confirm" and cancels(transport) == []
    pending = PendingAction.from_state(record.state)
    assert pending.tool == "cancel_order" and pending.input == {"order_id": "371290", "customer_id": "654321"}
    assert pending.customer_id == "654321" and len(pending.key) == 32


@pytest.mark.parametrize("yes", ["yes", "Yes please", "yeah", "Yes, cancel it."])
def test_a_clear_yes_on_the_next_turn_runs_it_once_with_its_key(yes):
    agent, transport, asked = asked_to_cancel()
    record = agent.run_turn(yes, asked.messages, identity=ME, state=asked.state)
    [payload] = cancels(transport)
    assert payload == {"orderId": "371290", "customerId": "654321",
                       "idempotencyKey": PendingAction.from_state(asked.state).key}
    assert record.answer == "Order 371290 has been cancelled." and record.reason == "confirmed"
    assert "pending" not in record.state and record.model_calls == 0  # the model has no say in the yes


def test_a_retried_yes_sends_the_same_key_and_a_repeated_yes_reports_without_acting():
    agent, transport, asked = asked_to_cancel()
    first = agent.run_turn("yes", asked.messages, identity=ME, state=asked.state)
    retried = agent.run_turn("yes", asked.messages, identity=ME, state=asked.state)  # Lex retried the Lambda
    keys = {p["idempotencyKey"] for p in cancels(transport)}
    assert len(cancels(transport)) == 2 and len(keys) == 1  # the tool's conditional update applies it once
    again = agent.run_turn("yes", asked.messages + first.messages, identity=ME, state=first.state)
    assert len(cancels(transport)) == 2 and again.answer == first.answer and again.reason == "already_done"
    assert retried.answer == first.answer


@pytest.mark.parametrize("text,reason", [("no", "confirmation_declined"), ("No thanks", "confirmation_declined")])
def test_no_drops_it(text, reason):
    agent, transport, asked = asked_to_cancel()
    record = agent.run_turn(text, asked.messages, identity=ME, state=asked.state)
    assert cancels(transport) == [] and record.reason == reason and "haven't changed anything" in record.answer
    assert "pending" not in record.state


def test_a_new_question_drops_it_and_says_so_and_a_later_yes_does_nothing(router):
    agent, transport, asked = asked_to_cancel()
    agent.model = ScriptedModel(calls(("order_inquiry", {"order_id": "371290"})))
    other = agent.run_turn("Where is order 371290?", asked.messages, identity=ME, state=asked.state)
    assert other.answer.startswith("I haven't made that change.") and "pending" not in other.state
    late = agent.run_turn("yes", asked.messages + other.messages, identity=ME, state=other.state)
    assert cancels(transport) == [] and late.reason != "confirmed"


def test_a_yes_after_the_expiry_changes_nothing():
    agent, transport, asked = asked_to_cancel()
    state = dict(asked.state)
    state["pending"] = {**state["pending"], "expires_at": time.time() - 1}
    record = agent.run_turn("yes", asked.messages, identity=ME, state=state)
    assert cancels(transport) == [] and record.reason == "confirmation_expired"


def test_a_yes_from_another_customer_changes_nothing():
    agent, transport, asked = asked_to_cancel()
    agent.model = ScriptedModel(says("How can I help?"))
    record = agent.run_turn("yes", asked.messages, identity={"customer_id": "111111"}, state=asked.state)
    assert cancels(transport) == [] and record.reason != "confirmed"


def test_without_an_identified_customer_the_change_is_refused_and_the_model_asks():
    transport = Transport()
    model = ScriptedModel(calls(("cancel_order", {"order_id": "371290"})), says("Who am I speaking with?"))
    record = Agent(REGISTRY, model, transport).run_turn("cancel order 371290")
    assert transport.calls == [] and "not identified" in str(model.requests[1]["messages"][-1])
    assert "pending" not in record.state


def test_a_model_cannot_name_the_customer():
    transport = Transport()
    model = ScriptedModel(calls(("cancel_order", {"order_id": "371290", "customer_id": "654321"})), says("Sorry."))
    record = Agent(REGISTRY, model, transport).run_turn("cancel order 371290 for customer 654321", identity=ME)
    assert transport.calls == [] and "pending" not in record.state
    assert "customer_id: not allowed" in str(model.requests[1]["messages"][-1])


def test_another_customers_order_is_not_found_and_nothing_is_asked():
    transport = Transport(order={**ORDER, "customerId": "999999"})
    agent, transport, record = asked_to_cancel(transport)
    assert record.answer == "I couldn't find order 371290. Please check the order number and try again."
    assert "pending" not in record.state and "Sunglasses" not in record.answer


def test_a_change_the_tool_refuses_is_explained_in_our_words():
    agent, transport, asked = asked_to_cancel(Transport(cancel_status=409))
    record = agent.run_turn("yes", asked.messages, identity=ME, state=asked.state)
    assert record.answer == "Order 371290 can't be cancelled: it has already shipped." and "Traceback" not in record.answer


def test_one_change_at_a_time():
    transport = Transport()
    model = ScriptedModel(calls(("cancel_order", {"order_id": "371290"}), ("cancel_order", {"order_id": "123456"})))
    record = Agent(REGISTRY, model, transport).run_turn("cancel orders 371290 and 123456", identity=ME)
    assert PendingAction.from_state(record.state).input["order_id"] == "371290" and cancels(transport) == []
