"""Real Lex V2 events from lex/events/ through the Lambda handler."""
import json
import logging

import pytest

from orchestrator import lex
from orchestrator.samples import load_event, text_event


def _message(response, action="Close", content_type="PlainText"):
    if action is not None:
        assert response["sessionState"]["dialogAction"] == {"type": action}
    [message] = response["messages"]
    assert message["contentType"] == content_type
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


def test_speech_input_with_spoken_digits_is_answered_for_the_ear(local_handler):
    response = local_handler.lambda_handler(load_event("fallback_speech"), Context(25_000))
    ssml = _message(response, content_type="SSML")
    assert ssml.startswith("<speak>Order <say-as interpret-as=\"digits\">123456</say-as>")
    assert "1Z30824628194821" not in ssml and "tracking number is in your shipping confirmation" in ssml


def test_empty_transcript_asks_again_without_raising(local_handler):
    response = local_handler.lambda_handler(load_event("fallback_empty_transcript"), None)
    assert "didn't catch that" in _message(response, "ElicitIntent")


@pytest.mark.parametrize("event", [{}, None, [], {"inputTranscript": 42, "sessionState": "x"}])
def test_malformed_events_never_raise(local_handler, event):
    response = local_handler.lambda_handler(event, None)
    assert "didn't catch that" in _message(response, "ElicitIntent")  # no text: asked again, listening


def test_unknown_fields_are_ignored_and_client_attributes_are_only_echoed(local_handler):
    event = load_event("fallback_unknown_fields")
    response = local_handler.lambda_handler(event, None)
    assert _message(response).startswith("Return rtn003")
    attrs = response["sessionState"]["sessionAttributes"]
    # The client's own attributes come back as they were; none of them steers the agent.
    assert attrs == {"pendingTool": "delete_everything", "channel": "web"}


def test_clarify_then_id_is_remembered_server_side_not_in_session_attributes(local_handler):
    first = local_handler.lambda_handler(text_event("Where is my order?"), None)
    assert "order number" in _message(first, "ElicitIntent")  # a question keeps Lex listening
    assert "intent" not in first["sessionState"] and first["sessionState"]["sessionAttributes"] == {}
    follow_up = load_event("fallback_after_clarify")  # same Lex session; its pendingTool hint is the client's
    follow_up["sessionState"]["sessionAttributes"] = {"channel": "web"}
    second = local_handler.lambda_handler(follow_up, None)
    assert "Herbal Handsoap" in _message(second)
    assert second["sessionState"]["sessionAttributes"] == {"channel": "web"}


def test_each_session_has_its_own_memory_read_once_and_written_once(local_handler):
    from orchestrator.memory import conversation_key
    from orchestrator.messages import texts_of_role

    first = text_event("Where is my order?")
    local_handler.lambda_handler(first, None)
    other = text_event("Is my return rtn003 processed?")
    other["sessionId"] = "another-session"
    local_handler.lambda_handler(other, None)
    store = local_handler.get_store()
    bot = first["bot"]
    mine = store.load(conversation_key(first["sessionId"], bot["id"], bot["aliasId"], bot["localeId"]))
    theirs = store.load(conversation_key("another-session", bot["id"], bot["aliasId"], bot["localeId"]))
    assert texts_of_role(mine.messages, "user") == ["Where is my order?"] and mine.version == 1
    assert texts_of_role(theirs.messages, "user") == ["Is my return rtn003 processed?"]


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


# ---- the channel contract under hostile events (issue 8) --------------------------------------
def test_client_attributes_are_echoed_only_within_the_documented_cap(local_handler):
    attributes = {"channel": "web", "huge": "x" * 1_000_000, "n": 5, "pendingTool": "drop_tables"}
    attributes.update({f"k{i}": "v" for i in range(500)})
    event = text_event("Could you tell me if order 123456 has shipped?")
    event["sessionState"]["sessionAttributes"] = attributes
    response = local_handler.lambda_handler(event, None)
    echoed = response["sessionState"]["sessionAttributes"]
    assert echoed["channel"] == "web" and "huge" not in echoed and "n" not in echoed
    assert echoed.get("pendingTool") == "drop_tables"  # the client's own: echoed, never acted on
    assert len(echoed) <= lex.MAX_ATTRIBUTES
    assert sum(len(k) + len(v) for k, v in echoed.items()) <= lex.MAX_ATTRIBUTES_TOTAL


