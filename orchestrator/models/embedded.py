"""Planners as models: the embedded router (no LLM) and the blog's text2text design emit ``toolUse``.

A planner picks one tool for the customer's words; this adapter turns that choice into a Converse
assistant message, so the loop treats it like any tool-calling model. It reads the conversation
as its memory: when the agent's previous message asked for a tool's id ("Could you please tell me
your order number (five or six digits, for example 123456)?") and this turn holds a valid one, the call goes to that tool. The ids
come from the regex id parser over the customer's own words, so this model never invents one. It
writes only the agent's own sentences (greeting, scope, clarifying question); a found answer is
the tool's sentence, which the loop gives directly.
"""
from __future__ import annotations

import re
from typing import Any, Mapping, Sequence

from .. import identify
from ..budget import Deadline
from ..confirm import is_yes
from ..interpreter import covers
from ..messages import (STOP_END_TURN, STOP_TOOL_USE, Message, assistant, assistant_text, last_user_text,
                        new_tool_use_id, result_json, result_text, text_block, text_of, tool_results, tool_use,
                        tool_uses)
from ..parser import normalise_spoken, parse_call
from ..planners import Planner
from ..registry import Registry, Tool
from ..replies import EMPTY_INPUT_REPLY, NOT_IDENTIFIED_REASON, OUT_OF_SCOPE_REPLY, clarify_question, no_tool_reply
from . import Inference, ModelError, ModelResponse, ModelTimeout, forced_tool

PLANNER_FAILURES = {"model_timeout": ModelTimeout, "model_error": ModelError, "planner_error": ModelError}


# A follow-up that points back at what was just discussed ("Was it cancelled?", "that order").
_BACK = r"it|its|it's|that|this|same|the order"
_REFERS_BACK = re.compile(rf"\b({_BACK}|the return)\b", re.IGNORECASE)
# For a change, "my order" points back too ("My order is 37129." ... "Please cancel my order"): the
# confirmation question names the order, so a wrong guess is caught before anything changes.
_CHANGE_REFERS_BACK = re.compile(rf"\b({_BACK}|my order)\b", re.IGNORECASE)
# Said with a look at the customer's orders when they want to cancel one but gave no number: the
# next round reads it to know what the list is for.
FINDING_ORDER_TO_CANCEL = "Let me look at your orders to find the one to cancel."
WHICH_TO_CANCEL = "Which one would you like to cancel?"
NONE_TO_CANCEL = "None of them can be cancelled: only an order that is still being processed can be."
ONE_NOT_TO_CANCEL = "It can't be cancelled: only an order that is still being processed can be."
NOTHING_TO_CONFIRM = "There's nothing waiting for a yes right now. What would you like to do?"


def earlier_input(history: Sequence[Message], tool: Tool) -> dict[str, Any] | None:
    """The ids of the latest call in the conversation that had every id ``tool`` needs (an order
    looked up before "please cancel it"), if there was one."""
    wanted = {p.name for p in tool.model_parameters if p.required}
    for message in reversed(history):
        if message.get("role") == "assistant":
            for use in reversed(tool_uses(message)):
                given = use.get("input") if isinstance(use.get("input"), Mapping) else {}
                if wanted and wanted <= set(given):
                    return {name: given[name] for name in wanted}
    return None


