"""Real Lex V2 events from lex/events/ through the Lambda handler."""
import json
import logging

import pytest

from orchestrator import lex
from orchestrator.samples import load_event, text_event


def _message(response):
    assert response["sessionState"]["dialogAction"] == {"type": "Close"}
    [message] = response["messages"]
    assert message["contentType"] == "PlainText"
    return message["content"]


class Context:
    def __init__(self, ms):
        self.ms = ms

    def get_remaining_time_in_millis(self):
        return self.ms


def test_text_fallback_is_fulfilled_with_the_order(local_handler):
    response = local_handler.lambda_handler(load_event("fallback_text"), Context(25_000))
    assert "Herbal Handsoap" in _message(response)
    intent = response["sessionState"]["intent"]
    assert intent["name"] == "FallbackIntent" and intent["state"] == "Fulfilled"
    assert intent["confirmationState"] == "None" and intent["slots"] == {}


def test_speech_input_with_spoken_digits(local_handler):
    response = local_handler.lambda_handler(load_event("fallback_speech"), Context(25_000))
    assert "Order 123456" in _message(response)


def test_empty_transcript_asks_again_without_raising(local_handler):
    response = local_handler.lambda_handler(load_event("fallback_empty_transcript"), None)
    assert "didn't catch that" in _message(response)


@pytest.mark.parametrize("event", [{}, None, [], {"inputTranscript": 42, "sessionState": "x"}])
def test_malformed_events_never_raise(local_handler, event):
    response = local_handler.lambda_handler(event, None)
    assert response["sessionState"]["intent"]["name"] == "FallbackIntent"
    assert _message(response)


def test_unknown_fields_are_ignored_and_forged_hints_dropped(local_handler):
    event = load_event("fallback_unknown_fields")
    response = local_handler.lambda_handler(event, None)
    assert _message(response).startswith("Return rtn003")
    attrs = response["sessionState"]["sessionAttributes"]
    assert attrs == {"channel": "web"}  # the client's own attribute kept, the forged hint gone


def test_clarify_round_trip_through_session_attributes(local_handler):
    first = local_handler.lambda_handler(text_event("Where is my order?"), None)
    assert "order number" in _message(first)
    attrs = first["sessionState"]["sessionAttributes"]
    assert attrs["pendingTool"] == "order_inquiry"
    second = local_handler.lambda_handler(load_event("fallback_after_clarify"), None)
    assert "Herbal Handsoap" in _message(second)
    assert second["sessionState"]["sessionAttributes"] == {"channel": "web"}


def test_non_fallback_dialog_hook_is_delegated_back_to_lex(local_handler):
    response = local_handler.lambda_handler(load_event("greeting_dialog_hook"), None)
    assert response["sessionState"]["dialogAction"] == {"type": "Delegate"}
    assert response["sessionState"]["intent"]["name"] == "Greeting"
    assert "messages" not in response


def test_non_fallback_fulfillment_is_still_answered(local_handler):
    event = load_event("greeting_dialog_hook")
    event["invocationSource"] = "FulfillmentCodeHook"
    response = local_handler.lambda_handler(event, None)
    assert response["sessionState"]["intent"]["name"] == "Greeting" and "Hello!" in _message(response)


def test_tool_outage_fails_the_intent_politely(local_handler, monkeypatch):
    from tools import store

    def broken_get(self, table, key):
        raise store.StoreError("disk I/O error")

    monkeypatch.setattr(store.SQLiteStore, "get", broken_get)
    response = local_handler.lambda_handler(load_event("fallback_text"), None)
    assert response["sessionState"]["intent"]["state"] == "Failed"
    assert "try again" in _message(response)


def test_a_crashing_agent_gives_an_apology_not_a_trace(local_handler):
    class Exploding:
        def run_turn(self, *a, **k):
            raise RuntimeError("secret internals")

    local_handler.set_agent(Exploding())
    response = local_handler.lambda_handler(load_event("fallback_text"), None)
    assert response["sessionState"]["intent"]["state"] == "Failed"
    assert "secret" not in _message(response) and "Traceback" not in _message(response)


def test_info_logs_carry_the_record_but_not_the_customer_text(local_handler, caplog):
    event = text_event("Could you tell me if order 123456 has shipped? My name is Jane Roe")
    with caplog.at_level(logging.INFO, logger="orchestrator"):
        local_handler.lambda_handler(event, None)
    [line] = [r.getMessage() for r in caplog.records if r.name == "orchestrator"]
    logged = json.loads(line)
    assert logged["action"] == "tool_call" and logged["tool"] == "order_inquiry"
    assert "Jane" not in line and "Herbal" not in line and "answer" not in logged


def test_session_attribute_view_keeps_strings_only():
    view = lex.LexEvent({"sessionState": {"sessionAttributes": {"a": "1", "b": 2, "c": None}}})
    assert view.session_attributes == {"a": "1"}
    assert view.input_mode == "Text" and view.locale_id == "en_US" and view.transcriptions == []


def test_deadline_follows_the_lambda_clock():
    from orchestrator.budget import Deadline

    assert 2.5 < Deadline.for_lambda(Context(5_000)).remaining() <= 3.0
    assert 27.5 < Deadline.for_lambda(Context(900_000)).remaining() <= 28.0  # Lex waits 30 s at most
    assert 27.5 < Deadline.for_lambda(None).remaining() <= 28.0
