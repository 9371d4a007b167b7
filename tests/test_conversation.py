"""The tool-calling loop with a scripted Converse model: every toolUse runs, guards refuse what they
must, results go back in order, and the conversation is remembered across Lex turns (SQLite, and
DynamoDB under moto)."""
import json

import boto3
import pytest
from moto import mock_aws

from orchestrator import handler
from orchestrator.agent import Agent, model_reply_text
from orchestrator.dispatcher import InProcessTransport
from orchestrator.messages import text_of, tool_results
from orchestrator.models import ANY, choose_tool
from orchestrator.registry import DEFAULT_REGISTRY as REGISTRY
from orchestrator.samples import text_event
from orchestrator.turn import ToolResult
from tests.fakes import ScriptedModel, ScriptedTransport, calls, converse_fixture, results_in, says


def test_every_tool_use_in_a_message_runs_in_order_and_both_sentences_answer():
    message = converse_fixture("bedrock_two_tool_uses")["output"]["message"]
    message["content"][2]["toolUse"]["input"] = {"return_id": "rtn003"}
    model = ScriptedModel(message)
    record = Agent(REGISTRY, model, InProcessTransport()).run_turn(
        "Has order 123456 shipped, and is return rtn003 refunded?")
    assert record.tool_calls == 2 and record.model_calls == 1 and record.fulfilled
    [results_message] = [m for m in record.messages if tool_results(m)]
    ids = [r["toolUseId"] for r in results_in(results_message)]
    assert ids == ["tooluse_kZJMlvQmRJ6eAyJE5GIl7Q", "tooluse_Qa1bNWVSTkq0k8lUQ3cJxw"]
    assert record.answer.startswith("Order 123456 (3 x Herbal Handsoap") and "Return rtn003" in record.answer
    assert "<thinking>" not in record.answer


def test_an_invented_id_is_refused_and_the_model_asks_instead():
    model = ScriptedModel(calls(("order_inquiry", {"order_id": "123456"})),
                          says("Could you tell me your order number?"))
    transport = ScriptedTransport()
    record = Agent(REGISTRY, model, transport).run_turn("Where is my order?")
    assert transport.calls == [] and record.action == "clarify" and record.answer.endswith("?")
    refusal = results_in(model.requests[1]["messages"][-1])[0]
    assert refusal["status"] == "error" and "was not given by the customer" in refusal["content"][0]["text"]


def test_an_unregistered_tool_and_bad_input_are_refused_as_results_not_exceptions():
    model = ScriptedModel(calls(("drop_tables", {}), ("order_inquiry", {"order_id": "12"})), says("Sorry."))
    transport = ScriptedTransport()
    record = Agent(REGISTRY, model, transport).run_turn("order 12")
    results = results_in(model.requests[1]["messages"][-1])
    assert [r["status"] for r in results] == ["error", "error"] and transport.calls == []
    assert "not a tool here" in results[0]["content"][0]["text"] and "does not match" in results[1]["content"][0]["text"]
    assert record.answer == "Sorry." and record.action == "refuse"


def test_a_tool_that_does_not_answer_directly_costs_a_second_model_call(monkeypatch):
    import dataclasses

    quiet = dataclasses.replace(REGISTRY.tools[0], answers_directly=False)
    registry = REGISTRY.with_tools([quiet, REGISTRY.tools[1]])
    model = ScriptedModel(calls(("order_inquiry", {"order_id": "123456"})),
                          says("<thinking>It shipped.</thinking><reply>Your order is on its way with UPS.</reply>"))
    record = Agent(registry, model, ScriptedTransport(ToolResult(200, "Order 123456 shipped.", {"status": "shipped"})),
                   ).run_turn("where is order 123456")
    assert record.model_calls == 2 and record.answer == "Your order is on its way with UPS."
    sent = results_in(model.requests[1]["messages"][-1])[0]
    assert sent["content"][0] == {"json": {"status": "shipped"}}  # the model reads the structured data


def test_model_text_never_shows_its_thinking_or_internals():
    assert model_reply_text(says("<thinking>secret plan</thinking> Hello there.")) == "Hello there."
    assert model_reply_text(says("<reply>Hi</reply> trailing")) == "Hi"
    assert model_reply_text(says("Traceback (most recent call last): arn:aws:x")) == ""


