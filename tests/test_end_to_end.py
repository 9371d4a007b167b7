"""What `make demo` shows, asserted: the local defaults through the Lex handler and the CLI."""
import json
import subprocess
import sys

import pytest

from orchestrator.samples import BLOG_CASES, text_event


def ask(handler, text, attributes=None):
    response = handler.lambda_handler(text_event(text, attributes), None)
    return response["messages"][0]["content"], response["sessionState"]


def test_blog_case_order_123456_names_the_product(local_handler):
    answer, state = ask(local_handler, BLOG_CASES[0])
    assert "Herbal Handsoap" in answer and "shipped" in answer and state["intent"]["state"] == "Fulfilled"


def test_blog_case_return_rtn003_gives_its_status(local_handler):
    answer, _ = ask(local_handler, BLOG_CASES[1])
    assert answer.startswith("Return rtn003") and "refunded" in answer


def test_blog_case_weather_gets_the_default_reply(local_handler):
    answer, _ = ask(local_handler, BLOG_CASES[2])
    assert "only help with orders and returns" in answer


@pytest.mark.parametrize("text,noun,ident", [(BLOG_CASES[3], "order", "383833"), (BLOG_CASES[4], "return", "rtn123")])
def test_blog_cases_not_found(local_handler, text, noun, ident):
    answer, _ = ask(local_handler, text)
    assert f"couldn't find {noun} {ident}" in answer


def test_blog_case_world_peace_is_not_answered_with_a_status(local_handler):
    answer, _ = ask(local_handler, BLOG_CASES[5])
    assert "rtn001" not in answer and "received" not in answer
    assert "only help with orders and returns" in answer


@pytest.mark.parametrize("text", [
    "Write a poem about order 123456",  # the router's out-of-scope examples catch what the rule lets by
    "I want to change the shipping address on order 123456",
])
def test_requests_no_tool_serves_get_no_look_up(local_handler, text):
    answer, state = ask(local_handler, text)
    assert "Herbal Handsoap" not in answer and "only help with orders and returns" in answer


def test_a_stranger_asking_to_cancel_gets_no_look_up_and_no_change(local_handler):
    # A status look-up would not do what was asked, and a cancellation needs a known customer.
    answer, state = ask(local_handler, "Cancel order 123456")
    assert "Herbal Handsoap" not in answer and "has been cancelled" not in answer


def test_greeting_gets_the_friendly_reply(local_handler):
    answer, _ = ask(local_handler, "Hi there!")
    assert answer.startswith("Hello!")


def test_clarify_then_id_conversation(local_handler):
    answer, state = ask(local_handler, "Where is my order?")
    assert "order number" in answer
    answer, state = ask(local_handler, "it's 123456", state["sessionAttributes"])
    assert "Herbal Handsoap" in answer and "pendingTool" not in state["sessionAttributes"]


def test_clarify_for_a_return_then_the_id(local_handler):
    answer, state = ask(local_handler, "Has my return been processed?")
    assert "return id" in answer
    answer, _ = ask(local_handler, "RTN001", state["sessionAttributes"])
    assert answer.startswith("Return rtn001")


def _cli(*args, env_path):
    import os

    env = {**os.environ, "STORE_PATH": str(env_path)}
    return subprocess.run([sys.executable, "-m", "orchestrator", *args], capture_output=True, text=True, env=env,
                          timeout=120)


def test_cli_ask_with_trace(local_store):
    done = _cli("ask", "--trace", "Is", "my", "return", "rtn003", "processed?", env_path=local_store)
    assert done.returncode == 0, done.stderr
    answer, trace = done.stdout.split("\n", 1)
    assert answer.startswith("Return rtn003")
    record = json.loads(trace)
    assert record["action"] == "tool_call" and record["arguments"] == {"return_id": "rtn003"}
    assert record["planner"] == "embedded" and record["tool_calls"] == 1


def test_cli_demo_prints_every_case(local_store):
    done = _cli("demo", env_path=local_store)
    assert done.returncode == 0, done.stderr
    for case in BLOG_CASES:
        assert f"Q: {case}" in done.stdout
    assert done.stdout.count("A: ") == len(BLOG_CASES) + 2
    assert "INFO" not in done.stdout + done.stderr


def test_cli_bad_settings_are_clear_errors(local_store):
    done = _cli("ask", "--planner", "fewshot", "hi", env_path=local_store)
    assert done.returncode == 2 and "needs an LLM" in done.stderr and "Traceback" not in done.stderr


def test_cli_chat_keeps_the_session(local_store):
    import os

    done = subprocess.run([sys.executable, "-m", "orchestrator", "chat"], input="where is my order?\n123456\nquit\n",
                          capture_output=True, text=True, env={**os.environ, "STORE_PATH": str(local_store)}, timeout=120)
    assert done.returncode == 0
    assert "order number" in done.stdout and "Herbal Handsoap" in done.stdout
