"""Every branch of the loop, with scripted planners, models and tool transports."""
import pytest

from orchestrator.agent import Agent
from orchestrator.budget import Deadline
from orchestrator.dispatcher import InProcessTransport
from orchestrator.interpreter import covers
from orchestrator.llm import LLMTimeout
from orchestrator.llm.scripted import ScriptedLLM
from orchestrator.planners.fewshot import FewShotPlanner
from orchestrator.registry import DEFAULT_REGISTRY as REGISTRY
from orchestrator.replies import OUT_OF_SCOPE_REPLY, TIMEOUT_REPLY
from orchestrator.turn import Plan, ToolResult
from tests.fakes import ScriptedModel, ScriptedTransport, calls


class ScriptedPlanner:
    name = "scripted"

    def __init__(self, *plans):
        self.plans = list(plans)
        self.calls = 0

    def plan(self, text, registry, deadline):
        self.calls += 1
        return self.plans.pop(0)


def fewshot_agent(replies, transport, **kw):
    llm = ScriptedLLM(replies)
    return Agent(REGISTRY, FewShotPlanner(llm), transport, **kw), llm


def test_a_lookup_costs_one_model_call_and_its_sentence_answers_directly():
    transport = ScriptedTransport(ToolResult(200, "Order 123456 shipped."))
    agent, llm = fewshot_agent(["order_inquiry"], transport)
    record = agent.run_turn("Has order 123456 shipped?")
    assert (record.action, record.tool, record.arguments) == ("tool_call", "order_inquiry", {"order_id": "123456"})
    assert record.answer == "Order 123456 shipped." and record.fulfilled
    assert record.model_calls == 1 and record.tool_calls == 1 and record.rounds == 1
    assert transport.calls[0][:2] == ("order_inquiry", {"orderId": "123456"})
    assert [s.name for s in record.steps] == ["model", "tool"]
    roles = [m["role"] for m in record.messages]
    assert roles == ["user", "assistant", "user", "assistant"]  # question, toolUse, toolResult, answer


def test_the_question_is_judged_before_any_call_not_the_tools_sentence():
    transport = ScriptedTransport()
    agent, _ = fewshot_agent(["returns_inquiry"], transport)
    record = agent.run_turn("What is the impact of return rtn001 on world peace?")
    assert record.action == "refuse" and record.reason == "not_relevant" and record.answer == OUT_OF_SCOPE_REPLY
    assert transport.calls == [] and record.model_calls == 1


def test_model_naming_an_unregistered_tool_never_reaches_a_transport():
    transport = ScriptedTransport()
    agent, _ = fewshot_agent(["delete_all_orders"], transport)
    record = agent.run_turn("delete order 123456")
    assert record.action == "refuse" and record.reason == "invalid_tool" and transport.calls == []


def test_planner_plug_in_naming_an_unregistered_tool_is_refused():
    transport = ScriptedTransport()
    agent = Agent(REGISTRY, ScriptedPlanner(Plan("drop_tables", {"order_id": "123456"})), transport)
    record = agent.run_turn("order 123456")
    assert record.reason == "unknown_tool" and record.tool_calls == 0 and transport.calls == []


def test_a_model_error_is_retried_once_then_answers():
    transport = ScriptedTransport(ToolResult(200, "Return rtn003 refunded."))
    agent, _ = fewshot_agent([LLMError("endpoint error ServiceUnavailable"), "returns_inquiry"], transport)
    record = agent.run_turn("Is my return rtn003 processed?")
    assert record.model_calls == 2 and record.answer == "Return rtn003 refunded." and record.fulfilled


def test_a_model_timeout_is_not_retried_the_time_is_gone():
    agent, _ = fewshot_agent([LLMTimeout("slow"), "returns_inquiry"], ScriptedTransport(), max_steps=2)
    record = agent.run_turn("Is my return rtn003 processed?")
    assert record.answer == TIMEOUT_REPLY and not record.fulfilled and record.reason == "model_timeout"
    assert record.model_calls == 1


def test_garbage_from_the_model_is_no_tool():
    agent, _ = fewshot_agent(["%%%%"], ScriptedTransport())
    record = agent.run_turn("order 123456")
    assert record.action == "refuse" and record.tool_calls == 0


