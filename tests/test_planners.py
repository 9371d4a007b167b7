import pytest

from orchestrator.budget import Deadline
from orchestrator.llm import LLMError, LLMTimeout
from orchestrator.llm.scripted import ScriptedLLM
from orchestrator.planners import build_planner
from orchestrator.planners.fewshot import FewShotPlanner, from_settings, parse_tool_name, render_prompt
from orchestrator.planners.router import mask_ids
from orchestrator.registry import DEFAULT_REGISTRY as REGISTRY
from orchestrator.samples import BLOG_CASES
from orchestrator.settings import Settings


def test_prompt_is_rendered_from_the_registry():
    prompt = render_prompt("Where is order 234567?", REGISTRY)
    for tool in REGISTRY:
        assert f"{tool.name}: {tool.description}" in prompt
    assert "no_tool:" in prompt
    assert prompt.endswith("Question: Where is order 234567?\nTool:")
    assert "Question: What is the status of order 123456?\nTool: order_inquiry" in prompt


@pytest.mark.parametrize("output,expected", [
    ("order_inquiry", "order_inquiry"), ("  Returns_Inquiry.", "returns_inquiry"), ("Tool: order_inquiry", "order_inquiry"),
    ('"no_tool"', "no_tool"), ("order_inquiry\nQuestion: next", "order_inquiry"),
    ("delete_order", None), ("order inquiry", None), ("", None), ("I think order_inquiry", None), ("<pad>", None),
])
def test_only_exact_registered_names_count(output, expected):
    assert parse_tool_name(output, REGISTRY) == expected


def _plan(reply, text="Where is order 123456?"):
    llm = ScriptedLLM([reply])
    return FewShotPlanner(llm).plan(text, REGISTRY, Deadline(5)), llm


def test_fewshot_picks_the_named_tool_with_a_greedy_short_call():
    plan, llm = _plan("order_inquiry")
    assert plan.tool == "order_inquiry" and plan.model_calls == 1
    assert llm.calls[0]["max_tokens"] <= 10 and llm.calls[0]["stop"] == ["\n"]
    assert 0 < llm.calls[0]["timeout_s"] <= 5


def test_fewshot_model_naming_a_tool_that_does_not_exist_is_no_tool():
    plan, _ = _plan("refund_everything")
    assert plan.tool is None and plan.reason == "invalid_tool" and plan.error is None


def test_fewshot_garbage_is_no_tool():
    plan, _ = _plan("\u0000\u2603 ### {]")
    assert plan.tool is None and plan.reason == "invalid_tool"


def test_fewshot_no_tool_distinguishes_greetings():
    assert _plan("no_tool", "hello")[0].reason == "greeting"
    assert _plan("no_tool", "weather in Scotland?")[0].reason == "out_of_scope"


@pytest.mark.parametrize("error,reason", [(LLMTimeout("slow"), "model_timeout"), (LLMError("424"), "model_error")])
def test_fewshot_model_failures_are_values(error, reason):
    plan, _ = _plan(error)
    assert plan.tool is None and plan.reason == reason and plan.error


def test_fewshot_needs_a_backend():
    with pytest.raises(ValueError, match="needs an LLM"):
        build_planner("fewshot", Settings(), None)


def test_mask_ids_hides_the_numbers_only():
    assert mask_ids("order 123456 and RTN001, not 1234567", REGISTRY) == "order order and return, not 1234567"


@pytest.mark.parametrize("text,tool", [
    (BLOG_CASES[0], "order_inquiry"), (BLOG_CASES[1], "returns_inquiry"), (BLOG_CASES[2], None),
    (BLOG_CASES[3], "order_inquiry"), (BLOG_CASES[4], "returns_inquiry"),
    ("When will my package for order 222333 arrive?", "order_inquiry"),
    ("has my refund for rtn010 gone through", "returns_inquiry"),
    ("Who is the president of France?", None), ("hello!", None), ("Where is my order?", "order_inquiry"),
])
def test_router_routes_the_blog_cases_and_rejects_off_topic(router, text, tool):
    plan = router.plan(text, REGISTRY, Deadline(5))
    assert plan.tool == tool
    assert plan.model_calls == 0
    if tool:
        assert plan.score >= router.floor


