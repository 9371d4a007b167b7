"""The agent loop: plan, parse, dispatch, interpret, at most ``max_steps`` rounds, within a deadline.

Every step returns a value, never an exception: a planner that says nonsense, an unknown tool, a
missing id, a tool that times out or answers 404, each leads to a defined next step or reply,
and every turn yields a ``TurnRecord``.

A second round is spent only on something a retry can fix (a model call or a tool call that
failed) and only when the time left allows a whole attempt like the one that failed. An answer
that is off-topic or a clarifying question ends the turn. A model or tool that stays down is told
honestly ("not available right now, try again") with the intent Failed; so is anything unexpected,
caught here with a record whose reason names it.
"""
from __future__ import annotations

import copy
import time
from typing import Any, Callable, Iterable, Mapping

from .budget import Deadline
from .dispatcher import Transport, dispatch
from .interpreter import Interpreter, answer_text, answer_usable
from .parser import normalise_spoken, parse_call
from .planners import Planner
from .registry import Registry
from .replies import (EMPTY_INPUT_REPLY, INTERNAL_ERROR_REPLY, MODEL_UNAVAILABLE_REPLY, OUT_OF_SCOPE_REPLY,
                      TIMEOUT_REPLY, clarify_question, no_tool_reply)
from .turn import Plan, StepTimer, TurnRecord

DEFAULT_MAX_STEPS = 2
# Lex V2 takes at most 1,024 characters of text per turn (RecognizeText); nothing longer is planned.
MAX_INPUT_CHARS = 1024
# A retry is worth starting only with at least this much time, and as much as the failed try took.
MIN_ATTEMPT_S = 0.25
# Planner reasons that are a model's failure, not its answer.
MODEL_FAILURES = ("model_timeout", "model_error", "planner_error")
# The session attribute that carries the tool a clarifying question is waiting on.
PENDING_TOOL_ATTRIBUTE = "pendingTool"

Hook = Callable[[TurnRecord], None]


