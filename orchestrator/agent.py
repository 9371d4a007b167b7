"""The agent loop: ask the model for the next message, run every tool call in it, repeat.

One turn: the customer's words join the conversation; the model answers with text or ``toolUse``
blocks; each call passes the guards (``guards.py``) and runs through the transport, or is refused;
all results go back in order as one ``toolResult`` message; and the model is asked again, until it
answers (``end_turn``), ``max_steps`` model calls were made, or the deadline comes. A tool whose
sentence is the whole answer (``Tool.answers_directly``) ends the turn with that sentence, so a
look-up costs one model call. Every step returns a value, never an exception; every turn yields a
``TurnRecord`` whose ``messages`` are what the turn added to the conversation.

A model or tool call that fails is tried once more when the time left allows a whole attempt like
the one that failed. A model or tool that stays down is told honestly ("not available right now,
try again") with the intent Failed; so is anything unexpected, caught here with a record whose
reason names it.
"""
from __future__ import annotations

import copy
import json
import re
import time
from typing import Any, Callable, Iterable, Mapping, Sequence

from . import identify
from .budget import Deadline
from .confirm import PendingAction, confirmation_question, is_no, is_yes, last_action
from .dispatcher import Transport, dispatch
from .guards import DEFAULT_GUARDS, Guard, GuardContext, ToolRequest, first_refusal
from .interpreter import answer_text, answer_usable, conflict_text
from .messages import (Message, append_results, assistant, assistant_text, new_tool_use_id, result_json, result_text,
                       successful_results, text_of, tool_result, tool_use, tool_uses, user_text)
from .models import Inference, Model, ModelError, ModelResponse, ModelTimeout, forced_tool, requires_tool
from .parser import ToolCall
from .registry import Registry, Tool
from .replies import (CONFIRMATION_DECLINED_REPLY, CONFIRMATION_DROPPED_NOTE, CONFIRMATION_EXPIRED_REPLY,
                      INTERNAL_ERROR_REPLY, MAX_REPLY_CHARS, MODEL_UNAVAILABLE_REPLY, NOT_IDENTIFIED_REASON,
                      OUT_OF_SCOPE_REPLY, TIMEOUT_REPLY, UNAVAILABLE_REPLY, clean_text, looks_internal)
from .turn import StepTimer, ToolResult, TurnRecord

DEFAULT_MAX_STEPS = 2
# Rounds of the loop a turn may take in all. ``max_steps`` bounds the calls to an LLM; rounds that
# cost none (the embedded model reading a tool result) are bounded by this.
MAX_ROUNDS = 4
# Lex V2 takes at most 1,024 characters of text per turn (RecognizeText); nothing longer is read.
MAX_INPUT_CHARS = 1024
# A retry is worth starting only with at least this much time, and as much as the failed try took.
MIN_ATTEMPT_S = 0.25
# A model's own words: what it wrote inside <reply>, never its <thinking>.
_THINKING = re.compile(r"<thinking>.*?(</thinking>|$)", re.DOTALL | re.IGNORECASE)
_REPLY = re.compile(r"<reply>(.*?)(</reply>|$)", re.DOTALL | re.IGNORECASE)

Hook = Callable[[TurnRecord], None]


def model_reply_text(message: Mapping[str, Any]) -> str:
    """The customer-facing text of a model's message: its ``<reply>`` section when it has one,
    never its ``<thinking>``, one line within Lex's limit; "" when nothing is left to show."""
    text = text_of(message)
    found = _REPLY.search(text)
    text = found.group(1) if found else _THINKING.sub(" ", text)
    text = clean_text(text, MAX_REPLY_CHARS)
    return "" if looks_internal(text) else text


def _time_for_another_try(deadline: Deadline, attempt_started: float) -> bool:
    took = time.perf_counter() - attempt_started
    return deadline.remaining() > max(MIN_ATTEMPT_S, took)