def test_router_floor_turns_weak_matches_into_no_tool(router):
    from orchestrator.planners.router import RouterPlanner

    strict = RouterPlanner(router.embedder, floor=0.99)
    plan = strict.plan("When will my package for order 222333 arrive?", REGISTRY, Deadline(5))
    assert plan.tool is None and plan.reason == "out_of_scope" and plan.score < 0.99


def test_router_model_failure_is_a_value():
    from orchestrator.planners.router import RouterPlanner

    class Broken:
        name = "broken"

        def embed(self, texts):
            raise OSError("weights missing")

    plan = RouterPlanner(Broken()).plan("order 123456", REGISTRY, Deadline(5))
    assert plan.tool is None and plan.reason == "planner_error" and "OSError" in plan.error


def test_a_fixed_prompt_template_replaces_the_rendered_prompt(tmp_path):
    """How the blog's prompt, as published, runs on the same backend as ours (FEWSHOT_PROMPT_FILE)."""
    template = tmp_path / "blog.txt"
    template.write_text("Pick returns_inquiry, order_inquiry or no_tool.\nQuestion: {question}\nTool:")
    llm = ScriptedLLM(["returns_inquiry"])
    planner = from_settings(Settings(planner="fewshot", backend="openai", fewshot_prompt_file=str(template)), llm)
    plan = planner.plan("  Is rtn001 done? ", REGISTRY, Deadline(5))
    assert plan.tool == "returns_inquiry"
    assert llm.prompts == ["Pick returns_inquiry, order_inquiry or no_tool.\nQuestion: Is rtn001 done?\nTool:"]


def test_a_prompt_files_final_newline_is_not_part_of_the_prompt(tmp_path):
    """The shared copy of the blog's prompt ends with a newline its README says was added: only
    that one is dropped, so a prompt that ends in a blank line keeps it."""
    for written, sent in (("Q: {question}\nTool:\n", "Q: x\nTool:"), ("Q: {question}\n\n", "Q: x\n")):
        template = tmp_path / "p.txt"
        template.write_text(written)
        llm = ScriptedLLM(["no_tool"])
        from_settings(Settings(planner="fewshot", backend="openai", fewshot_prompt_file=str(template)), llm).plan(
            "x", REGISTRY, Deadline(5))
        assert llm.prompts == [sent]


@pytest.mark.parametrize("text,message", [("no slot", "found it 0 times"), ("{question} {question}", "found it 2 times")])
def test_a_prompt_template_needs_the_question_slot_once(tmp_path, text, message):
    template = tmp_path / "t.txt"
    template.write_text(text)
    with pytest.raises(ValueError, match=message):
        from_settings(Settings(planner="fewshot", backend="openai", fewshot_prompt_file=str(template)), ScriptedLLM([]))
    with pytest.raises(ValueError, match="cannot read FEWSHOT_PROMPT_FILE"):
        from_settings(Settings(planner="fewshot", backend="openai", fewshot_prompt_file=str(tmp_path / "nope")), ScriptedLLM([]))


# ---- toolcall: a model that answers JSON tool calls (one fine-tuned on `training-data`) ----

from orchestrator.planners.toolcall import ToolCallPlanner, parse_reply  # noqa: E402
from orchestrator.training import system_prompt  # noqa: E402


