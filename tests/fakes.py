"""Test doubles shared by every test level: a scripted Converse model and scripted tool transports.

``ScriptedModel`` plays whole assistant messages (text and ``toolUse`` blocks) in order, the way a
real tool-calling model answers, and records what it was asked; an exception in the script is
raised instead. It is registered through the real hook (``register_model("scripted", ...)``), so
settings and the CLI can pick it like a built-in adapter.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable, Mapping

from orchestrator.messages import STOP_END_TURN, STOP_TOOL_USE, assistant, assistant_text, tool_use, tool_uses
from orchestrator.models import ModelResponse, register_model
from orchestrator.turn import ToolResult

CONVERSE_EVENTS = Path(__file__).resolve().parent / "events" / "converse"


def converse_fixture(name: str) -> Any:
    """A shared model message or response from ``tests/events/converse/NAME.json``."""
    return json.loads((CONVERSE_EVENTS / f"{name}.json").read_text(encoding="utf-8"))


def says(text: str) -> dict[str, Any]:
    return assistant_text(text)


def calls(*uses: tuple[str, Mapping[str, Any]], text: str = "") -> dict[str, Any]:
    """An assistant message calling each (name, input), with ids t1, t2, ..."""
    blocks = ([{"text": text}] if text else []) + [tool_use(f"t{i}", n, inp) for i, (n, inp) in enumerate(uses, 1)]
    return assistant(blocks)


class ScriptedModel:
    name = "scripted"

    def __init__(self, *script: Any) -> None:
        self.script = list(script)
        self.requests: list[dict[str, Any]] = []

    def converse(self, messages, *, tools=(), tool_choice=None, system="", inference=None, timeout_s=10.0):
        self.requests.append({"messages": [dict(m) for m in messages], "tools": list(tools),
                              "tool_choice": tool_choice, "system": system, "timeout_s": timeout_s})
        item = self.script.pop(0)
        if isinstance(item, BaseException):
            raise item
        if isinstance(item, ModelResponse):
            return item
        return ModelResponse(item, STOP_TOOL_USE if tool_uses(item) else STOP_END_TURN)


register_model("scripted", lambda settings: ScriptedModel())


class ScriptedTransport:
    """Answers each tool call with the next scripted ``ToolResult`` and records the calls."""

    name = "scripted"

    def __init__(self, *results: ToolResult) -> None:
        self.results = list(results)
        self.calls: list[tuple[str, dict[str, str], float]] = []

    def invoke(self, tool, payload, timeout_s):
        self.calls.append((tool.name, payload, timeout_s))
        return self.results.pop(0)


def results_in(message: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [b["toolResult"] for b in message.get("content", []) if "toolResult" in b]


def texts(messages: Iterable[Mapping[str, Any]]) -> list[str]:
    return [b["text"] for m in messages for b in m.get("content", []) if "text" in b]