def test_tool_choice_any_and_tool_are_enforced_by_the_agent_when_the_model_ignores_them():
    ignoring = ScriptedModel(says("Hello!"))
    record = Agent(REGISTRY, ignoring, ScriptedTransport(), tool_choice=ANY).run_turn("order 123456")
    assert ignoring.requests[0]["tool_choice"] == ANY and record.reason == "model_error" and not record.fulfilled
    wrong = ScriptedModel(calls(("order_inquiry", {"order_id": "123456"})), says("Sorry."))
    transport = ScriptedTransport()
    Agent(REGISTRY, wrong, transport, tool_choice=choose_tool("returns_inquiry")).run_turn("order 123456 rtn003")
    assert transport.calls == [] and "Only returns_inquiry" in json.dumps(wrong.requests[1]["messages"][-1])


def test_the_embedded_model_honours_a_forced_tool(router):
    agent = Agent(REGISTRY, router, InProcessTransport(), tool_choice=choose_tool("returns_inquiry"))
    record = agent.run_turn("I have a question about rtn003 and my order 123456")
    assert record.tool == "returns_inquiry" and record.arguments == {"return_id": "rtn003"}


# ---- across Lex turns, with memory --------------------------------------------------------------
CONVERSATION = ["I need help with an order", "My order is 123456", "And is return rtn003 done?"]


def _scripted_agent():
    model = ScriptedModel(
        says("Sure. What is your order number?"),
        calls(("order_inquiry", {"order_id": "123456"})),
        calls(("returns_inquiry", {"return_id": "rtn003"})),
    )
    return Agent(REGISTRY, model, InProcessTransport()), model


def _play(texts):
    replies = []
    for text in texts:
        response = handler.lambda_handler(text_event(text), None)
        replies.append((response["sessionState"]["dialogAction"]["type"], response["messages"][0]["content"]))
    return replies


def _check_conversation(replies, model):
    assert replies[0] == ("ElicitIntent", "Sure. What is your order number?")
    assert replies[1][0] == "Close" and "Herbal Handsoap" in replies[1][1]
    assert replies[2][0] == "Close" and replies[2][1].startswith("Return rtn003")
    # The model saw the whole conversation each time: the memory, not the client, carried it.
    third = model.requests[2]["messages"]
    assert [text_of(m) for m in third if m["role"] == "user" and text_of(m)] == CONVERSATION
    assert "Herbal Handsoap" in json.dumps(third)  # the earlier tool result is in the history


def test_a_conversation_through_the_lex_handler_remembers_in_sqlite(local_store):
    agent, model = _scripted_agent()
    handler.set_agent(agent)
    handler.set_store(None)
    try:
        _check_conversation(_play(CONVERSATION), model)
    finally:
        handler.set_agent(None)
        handler.set_store(None)


def test_a_conversation_through_the_lex_handler_remembers_in_dynamodb(local_store, monkeypatch):
    from tests.cfn import load_template

    table = load_template()["Resources"]["ConversationsTable"]["Properties"]
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(TableName="stack-Conversations", BillingMode="PAY_PER_REQUEST",
                            AttributeDefinitions=table["AttributeDefinitions"], KeySchema=table["KeySchema"])
        monkeypatch.setenv("CONVERSATION_STORE", "dynamodb")
        monkeypatch.setenv("CONVERSATION_TABLE", "stack-Conversations")
        agent, model = _scripted_agent()
        handler.set_agent(agent)
        handler.set_store(None)
        try:
            _check_conversation(_play(CONVERSATION), model)
            assert client.scan(TableName="stack-Conversations")["Count"] == 1
        finally:
            handler.set_agent(None)
            handler.set_store(None)


# ---- what a real 1.5B model did on the development conversations (llama.cpp, make llm) ----------
@pytest.mark.parametrize("reply", [
    "The impact of return rtn001 on world peace is significant. It has been a source of tension.",
    "Order 539563 (1 x Herbal Handsoap, $20.97) shipped on 2026-10-10 with UPS.",
    "order_inquiry(order_id='123456')",
])
def test_a_models_words_about_ids_it_never_looked_up_are_not_shown(reply):
    record = Agent(REGISTRY, ScriptedModel(says(reply)), ScriptedTransport()).run_turn("What about rtn001 and 539563?")
    assert record.answer != reply and record.reason == "ungrounded"
    assert record.answer.startswith("Sorry, I can only help")


def test_a_models_summary_of_what_its_tools_returned_is_shown():
    import dataclasses

    quiet = dataclasses.replace(REGISTRY.tools[0], answers_directly=False)
    registry = REGISTRY.with_tools([quiet, REGISTRY.tools[1]])
    model = ScriptedModel(calls(("order_inquiry", {"order_id": "123456"})), says("Order 123456 is on its way with UPS."))
    record = Agent(registry, model, InProcessTransport()).run_turn("where is order 123456")
    assert record.answer == "Order 123456 is on its way with UPS." and record.reason != "ungrounded"