def unfinished_goal(history: Sequence[Message]) -> tuple[str, dict[str, Any], str] | None:
    """The latest call refused because the customer was not identified yet: (tool, input, what the
    model said with it), to make once they are."""
    for index in range(len(history) - 1, 0, -1):
        refused = [r for r in tool_results(history[index])
                   if r.get("status") == "error" and NOT_IDENTIFIED_REASON in result_text(r)]
        if refused:
            asked = history[index - 1]
            for use in tool_uses(asked):
                if use.get("toolUseId") == refused[0].get("toolUseId"):
                    return str(use.get("name")), dict(use.get("input") or {}), text_of(asked)
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
        # The same tools without the ones that change data (built once: the router indexes per registry).
        self._read_only = registry.with_tools([t for t in registry if not t.mutates])

    def with_registry(self, registry: Registry) -> "PlannerModel":
        return PlannerModel(self.planner, registry, name=self.name)

    def converse(self, messages: Sequence[Message], *, tools: Sequence[Mapping[str, Any]] = (),
                 tool_choice: Mapping[str, Any] | None = None, system: str = "", inference: Inference = Inference(),
                 timeout_s: float = 10.0) -> ModelResponse:
        registry = self.registry
        if messages and tool_results(messages[-1]):
            return self._after_results(messages, tool_results(messages[-1]))
        text = normalise_spoken(last_user_text(list(messages)))
        if not text:
            return self._say(EMPTY_INPUT_REPLY, "empty_input")
        forced = forced_tool(tool_choice)
        if forced is None and is_yes(text):  # a yes to nothing: the agent settles a pending question before us
            return self._say(NOTHING_TO_CONFIRM, "nothing_to_confirm")
        # Account details the customer gives are looked up first (one call each), so that who they
        # are is known before anything else this message asks for.
        identifying = [] if forced else self._identifier_calls(text)
        waiting = pending_tool(messages, registry)
        answered = parse_call(waiting, {}, text, registry).call if forced is None and waiting else None
        if answered is not None:
            return self._calls(identifying + [(waiting, dict(answered.arguments))], reason="pending_tool")
        plan = self.planner.plan(text, registry, Deadline(timeout_s))
        chosen = registry.get(plan.tool)
        if chosen is not None and chosen.intent_words and not re.search(chosen.intent_words, text, re.IGNORECASE):
            # Close in meaning is not enough to change data: choose again among the tools that don't.
            plan = self.planner.plan(text, self._read_only, Deadline(timeout_s))
        if plan.error and plan.reason in PLANNER_FAILURES:
            raise PLANNER_FAILURES[plan.reason](plan.error)
        name = forced or plan.tool
        chosen = registry.get(name)
        if chosen is not None and not chosen.model_parameters and forced is None:
            # A list was chosen, but the customer typed an order number: that order is what they mean.
            typed = next((t for t in registry if t.model_parameters and not t.mutates and not t.identifies
                          and parse_call(t.name, {}, text, registry).call is not None), None)
            name = typed.name if typed is not None else name
        if identifying and (name is None or registry.get(name) is None or registry.get(name).identifies):
            return self._calls(identifying, reason="identify", model_calls=plan.model_calls)
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
            refers_back = (_CHANGE_REFERS_BACK if parsed.tool.mutates else _REFERS_BACK).search(text)
            earlier = earlier_input(messages, parsed.tool) if refers_back else None
            if earlier is not None:  # "Was it cancelled?" right after order 761913: that order
                return self._calls(identifying + [(parsed.tool.name, earlier)], reason="follow_up",
                                   model_calls=plan.model_calls)
            lister = self._lister()
            if parsed.tool.mutates and lister is not None and not identifying:
                # "I want to cancel an order but I don't remember its number": find it in their orders.
                return self._calls([(lister.name, {})], reason="find_order", model_calls=plan.model_calls,
                                   text=FINDING_ORDER_TO_CANCEL)
            if identifying:
                return self._calls(identifying, reason="identify", model_calls=plan.model_calls)
            missing = parsed.missing[0]
            return self._say(clarify_question(parsed.tool.noun, missing.ask_for), "missing_id",
                             plan.model_calls, plan.model_output)
        # Every other tool whose own ids the customer typed in this turn is called too, in one message.
        wanted = identifying + [(parsed.tool.name, dict(parsed.call.arguments))]
        for other in registry:
            if (other is not parsed.tool and not other.mutates and not other.identifies and other.model_parameters
                    and all(p.names_its_tool and p not in parsed.tool.parameters for p in other.model_parameters)):
                extra = parse_call(other.name, {}, text, registry).call
                if extra is not None and forced is None:
                    wanted.append((other.name, dict(extra.arguments)))
        return self._calls(wanted, reason=plan.reason, model_calls=plan.model_calls, raw=plan.model_output)

    def _identifier_calls(self, text: str) -> list[tuple[str, dict[str, Any]]]:
        """One call of the identifying tool for each account detail in ``text``."""
        calls = []
        for tool in self.registry:
            if tool.identifies:
                calls += [(tool.name, {p.name: value}) for p in tool.model_parameters for value in p.find_all(text)]
        return calls

    def _lister(self) -> Tool | None:
        """The tool that lists the identified customer's orders (no ids of its own to ask for)."""
        return next((t for t in self.registry if not t.mutates and not t.identifies and not t.model_parameters
                     and t.identity_parameters), None)

    def _after_results(self, messages: Sequence[Message], results: list[dict[str, Any]]) -> ModelResponse:
        """After tool results (a refused call, an identification, a list, or a tool that does not
        answer directly): ask, go on with what the customer wanted, or say what the tools said."""
        asked = messages[-2] if len(messages) >= 2 else {}
        names = {u.get("toolUseId"): u.get("name") for u in tool_uses(asked)}
        for result in results:
            if result.get("status") == "error":
                reason = result_text(result)
                if NOT_IDENTIFIED_REASON in reason:
                    return self._say(identify.IDENTIFY_QUESTION, "not_identified")
                if identify.LOOKUP_LIMIT_REASON in reason:
                    return self._say(identify.LOOKUP_LIMIT_REPLY, "lookup_limit")
                for tool in self.registry:
                    for parameter in tool.model_parameters:
                        if parameter.ask_for and parameter.ask_for in reason:
                            return self._say(clarify_question(tool.noun, parameter.ask_for), "missing_id")
                return self._say(OUT_OF_SCOPE_REPLY, "refused")
        identifications = [r for r in results if getattr(self.registry.get(names.get(r.get("toolUseId"))),
                                                            "identifies", False)]
        if any(result_json(r).get("outcome") == "identified" for r in identifications):
            goal = unfinished_goal(messages)
            if goal is not None:  # what they asked for before we knew who they were
                name, tool_input, said = goal
                return self._calls([(name, tool_input)], reason="resume", text=said)
        if identifications:
            return self._say(result_text(identifications[-1]), "identify")
        lister = self._lister()
        for result in results:
            if lister is not None and names.get(result.get("toolUseId")) == lister.name \
                    and text_of(asked) == FINDING_ORDER_TO_CANCEL:
                return self._pick_order_to_cancel(result)
        return self._say(" ".join(result_text(r) for r in results), "found")

    def _pick_order_to_cancel(self, listed: Mapping[str, Any]) -> ModelResponse:
        """The customer wants to cancel an order they have no number for: the one still processing,
        or the list and a question."""
        canceller = next((t for t in self.registry if t.mutates), None)
        orders = [o for o in result_json(listed).get("orders") or [] if isinstance(o, Mapping)]
        precondition = canceller.changes_only_when if canceller is not None else None
        # The orders the change could apply to, by the canceller's own precondition (status Processing).
        processing = [o for o in orders if precondition is None
                      or str(o.get(precondition[0], "")).strip().lower() == precondition[1].lower()]
        if canceller is not None and len(processing) == 1:
            order_id = canceller.model_parameters[0].name
            return self._calls([(canceller.name, {order_id: str(processing[0].get("orderId"))})], reason="find_order")
        if processing:
            return self._say(f"{result_text(listed)} {WHICH_TO_CANCEL}", "found")
        return self._say(f"{result_text(listed)} {ONE_NOT_TO_CANCEL if len(orders) == 1 else NONE_TO_CANCEL}", "found")

    @staticmethod
    def _calls(wanted: Sequence[tuple[str, Mapping[str, Any]]], *, reason: str = "", model_calls: int = 0,
               raw: str | None = None, text: str = "") -> ModelResponse:
        blocks = [text_block(text)] if text else []
        message = assistant(blocks + [tool_use(new_tool_use_id(), name, arguments) for name, arguments in wanted])
        return ModelResponse(message, STOP_TOOL_USE, raw_text=raw, reason=reason, model_calls=model_calls)

    @staticmethod
    def _say(text: str, reason: str, model_calls: int = 0, raw: str | None = None) -> ModelResponse:
        return ModelResponse(assistant_text(text), STOP_END_TURN, raw_text=raw, reason=reason, model_calls=model_calls)


def from_settings(settings: Any) -> PlannerModel:
    from ..planners.router import from_settings as router_from_settings
    from ..registry import DEFAULT_REGISTRY

    return PlannerModel(router_from_settings(settings), DEFAULT_REGISTRY, name="embedded")
