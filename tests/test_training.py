"""Fine-tuning data from the registry, and the reward as a training job's reward Lambda calls it."""
import json
import subprocess
import sys
from collections import Counter

import pytest

from orchestrator.evaluate import parse_case
from orchestrator.registry import DEFAULT_REGISTRY as REGISTRY
from orchestrator.reward_lambda import lambda_handler, score
from orchestrator.training import generate, phrase, system_prompt


def test_shares_registers_and_reproducibility():
    lines = list(generate(REGISTRY, 200, seed=7))
    assert Counter(l["reward_model"]["behavior"] for l in lines) == {"execute": 120, "clarify": 50, "refuse": 30}
    assert Counter(l["extra_info"]["register"] for l in lines) == {"formal": 67, "casual": 67, "terse": 66}
    assert lines == list(generate(REGISTRY, 200, seed=7)) and lines != list(generate(REGISTRY, 200, seed=8))
    assert len({l["id"] for l in lines}) == 200


def test_every_line_reads_back_as_its_behavior_with_valid_ids_in_the_text():
    for number, line in enumerate(generate(REGISTRY, 300, seed=1)):
        case = parse_case(line, number)
        assert case.behavior == line["reward_model"]["behavior"]
        assert line["prompt"][0] == {"role": "system", "content": system_prompt(REGISTRY)}
        text = line["prompt"][1]["content"]
        if case.behavior == "execute":
            tool = REGISTRY.get(case.tool)
            for name, value in case.arguments.items():
                assert tool.parameter(name).find_all(text) == [value]
        else:  # the text-only truths say which by their form too: a question, or not
            assert line["reward_model"]["ground_truth"].endswith("?") is (case.behavior == "clarify")


def test_registers_look_different():
    import random
    rng = random.Random(0)
    assert phrase("Where is my order 123456?", "terse", rng) == "order 123456"
    casual = phrase("Where is my order 123456?", "casual", rng)
    assert casual == casual.lower() and "where is my order 123456" in casual
    formal = phrase("where is my order 123456", "formal", rng)
    assert "Where is my order 123456." in formal


def _sample(reply, truth, **extra):
    return {"id": "s1", "messages": [{"role": "system", "content": "tools..."},
                                     {"role": "user", "content": "Is return RTN003 processed?"},
                                     {"role": "assistant", "content": reply}], **truth, **extra}


EXECUTE = {"reference_answer": {"ground_truth": json.dumps([{"name": "returns_inquiry", "arguments": {"return_id": "rtn003"}}])}}


@pytest.mark.parametrize("reply,expected", [
    ('[{"name": "returns_inquiry", "arguments": {"return_id": "RTN003"}}]', 1.0),  # ids compared normalised
    ('```json\n[{"name": "returns_inquiry", "arguments": {"return_id": "rtn003"}}]\n```', 1.0),
    ('{"name": "returns_inquiry", "arguments": {"return_id": "rtn004"}}', 0.5),
    ('[{"name": "order_inquiry", "arguments": {"order_id": "123456"}}]', 0.0),
    ("Could you tell me your return id?", 0.0),
    ("Your return was processed.", 0.0),
])
def test_reward_lambda_scores_replies_to_an_execute_line(reply, expected):
    result = score(_sample(reply, EXECUTE))
    assert result["id"] == "s1" and result["aggregate_reward_score"] == expected
    assert result["metrics_list"][0] == {"name": "tool_call_reward", "value": expected, "type": "Reward"}


def test_reward_lambda_reads_string_references_rlvr_lines_and_batches():
    refuse = {"reference_answer": "Sorry, I can only help with orders and returns."}
    in_metadata = {"metadata": {"reference_answer": EXECUTE["reference_answer"], "my_key": "s"}}
    assert score(_sample('[{"name": "returns_inquiry", "arguments": {"return_id": "rtn003"}}]', in_metadata))[
        "aggregate_reward_score"] == 1.0
    clarify_line = next(l for l in generate(REGISTRY, 20) if l["reward_model"]["behavior"] == "clarify")
    as_sent = {**clarify_line, "messages": clarify_line["prompt"] + [{"role": "assistant", "content": "Which order number?"}]}
    results = lambda_handler([_sample("I can't help with that.", refuse),
                              _sample("What is your order number?", refuse),
                              _sample('[{"name": "order_inquiry", "arguments": {}}]', refuse),
                              as_sent])
    assert [r["aggregate_reward_score"] for r in results] == [1.0, 0.5, 0.0, 1.0]
    assert results[1]["metrics_list"][1] == {"name": "behavior_match", "value": 0.0, "type": "Metric"}


@pytest.mark.parametrize("sample", [
    "text", {"id": "x"}, {"id": "x", "messages": [{"role": "user", "content": "hi"}], "reference_answer": "a"},
    _sample("ok", {}), _sample("ok", {"reference_answer": {"ground_truth": "[1]"}}),
])
def test_unreadable_samples_score_zero_without_raising(sample):
    result = lambda_handler(sample)
    assert result["aggregate_reward_score"] == 0.0 and result["metrics_list"][0]["name"] == "unreadable"


def test_reward_lambda_handles_unseen_tools_in_the_sample():
    spec = {"toolSpec": {"name": "cancel_order", "description": "Cancel an order.",
                         "inputSchema": {"json": {"type": "object", "properties": {"order_id": {"type": "string"}},
                                                  "required": ["order_id"]}}}}
    truth = {"reference_answer": json.dumps([{"name": "cancel_order", "arguments": {"order_id": "24601"}}])}
    assert score(_sample('[{"name": "cancel_order", "arguments": {"order_id": "24601"}}]', truth, tools=[spec]))[
        "aggregate_reward_score"] == 1.0


def test_training_data_command_writes_jsonl(tmp_path):
    out = tmp_path / "train.jsonl"
    done = subprocess.run([sys.executable, "-m", "orchestrator", "training-data", "--count", "20", "--output", str(out)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "wrote 20 lines (execute 12, clarify 5, refuse 3)" in done.stderr
    assert [json.loads(l)["id"] for l in out.read_text().splitlines()] == [f"train-{n:05d}" for n in range(20)]
    bad = subprocess.run([sys.executable, "-m", "orchestrator", "training-data", "--count", "0"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "count must be at least 1" in bad.stderr
