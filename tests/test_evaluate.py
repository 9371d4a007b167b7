import io
import json

import pytest

from orchestrator.evaluate import Case, evaluate, parse_case, reward
from orchestrator.registry import DEFAULT_REGISTRY as REGISTRY
from orchestrator.turn import TurnRecord

EXECUTE = Case("e", ["Has order 123456 shipped?"], "execute", "order_inquiry", {"order_id": "123456"})


def rec(action, tool=None, arguments=None):
    return TurnRecord(action=action, tool=tool, arguments=arguments or {})


@pytest.mark.parametrize("record,expected", [
    (rec("tool_call", "order_inquiry", {"order_id": "123456"}), 1.0),
    (rec("tool_call", "order_inquiry", {"order_id": "654321"}), 0.5),
    (rec("tool_call", "order_inquiry", {}), 0.5),
    (rec("tool_call", "returns_inquiry", {"return_id": "rtn001"}), 0.0),
    (rec("clarify", "order_inquiry"), 0.0),
    (rec("refuse"), 0.0),
])
def test_execute_reward_tiers(record, expected):
    assert reward(EXECUTE, record, REGISTRY) == expected


def test_execute_compares_ids_after_normalisation():
    case = Case("r", ["x"], "execute", "returns_inquiry", {"return_id": "RTN003"})
    assert reward(case, rec("tool_call", "returns_inquiry", {"return_id": "rtn003"}), REGISTRY) == 1.0


@pytest.mark.parametrize("behavior,action,expected", [
    ("clarify", "clarify", 1.0), ("clarify", "tool_call", 0.0), ("clarify", "refuse", 0.0),
    ("refuse", "refuse", 1.0), ("refuse", "answer", 1.0), ("refuse", "clarify", 0.5), ("refuse", "tool_call", 0.0),
])
def test_clarify_and_refuse_reward_tiers(behavior, action, expected):
    assert reward(Case("c", ["x"], behavior), rec(action, "order_inquiry" if action == "tool_call" else None), REGISTRY) == expected


def test_rlvr_format():
    truth = json.dumps([{"name": "returns_inquiry", "arguments": {"return_id": "rtn003"}}])
    case = parse_case({"prompt": [{"role": "system", "content": "be nice"}, {"role": "user", "content": "rtn003?"}],
                       "reward_model": {"ground_truth": truth}}, 1)
    assert (case.behavior, case.tool, case.arguments, case.messages) == ("execute", "returns_inquiry", {"return_id": "rtn003"}, ["rtn003?"])
    assert parse_case({"prompt": [{"role": "user", "content": "where is it"}],
                       "reward_model": {"ground_truth": "Could you give me your order number?"}}, 2).behavior == "clarify"
    assert parse_case({"prompt": [{"role": "user", "content": "joke"}],
                       "reward_model": {"ground_truth": "I can only help with orders."}}, 3).behavior == "refuse"
    assert parse_case({"prompt": [{"role": "user", "content": "joke"}], "behavior": "clarify",
                       "reward_model": {"ground_truth": "I can only help with orders."}}, 4).behavior == "clarify"


@pytest.mark.parametrize("obj,message", [
    ([], "JSON object"), ({"messages": [], "expected": {}}, "non-empty"), ({"foo": 1}, "needs"),
    ({"messages": [{"role": "user", "content": "x"}], "expected": {"behavior": "dance"}}, "behavior must be"),
    ({"messages": [{"role": "user", "content": "x"}], "expected": {"behavior": "execute"}}, "tool name"),
    ({"prompt": [{"role": "user", "content": "x"}], "reward_model": {}}, "ground_truth"),
])
def test_bad_lines_say_what_is_wrong(obj, message):
    with pytest.raises(ValueError, match=message):
        parse_case(obj, 1)


