"""A planner for models that answer with tool calls, such as one fine-tuned on ``training-data``.

The model gets the same system prompt the training lines carry (the registry's tools as JSON
Schema, and the rules) and the customer's turn; it answers a JSON list of ``{"name",
"arguments"}``, a question when an id is missing, or a short refusal. The model's words never
reach the customer: a call becomes a plan the parser checks, a question becomes the agent's own
clarifying question, anything else the agent's own reply.

An id the model gives is kept only if the customer's text holds it: a model must not look up an
order nobody asked about (a guessed or leaked id that happens to match the pattern).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from ..budget import Deadline
from ..llm import LLM, LLMError, LLMTimeout
from ..registry import Registry, Tool
from ..replies import no_tool_reply
from ..training import system_prompt
from ..turn import Plan

MAX_TOKENS = 120
MAX_REPLY_CHARS = 4096


def _unfenced(text: str) -> str:
    """The reply without a surrounding ```json fence (string operations: no regex backtracking)."""
    text = text.strip()
    if text.startswith("```"):
        text = text[3:]
        text = text[4:] if text[:4].lower() == "json" else text
        text = text.strip()
        if text.endswith("```"):
            text = text[:-3].rstrip()
    return text


@dataclass
class Reply:
    """What a model's reply does: ``call`` a tool, ask a ``question``, or answer with ``text``."""

    kind: str
    tool: str | None = None
    arguments: dict[str, Any] = field(default_factory=dict)


def parse_reply(text: str) -> Reply:
    """A JSON list (or object) of ``{"name", "arguments"}`` is a call (the first one counts), even in
    a code fence; a reply ending in a question mark is a question; anything else is text."""
    stripped = _unfenced((text or "")[:MAX_REPLY_CHARS])
    try:
        calls = json.loads(stripped)
    except (ValueError, RecursionError):  # deep nesting is no call either
        calls = None
    if isinstance(calls, Mapping):
        calls = [calls]
    if isinstance(calls, list) and calls and isinstance(calls[0], Mapping) and isinstance(calls[0].get("name"), str):
        arguments = calls[0].get("arguments")
        return Reply("call", calls[0]["name"], dict(arguments) if isinstance(arguments, Mapping) else {})
    return Reply("question" if stripped.endswith("?") else "text")


def _mentioned(text: str, registry: Registry) -> list[Tool]:
    return [t for t in registry if re.search(rf"\b{re.escape(t.noun)}s?\b", text, re.IGNORECASE)]


def _asked_about(question: str, text: str, registry: Registry) -> Tool | None:
    """The one tool the model's question (else the customer's text) is about, if it is clear."""
    for source in (question, text):
        tools = _mentioned(source, registry)
        if len(tools) == 1:
            return tools[0]
    return None


def _ids_in_text(tool: Tool, arguments: Mapping[str, Any], text: str) -> dict[str, str]:
    kept = {}
    for parameter in tool.model_parameters:
        value = parameter.validate(arguments.get(parameter.name))
        if value is not None and value in parameter.find_all(text):
            kept[parameter.name] = value
    return kept


class ToolCallPlanner:
    name = "toolcall"

    def __init__(self, llm: LLM) -> None:
        self.llm = llm

    def plan(self, text: str, registry: Registry, deadline: Deadline) -> Plan:
        try:
            output = self.llm.generate(text.strip(), system=system_prompt(registry), max_tokens=MAX_TOKENS,
                                       timeout_s=deadline.remaining())
        except LLMTimeout as exc:
            return Plan(None, reason="model_timeout", error=f"timeout: {exc}", model_calls=1)
        except LLMError as exc:
            return Plan(None, reason="model_error", error=f"model_error: {exc}", model_calls=1)
        reply = parse_reply(output)
        if reply.kind == "call":
            tool = registry.get(reply.tool)
            if tool is None:
                return Plan(None, reason="invalid_tool", model_output=output, model_calls=1)
            return Plan(tool.name, _ids_in_text(tool, reply.arguments, text), model_output=output, model_calls=1)
        if reply.kind == "question":
            tool = _asked_about(output, text, registry)
            if tool is not None:  # the parser finds no id and the agent asks, in its own words
                return Plan(tool.name, reason="model_asked", model_output=output, model_calls=1)
        reason, _ = no_tool_reply(text)
        return Plan(None, reason=reason, model_output=output, model_calls=1)


def from_settings(settings: Any, llm: LLM | None) -> ToolCallPlanner:
    if llm is None:
        raise ValueError("the toolcall planner needs an LLM backend (--backend sagemaker|openai)")
    return ToolCallPlanner(llm)