def test_malformed_intent_fields_are_never_copied_back(local_handler):
    event = text_event("Could you tell me if order 123456 has shipped?")
    event["sessionState"]["intent"].update({"confirmationState": None, "slots": "x", "state": "Bogus", "name": 42})
    intent = local_handler.lambda_handler(event, None)["sessionState"]["intent"]
    assert intent == {"name": "FallbackIntent", "state": "Fulfilled", "confirmationState": "None"}


def test_a_bogus_state_on_another_intents_dialog_hook_is_delegated_as_in_progress(local_handler):
    event = load_event("greeting_dialog_hook")
    event["sessionState"]["intent"]["state"] = "Bogus"
    intent = local_handler.lambda_handler(event, None)["sessionState"]["intent"]
    assert intent["name"] == "Greeting" and intent["state"] == "InProgress"


def test_one_metric_line_per_turn_with_a_correlation_id_and_no_customer_text(local_handler, caplog, capsys, monkeypatch):
    monkeypatch.setenv("EMIT_METRICS", "true")
    event = text_event("Could you tell me if order 123456 has shipped? My name is Jane Roe")
    event["sessionId"] = "session-42"
    with caplog.at_level(logging.INFO, logger="orchestrator"):
        local_handler.lambda_handler(event, None)
    [line] = capsys.readouterr().out.splitlines()
    emf = json.loads(line)
    [directive] = emf["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "LexLlmAgent" and directive["Dimensions"] == [[], ["Action"]]
    assert {m["Name"] for m in directive["Metrics"]} == {"Latency", "ModelCalls", "ToolCalls", "Failed"}
    assert (emf["Action"], emf["ToolCalls"], emf["Failed"], emf["reason"]) == ("tool_call", 1, 0, "found")
    [logged] = [json.loads(r.getMessage()) for r in caplog.records if r.name == "orchestrator"]
    assert logged["correlationId"] == emf["correlationId"] != "session-42"
    assert len(emf["correlationId"]) == 16 and "Jane" not in line and "123456" not in line


def test_metrics_stay_off_the_terminal_outside_lambda(local_handler, capsys, monkeypatch):
    monkeypatch.delenv("EMIT_METRICS", raising=False)
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    local_handler.lambda_handler(text_event("hello"), None)
    assert capsys.readouterr().out == ""
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "orchestrator")
    local_handler.lambda_handler(text_event("hello"), None)
    assert '"_aws"' in capsys.readouterr().out


def test_an_agent_that_cannot_be_built_still_answers_and_logs_a_record(local_handler, caplog, monkeypatch):
    local_handler.set_agent(None)
    monkeypatch.setenv("AGENT_PLANNER", "fewshot")  # without an LLM: a settings error at build time
    with caplog.at_level(logging.INFO, logger="orchestrator"):
        response = local_handler.lambda_handler(load_event("fallback_text"), None)
    assert response["sessionState"]["intent"]["state"] == "Failed" and "try again" in _message(response)
    turn = [json.loads(r.getMessage()) for r in caplog.records if '"turn"' in r.getMessage()]
    assert turn and turn[0]["reason"] == "internal_error" and turn[0]["error"] == "SettingsError"


def test_botocore_never_logs_payloads_whatever_the_log_level():
    import importlib

    import orchestrator.handler as handler_module

    logging.getLogger("botocore").setLevel(logging.DEBUG)
    importlib.reload(handler_module)
    for name in ("botocore", "boto3", "urllib3"):
        assert logging.getLogger(name).getEffectiveLevel() >= logging.WARNING
