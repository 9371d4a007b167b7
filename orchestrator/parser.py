"""The tool parser: turn a plan into a validated call, or say exactly what is missing.

A call is built only from a tool the registry returns and ids that match that tool's regexes;
``ToolCall`` is what the dispatcher accepts, and it re-checks both before anything is invoked.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from .registry import IdParameter, Registry, Tool

_DIGIT_WORDS = {
    "zero": "0", "oh": "0", "one": "1", "two": "2", "three": "3", "four": "4",
    "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9",
}
_DIGIT = r"(?:[0-9]|zero|oh|one|two|three|four|five|six|seven|eight|nine)"
_SPOKEN_RUN = re.compile(rf"\b{_DIGIT}(?:[\s,.-]+{_DIGIT})+\b", re.IGNORECASE)
_SPOKEN_RTN = re.compile(r"\br[\s.]*t[\s.]*n\b\.?\s*(?=[0-9])", re.IGNORECASE)


def normalise_spoken(text: str) -> str:
    """Undo how speech recognition writes ids: "one two three 4 5 6" -> "123456", "r t n 001" -> "rtn001".

    Only runs of three or more digits are joined, so "one of my orders" is left alone.
    """

    def join(match: re.Match[str]) -> str:
        tokens = re.split(r"[\s,.-]+", match.group(0).lower())
        digits = [_DIGIT_WORDS.get(t, t) for t in tokens if t]
        if len(digits) < 3 or not all(d.isascii() and d.isdigit() for d in digits):
            return match.group(0)
        return "".join(digits)

    text = _SPOKEN_RUN.sub(join, text or "")
    return _SPOKEN_RTN.sub("rtn", text)


@dataclass(frozen=True)
class ToolCall:
    """A registered tool with arguments that passed its regexes. Build it with ``parse_call``."""

    tool: Tool
    arguments: Mapping[str, str]

    def is_valid_for(self, registry: Registry) -> bool:
        """The dispatcher's last gate: same tool object in the registry, every id valid."""
        if registry.get(self.tool.name) is not self.tool:
            return False
        if not self.tool.accepts(self.arguments):
            return False
        return all(p.validate(self.arguments[p.name]) == self.arguments[p.name]
                   for p in self.tool.parameters if p.name in self.arguments)


@dataclass
class ParseResult:
    call: ToolCall | None = None
    tool: Tool | None = None  # the planned tool, when it is registered
    missing: list[IdParameter] = field(default_factory=list)
    error: str | None = None  # "unknown_tool" when the plan named something unregistered
    ids_found: int = 0  # how many candidate ids the text held (for the record, not the ids)


def parse_call(planned_tool: str | None, planned_arguments: Mapping[str, Any], text: str, registry: Registry) -> ParseResult:
    """Validate the planned tool and find each id: from the plan's arguments, else the text.

    ``text`` should already have been through ``normalise_spoken`` (the agent does it once).
    """
    tool = registry.get(planned_tool)
    if tool is None:
        return ParseResult(error="unknown_tool")
    arguments: dict[str, str] = {}
    missing: list[IdParameter] = []
    found = 0
    for parameter in tool.model_parameters:
        value = parameter.validate(planned_arguments.get(parameter.name))
        if value is None:
            candidates = parameter.find_all(text)
            found += len(candidates)
            value = candidates[0] if candidates else None
        if value is not None:
            arguments[parameter.name] = value
        elif parameter.required:
            missing.append(parameter)
    if tool.exactly_one:  # one alternative per call: the first found (the planner makes one call per id)
        given = [p for p in tool.model_parameters if p.name in arguments]
        arguments = {given[0].name: arguments[given[0].name]} if given else {}
        missing = [] if given else list(tool.model_parameters)
    if missing:
        return ParseResult(tool=tool, missing=missing, ids_found=found)
    return ParseResult(call=ToolCall(tool, arguments), tool=tool, ids_found=found)