class Agent:
    def __init__(
        self,
        registry: Registry,
        model: Any,
        transport: Transport,
        *,
        max_steps: int = DEFAULT_MAX_STEPS,
        guards: Sequence[Guard] = DEFAULT_GUARDS,
        hooks: Iterable[Hook] = (),
        system: str = "",
        tool_choice: Mapping[str, Any] | None = None,
        inference: Inference = Inference(),
        anonymous_lookups: bool = True,
    ) -> None:
        if max_steps < 1:
            raise ValueError("max_steps must be at least 1")
        if hasattr(model, "plan") and not hasattr(model, "converse"):  # a bare planner (tests, plug-ins)
            from .models.embedded import PlannerModel

            model = PlannerModel(model, registry)
        self.registry = registry
        self.model: Model = model
        self.transport = transport
        self.max_steps = max_steps
        self.guards = tuple(guards)
        self.hooks = list(hooks)
        self.system = system
        self.tool_choice = tool_choice
        self.inference = inference
        # Whether a customer nobody identified may look up one order or return by its id.
        self.anonymous_lookups = anonymous_lookups

    @property
    def planner(self) -> Any:
        """The planner behind an embedded or text2text model (None for a native tool-calling one)."""
        return getattr(self.model, "planner", None)

    def with_registry(self, registry: Registry, transport: Transport | None = None) -> "Agent":
        """The same agent over other tools (the eval's per-line tool specs)."""
        clone = copy.copy(self)
        clone.registry, clone.hooks = registry, list(self.hooks)
        clone.transport = transport or self.transport
        if hasattr(self.model, "with_registry"):
            clone.model = self.model.with_registry(registry)
        return clone

    def tool_specs(self) -> list[dict[str, Any]]:
        return [tool.spec() for tool in self.registry]

    def run_turn(
        self, text: str | None, history: Sequence[Message] | None = None, deadline: Deadline | None = None,
        identity: Mapping[str, Any] | None = None, state: Mapping[str, Any] | None = None,
    ) -> TurnRecord:
        """Answer one customer utterance after ``history`` (this conversation's earlier messages).

        ``state`` is the conversation's server-side state (a pending confirmation, the customer the
        server identified); ``identity`` a customer the channel verified. ``record.state`` is the
        state after the turn, for the memory to save.
        """
        started = time.perf_counter()
        record = TurnRecord(planner=getattr(self.model, "name", ""))
        conversation = [m for m in (history or []) if isinstance(m, Mapping)]
        # A pending action lives one turn: whatever this turn does, the old one is gone after it.
        record.state = {k: v for k, v in dict(state or {}).items() if k != "pending"}
        # A channel's identity is proven again each turn (its signed token), never carried over.
        if (record.state.get("identity") or {}).get("via") == "channel":
            record.state.pop("identity")
        channel = ({"customer_id": str(identity["customer_id"]), "via": "channel"}
                   if identity and identity.get("customer_id") else None)
        try:
            text = (text if isinstance(text, str) else "")[:MAX_INPUT_CHARS].strip()
            deadline = deadline or Deadline(28.0)
            if not self._settle_pending(record, text, PendingAction.from_state(state), deadline,
                                        self._who(record, channel), conversation):
                self._run(record, conversation, text, deadline, channel)
        except Exception as exc:  # noqa: BLE001 - whatever broke, the customer gets a reply and we a record
            record.action, record.reason, record.error = "answer", "internal_error", type(exc).__name__
            record.answer, record.fulfilled = INTERNAL_ERROR_REPLY, False
        finally:
            if record.note and record.answer and not record.answer.startswith(record.note):
                record.answer = f"{record.note} {record.answer}"
            if record.answer and not (record.messages and record.messages[-1].get("role") == "assistant"
                                      and text_of(record.messages[-1]) == record.answer):
                record.messages.append(assistant_text(record.answer))
            record.latency_ms = round((time.perf_counter() - started) * 1000, 3)
            for hook in self.hooks:
                hook(record)
        return record

    @staticmethod
    def _who(record: TurnRecord, channel: Mapping[str, Any] | None) -> dict[str, Any] | None:
        """The customer the server knows now: the channel's verified token, else two identifiers
        given earlier in the conversation (or earlier in this turn)."""
        return dict(channel) if channel else identify.identified(record.state)

    # ---------------------------------------------------------------- confirmation
    @staticmethod
    def _last_said(history: Sequence[Message]) -> str:
        """What the agent said last in the conversation ("" when it has said nothing)."""
        return next((text_of(m) for m in reversed(history) if m.get("role") == "assistant" and text_of(m)), "")

    def _settle_pending(self, record: TurnRecord, text: str, pending: PendingAction | None,
                        deadline: Deadline, who: Mapping[str, Any] | None,
                        history: Sequence[Message] = ()) -> bool:
        """Handle the answer to a confirmation question; True when that answers the turn.

        Only a clear yes, on the very next turn, for the same customer, before the expiry, runs the
        pending action, with exactly its stated arguments and its idempotency key.
        """
        if pending is None:
            done = last_action(record.state)
            repeated = (done is not None and done.get("customer_id") == (who or {}).get("customer_id")
                        and self._last_said(history) == done.get("answer"))
            if repeated and is_yes(text):  # a repeated yes, or a retried turn, right after it: report, never redo
                record.messages.append(user_text(text))
                record.action, record.reason, record.tool = "tool_call", "already_done", done.get("tool")
                record.answer = str(done.get("answer") or "")
                return bool(record.answer)
            return False
        customer = (who or {}).get("customer_id")
        if is_yes(text) and pending.expired():
            record.messages.append(user_text(text))
            record.action, record.reason, record.answer = "answer", "confirmation_expired", CONFIRMATION_EXPIRED_REPLY
            return True
        if is_yes(text) and customer == pending.customer_id:
            record.messages.append(user_text(text))
            self._run_pending(record, pending, deadline)
            return True
        if is_no(text):
            record.messages.append(user_text(text))
            record.action, record.reason, record.answer = "answer", "confirmation_declined", CONFIRMATION_DECLINED_REPLY
            return True
        record.note = CONFIRMATION_DROPPED_NOTE  # anything else: the question lapses, and the reply says so
        return False

    def _run_pending(self, record: TurnRecord, pending: PendingAction, deadline: Deadline) -> None:
        tool = self.registry.get(pending.tool)
        if tool is None:
            return self._fail(record, "internal_error", INTERNAL_ERROR_REPLY, "pending tool is not registered")
        use_id = new_tool_use_id()
        shown = {p.name: pending.input[p.name] for p in tool.model_parameters if p.name in pending.input}
        record.messages.append(assistant([tool_use(use_id, tool.name, shown)]))
        result = self._call_tool(record, 1, tool, dict(pending.input), deadline, idempotency_key=pending.key)
        usable = answer_usable(result)
        sentence = answer_text(tool, result, shown)
        if result.status_code == 409:  # not changed, and why (shipped, already cancelled): in our words
            sentence = conflict_text(tool, result, shown)
        record.messages.append({"role": "user", "content": [tool_result(
            use_id, result.data if usable else None, text=sentence, status="success" if usable else "error")]})
        record.action, record.tool, record.status_code, record.arguments = "tool_call", tool.name, result.status_code, shown
        if result.status_code == 409:
            record.answer, record.reason = sentence, "not_changed"
        elif not usable:
            # Not known to be done: keep the question, so another yes (the same key) can finish it.
            record.state["pending"] = pending.to_state()
            reason = "tool_timeout" if result.status_code == 504 else "tool_unavailable"
            return self._fail(record, reason, UNAVAILABLE_REPLY.format(noun=tool.noun),
                              result.error or f"status {result.status_code}")
        else:
            record.answer, record.reason = sentence, "confirmed" if result.ok else "not_found"
        record.state["last_action"] = {"tool": tool.name, "key": pending.key, "answer": record.answer,
                                       "customer_id": pending.customer_id, "at": time.time()}

    def _ask_before(self, record: TurnRecord, step: int, tool: Tool, tool_input: dict[str, Any],
                    deadline: Deadline, identity: Mapping[str, Any] | None,
                    ) -> tuple[str | None, tuple[str, str, str] | None]:
        """State a change and keep it pending: (the question, or None when there is nothing to
        change; a failure, when the preview could not be read)."""
        shown = {p.name: tool_input[p.name] for p in tool.model_parameters if p.name in tool_input}
        data: dict[str, Any] = dict(shown)
        preview = self.registry.get(tool.preview) if tool.preview else None
        if preview is not None:
            preview_input = {p.name: tool_input[p.name] for p in preview.parameters if p.name in tool_input}
            result = self._call_tool(record, step, preview, preview_input, deadline)
            customer = (identity or {}).get("customer_id")
            owner = result.data.get("customerId") if result.ok else None
            if result.status_code == 404 or (result.ok and owner != customer):
                # Not there, or not this customer's: the same answer, with nothing about it.
                record.action, record.reason = "tool_call", "not_found"
                record.answer = answer_text(preview, ToolResult(404, ""), preview_input)
                return None, None
            if not answer_usable(result):
                return None, ("tool_timeout" if result.status_code == 504 else "tool_unavailable",
                              UNAVAILABLE_REPLY.format(noun=preview.noun), result.error or "preview failed")
            data.update(result.data)
            if tool.changes_only_when is not None:
                field, wanted = tool.changes_only_when
                if str(data.get(field, "")).strip().lower() != wanted.lower():
                    # Shipped, delivered, already cancelled: explained now, never offered for a yes.
                    record.action, record.reason = "tool_call", "not_changed"
                    record.answer = conflict_text(tool, ToolResult(409, "", dict(data)), shown)
                    return None, None
        question = confirmation_question(tool, data)
        pending = PendingAction(tool.name, dict(tool_input), (identity or {}).get("customer_id"), question)
        record.state["pending"] = pending.to_state()
        record.steps.append(_step("confirm", step, tool=tool.name))
        return question, None

    # ---------------------------------------------------------------- the loop
    def _run(self, record: TurnRecord, history: list[Message], text: str, deadline: Deadline,
             channel: Mapping[str, Any] | None) -> None:
        record.messages.append(user_text(text))
        conversation = history + record.messages
        specs = self.tool_specs()
        for step in range(1, MAX_ROUNDS + 1):
            if record.model_calls >= self.max_steps:
                break  # the LLM calls this turn may make are made
            record.rounds = step
            if deadline.expired():
                return self._fail(record, "deadline", TIMEOUT_REPLY, "no time left for the model")
            tool_choice = self.tool_choice if step == 1 else None
            response = self._ask_model(record, step, conversation, specs, tool_choice, deadline)
            if response is None:
                return  # the model failed; the record says how
            record.messages.append(response.message)
            conversation = history + record.messages
            uses = tool_uses(response.message)
            if requires_tool(tool_choice) and not uses:
                return self._fail(record, "model_error", MODEL_UNAVAILABLE_REPLY,
                                  "the model answered without the tool call its toolChoice required")
            if not uses:
                return self._answer(record, response)
            results, answers, failure, asked = self._run_tools(record, step, uses, conversation, deadline,
                                                               channel, forced_tool(tool_choice))
            append_results(record.messages, results)
            conversation = history + record.messages
            if failure is not None:
                return self._fail(record, *failure)
            if asked is not None:  # a change was stated: the customer's yes comes next turn
                record.answer, record.action, record.reason = asked, "clarify", "confirm"
                return
            if record.reason in ("not_found", "not_changed") and record.answer:  # nothing to confirm
                return
            if answers is not None:  # every call answered directly: their sentences are the reply
                record.answer = " ".join(answers)
                return
        # Out of model calls with tool results still unread: say what the tools said, if they did.
        record.answer = record.answer or OUT_OF_SCOPE_REPLY

    def _ask_model(self, record: TurnRecord, step: int, conversation: list[Message], specs: list[dict[str, Any]],
                   tool_choice: Mapping[str, Any] | None, deadline: Deadline) -> ModelResponse | None:
        for attempt in (1, 2):
            attempt_started = time.perf_counter()
            with StepTimer(record, "model", step) as detail:
                try:
                    response = self.model.converse(
                        conversation, tools=specs, tool_choice=tool_choice, system=self.system,
                        inference=self.inference, timeout_s=deadline.remaining())
                except ModelError as exc:
                    record.model_calls += 1
                    detail.update(error=type(exc).__name__, attempt=attempt)
                    if attempt == 1 and not isinstance(exc, ModelTimeout) and _time_for_another_try(
                            deadline, attempt_started):
                        continue
                    timed_out = isinstance(exc, ModelTimeout)
                    self._fail(record, "model_timeout" if timed_out else "model_error",
                               TIMEOUT_REPLY if timed_out else MODEL_UNAVAILABLE_REPLY, str(exc))
                    return None
                record.model_calls += response.model_calls
                detail.update(stop_reason=response.stop_reason, reason=response.reason,
                              tools=[u.get("name") for u in tool_uses(response.message)])
                if response.reason:
                    record.reason = response.reason
                return response
        return None

    def _run_tools(self, record: TurnRecord, step: int, uses: list[dict[str, Any]], conversation: list[Message],
                   deadline: Deadline, channel: Mapping[str, Any] | None, forced: str | None,
                   ) -> tuple[list[dict[str, Any]], list[str] | None, tuple[str, str, str] | None, str | None]:
        """Run every call in order: (toolResult blocks, direct answers or None, failure or None, the
        confirmation question a change asks, or None)."""
        context = GuardContext(self.registry, conversation, self._who(record, channel))
        results: list[dict[str, Any]] = []
        answers: list[str] | None = []
        failure: tuple[str, str, str] | None = None
        asked: str | None = None
        for use in uses:
            request = self._request(use)
            refusal = first_refusal(request, context, self.guards)
            if refusal is None and forced and request.name != forced:
                refusal = ("tool_choice", f"Only {forced} may be called now.")
            if refusal is not None:
                guard, reason = refusal
                record.steps.append(_step("guard", step, tool=request.name, guard=guard))
                results.append(tool_result(request.tool_use_id, text=f"Refused: {reason}", status="error"))
                answers = None
                continue
            tool = request.tool
            assert tool is not None  # the registered guard ran
            identity = self._who(record, channel)
            customer = (identity or {}).get("customer_id")
            if tool.identifies:
                block, identify_failure = self._identify(record, step, tool, request, deadline, identity)
                results.append(block)
                failure = failure or identify_failure
                answers = None
                continue
            refused = self._identity_refusal(record, tool, customer)
            if refused is not None:
                record.steps.append(_step("guard", step, tool=request.name, guard="identified"))
                results.append(tool_result(request.tool_use_id, text=f"Refused: {refused}", status="error"))
                answers = None
                continue
            if customer:  # filled from the customer the server identified, never the model
                request.input.update({p.name: str(customer) for p in tool.identity_parameters})
            if tool.mutates:  # never on the model's word: state it, keep it, ask
                question = None
                if asked is None and failure is None:
                    question, preview_failure = self._ask_before(record, step, tool, request.input, deadline, identity)
                    failure = failure or preview_failure
                    asked = question
                results.append(tool_result(request.tool_use_id, text="Not done: " + (
                    f"asked the customer to confirm: {question}" if question else "one change at a time, "
                    "and only after the customer confirms it."), status="error"))
                answers = None
                continue
            result = self._call_tool(record, step, tool, request.input, deadline)
            usable = answer_usable(result)
            sentence = answer_text(tool, result, request.input)
            # The record (logged at INFO) names the ids the customer typed, never their account id.
            record.action, record.tool = "tool_call", tool.name
            record.arguments = {p.name: request.input[p.name] for p in tool.model_parameters if p.name in request.input}
            record.status_code = result.status_code
            results.append(tool_result(request.tool_use_id, result.data if usable else None, text=sentence,
                                       status="success" if usable else "error"))
            if not usable:
                reason = "tool_timeout" if result.status_code == 504 else "tool_unavailable"
                failure = failure or (reason, UNAVAILABLE_REPLY.format(noun=tool.noun),
                                      result.error or f"status {result.status_code}")
                continue
            record.reason = "found" if result.ok else "not_found"
            if result.status_code == 404 and tool.anonymous_lookup and not customer:
                identify.failed_lookup(record.state)  # a stranger's guesses are counted, and limited
            if answers is not None and tool.answers_directly:
                answers.append(sentence)
            else:
                answers = None
        return results, answers, failure, asked

    def _identity_refusal(self, record: TurnRecord, tool: Tool, customer: str | None) -> str | None:
        """Why ``tool`` may not run for this customer now (None: it may)."""
        if customer:
            return None
        if any(p.required for p in tool.identity_parameters):
            return NOT_IDENTIFIED_REASON
        if tool.anonymous_lookup and not self.anonymous_lookups:
            return NOT_IDENTIFIED_REASON
        if tool.anonymous_lookup and identify.lookups_exhausted(record.state):
            return identify.LOOKUP_LIMIT_REASON
        return None

    def _identify(self, record: TurnRecord, step: int, tool: Tool, request: ToolRequest, deadline: Deadline,
                  identity: Mapping[str, Any] | None) -> tuple[dict[str, Any], tuple[str, str, str] | None]:
        """Look one identifier up and keep what it matched server-side: the toolResult says only
        whether the customer is now identified, never whose account an identifier is."""
        kind = next(iter(p.name for p in tool.model_parameters if p.name in request.input))
        record.action, record.tool, record.arguments = "tool_call", tool.name, {kind: "(given)"}
        if identity is not None:
            found = identify.Identification("already", identify.ALREADY_IDENTIFIED_REPLY, identity.get("customer_id"))
        elif identify.locked(record.state):
            found = identify.Identification("locked", identify.IDENTIFY_LOCKED_REPLY)
        else:
            result = self._call_tool(record, step, tool, request.input, deadline)
            record.status_code = result.status_code
            if result.status_code not in (200, 404):
                reason = "tool_timeout" if result.status_code == 504 else "tool_unavailable"
                reply = UNAVAILABLE_REPLY.format(noun=tool.noun)
                return (tool_result(request.tool_use_id, text=reply, status="error"),
                        (reason, reply, result.error or f"status {result.status_code}"))
            account = result.data.get("customerId") if result.ok else None
            found = identify.note(record.state, kind, str(account) if account else None,
                                  str(result.data.get("name") or "") if result.ok else None)
        record.reason = found.outcome
        if found.outcome == "identified":
            record.note = found.sentence
        return tool_result(request.tool_use_id, {"identified": found.outcome in ("identified", "already"),
                                                 "outcome": found.outcome}, text=found.sentence), None

    def _request(self, use: Mapping[str, Any]) -> ToolRequest:
        name = use.get("name") if isinstance(use.get("name"), str) else ""
        tool_input = dict(use.get("input")) if isinstance(use.get("input"), Mapping) else {}
        tool = self.registry.get(name)
        if tool is not None:
            tool_input = tool.normalise_input(tool_input)
        return ToolRequest(str(use.get("toolUseId") or ""), name, tool_input, tool)

    def _call_tool(self, record: TurnRecord, step: int, tool: Tool, tool_input: dict[str, Any],
                   deadline: Deadline, idempotency_key: str | None = None) -> ToolResult:
        call = ToolCall(tool, {k: str(v) for k, v in tool_input.items()})
        result = ToolResult(504, "", error="no time left for the tool call")
        for attempt in (1, 2):
            attempt_started = time.perf_counter()
            with StepTimer(record, "tool", step) as detail:
                result = dispatch(call, self.registry, self.transport, deadline, idempotency_key)
                record.tool_calls += 1
                detail.update(tool=tool.name, transport=self.transport.name, status_code=result.status_code,
                              error=result.error, attempt=attempt)
            if answer_usable(result) or not result.retryable or not _time_for_another_try(deadline, attempt_started):
                return result
        return result

    # ---------------------------------------------------------------- endings
    def _answer(self, record: TurnRecord, response: ModelResponse) -> None:
        text = model_reply_text(response.message)
        if text and self.planner is None and not self._grounded(text, record):  # a planner's words are ours
            # A model's words about an order or a return it never looked up (or a call written out
            # as text) are not shown: what the tools said this turn, or our own scope reply.
            record.reason = "ungrounded"
            text = " ".join(t for t in self._tool_sentences(record)) or ""
        record.answer = text or OUT_OF_SCOPE_REPLY
        if record.action == "tool_call" and not record.answer.rstrip().endswith("?"):
            return
        if record.answer.rstrip().endswith("?"):  # waiting for the customer (Lex: ElicitIntent)
            record.action = "clarify"
            record.reason = record.reason or "model_asked"
        elif record.reason == "greeting":
            record.action = "answer"
        else:
            record.action, record.reason = "refuse", record.reason or "no_tool"

    def _grounded(self, text: str, record: TurnRecord) -> bool:
        """Whether a model's reply keeps to what this turn's tools returned: every order or return
        id it names was in a tool result, and it writes no tool call out as text."""
        if any(re.search(rf"\b{re.escape(tool.name)}\b", text) for tool in self.registry):
            return False
        told = " ".join(self._tool_sentences(record, with_data=True))
        for parameter in self.registry.id_parameters():
            if parameter.names_its_tool and any(value not in parameter.find_all(told)
                                                for value in parameter.find_all(text)):
                return False
        return True

    @staticmethod
    def _tool_sentences(record: TurnRecord, with_data: bool = False) -> list[str]:
        """The sentences (and, if asked, the data) of this turn's successful tool results."""
        found = []
        for result in successful_results(record.messages):
            found.append(result_text(result))
            if with_data and result_json(result):
                found.append(json.dumps(result_json(result), default=str))
        return [f for f in found if f]

    @staticmethod
    def _fail(record: TurnRecord, reason: str, reply: str, error: str) -> None:
        record.reason, record.error, record.answer, record.fulfilled = reason, error, reply, False
        if record.action != "tool_call":
            record.action = "answer"


def _step(name: str, step: int, **detail: Any):
    from .turn import Step

    return Step(name, step, 0.0, detail)
