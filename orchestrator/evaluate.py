"""The evaluation harness: labelled conversations in, a reward per line and summary figures out.

Input lines (JSONL), either our format::

    {"id": "...", "messages": [{"role": "user", "content": "..."}],
     "expected": {"behavior": "execute", "tool": "order_inquiry", "arguments": {"order_id": "123456"}}}

or the RLVR format of the SageMaker fine-tuning blog::

    {"prompt": [messages], "reward_model": {"ground_truth": "[{\"name\": ..., \"arguments\": {...}}]"}}

where a JSON list means execute and text means clarify (a question) or refuse; an explicit
``behavior`` field wins. Earlier user messages are played first, carrying the session, so the last
one is judged in its conversation.

A line may bring its own ``tools`` (Converse ``toolSpec`` or OpenAI ``function`` specs, as a list
or as a Converse ``{"tools": [...]}`` tool config): the agent then sees those tools instead of its
registry's, and their calls are recorded, not run.
"""
from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Mapping, TextIO

from .planners.toolcall import parse_reply
from .registry import NO_TOOL, Registry, Tool
from .toolspecs import tool_from_spec
from .turn import ToolResult, TurnRecord

BEHAVIORS = ("execute", "clarify", "refuse")
# What the agent did, as a behaviour: a greeting answered without a tool is a refusal to call one.
ACTION_BEHAVIOR = {"tool_call": "execute", "clarify": "clarify", "refuse": "refuse", "answer": "refuse"}


@dataclass
class Case:
    id: str
    messages: list[str]  # the user's turns, in order; the last is judged
    behavior: str
    tool: str | None = None
    arguments: dict[str, str] = field(default_factory=dict)
    tools: tuple[Tool, ...] | None = None  # the line's own tools, replacing the registry's


def _user_turns(messages: Any) -> list[str]:
    if not isinstance(messages, list) or not messages:
        raise ValueError("messages must be a non-empty list")
    turns = []
    for m in messages:
        if not isinstance(m, Mapping) or not isinstance(m.get("content"), str):
            raise ValueError("each message needs a string content")
        if m.get("role", "user") == "user":
            turns.append(m["content"])
    if not turns:
        raise ValueError("no user message")
    return turns


def _line_tools(specs: Any) -> tuple[Tool, ...] | None:
    if specs is None:
        return None
    if isinstance(specs, Mapping) and "tools" in specs:  # a whole Converse toolConfig
        specs = specs["tools"]
    if not isinstance(specs, list) or not specs:
        raise ValueError("tools must be a non-empty list of tool specs")
    tools = []
    for index, spec in enumerate(specs):
        try:
            tools.append(tool_from_spec(spec))
        except ValueError as exc:
            raise ValueError(f"tools[{index}]: {exc}") from None
    if len({t.name for t in tools}) != len(tools):
        raise ValueError("tools: two specs have the same name")
    if any(t.name == NO_TOOL for t in tools):
        raise ValueError(f"tools: {NO_TOOL!r} is a reserved name")
    return tuple(tools)


def parse_case(obj: Any, number: int) -> Case:
    """One input line as a Case; ValueError says what is wrong with it."""
    if not isinstance(obj, Mapping):
        raise ValueError("a line must be a JSON object")
    case_id = str(obj.get("id", number))
    if "messages" in obj:
        expected = obj.get("expected")
        if not isinstance(expected, Mapping):
            raise ValueError("expected must be an object")
        behavior = expected.get("behavior")
        tool, arguments = expected.get("tool"), expected.get("arguments") or {}
        turns = _user_turns(obj["messages"])
    elif "prompt" in obj:
        turns = _user_turns(obj["prompt"])
        truth = (obj.get("reward_model") or {}).get("ground_truth")
        if not isinstance(truth, str):
            raise ValueError("reward_model.ground_truth must be a string")
        tool, arguments, behavior = None, {}, None
        try:
            calls = json.loads(truth)
        except ValueError:
            calls = None
        if isinstance(calls, list) and calls:
            if not isinstance(calls[0], Mapping):
                raise ValueError("a ground-truth call must be an object with name and arguments")
            behavior = "execute"
            tool, arguments = calls[0].get("name"), calls[0].get("arguments") or {}
        else:
            behavior = "clarify" if truth.rstrip().endswith("?") else "refuse"
        behavior = obj.get("behavior") or (obj.get("reward_model") or {}).get("behavior") or behavior
    else:
        raise ValueError("a line needs 'messages' and 'expected', or 'prompt' and 'reward_model'")
    if behavior not in BEHAVIORS:
        raise ValueError(f"behavior must be one of {', '.join(BEHAVIORS)}, not {behavior!r}")
    if behavior == "execute" and (not isinstance(tool, str) or not isinstance(arguments, Mapping)):
        raise ValueError("execute needs a tool name and an arguments object")
    tools = _line_tools(obj.get("tools"))
    if behavior == "execute" and tools is not None and tool not in {t.name for t in tools}:
        raise ValueError(f"expected tool {tool!r} is not among the line's tools")
    return Case(case_id, turns, behavior, tool, {k: str(v) for k, v in dict(arguments).items()}, tools)


