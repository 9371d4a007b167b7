"""Planners: a turn and the registry in, a ``Plan`` out (one tool with raw arguments, or none).

``router`` (the embedded default: nearest labelled example, no LLM), ``fewshot`` (the blog's
design: an LLM names the tool) and ``toolcall`` (an LLM answers JSON tool calls, as one fine-tuned
on ``training-data`` does) are registered like plug-ins and imported only when chosen. A plan
names a tool as a string; only ``Registry.get`` turns it into something callable, so no planner
can dispatch a tool that is not registered.
"""
from __future__ import annotations

from typing import Any, Callable, Protocol

from ..budget import Deadline
from ..plugins import resolve
from ..registry import Registry
from ..turn import Plan


class Planner(Protocol):
    name: str

    def plan(self, text: str, registry: Registry, deadline: Deadline) -> Plan:
        """Choose a tool for ``text``. Never raises: failures come back as ``Plan(error=...)``."""


# name -> "module:factory"; a factory takes (settings, llm or None) and returns a Planner.
_PLANNERS: dict[str, str | Callable[[Any, Any], Planner]] = {
    "router": "orchestrator.planners.router:from_settings",
    "fewshot": "orchestrator.planners.fewshot:from_settings",
    "toolcall": "orchestrator.planners.toolcall:from_settings",
}


def register_planner(name: str, factory: str | Callable[[Any, Any], Planner]) -> None:
    _PLANNERS[name] = factory


def planner_names() -> list[str]:
    return sorted(_PLANNERS)


def build_planner(name: str, settings: Any, llm: Any = None) -> Planner:
    try:
        factory = _PLANNERS[name]
    except KeyError:
        raise ValueError(f"unknown planner {name!r}; choose one of {', '.join(planner_names())}") from None
    return resolve(factory)(settings, llm)