def test_tool_failure_is_retried_once_then_apologises():
    transport = ScriptedTransport(ToolResult(504, "", error="timeout"), ToolResult(502, "", error="crash"))
    agent = Agent(REGISTRY, ScriptedPlanner(Plan("order_inquiry")), transport)
    record = agent.run_turn("order 123456")
    assert record.tool_calls == 2 and record.model_calls == 0 and record.rounds == 1
    assert not record.fulfilled and record.reason == "tool_unavailable" and "orders system" in record.answer


def test_tool_failure_then_success():
    transport = ScriptedTransport(ToolResult(500, "down"), ToolResult(200, "Order 123456 shipped."))
    agent = Agent(REGISTRY, ScriptedPlanner(Plan("order_inquiry")), transport)
    record = agent.run_turn("order 123456")
    assert record.answer == "Order 123456 shipped." and record.fulfilled and record.tool_calls == 2


def test_max_steps_bounds_the_model_calls():
    refused = calls(("order_inquiry", {"order_id": "999999"}))  # an id nobody typed: refused each time
    model = ScriptedModel(refused, refused, refused, refused)
    record = Agent(REGISTRY, model, ScriptedTransport(), max_steps=3).run_turn("order 123456")
    assert len(model.requests) == 3 and record.rounds == 3 and record.tool_calls == 0


def test_expired_deadline_answers_without_calling_anything():
    planner = ScriptedPlanner(Plan("order_inquiry"))
    record = Agent(REGISTRY, planner, ScriptedTransport()).run_turn("order 123456", deadline=Deadline(0))
    assert record.answer == TIMEOUT_REPLY and not record.fulfilled and planner.calls == 0


def test_tool_gets_what_is_left_of_the_deadline():
    transport = ScriptedTransport(ToolResult(200, "ok"))
    Agent(REGISTRY, ScriptedPlanner(Plan("order_inquiry")), transport).run_turn("order 123456", deadline=Deadline(3))
    assert 2.5 < transport.calls[0][2] <= 3


def test_missing_id_asks_for_it_and_the_conversation_remembers_the_tool():
    transport = ScriptedTransport(ToolResult(200, "Return rtn003 refunded."))
    planner = ScriptedPlanner(Plan("returns_inquiry"))
    agent = Agent(REGISTRY, planner, transport)
    first = agent.run_turn("where's my refund")
    assert first.action == "clarify" and first.reason == "missing_id" and "return id" in first.answer
    second = agent.run_turn("it's RTN003", first.messages)
    assert second.answer == "Return rtn003 refunded." and planner.calls == 1  # from the history, not re-planned
    assert second.arguments == {"return_id": "rtn003"}


def test_without_a_valid_id_the_next_turn_is_planned_afresh():
    planner = ScriptedPlanner(Plan("order_inquiry"), Plan(None, reason="out_of_scope"))
    agent = Agent(REGISTRY, planner, ScriptedTransport())
    first = agent.run_turn("where is my order")
    second = agent.run_turn("what's the weather", first.messages)
    assert planner.calls == 2 and second.action == "refuse"


def test_empty_input_asks_again():
    record = Agent(REGISTRY, ScriptedPlanner(), ScriptedTransport()).run_turn("   ")
    assert record.action == "clarify" and record.reason == "empty_input"


def test_router_path_refuses_off_topic_questions_before_calling_the_tool():
    transport = ScriptedTransport()
    agent = Agent(REGISTRY, ScriptedPlanner(Plan("returns_inquiry", score=0.7)), transport)
    record = agent.run_turn("What is the impact of return rtn001 on world peace?")
    assert record.reason == "not_relevant" and transport.calls == []


@pytest.mark.parametrize("text,expected", [
    ("What is the impact of return rtn001 on world peace?", False),
    ("Write a funny poem about order 123456", False),
    # Two unknown words among three no longer refuse: the dev set's real look-ups read like this.
    ("I want assistance locating purchase 452353", True),
    ("Could you tell me if order 123456 has shipped?", True),
    ("my parcel for order 123456 never arrived", True),
    ("Has return rtn003 been refunded to my card yet?", True),
    ("order 123456", True),
])
def test_coverage_rule(text, expected):
    assert covers(text, REGISTRY) is expected


def test_hooks_see_every_turn_record():
    seen = []
    agent = Agent(REGISTRY, ScriptedPlanner(Plan(None, reason="out_of_scope")), ScriptedTransport(), hooks=[seen.append])
    record = agent.run_turn("weather?")
    assert seen == [record] and record.latency_ms >= 0


def test_in_process_end_to_end_with_a_scripted_model():
    agent, _ = fewshot_agent(["order_inquiry"], InProcessTransport())
    assert "Herbal Handsoap" in agent.run_turn("Could you tell me if order 123456 has shipped?").answer


