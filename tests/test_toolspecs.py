"""Tools the agent has never seen: specs in Converse and OpenAI form, through both planners and the eval."""
import io
import json
from pathlib import Path

import pytest

from orchestrator.agent import Agent
from orchestrator.dispatcher import InProcessTransport
from orchestrator.evaluate import evaluate, parse_case
from orchestrator.llm.scripted import ScriptedLLM
from orchestrator.planners.fewshot import FewShotPlanner, render_prompt
from orchestrator.registry import DEFAULT_REGISTRY
from orchestrator.toolspecs import tool_from_spec

UNSEEN = Path(__file__).resolve().parent.parent / "evals" / "unseen_tools.jsonl"
SCHEMA = {"type": "object", "properties": {"ticket_id": {"type": "string", "description": "The ticket, e.g. T-1234",
                                                         "pattern": "^T-\\d{4}$"},
                                           "note": {"type": "string"}},
          "required": ["ticket_id"]}
CONVERSE = {"toolSpec": {"name": "ticket_status", "description": "Look up a support ticket's status.",
                         "inputSchema": {"json": SCHEMA}}}
OPENAI = {"type": "function", "function": {"name": "ticket_status", "description": "Look up a support ticket's status.",
                                           "parameters": SCHEMA}}


@pytest.mark.parametrize("spec", [CONVERSE, OPENAI, OPENAI["function"]])
def test_both_spec_forms_give_the_same_tool(spec):
    tool = tool_from_spec(spec)
    assert tool.name == "ticket_status" and tool.description == "Look up a support ticket's status."
    assert [p.name for p in tool.parameters] == ["ticket_id"]  # optional "note" is left out
    ticket = tool.parameters[0]
    assert ticket.find_all("is T-1234 closed? not T-12345") == ["T-1234"] and ticket.names_its_tool


def test_properties_without_a_pattern_take_enums_integers_or_any_token_with_a_digit():
    tool = tool_from_spec({"name": "find", "parameters": {"type": "object", "required": ["key", "n", "value"], "properties": {
        "key": {"type": "string", "enum": ["email", "phone"]}, "n": {"type": "integer"}, "value": {"type": "string"}}}})
    key, n, value = tool.parameters
    assert key.find_all("by PHONE please") == ["PHONE"] and n.find_all("top 3") == ["3"]
    assert value.find_all("phone 619-555-3782 or order") == ["619-555-3782"] and not value.names_its_tool


@pytest.mark.parametrize("spec,message", [
    ("x", "must be an object"), ({"toolSpec": {"description": "no name"}}, "needs a name"),
    ({"name": "bad name!"}, "needs a name"), ({"name": "t", "parameters": {"properties": []}}, "JSON Schema object"),
    ({"name": "t", "parameters": {"required": ["a"], "properties": {"a": {"pattern": "("}}}}, "not a valid regex"),
])
def test_bad_specs_say_what_is_wrong(spec, message):
    with pytest.raises(ValueError, match=message):
        tool_from_spec(spec)


@pytest.mark.parametrize("tools,message", [
    ([{"name": "no_tool"}], "reserved name"), ([CONVERSE, OPENAI], "same name"), ([], "non-empty list"),
])
def test_a_line_whose_tools_cannot_form_a_registry_is_skipped_not_fatal(tools, message):
    lines = [json.dumps({"messages": [{"role": "user", "content": "x"}], "expected": {"behavior": "refuse"}, "tools": tools}),
             json.dumps({"messages": [{"role": "user", "content": "hello"}], "expected": {"behavior": "refuse"}})]
    errors = io.StringIO()
    summary = evaluate(Agent(DEFAULT_REGISTRY, FewShotPlanner(ScriptedLLM(["no_tool"])), InProcessTransport()),
                       lines, errors)
    assert errors.getvalue().startswith("line 1: skipped: tools") and message in errors.getvalue()
    assert summary["count"] == 1


def test_bad_tools_on_a_line_are_reported_with_their_index():
    line = {"messages": [{"role": "user", "content": "x"}], "expected": {"behavior": "refuse"}, "tools": [CONVERSE, {"name": 3}]}
    with pytest.raises(ValueError, match=r"tools\[1\]: a tool spec needs a name"):
        parse_case(line, 1)
    line = {"messages": [{"role": "user", "content": "T-1234?"}], "tools": [CONVERSE],
            "expected": {"behavior": "execute", "tool": "order_inquiry", "arguments": {"order_id": "123456"}}}
    with pytest.raises(ValueError, match="not among the line's tools"):
        parse_case(line, 1)


def test_the_few_shot_prompt_renders_the_line_tools_only():
    registry = DEFAULT_REGISTRY.with_tools([tool_from_spec(CONVERSE)], unserved=())
    prompt = render_prompt("is T-1234 closed?", registry)
    assert "ticket_status: Look up a support ticket's status." in prompt
    assert "order_inquiry" not in prompt and "Cancel order" not in prompt


def test_eval_with_the_few_shot_planner_calls_the_unseen_tool_without_running_it():
    llm = ScriptedLLM(["ticket_status", "no_tool"])
    agent = Agent(DEFAULT_REGISTRY, FewShotPlanner(llm), InProcessTransport())
    lines = [json.dumps({"id": "t", "messages": [{"role": "user", "content": "Is ticket T-0042 closed yet?"}], "tools": [OPENAI],
                         "expected": {"behavior": "execute", "tool": "ticket_status", "arguments": {"ticket_id": "T-0042"}}}),
             json.dumps({"id": "o", "messages": [{"role": "user", "content": "Tell me a joke"}], "tools": {"tools": [CONVERSE]},
                         "expected": {"behavior": "refuse"}})]
    output = io.StringIO()
    summary = evaluate(agent, lines, io.StringIO(), output)
    first, second = [json.loads(l) for l in output.getvalue().splitlines()]
    assert first["tool"] == "ticket_status" and first["arguments"] == {"ticket_id": "T-0042"} and first["reward"] == 1.0
    assert second["action"] == "refuse" and summary["mean_reward"] == 1.0
    # Two planner calls and nothing else: no model is asked to judge an answer that was never given.
    assert len(llm.prompts) == 2 and all(p.endswith("\nTool:") for p in llm.prompts)
    assert "ticket_status: Look up" in llm.prompts[0]
    assert agent.registry is DEFAULT_REGISTRY  # the line's tools never leak into the agent


def test_the_router_falls_back_to_descriptions_on_the_unseen_tools_set(local_agent):
    """The aws-samples claude-tools-chatbot specs, asked about with that sample's ids."""
    output = io.StringIO()
    summary = evaluate(local_agent, UNSEEN.read_text().splitlines(), io.StringIO(), output)
    rows = {r["id"]: r for r in map(json.loads, output.getvalue().splitlines())}
    assert rows["unseen-00"]["tool"] == "get_order_by_id" and rows["unseen-00"]["arguments"] == {"order_id": "24601"}
    assert rows["unseen-07"]["arguments"] == {"key": "phone", "value": "510-555-6320"}
    assert rows["unseen-10"]["action"] == "refuse"
    assert summary["count"] == 12 and summary["mean_reward"] >= 0.9 and summary["false_execute_rate"] == 0.0
