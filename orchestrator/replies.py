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
CONFIRMATION_EXPIRED_REPLY = ("That confirmation has expired, so I haven't changed anything. "
                             "Please ask again if you still want it.")
CONFIRMATION_DECLINED_REPLY = "OK, I haven't changed anything."
CONFIRMATION_DROPPED_NOTE = "I haven't made that change."
NOT_IDENTIFIED_REASON = ("the customer is not identified yet: ask for two of the email address, phone number "
                         "and username on their account (or for them to sign in).")
THANKS_REPLY = "You're welcome! Let me know if there is anything else about your orders or returns."
GOODBYE_REPLY = "Goodbye, and thank you for shopping with us."
EMPTY_INPUT_REPLY = "Sorry, I didn't catch that. What would you like to know about your order or return?"
TIMEOUT_REPLY = (
    "Sorry, this is taking longer than expected. Please try again in a moment."
)
UNAVAILABLE_REPLY = "Sorry, I can't reach our {noun}s system right now. Please try again in a few minutes."
MODEL_UNAVAILABLE_REPLY = "Sorry, our assistant isn't available right now. Please try again in a few minutes."
INTERNAL_ERROR_REPLY = "Sorry, something went wrong on our side. Please try again in a moment."
NOT_FOUND_REPLY = "I couldn't find {noun} {key}. Please check the {noun} number and try again."

# What a customer message may hold: Lex V2 accepts 1 to 1,000 characters per message; the tool's
# sentence is kept well under that so a channel can add to it.
MAX_REPLY_CHARS = 1000
MAX_TOOL_SENTENCE_CHARS = 600
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\ufeff\ud800-\udfff]")
# Text that belongs in a log, not in front of a customer.
_INTERNALS = re.compile(
    r"Traceback|File \"|arn:aws|Exception\b|botocore|boto3|\bat 0x[0-9a-f]+|\b[A-Za-z]*Error[:(]|stack ?trace"
    r"|Task timed out|object is not subscriptable|NoneType|/var/task",
    re.IGNORECASE,
)


# Tool sentences are a few hundred characters; only this much of a body is ever read.
MAX_TOOL_BODY_CHARS = 4096


def looks_internal(text: str) -> bool:
    """True when ``text`` carries a stack trace, an ARN or an exception name."""
    return bool(_INTERNALS.search((text or "")[:MAX_TOOL_BODY_CHARS]))


def utf16_length(text: str) -> int:
    """Length as Lex counts it: UTF-16 code units (an emoji is two)."""
    return len(text) + sum(1 for c in text if ord(c) > 0xFFFF)


def clean_text(text: str, limit: int = MAX_REPLY_CHARS) -> str:
    """One line of printable text of at most ``limit`` UTF-16 units, cut at a word when it must be."""
    text = " ".join(_CONTROL.sub(" ", (text or "")[: 4 * limit]).split())
    if utf16_length(text) <= limit:
        return text
    cut, units = [], 0
    for char in text:
        units += 2 if ord(char) > 0xFFFF else 1
        if units > limit - 1:  # room for the ellipsis
            break
        cut.append(char)
    kept = "".join(cut)
    space = kept.rfind(" ")
    if space > limit // 2:
        kept = kept[:space]
    return kept.rstrip(" ,;:") + "\u2026"


_GREETING = re.compile(
    r"^\s*(hi|hello|hey|hiya|howdy|greetings|good\s+(morning|afternoon|evening|day)|thanks|thank\s+you|"
    r"thx|cheers|bye|goodbye|see\s+you|how\s+are\s+you)\b[\s\w,!.?']{0,30}$",
    re.IGNORECASE,
)


def is_greeting(text: str) -> bool:
    """True for short pleasantries ("hi", "thanks!", "good morning there")."""
    return bool(_GREETING.match(text or ""))


_THANKS = re.compile(r"^\s*(thanks|thank\s+you|thx|cheers|ta)\b", re.IGNORECASE)
_GOODBYE = re.compile(r"\b(bye|goodbye|see\s+you)\b", re.IGNORECASE)


def no_tool_reply(text: str) -> tuple[str, str]:
    """(reason, reply) for a turn that calls no tool: a hello, a thank-you, a goodbye, or the scope."""
    if is_greeting(text):
        if _GOODBYE.search(text):
            return "greeting", GOODBYE_REPLY
        if _THANKS.match(text):
            return "greeting", THANKS_REPLY
        return "greeting", GREETING_REPLY
    return "out_of_scope", OUT_OF_SCOPE_REPLY


def clarify_question(noun: str, ask_for: str) -> str:
    return f"I can help with your {noun}. Could you please tell me {ask_for}?"
