"""Confirmation before any change: one pending action, held server-side, run only on a clear yes.

A tool that changes data never runs on the model's word. When a model asks for one, the loop
keeps the call here (tool, input, the customer it is for, an idempotency key, an expiry) in the
conversation's server-side state and asks the customer. Only a clear yes on the very next turn
runs it, with exactly the arguments that were stated and its key, so a retried or repeated yes
reports the result instead of acting twice. Anything else (no, a new question, a yes after the
expiry) drops it, and the reply says so.

>>> is_yes("Yes please") and is_yes("yeah") and is_yes("Yes, cancel it.")
True
>>> is_yes("yes but first tell me where order 123456 is")
False
>>> is_no("No thanks")
True
"""
from __future__ import annotations

import re
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

PENDING_TTL_S = 300  # a confirmation question waits five minutes for its yes
LAST_ACTION_TTL_S = 600  # a repeated yes within this reports the action it already ran

_YES = re.compile(
    r"^\s*(yes|yeah|yea|yep|yup|sure|ok|okay|confirm(ed)?|correct|affirmative|go ahead|please do|do it)"
    r"(\s*[,.!]?\s*(please|thanks|thank you|do it|go ahead|cancel it|confirm(ed)?|that'?s right|i'?m sure))*"
    r"\s*[.!]*\s*$",
    re.IGNORECASE,
)
_NO = re.compile(r"^\s*(no|nope|nah|don'?t|do not|cancel that|never ?mind|stop|keep it)\b[\s\w,.!']{0,40}$",
                 re.IGNORECASE)


def is_yes(text: str) -> bool:
    """A clear yes, typed or spoken ("yes", "yes please", "yeah", "sure, go ahead"), and nothing more."""
    return bool(_YES.match(text or ""))


def is_no(text: str) -> bool:
    return bool(_NO.match(text or ""))


@dataclass
class PendingAction:
    """A data-changing call stated to the customer and waiting for their yes."""

    tool: str
    input: dict[str, Any]
    customer_id: str | None
    question: str
    key: str = field(default_factory=lambda: uuid.uuid4().hex)
    expires_at: float = field(default_factory=lambda: time.time() + PENDING_TTL_S)

    def expired(self, now: float | None = None) -> bool:
        return (time.time() if now is None else now) >= self.expires_at

    def to_state(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_state(cls, state: Mapping[str, Any] | None) -> "PendingAction | None":
        """The pending action in a conversation's state, if a well-formed one is there."""
        raw = (state or {}).get("pending")
        if not isinstance(raw, Mapping):
            return None
        try:
            return cls(str(raw["tool"]), dict(raw["input"]), raw.get("customer_id"), str(raw["question"]),
                       str(raw["key"]), float(raw["expires_at"]))
        except (KeyError, TypeError, ValueError):
            return None


class _Fields(dict):
    """Template fields: money as money, and a missing field left visible rather than an error."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def fill(template: str, data: Mapping[str, Any]) -> str | None:
    """``template`` with ``data``'s fields, or None when a field is missing or the template is bad."""
    fields = _Fields({k: (f"${v:,.2f}" if k in ("amount", "price") and isinstance(v, (int, float)) else v)
                      for k, v in data.items() if not isinstance(v, (dict, list))})
    try:
        text = template.format_map(fields)
    except (ValueError, IndexError, AttributeError):
        return None
    return None if "{" in text else text


def confirmation_question(tool: Any, data: Mapping[str, Any]) -> str:
    """What the customer is asked before ``tool`` runs: exactly what will happen, then "say yes"."""
    question = fill(tool.confirm, data) if tool.confirm else None
    if question is None:
        shown = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in data.items() if not isinstance(v, (dict, list)))
        question = f"Shall I {tool.name.replace('_', ' ')} ({shown})? Say yes to confirm."
    return question


def last_action(state: Mapping[str, Any] | None, now: float | None = None) -> dict[str, Any] | None:
    """The action a yes already ran, while a repeated yes should still hear about it."""
    raw = (state or {}).get("last_action")
    if isinstance(raw, Mapping) and float(raw.get("at", 0)) + LAST_ACTION_TTL_S > (time.time() if now is None else now):
        return dict(raw)
    return None
