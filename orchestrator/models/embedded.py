"""Planners as models: the embedded router (no LLM) and the blog's text2text design emit ``toolUse``.

A planner picks one tool for the customer's words; this adapter turns that choice into a Converse
assistant message, so the loop treats it like any tool-calling model. It reads the conversation
as its memory: when the agent's previous message asked for a tool's id ("Could you please tell me
your six-digit order number?") and this turn holds a valid one, the call goes to that tool. The ids
come from the regex id parser over the customer's own words, so this model never invents one. It
writes only the agent's own sentences (greeting, scope, clarifying question); a found answer is
the tool's sentence, which the loop gives directly.
"""
from __future__ import annotations

import re
from typing import Any, Mapping, Sequence

from ..budget import Deadline
from ..interpreter import covers
from ..messages import (STOP_END_TURN, STOP_TOOL_USE, Message, assistant, assistant_text, last_user_text,
                        new_tool_use_id, result_text, text_of, tool_results, tool_use, tool_uses)
from ..parser import normalise_spoken, parse_call
from ..planners import Planner
from ..registry import Registry
from ..replies import EMPTY_INPUT_REPLY, OUT_OF_SCOPE_REPLY, clarify_question, no_tool_reply
from . import Inference, ModelError, ModelResponse, ModelTimeout, forced_tool

PLANNER_FAILURES = {"model_timeout": ModelTimeout, "model_error": ModelError, "planner_error": ModelError}


# A follow-up that points back at what was just discussed ("Was it cancelled?", "that order").
_REFERS_BACK = re.compile(r"\b(it|its|it's|that|this|same|the order|the return)\b", re.IGNORECASE)


def earlier_input(history: Sequence[Message], tool_name: str) -> dict[str, Any] | None:
    """The input of the latest call of ``tool_name`` in the conversation, if there was one."""
    for message in reversed(history):
        if message.get("role") == "assistant":
            for use in reversed(tool_uses(message)):
                if use.get("name") == tool_name and isinstance(use.get("input"), Mapping) and use["input"]:
                    return dict(use["input"])
    return None


def pending_tool(history: Sequence[Message], registry: Registry) -> str | None:
    """The tool whose id the agent's last message asked for, if it asked for one."""
    previous = next((m for m in reversed(history[:-1]) if m.get("role") == "assistant"), None)
    asked = text_of(previous)
    for tool in registry:
        if any(asked == clarify_question(tool.noun, p.ask_for) for p in tool.model_parameters):
            return tool.name
    return None


class PlannerModel:
    """A ``Planner`` (router, fewshot, toolcall) behind the model protocol."""

    def __init__(self, planner: Planner, registry: Registry, *, name: str | None = None) -> None:
        self.planner = planner
        self.registry = registry
        self.name = name or planner.name

    def with_registry(self, registry: Registry) -> "PlannerModel":
        return PlannerModel(self.planner, registry, name=self.name)

    def converse(self, messages: Sequence[Message], *, tools: Sequence[Mapping[str, Any]] = (),
                 tool_choice: Mapping[str, Any] | None = None, system: str = "", inference: Inference = Inference(),
                 timeout_s: float = 10.0) -> ModelResponse:
        registry = self.registry
        if messages and tool_results(messages[-1]):
            return self._after_results(tool_results(messages[-1]))
        text = normalise_spoken(last_user_text(list(messages)))
        if not text:
            return self._say(EMPTY_INPUT_REPLY, "empty_input")
        forced = forced_tool(tool_choice)
        waiting = pending_tool(messages, registry)
        if forced is None and waiting and parse_call(waiting, {}, text, registry).call is not None:
            return self._call(waiting, {}, text, reason="pending_tool")
        plan = self.planner.plan(text, registry, Deadline(timeout_s))
        if plan.error and plan.reason in PLANNER_FAILURES:
            raise PLANNER_FAILURES[plan.reason](plan.error)
        name = forced or plan.tool
        if name is None:
            if tool_choice and "any" in tool_choice and len(registry) == 1:
                name = registry.tools[0].name
            else:
                reason, reply = no_tool_reply(text)
                return self._say(reply, "invalid_tool" if plan.reason == "invalid_tool" else reason,
                                 plan.model_calls, plan.model_output)
        if not covers(text, registry):  # the question is judged, before any call (never the tool's answer)
            return self._say(OUT_OF_SCOPE_REPLY, "not_relevant", plan.model_calls, plan.model_output)
        parsed = parse_call(name, plan.arguments if name == plan.tool else {}, text, registry)
        if parsed.tool is None:
            return self._say(OUT_OF_SCOPE_REPLY, "unknown_tool", plan.model_calls, plan.model_output)
        if parsed.call is None:
            earlier = earlier_input(messages, parsed.tool.name) if _REFERS_BACK.search(text) else None
            if earlier is not None:  # "Was it cancelled?" right after order 761913: that order
                return self._calls([(parsed.tool.name, earlier)], reason="follow_up", model_calls=plan.model_calls)
            missing = parsed.missing[0]
            return self._say(clarify_question(parsed.tool.noun, missing.ask_for), "missing_id",
                             plan.model_calls, plan.model_output)
        # Every other tool whose own ids the customer typed in this turn is called too, in one message.
        wanted = [(parsed.tool.name, dict(parsed.call.arguments))]
        for other in registry:
            if (other is not parsed.tool and not other.mutates and other.model_parameters
                    and all(p.names_its_tool for p in other.model_parameters)):
                extra = parse_call(other.name, {}, text, registry).call
                if extra is not None and forced is None:
                    wanted.append((other.name, dict(extra.arguments)))
        return self._calls(wanted, reason=plan.reason, model_calls=plan.model_calls, raw=plan.model_output)

    def _after_results(self, results: list[dict[str, Any]]) -> ModelResponse:
        """After tool results (a refused call, or a tool that does not answer directly): say so."""
        for result in results:
            if result.get("status") == "error":
                reason = result_text(result)
                for tool in self.registry:
                    for parameter in tool.model_parameters:
                        if parameter.ask_for and parameter.ask_for in reason:
                            return self._say(clarify_question(tool.noun, parameter.ask_for), "missing_id")
                return self._say(OUT_OF_SCOPE_REPLY, "refused")
        return self._say(" ".join(result_text(r) for r in results), "found")

    def _call(self, name: str, arguments: Mapping[str, str], text: str, *, reason: str = "",
              model_calls: int = 0, raw: str | None = None) -> ModelResponse:
        if not arguments:
            arguments = parse_call(name, {}, text, self.registry).call.arguments  # type: ignore[union-attr]
        return self._calls([(name, arguments)], reason=reason, model_calls=model_calls, raw=raw)

    @staticmethod
    def _calls(wanted: Sequence[tuple[str, Mapping[str, Any]]], *, reason: str = "", model_calls: int = 0,
               raw: str | None = None) -> ModelResponse:
        message = assistant([tool_use(new_tool_use_id(), name, arguments) for name, arguments in wanted])
        return ModelResponse(message, STOP_TOOL_USE, raw_text=raw, reason=reason, model_calls=model_calls)

    @staticmethod
    def _say(text: str, reason: str, model_calls: int = 0, raw: str | None = None) -> ModelResponse:
        return ModelResponse(assistant_text(text), STOP_END_TURN, raw_text=raw, reason=reason, model_calls=model_calls)


def from_settings(settings: Any) -> PlannerModel:
    from ..planners.router import from_settings as router_from_settings
    from ..registry import DEFAULT_REGISTRY

    return PlannerModel(router_from_settings(settings), DEFAULT_REGISTRY, name="embedded")
