"""Guards: hooks that run before each tool call and may refuse it.

A guard reads the requested call and the conversation and answers None (go on) or a reason the
model can act on. A refused call never reaches a transport: it becomes a ``toolResult`` with
status ``error`` and that reason, and the model (or the embedded router) asks or explains. The
loop runs ``DEFAULT_GUARDS`` in order; a deployment may add its own (``Agent(guards=...)``).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from .messages import Message, customer_texts, result_json, successful_results
from .parser import normalise_spoken
from .registry import Registry, Tool
from .schema import errors as schema_errors


@dataclass
class ToolRequest:
    """One ``toolUse`` the model asked for, with its input normalised as the tool's ids are."""

    tool_use_id: str
    name: str
    input: dict[str, Any]
    tool: Tool | None = None


@dataclass
class GuardContext:
    registry: Registry
    history: Sequence[Message]  # the conversation so far, this turn's messages included
    identity: Mapping[str, Any] | None = None  # the customer the server identified, if any
    _typed: list[str] | None = field(default=None, repr=False)
    _told: str | None = field(default=None, repr=False)

    @property
    def customer_text(self) -> str:
        """Everything the customer typed (or said: spoken digits joined) in this conversation."""
        if self._typed is None:
            self._typed = [normalise_spoken(t) for t in customer_texts(self.history)]
        return "\n".join(self._typed)

    @property
    def told_text(self) -> str:
        """What our own tools returned in this conversation (the customer's order list, say): ids in
        it came from the server, not from a model."""
        if self._told is None:
            data = (result_json(r) for r in successful_results(self.history))
            self._told = "\n".join(json.dumps(d, default=str) for d in data if d)
        return self._told


Guard = Callable[[ToolRequest, GuardContext], "str | None"]


def registered(request: ToolRequest, context: GuardContext) -> str | None:
    if request.tool is None:
        return f"{request.name!r} is not a tool here; the tools are {', '.join(context.registry.names)}."
    return None


def valid_input(request: ToolRequest, context: GuardContext) -> str | None:
    problems = schema_errors(request.tool.json_schema(), request.input) if request.tool else []
    return ("The input is not valid: " + "; ".join(problems[:5]) + ".") if problems else None


def ids_typed_by_the_customer(request: ToolRequest, context: GuardContext) -> str | None:
    """A model never invents an id: each one must appear in what the customer wrote (or, for an
    id that names its tool, in what our tools returned in this conversation: an order from the
    customer's own list)."""
    if request.tool is None:
        return None
    for parameter in request.tool.model_parameters:
        value = request.input.get(parameter.name)
        if not isinstance(value, str) or value in parameter.find_all(context.customer_text):
            continue
        from_our_tools = parameter.names_its_tool and not request.tool.identifies  # never an identifier
        if not (from_our_tools and value in parameter.find_all(context.told_text)):
            return (f"{parameter.name} {value} was not given by the customer in this conversation: "
                    f"ask the customer for {parameter.ask_for or parameter.name}.")
    return None


# A call that passes these and changes data is not run either: the loop states it, keeps it pending
# server-side and runs it only on the customer's yes next turn (``confirm.py``).
DEFAULT_GUARDS: tuple[Guard, ...] = (registered, valid_input, ids_typed_by_the_customer)


def first_refusal(request: ToolRequest, context: GuardContext, guards: Sequence[Guard]) -> tuple[str, str] | None:
    """(guard name, reason) of the first guard that refuses, or None."""
    for guard in guards:
        reason = guard(request, context)
        if reason:
            return getattr(guard, "__name__", "guard"), reason
    return None