# ---- honest failures (issue 8) ---------------------------------------------------------------
from orchestrator.llm import LLMError  # noqa: E402
from orchestrator.replies import INTERNAL_ERROR_REPLY, MODEL_UNAVAILABLE_REPLY  # noqa: E402


@pytest.mark.parametrize("failure", [LLMError("endpoint error ModelError"), LLMError("endpoint error ThrottlingException"),
                                     LLMError("endpoint response unusable: response nested too deeply"),
                                     LLMError("endpoint returned empty text")])
def test_a_model_that_stays_down_is_told_honestly_not_as_out_of_scope(failure):
    agent, llm = fewshot_agent([failure, failure], ScriptedTransport())
    record = agent.run_turn("Could you tell me if order 123456 has shipped?")
    assert record.answer == MODEL_UNAVAILABLE_REPLY and "only help" not in record.answer
    assert not record.fulfilled and record.reason == "model_error" and record.error == f"model_error: {failure}"
    assert record.model_calls == 2 and record.tool_calls == 0


def test_a_slow_failure_is_not_retried_when_a_whole_attempt_no_longer_fits():
    import time as _time

    class SlowFailingLLM:
        name = "slow"
        calls = 0

        def generate(self, prompt, **kw):
            SlowFailingLLM.calls += 1
            _time.sleep(0.3)
            raise LLMError("endpoint error ServiceUnavailable")

    planner = FewShotPlanner(SlowFailingLLM())
    record = Agent(REGISTRY, planner, ScriptedTransport()).run_turn("order 123456", deadline=Deadline(0.5))
    assert SlowFailingLLM.calls == 1 and record.reason == "model_error" and not record.fulfilled


def test_a_tool_error_text_never_reaches_the_customer():
    trace = 'Traceback (most recent call last): File "x.py" arn:aws:dynamodb:us-east-1:1:table/Orders'
    for result in (ToolResult(400, trace), ToolResult(200, trace), ToolResult(500, trace), ToolResult(200, "  ")):
        agent = Agent(REGISTRY, ScriptedPlanner(Plan("order_inquiry"), Plan("order_inquiry")),
                      ScriptedTransport(result, result))
        record = agent.run_turn("order 123456")
        assert "Traceback" not in record.answer and "arn:" not in record.answer
        assert "orders system" in record.answer and not record.fulfilled and record.reason == "tool_unavailable"


def test_a_not_found_is_said_in_our_words_about_the_id_we_validated():
    agent = Agent(REGISTRY, ScriptedPlanner(Plan("order_inquiry")),
                  ScriptedTransport(ToolResult(404, "<script>alert(1)</script> no such thing")))
    record = agent.run_turn("What is the status of order 383833?")
    assert record.answer == "I couldn't find order 383833. Please check the order number and try again."
    assert record.fulfilled and record.reason == "not_found"


def test_a_huge_found_answer_is_cleaned_and_capped():
    body = "Order 123456 shipped.\x00\x1b[31m " + "very " * 100_000
    agent = Agent(REGISTRY, ScriptedPlanner(Plan("order_inquiry")), ScriptedTransport(ToolResult(200, body)))
    record = agent.run_turn("order 123456")
    assert record.answer.startswith("Order 123456 shipped.") and len(record.answer) <= 600
    assert "\x00" not in record.answer and "\x1b" not in record.answer and record.fulfilled


def test_anything_unexpected_is_caught_at_the_turn_with_a_record_that_says_so():
    class Exploding:
        name = "exploding"

        def plan(self, text, registry, deadline):
            raise RecursionError("maximum recursion depth exceeded")

    seen = []
    record = Agent(REGISTRY, Exploding(), ScriptedTransport(), hooks=[seen.append]).run_turn("order 123456")
    assert record.answer == INTERNAL_ERROR_REPLY and not record.fulfilled
    assert (record.reason, record.error) == ("internal_error", "RecursionError") and seen == [record]


def test_a_megabyte_of_text_is_cut_to_lex_input_limit_before_planning():
    seen = []

    class Recording:
        name = "recording"

        def plan(self, text, registry, deadline):
            seen.append(text)
            return Plan(None, reason="out_of_scope")

    Agent(REGISTRY, Recording(), ScriptedTransport()).run_turn("order 123456 " + "x" * 1_000_000)
    assert len(seen[0]) <= 1024 and seen[0].startswith("order 123456")