def _normalised(arguments: Mapping[str, Any], tool: Tool | None) -> dict[str, str]:
    out = {}
    for name, value in arguments.items():
        value = str(value)
        parameter = tool.parameter(name) if tool is not None else None
        out[name] = (parameter.validate(value) or value) if parameter else value
    return out


def reward(case: Case, record: TurnRecord, registry: Registry) -> float:
    """The tool-call reward of one turn.

    execute: 1.0 right tool and right arguments (ids compared after the registry's normalisation),
    0.5 right tool with wrong or missing arguments, else 0. clarify: 1.0 for a clarifying turn,
    0 otherwise. refuse: 1.0 for no tool call and no question, 0.5 for a clarifying question,
    0 for a tool call.
    """
    action = record.action
    if case.behavior == "execute":
        if action != "tool_call" or record.tool != case.tool:
            return 0.0
        tool = registry.get(case.tool)
        return 1.0 if _normalised(record.arguments, tool) == _normalised(case.arguments, tool) else 0.5
    if case.behavior == "clarify":
        return 1.0 if action == "clarify" else 0.0
    return {"tool_call": 0.0, "clarify": 0.5}.get(action, 1.0)


_REPLY_ACTION = {"call": "tool_call", "question": "clarify", "text": "answer"}


def record_from_response(text: str) -> TurnRecord:
    """What a model's raw reply did, read as the toolcall planner reads it (``parse_reply``): a
    JSON list of calls is a tool call, a question is a clarifying turn, other text an answer."""
    reply = parse_reply(text)
    return TurnRecord(action=_REPLY_ACTION[reply.kind], tool=reply.tool, arguments=reply.arguments)


def read_cases(lines: Iterable[str], errors: TextIO) -> Iterator[tuple[int, Case]]:
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            print(f"line {number}: skipped: not valid JSON", file=errors)
            continue
        try:
            yield number, parse_case(obj, number)
        except ValueError as exc:
            print(f"line {number}: skipped: {exc}", file=errors)


class NotRunTransport:
    """Stands in for tools that have no handler here: answers 200 without running anything (the
    turn record already holds the tool and its arguments, which is what the eval scores)."""

    name = "not-run"

    def invoke(self, tool: Tool, payload: dict[str, str], timeout_s: float) -> ToolResult:
        return ToolResult(200, f"{tool.name} was called (evaluation: not run).")


def agent_for(agent: Any, case: Case, run_sample_specs: bool = False) -> Any:
    """The agent as this line should see it: over the line's own tools when it brings some.

    Their calls are scored from the turn record, not run, so there is no real answer for a model to judge: the
    interpreter's coverage rule judges the question instead (before the call, as without an LLM). With
    ``run_sample_specs``, a line whose tools are the claude-tools-chatbot sample's specs has them run
    against our store (``sample_specs.SampleSpecTransport``: read-only, its cancel is never run).
    """
    if case.tools is None:
        return agent
    transport: Any = NotRunTransport()
    if run_sample_specs:
        from .sample_specs import SAMPLE_TOOLS, SampleSpecTransport

        if all(tool.name in SAMPLE_TOOLS for tool in case.tools):
            transport = SampleSpecTransport()
    return agent.with_registry(agent.registry.with_tools(case.tools, unserved=()), transport)


