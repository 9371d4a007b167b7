"""The values the loop passes around, and the structured record every turn yields.

Tests, the eval harness and the logs read ``TurnRecord``, never the prose of the answer.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

# What the agent did with the turn.
Action = Literal["tool_call", "clarify", "answer", "refuse"]


@dataclass
class Plan:
    """A planner's choice for one round: a tool with raw arguments, or no tool."""

    tool: str | None  # a registered tool name, or None for no tool
    arguments: dict[str, Any] = field(default_factory=dict)
    # Why no tool, or how sure: "greeting", "out_of_scope", "invalid_tool", "model_error", ...
    reason: str = ""
    score: float | None = None  # the router's similarity; None for model planners
    model_output: str | None = None  # raw model text (kept out of INFO logs)
    error: str | None = None  # a failure turned into a value: "timeout", "model_error: ..."
    model_calls: int = 0

    @property
    def wants_tool(self) -> bool:
        return self.tool is not None


@dataclass
class ToolResult:
    """What a tool answered, or what went wrong reaching it."""

    status_code: int  # the tool's statusCode; 504 for a timeout, 502 for a transport failure
    body: str
    data: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status_code == 200

    @property
    def retryable(self) -> bool:
        return self.status_code >= 500


@dataclass
class Step:
    """One timed step of a turn. ``detail`` never holds customer text or tool results."""

    name: str  # model | guard | tool
    round: int
    ms: float
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class TurnRecord:
    action: Action = "answer"
    answer: str = ""
    fulfilled: bool = True  # False -> the Lex intent closes as Failed
    tool: str | None = None
    arguments: dict[str, str] = field(default_factory=dict)
    status_code: int | None = None  # the last tool call's status code
    # found, not_found, greeting, out_of_scope, not_relevant, missing_id, empty_input, invalid_tool,
    # unknown_tool, model_asked, pending_tool, follow_up, refused, no_tool; failures:
    # deadline, model_timeout, model_error, planner_error, tool_timeout, tool_unavailable, internal_error
    reason: str = ""
    error: str | None = None  # a failure's detail ("endpoint error ThrottlingException"): no customer text
    planner: str = ""
    rounds: int = 0
    model_calls: int = 0
    tool_calls: int = 0
    latency_ms: float = 0.0
    steps: list[Step] = field(default_factory=list)
    # What the turn added to the conversation (Converse messages): the memory saves these.
    messages: list[dict[str, Any]] = field(default_factory=list)
    # The conversation's server-side state after the turn (a pending confirmation, the identified customer).
    state: dict[str, Any] = field(default_factory=dict)
    note: str = ""  # said before the answer ("I haven't made that change." when a question lapsed)

    def to_dict(self, *, include_text: bool = True) -> dict[str, Any]:
        data = asdict(self)
        if not include_text:  # the customer's words, the model's and the tools' stay out of logs
            data.pop("answer")
            data.pop("messages")
            data.pop("state")
            data.pop("note")
        return data


class StepTimer:
    """Times one step and appends it to the record: ``with StepTimer(record, "plan", 1) as d: ...``."""

    def __init__(self, record: TurnRecord, name: str, round_: int) -> None:
        self.record, self.name, self.round = record, name, round_
        self.detail: dict[str, Any] = {}

    def __enter__(self) -> dict[str, Any]:
        self._start = time.perf_counter()
        return self.detail

    def __exit__(self, *exc: object) -> None:
        ms = (time.perf_counter() - self._start) * 1000
        self.record.steps.append(Step(self.name, self.round, round(ms, 3), self.detail))