@pytest.mark.parametrize("text,kind,tool,arguments", [
    ('[{"name": "order_inquiry", "arguments": {"order_id": "123456"}}]', "call", "order_inquiry", {"order_id": "123456"}),
    ('```json\n{"name": "returns_inquiry", "arguments": {"return_id": "rtn001"}}\n```', "call", "returns_inquiry", {"return_id": "rtn001"}),
    ('[{"name": "order_inquiry", "arguments": "123456"}]', "call", "order_inquiry", {}),
    ("Could you tell me your order number?", "question", None, {}),
    ("Sorry, I can only help with orders.", "text", None, {}),
    ('[{"tool": "order_inquiry"}]', "text", None, {}),
    ("", "text", None, {}),
])
def test_parse_reply(text, kind, tool, arguments):
    reply = parse_reply(text)
    assert (reply.kind, reply.tool, reply.arguments) == (kind, tool, arguments)


def test_toolcall_planner_sends_the_training_system_prompt_and_keeps_ids_the_customer_gave():
    llm = ScriptedLLM(['[{"name": "order_inquiry", "arguments": {"order_id": "123456"}}]'])
    plan = ToolCallPlanner(llm).plan("Has order 123456 shipped?", REGISTRY, Deadline(5))
    assert (plan.tool, plan.arguments, plan.model_calls) == ("order_inquiry", {"order_id": "123456"}, 1)
    assert llm.prompts == ["Has order 123456 shipped?"] and llm.calls[0]["system"] == system_prompt(REGISTRY)


@pytest.mark.parametrize("reply,text,tool,arguments,reason", [
    # an id the customer never gave is dropped: the parser then finds none and the agent asks
    ('[{"name": "order_inquiry", "arguments": {"order_id": "654321"}}]', "Where is my order?", "order_inquiry", {}, ""),
    ('[{"name": "delete_account", "arguments": {}}]', "delete me", None, {}, "invalid_tool"),
    ("Could you give me your return id?", "is my refund done", "returns_inquiry", {}, "model_asked"),
    ("Which one do you mean?", "my order and my return", None, {}, "out_of_scope"),
    ("I can only help with orders and returns.", "tell me a joke", None, {}, "out_of_scope"),
    ("Hello! How can I help?", "hi there", None, {}, "greeting"),
])
def test_toolcall_planner_turns_every_reply_into_a_checked_plan(reply, text, tool, arguments, reason):
    plan = ToolCallPlanner(ScriptedLLM([reply])).plan(text, REGISTRY, Deadline(5))
    assert (plan.tool, plan.arguments, plan.reason) == (tool, arguments, reason)


def test_toolcall_planner_failures_are_values():
    assert ToolCallPlanner(ScriptedLLM([LLMTimeout("slow")])).plan("x", REGISTRY, Deadline(5)).reason == "model_timeout"
    assert ToolCallPlanner(ScriptedLLM([LLMError("500")])).plan("x", REGISTRY, Deadline(5)).reason == "model_error"
    with pytest.raises(ValueError, match="needs an LLM"):
        build_planner("toolcall", Settings(), None)


def test_toolcall_agent_never_looks_up_an_id_the_customer_did_not_give():
    from orchestrator.agent import Agent
    from orchestrator.dispatcher import InProcessTransport

    llm = ScriptedLLM(['[{"name": "order_inquiry", "arguments": {"order_id": "123456"}}]'] * 2)
    agent = Agent(REGISTRY, ToolCallPlanner(llm), InProcessTransport())
    asked = agent.run_turn("Where is my order?")
    assert asked.action == "clarify" and asked.tool_calls == 0 and "order number (five or six digits" in asked.answer
    found = agent.run_turn("it's order 123456")
    assert found.action == "tool_call" and "Herbal Handsoap" in found.answer


def test_the_blogs_prompt_runs_as_published_with_its_positional_slot(tmp_path):
    from orchestrator.planners.fewshot import template_renderer

    render = template_renderer('user: "Is my return ret172 done?"\ntool: returns_inquiry\n\nuser input: {}\n')
    assert render("  Where is order 123456? ", None).endswith("user input: Where is order 123456?\n")
    with pytest.raises(ValueError, match="exactly once"):
        template_renderer("no slot here")
