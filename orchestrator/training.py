"""Training data for fine-tuning a planner with verifiable rewards (RLVR), written from the registry.

    python -m orchestrator training-data --count 2000 --output train.jsonl

Each line is the RLVR format the eval also reads::

    {"id": "...", "data_source": "lex-llm-agent", "ability": "tool_use",
     "prompt": [{"role": "system", "content": <tools and rules>}, {"role": "user", "content": ...}],
     "reward_model": {"style": "rule", "behavior": "execute",
                      "ground_truth": "[{\\"name\\": \\"order_inquiry\\", \\"arguments\\": {\\"order_id\\": \\"123456\\"}}]"},
     "extra_info": {"register": "casual"}}

About 60% execute (a tool example with fresh ids), 25% clarify (a tool example without ids; the
truth is the agent's clarifying question), 15% refuse (off-topic, unserved and greeting
utterances; the truth is the agent's reply), each phrased formal, casual or terse in turn. The
reward is ``evaluate.reward`` on the model's reply (``reward_lambda.py`` serves it to a job), and
the ``toolcall`` planner serves the tuned model with the same system prompt.
"""
from __future__ import annotations

import json
import random
import re
from typing import Any, Iterator

from .registry import Registry, Tool
from .replies import clarify_question, no_tool_reply

SHARES = {"execute": 0.60, "clarify": 0.25, "refuse": 0.15}
REGISTERS = ("formal", "casual", "terse")


def system_prompt(registry: Registry) -> str:
    """The instructions the model is trained under: the registry's tools as JSON Schema."""
    tools = [{"name": t.name, "description": t.description, "parameters": t.json_schema()} for t in registry]
    return (
        "You are the customer support assistant of an online store. Tools:\n"
        + json.dumps(tools, indent=1)
        + "\nIf a tool answers the customer and you have every id it needs, reply with only a JSON list "
        'of calls: [{"name": <tool>, "arguments": {...}}]. If an id is missing, ask for it in one '
        "question. If no tool answers the question, say briefly what you can help with."
    )


def fresh_id(value: str, parameter: Any, rng: random.Random) -> str:
    """Another id of the same shape: each digit redrawn (rtn004 -> rtn731), kept only if valid."""
    candidate = re.sub(r"\d", lambda _: str(rng.randrange(10)), value)
    return parameter.validate(candidate) or value


_FORMAL_OPENINGS = ("Good afternoon. ", "Hello. ", "Excuse me. ", "")
_FORMAL_CLOSINGS = (" Thank you.", " Many thanks in advance.", " I appreciate your help.", "")
_CASUAL_OPENINGS = ("hey ", "hi, ", "yo ", "ok so ", "")
_CASUAL_CLOSINGS = (" pls", " thx", "??", " lol", "")
_FILLER = frozenset("a an the is are was were be been my me i i'd you your can could would will please to of for "
                    "do does did has have had it its this that there what when where which how if like know tell "
                    "want on".split())


def phrase(text: str, register: str, rng: random.Random) -> str:
    """``text`` in a register: formal (polite frame), casual (lower case, chatty), terse (keywords)."""
    core = text.strip()
    if register == "formal":
        sentence = core[0].upper() + core[1:] + ("" if core[-1] in "?.!" else ".")
        return f"{rng.choice(_FORMAL_OPENINGS)}{sentence}{rng.choice(_FORMAL_CLOSINGS)}".strip()
    if register == "casual":
        return f"{rng.choice(_CASUAL_OPENINGS)}{core.lower().rstrip('?.!')}{rng.choice(_CASUAL_CLOSINGS)}".strip()
    words = [w for w in re.findall(r"[\w']+", core) if w.lower() not in _FILLER]
    return " ".join(words[:4] or core.split()[:4])


def _executes(registry: Registry) -> list[tuple[Tool, str, dict[str, str]]]:
    # Only examples whose ids stand in the text as written (not "206-555-0100" for "2065550100").
    return [(t, e.utterance, dict(e.arguments)) for t in registry for e in t.examples
            if e.arguments and all(v in e.utterance for v in e.arguments.values())]


def _clarifies(registry: Registry) -> list[tuple[Tool, str]]:
    # A tool with no ids to ask for (it lists the identified customer's orders) has no clarify line.
    return [(t, e.utterance) for t in registry for e in t.examples if not e.arguments and t.model_parameters]


def generate(registry: Registry, count: int = 1000, seed: int = 0) -> Iterator[dict[str, Any]]:
    """``count`` training lines, the same for the same registry, count and seed."""
    if count < 1:
        raise ValueError("count must be at least 1")
    executes, clarifies = _executes(registry), _clarifies(registry)
    refusals = list(registry.no_tool_examples)
    if not executes or not clarifies or not refusals:
        raise ValueError("the registry needs examples with ids, examples without, and no-tool utterances")
    rng = random.Random(seed)
    system = system_prompt(registry)
    wanted = {b: round(share * count) for b, share in SHARES.items()}
    wanted["refuse"] = count - wanted["execute"] - wanted["clarify"]
    lines = []
    for behavior, n in wanted.items():
        for i in range(n):
            register = REGISTERS[i % len(REGISTERS)]
            if behavior == "execute":
                tool, utterance, arguments = executes[i % len(executes)]
                fresh = {}
                for name, value in arguments.items():
                    fresh[name] = fresh_id(value, tool.parameter(name), rng)
                    utterance = utterance.replace(value, fresh[name])
                text = phrase(utterance, register, rng)
                if not all(tool.parameter(k).find_all(text) for k in fresh):  # terse may drop an id
                    text = f"{text} {' '.join(fresh.values())}"
                truth = json.dumps([{"name": tool.name, "arguments": fresh}])
            elif behavior == "clarify":
                tool, utterance = clarifies[i % len(clarifies)]
                text = phrase(utterance, register, rng)
                truth = clarify_question(tool.noun, tool.model_parameters[0].ask_for)
            else:
                utterance = refusals[i % len(refusals)]
                text = phrase(utterance, register, rng)
                truth = no_tool_reply(utterance)[1]
            lines.append({
                "data_source": "lex-llm-agent",
                "ability": "tool_use",
                "prompt": [{"role": "system", "content": system}, {"role": "user", "content": text}],
                "reward_model": {"style": "rule", "behavior": behavior, "ground_truth": truth},
                "extra_info": {"register": register},
            })
    rng.shuffle(lines)
    for number, line in enumerate(lines):
        yield {"id": f"train-{number:05d}", **line}