class Agent:
    def __init__(
        self,
        registry: Registry,
        planner: Planner,
        transport: Transport,
        *,
        interpreter: Interpreter | None = None,
        max_steps: int = DEFAULT_MAX_STEPS,
        hooks: Iterable[Hook] = (),
    ) -> None:
        if max_steps < 1:
            raise ValueError("max_steps must be at least 1")
        self.registry = registry
        self.planner = planner
        self.transport = transport
        self.interpreter = interpreter or Interpreter()
        self.max_steps = max_steps
        self.hooks = list(hooks)

    def with_registry(self, registry: Registry, transport: Transport | None = None,
                      interpreter: Interpreter | None = None) -> "Agent":
        """The same agent over other tools (the eval's per-line tool specs)."""
        clone = copy.copy(self)
        clone.registry, clone.hooks = registry, list(self.hooks)
        clone.transport = transport or self.transport
        clone.interpreter = interpreter or self.interpreter
        return clone

    def run_turn(
        self, text: str | None, session: Mapping[str, Any] | None = None, deadline: Deadline | None = None
    ) -> TurnRecord:
        """Answer one customer utterance. ``session`` holds untrusted hints from the client."""
        started = time.perf_counter()
        record = TurnRecord(planner=self.planner.name)
        try:
            text = (text if isinstance(text, str) else "")[:MAX_INPUT_CHARS].strip()
            # Spoken ids ("one two three four five six") become typed ones for every step.
            self._run(record, normalise_spoken(text), session or {}, deadline or Deadline(28.0))
        except Exception as exc:  # noqa: BLE001 - whatever broke, the customer gets a reply and we a record
            record.action, record.reason, record.error = "answer", "internal_error", type(exc).__name__
            record.answer, record.fulfilled, record.pending_tool = INTERNAL_ERROR_REPLY, False, None
        finally:
            record.latency_ms = round((time.perf_counter() - started) * 1000, 3)
            for hook in self.hooks:
                hook(record)
        return record

    def _pending_plan(self, text: str, session: Mapping[str, Any]) -> Plan | None:
        """The tool a previous clarifying question waits on, if the hint checks out now.

        The attribute comes back from the client, so it is only a hint: it must name a registered
        tool and this turn must hold a valid id for it; otherwise the turn is planned afresh.
        """
        tool = self.registry.get(session.get(PENDING_TOOL_ATTRIBUTE))
        if tool is None:
            return None
        if parse_call(tool.name, {}, text, self.registry).call is None:
            return None
        return Plan(tool.name, reason="pending_tool")

    @staticmethod
    def _time_for_another_try(deadline: Deadline, attempt_started: float) -> bool:
        took = time.perf_counter() - attempt_started
        return deadline.remaining() > max(MIN_ATTEMPT_S, took)

    def _run(self, record: TurnRecord, text: str, session: Mapping[str, Any], deadline: Deadline) -> None:
        if not text:
            record.action, record.reason, record.answer = "clarify", "empty_input", EMPTY_INPUT_REPLY
            return
        for round_ in range(1, self.max_steps + 1):
            record.rounds = round_
            last_round = round_ == self.max_steps
            if deadline.expired():
                record.reason, record.answer, record.fulfilled = "deadline", TIMEOUT_REPLY, False
                return

            attempt_started = time.perf_counter()
            with StepTimer(record, "plan", round_) as detail:
                plan = self._pending_plan(text, session) if round_ == 1 else None
                if plan is None:
                    plan = self.planner.plan(text, self.registry, deadline)
                record.model_calls += plan.model_calls
                detail.update(tool=plan.tool, reason=plan.reason, score=plan.score, error=plan.error)

            if not plan.wants_tool:
                if plan.error and plan.reason in MODEL_FAILURES:
                    if not last_round and self._time_for_another_try(deadline, attempt_started):
                        continue  # the model failed: one more try
                    record.action, record.reason, record.error, record.fulfilled = (
                        "answer", plan.reason, plan.error, False)
                    record.answer = TIMEOUT_REPLY if plan.reason == "model_timeout" else MODEL_UNAVAILABLE_REPLY
                    return
                record.action = "refuse"
                record.reason, record.answer = no_tool_reply(text)
                if record.reason == "greeting":
                    record.action = "answer"
                if plan.reason == "invalid_tool":
                    record.reason = plan.reason
                return

            with StepTimer(record, "parse", round_) as detail:
                parsed = parse_call(plan.tool, plan.arguments, text, self.registry)
                detail.update(tool=plan.tool, error=parsed.error, missing=[p.name for p in parsed.missing],
                              ids_found=parsed.ids_found)
            if parsed.tool is None:  # unreachable for built-in planners; a plug-in may misbehave
                record.action, record.reason, record.answer = "refuse", "unknown_tool", OUT_OF_SCOPE_REPLY
                return
            record.tool = parsed.tool.name

            if self.interpreter.checks_before_call:
                with StepTimer(record, "interpret", round_) as detail:
                    relevant = self.interpreter.precheck(text, self.registry)
                    detail.update(relevant=relevant, by="coverage")
                if not relevant:
                    record.action, record.reason, record.answer = "refuse", "not_relevant", OUT_OF_SCOPE_REPLY
                    return

            if parsed.call is None:
                missing = parsed.missing[0]
                record.action, record.reason = "clarify", "missing_id"
                record.pending_tool = parsed.tool.name
                record.answer = clarify_question(parsed.tool.noun, missing.ask_for)
                return

            call = parsed.call
            record.arguments = dict(call.arguments)
            attempt_started = time.perf_counter()
            with StepTimer(record, "dispatch", round_) as detail:
                result = dispatch(call, self.registry, self.transport, deadline)
                record.tool_calls += 1
                record.status_code = result.status_code
                detail.update(tool=call.tool.name, transport=self.transport.name,
                              status_code=result.status_code, error=result.error)
            usable = answer_usable(result)
            if not usable and result.retryable and not last_round \
                    and self._time_for_another_try(deadline, attempt_started):
                continue  # the tool failed or timed out: one more try

            record.action = "tool_call"
            record.answer = answer_text(call.tool, result, call.arguments)
            if not usable:  # a 5xx, a timeout, or an answer we will not show: the tool is down for us
                record.reason = "tool_timeout" if result.status_code == 504 else "tool_unavailable"
                record.error, record.fulfilled = result.error or f"status {result.status_code}", False
                return
            if not self.interpreter.checks_before_call and result.ok:
                with StepTimer(record, "interpret", round_) as detail:
                    relevant, calls, how = self.interpreter.relevant(text, record.answer, self.registry, deadline)
                    record.model_calls += calls
                    detail.update(relevant=relevant, by=how)
                if not relevant:
                    record.action, record.reason, record.answer = "refuse", "not_relevant", OUT_OF_SCOPE_REPLY
                    return
            record.reason = "found" if result.ok else "not_found"
            return