def test_evaluate_skips_bad_lines_plays_conversations_and_writes_predictions(local_agent):
    lines = [
        json.dumps({"id": "a", "messages": [{"role": "user", "content": "Has order 123456 shipped?"}],
                    "expected": {"behavior": "execute", "tool": "order_inquiry", "arguments": {"order_id": "123456"}}}),
        "{not json",
        json.dumps({"id": "conv", "messages": [{"role": "user", "content": "Where is my order?"},
                                               {"role": "assistant", "content": "Your order number?"},
                                               {"role": "user", "content": "it's 123456"}],
                    "expected": {"behavior": "execute", "tool": "order_inquiry", "arguments": {"order_id": "123456"}}}),
        json.dumps({"id": "w", "messages": [{"role": "user", "content": "What is the impact of return rtn001 on world peace?"}],
                    "expected": {"behavior": "refuse"}}),
        json.dumps({"id": "c", "messages": [{"role": "user", "content": "Where is my refund?"}], "expected": {"behavior": "clarify"}}),
    ]
    errors, output = io.StringIO(), io.StringIO()
    summary = evaluate(local_agent, lines, errors, output)
    assert errors.getvalue() == "line 2: skipped: not valid JSON\n"
    predictions = [json.loads(l) for l in output.getvalue().splitlines()]
    assert [p["id"] for p in predictions] == ["a", "conv", "w", "c"]
    assert set(predictions[0]) == {"id", "action", "tool", "arguments", "reward", "model_calls", "latency_ms"}
    assert [p["reward"] for p in predictions] == [1.0, 1.0, 1.0, 1.0]
    assert summary["count"] == 4 and summary["false_execute_rate"] == 0.0
    assert summary["confusion"]["execute"]["execute"] == 2 and summary["by_behavior"]["clarify"]["accuracy"] == 1.0


def test_eval_command_prints_the_table_and_ends_with_json(tmp_path, local_store):
    import os
    import subprocess
    import sys

    data = tmp_path / "in.jsonl"
    data.write_text(json.dumps({"prompt": [{"role": "user", "content": "Is my return rtn003 processed?"}],
                                "reward_model": {"ground_truth": json.dumps([{"name": "returns_inquiry",
                                                                              "arguments": {"return_id": "rtn003"}}])}}) + "\n")
    done = subprocess.run([sys.executable, "-m", "orchestrator", "eval", str(data), "--output", str(tmp_path / "p.jsonl")],
                          capture_output=True, text=True, env={**os.environ, "STORE_PATH": str(local_store)}, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "false-execute rate: None" in done.stdout and "execute         1    1.000     1.000" in done.stdout
    assert json.loads(done.stdout.strip().splitlines()[-1])["mean_reward"] == 1.0
    assert json.loads((tmp_path / "p.jsonl").read_text())["reward"] == 1.0
    missing = subprocess.run([sys.executable, "-m", "orchestrator", "eval", str(tmp_path / "nope.jsonl")],
                             capture_output=True, text=True, timeout=120)
    assert missing.returncode == 2 and "cannot read" in missing.stderr


def test_progress_is_reported_by_line_number_for_long_runs(local_agent):
    from orchestrator.cli import Progress

    calls = []
    lines = ["{bad", json.dumps({"messages": [{"role": "user", "content": "hi"}], "expected": {"behavior": "refuse"}}),
             json.dumps({"messages": [{"role": "user", "content": "Has order 123456 shipped?"}], "expected": {"behavior": "clarify"}})]
    evaluate(local_agent, lines, io.StringIO(), progress=lambda done, total: calls.append((done, total)))
    assert calls == [(2, 3), (3, 3)]
    stream = io.StringIO()
    report = Progress(every_s=0, stream=stream)
    report(2, 3)
    assert stream.getvalue().startswith("eval: 2/3 lines, ")
    quiet = Progress(every_s=60, stream=io.StringIO())
    quiet(3, 3)  # a run shorter than the interval prints nothing
    assert quiet.stream.getvalue() == ""