def run_case(agent: Any, case: Case) -> TurnRecord:
    """Play the line's user turns as one conversation; the last turn's record is judged."""
    history: list[dict[str, Any]] = []
    record = None
    for text in case.messages:
        record = agent.run_turn(text, history)
        history += record.messages
    assert record is not None
    return record


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(q * len(ordered))) - 1))] if ordered else 0.0


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    by_behavior = {}
    for behavior in BEHAVIORS:
        subset = [r for r in rows if r["expected"] == behavior]
        by_behavior[behavior] = {
            "count": len(subset),
            "mean_reward": round(statistics.fmean(r["reward"] for r in subset), 4) if subset else None,
            "accuracy": round(sum(r["reward"] == 1.0 for r in subset) / len(subset), 4) if subset else None,
        }
    confusion = {e: {a: sum(1 for r in rows if r["expected"] == e and ACTION_BEHAVIOR[r["action"]] == a)
                     for a in BEHAVIORS} for e in BEHAVIORS}
    not_due = [r for r in rows if r["expected"] != "execute"]
    latencies = [r["latency_ms"] for r in rows]
    present = [f["mean_reward"] for f in by_behavior.values() if f["mean_reward"] is not None]
    return {
        "count": len(rows),
        "mean_reward": round(statistics.fmean(r["reward"] for r in rows), 4) if rows else None,
        # The mean of the behaviours' means: a set that is mostly refusals can't flatter an agent
        # that always refuses (it scores 1/3 here, whatever the mix).
        "macro_reward": round(statistics.fmean(present), 4) if present else None,
        "by_behavior": by_behavior,
        "confusion": confusion,
        "false_execute_rate": round(sum(r["action"] == "tool_call" for r in not_due) / len(not_due), 4) if not_due else None,
        "model_calls_per_turn": round(statistics.fmean(r["model_calls"] for r in rows), 4) if rows else None,
        "latency_ms": {"p50": round(_percentile(latencies, 0.5), 3), "p95": round(_percentile(latencies, 0.95), 3)},
    }


def format_report(summary: dict[str, Any]) -> str:
    lines = [f"{'behavior':<10}{'count':>7}{'reward':>9}{'accuracy':>10}"]
    for behavior, figures in summary["by_behavior"].items():
        reward_ = "-" if figures["mean_reward"] is None else f"{figures['mean_reward']:.3f}"
        accuracy = "-" if figures["accuracy"] is None else f"{figures['accuracy']:.3f}"
        lines.append(f"{behavior:<10}{figures['count']:>7}{reward_:>9}{accuracy:>10}")
    lines += ["", "expected \\ actual " + "".join(f"{b:>9}" for b in BEHAVIORS)]
    for expected, row in summary["confusion"].items():
        lines.append(f"{expected:<18}" + "".join(f"{row[b]:>9}" for b in BEHAVIORS))
    lines += [
        "",
        f"lines: {summary['count']}  mean reward: {summary['mean_reward']}  "
        f"mean over behaviours: {summary['macro_reward']}",
        f"false-execute rate: {summary['false_execute_rate']}",
        f"model calls per turn: {summary['model_calls_per_turn']}",
        f"latency per turn: p50 {summary['latency_ms']['p50']} ms, p95 {summary['latency_ms']['p95']} ms",
    ]
    return "\n".join(lines)


def evaluate(agent: Any, lines: Iterable[str], errors: TextIO, output: TextIO | None = None,
             progress: Callable[[int, int], None] | None = None, run_sample_specs: bool = False) -> dict[str, Any]:
    """Score every readable line; ``progress(line number, of lines)`` is called after each."""
    lines = list(lines)
    rows = []
    for number, case in read_cases(lines, errors):
        line_agent = agent_for(agent, case, run_sample_specs)
        record = run_case(line_agent, case)
        row = {"id": case.id, "expected": case.behavior, "action": record.action, "tool": record.tool,
               "arguments": dict(record.arguments), "reward": reward(case, record, line_agent.registry),
               "model_calls": record.model_calls, "latency_ms": record.latency_ms}
        rows.append(row)
        if output is not None:
            output.write(json.dumps({k: v for k, v in row.items() if k != "expected"}) + "\n")
        if progress is not None:
            progress(number, len(lines))
    return summarise(rows)
