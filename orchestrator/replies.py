"""The agent's own words: greetings, scope, clarifying questions, apologies.

Kept in one place so the wording is consistent and easy to change (or translate).
"""
from __future__ import annotations

import re

GREETING_REPLY = (
    "Hello! I can help you with your orders and returns. "
    "Ask me, for example, \"Where is my order 123456?\" or \"Is my return rtn001 processed?\""
)
OUT_OF_SCOPE_REPLY = (
    "Sorry, I can only help with orders and returns. "
    "Please give me your order number or return id and tell me what you'd like to know."
)
EMPTY_INPUT_REPLY = "Sorry, I didn't catch that. What would you like to know about your order or return?"
TIMEOUT_REPLY = (
    "Sorry, this is taking longer than expected. Please try again in a moment."
)
UNAVAILABLE_REPLY = "Sorry, I can't reach our {noun}s system right now. Please try again in a few minutes."

_GREETING = re.compile(
    r"^\s*(hi|hello|hey|hiya|howdy|greetings|good\s+(morning|afternoon|evening|day)|thanks|thank\s+you|"
    r"thx|cheers|bye|goodbye|see\s+you|how\s+are\s+you)\b[\s\w,!.?']{0,30}$",
    re.IGNORECASE,
)


def is_greeting(text: str) -> bool:
    """True for short pleasantries ("hi", "thanks!", "good morning there")."""
    return bool(_GREETING.match(text or ""))


def no_tool_reply(text: str) -> tuple[str, str]:
    """(reason, reply) for a turn that calls no tool."""
    if is_greeting(text):
        return "greeting", GREETING_REPLY
    return "out_of_scope", OUT_OF_SCOPE_REPLY


def clarify_question(noun: str, ask_for: str) -> str:
    return f"I can help with your {noun}. Could you please tell me {ask_for}?"
