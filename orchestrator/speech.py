"""Replies written for the ear: SSML for callers on Amazon Connect or the console's microphone.

A sentence that reads well ("Order 123456 (3 x Herbal Handsoap, $20.97) shipped on 2026-10-10
with UPS, tracking number 1Z30824628194821.") is hard to follow when spoken: a neural voice reads
123456 as "one hundred twenty-three thousand...", an ISO date digit by digit, and a tracking
number as a wall of characters. Here ids are spoken digit by digit, dates as dates, amounts are
left as "$20.97" (which Amazon Polly reads as money), "3 x" becomes "3", and a tracking number is
replaced by where to find it. Everything else is escaped text, so the result is always
well-formed SSML.
"""
from __future__ import annotations

import re

from .replies import utf16_length

# Lex V2 accepts at most 1,000 characters in an SSML message.
MAX_SSML_CHARS = 1000

TRACKING_SPOKEN = "; the tracking number is in your shipping confirmation email"

_TRACKING = re.compile(r",?\s*(?:with\s+)?tracking number\s+[A-Za-z0-9-]{6,}", re.IGNORECASE)
_QUANTITY = re.compile(r"\b([0-9]+) x (?=\S)")
_RETURN_ID = re.compile(r"\brtn([0-9]{3})\b", re.IGNORECASE)
_DATE = re.compile(r"\b([0-9]{4})-([0-9]{2})-([0-9]{2})\b")
# Standalone runs of 4+ ASCII digits are ids, not quantities; an amount's digits follow "$" or ",".
_DIGITS = re.compile(r"(?<![$0-9.,])\b[0-9]{4,}\b(?![.,][0-9])")
_MARK = re.compile(r"\x00(\d+)\x00")
# Characters XML 1.0 forbids (the markers below use \x00, so it must be gone first).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def escape(text: str) -> str:
    """XML-escape text (xml.sax.saxutils would cost the cold start an import of urllib)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def for_speech(text: str) -> str:
    """The plain-text rewrite: no tracking-number walls, no "3 x"."""
    text = _TRACKING.sub(TRACKING_SPOKEN, text)
    return _QUANTITY.sub(r"\1 ", text)


def to_ssml(text: str) -> str | None:
    """``<speak>...</speak>`` for ``text``, or None when it would not fit in one Lex message."""
    text = for_speech(text)
    pieces: list[str] = []

    def mark(markup: str) -> str:
        pieces.append(markup)
        return f"\x00{len(pieces) - 1}\x00"

    text = _NOT_XML.sub("", text)
    text = _RETURN_ID.sub(lambda m: mark(f'<say-as interpret-as="characters">RTN</say-as> '
                                         f'<say-as interpret-as="digits">{m.group(1)}</say-as>'), text)
    text = _DATE.sub(lambda m: mark(f'<say-as interpret-as="date" format="ymd">{m.group(0)}</say-as>'), text)
    text = _DIGITS.sub(lambda m: mark(f'<say-as interpret-as="digits">{m.group(0)}</say-as>'), text)
    body = _MARK.sub(lambda m: pieces[int(m.group(1))], escape(text))
    ssml = f"<speak>{body}</speak>"
    return ssml if utf16_length(ssml) <= MAX_SSML_CHARS else None
