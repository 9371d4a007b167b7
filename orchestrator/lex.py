"""Thin typed views over the Amazon Lex V2 code hook event, and builders for its response.

Lex V2 event: https://docs.aws.amazon.com/lexv2/latest/dg/lambda-input-format.html
Response:    https://docs.aws.amazon.com/lexv2/latest/dg/lambda-response-format.html

Every property returns a value of the documented type and range, whatever the event holds: a
field of the wrong type reads as missing, an intent state outside Lex's set as "InProgress". The
responses are built only from these validated values, so a malformed event never makes Lex reject
the reply. Session attributes come back from the client: read them as hints, never as identity or
authority, and echo only what fits the documented cap.
"""
from __future__ import annotations

import re
from typing import Any, Mapping

from .replies import MAX_REPLY_CHARS, clean_text, utf16_length
from .speech import for_speech, to_ssml

FALLBACK_INTENT = "FallbackIntent"
INTENT_STATES = ("Failed", "Fulfilled", "FulfillmentInProgress", "InProgress", "ReadyForFulfillment", "Waiting")
CONFIRMATION_STATES = ("Confirmed", "Denied", "None")
INPUT_MODES = ("Text", "Speech", "DTMF")
INVOCATION_SOURCES = ("DialogCodeHook", "FulfillmentCodeHook")
# Lex's pattern for intent names: letters and digits, single _ or - between them, up to 100.
_INTENT_NAME = re.compile(r"(?:[0-9a-zA-Z][_-]?){1,100}")
# Lex V2 takes at most 1,024 characters of text per turn (RecognizeText); keep no more of it.
MAX_TRANSCRIPT_CHARS = 1024

# The client's own session attributes are echoed back within this cap, and dropped (never
# truncated, which would corrupt a value) past it: Lex limits the session state as a whole.
MAX_ATTRIBUTES = 20
MAX_ATTRIBUTE_KEY_LENGTH = 100
MAX_ATTRIBUTE_LENGTH = 1024
MAX_ATTRIBUTES_TOTAL = 4096  # UTF-8 bytes of keys and values together

FALLBACK_MESSAGE = "Sorry, I have no answer to that. Please ask about an order or a return."

# ImageResponseCard (Lex V2 runtime API): title 1..250 characters, at most 5 buttons, each with a
# text and a value of 1..50 characters. A text channel shows the buttons; a caller hears no card.
CARD_TITLE_MAX = 250
MAX_BUTTONS = 5
BUTTON_TEXT_MAX = 50
CONFIRM_BUTTONS = ({"text": "Yes", "value": "yes"}, {"text": "No", "value": "no"})


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _is_text(value: Any) -> bool:
    """A string that is valid Unicode text (a lone surrogate cannot be sent back as JSON to Lex)."""
    if not isinstance(value, str):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


_SLOT_FIELDS = {"shape", "value", "values", "subSlots"}
_VALUE_FIELDS = {"originalValue", "interpretedValue", "resolvedValues"}
_MAX_SLOT_DEPTH = 3


def _is_filled(value: Any) -> bool:
    """Text of at least one character (Lex rejects an empty slot value)."""
    return _is_text(value) and value != ""


def _valid_slot(slot: Any, depth: int = 0) -> bool:
    """A slot object as the Lex V2 Slot data type defines it (or null, for an unfilled slot)."""
    if slot is None:
        return True
    if not isinstance(slot, dict) or not set(slot) <= _SLOT_FIELDS or depth > _MAX_SLOT_DEPTH:
        return False
    if "shape" in slot and slot["shape"] not in ("Scalar", "List", "Composite"):
        return False
    value = slot.get("value")
    if value is not None:
        if not isinstance(value, dict) or not set(value) <= _VALUE_FIELDS or not _is_filled(value.get("interpretedValue")):
            return False
        if "originalValue" in value and not _is_filled(value["originalValue"]):
            return False
        resolved = value.get("resolvedValues", [])
        if not isinstance(resolved, list) or not all(_is_filled(v) for v in resolved):
            return False
    values = slot.get("values", [])
    if not isinstance(values, list) or not all(v is not None and _valid_slot(v, depth + 1) for v in values):
        return False
    return "subSlots" not in slot or _valid_slots(slot["subSlots"], depth + 1)


def _valid_slots(slots: Any, depth: int = 0) -> bool:
    return isinstance(slots, dict) and all(
        isinstance(name, str) and _INTENT_NAME.fullmatch(name) and _valid_slot(slot, depth)
        for name, slot in slots.items())


def cap_attributes(attributes: Any) -> dict[str, str]:
    """String keys and values only, within the caps above, in the order the client sent them."""
    kept: dict[str, str] = {}
    total = 0
    for key, value in _dict(attributes).items():
        if len(kept) >= MAX_ATTRIBUTES:
            break
        if not (_is_text(key) and _is_text(value)):
            continue
        if not key or len(key) > MAX_ATTRIBUTE_KEY_LENGTH or len(value) > MAX_ATTRIBUTE_LENGTH:
            continue
        size = len(key.encode("utf-8")) + len(value.encode("utf-8"))
        if total + size > MAX_ATTRIBUTES_TOTAL:
            continue
        kept[key] = value
        total += size
    return kept


class LexEvent:
    """A read-only, validated view of a Lex V2 Lambda event."""

    def __init__(self, event: Any) -> None:
        self.raw: dict[str, Any] = _dict(event)

    @property
    def input_transcript(self) -> str:
        """What the customer typed, or what speech recognition heard ("" when absent), capped."""
        return _str(self.raw.get("inputTranscript"))[:MAX_TRANSCRIPT_CHARS]

    @property
    def input_mode(self) -> str:
        """"Text", "Speech" or "DTMF" (anything else reads as "Text")."""
        mode = self.raw.get("inputMode")
        return mode if mode in INPUT_MODES else "Text"

    @property
    def is_voice(self) -> bool:
        """The caller hears the reply (Connect, the console's microphone): answer in SSML."""
        return self.input_mode in ("Speech", "DTMF")

    @property
    def invocation_source(self) -> str:
        """"FulfillmentCodeHook" or "DialogCodeHook" (anything else reads as fulfillment)."""
        source = self.raw.get("invocationSource")
        return source if source in INVOCATION_SOURCES else "FulfillmentCodeHook"

    @property
    def session_id(self) -> str:
        return _str(self.raw.get("sessionId"))[:256]

    @property
    def bot(self) -> dict[str, Any]:
        return _dict(self.raw.get("bot"))

    @property
    def session_state(self) -> dict[str, Any]:
        return _dict(self.raw.get("sessionState"))

    @property
    def intent(self) -> dict[str, Any]:
        """The intent Lex resolved (``sessionState.intent``), raw: read it through the properties."""
        return _dict(self.session_state.get("intent"))

    @property
    def intent_name(self) -> str:
        """The intent's name when it is a valid Lex intent name, else ""."""
        name = self.intent.get("name")
        return name if isinstance(name, str) and _INTENT_NAME.fullmatch(name) else ""

    @property
    def intent_state(self) -> str:
        state = self.intent.get("state")
        return state if state in INTENT_STATES else "InProgress"

    @property
    def confirmation_state(self) -> str:
        state = self.intent.get("confirmationState")
        return state if state in CONFIRMATION_STATES else "None"

    @property
    def slots(self) -> dict[str, Any] | None:
        """The intent's slots when every one is a well-formed slot object (or null), else None."""
        slots = self.intent.get("slots")
        return slots if _valid_slots(slots) else None

    @property
    def is_fallback(self) -> bool:
        return self.intent_name == FALLBACK_INTENT

    @property
    def session_attributes(self) -> dict[str, str]:
        """The client's session attributes: strings only, within the documented cap."""
        return cap_attributes(self.session_state.get("sessionAttributes"))

    @property
    def request_attributes(self) -> dict[str, str]:
        """Request attributes (this turn only): strings only. Client-set: a signed token in one is
        verified before anything trusts it (``identity.py``); nothing else here is ever identity."""
        attrs = _dict(self.raw.get("requestAttributes"))
        return {k: v for k, v in attrs.items() if _is_text(k) and _is_text(v) and len(v) <= 16_384}

    @property
    def locale_id(self) -> str:
        locale = self.bot.get("localeId")
        return locale if isinstance(locale, str) and re.fullmatch(r"[a-z]{2}_[A-Z]{2}", locale) else "en_US"

    @property
    def transcriptions(self) -> list[dict[str, Any]]:
        """Speech recognition alternatives, best first (empty for text input)."""
        value = self.raw.get("transcriptions")
        return [t for t in value if isinstance(t, dict)] if isinstance(value, list) else []


def _intent(event: LexEvent, state: str) -> dict[str, Any]:
    intent: dict[str, Any] = {"name": event.intent_name or FALLBACK_INTENT, "state": state,
                              "confirmationState": event.confirmation_state}
    if event.slots is not None:
        intent["slots"] = event.slots
    return intent


def message(text: str, *, voice: bool = False) -> dict[str, str]:
    """One Lex message: SSML for a caller when it fits, else plain text within Lex's limits."""
    text = clean_text(text, MAX_REPLY_CHARS) or FALLBACK_MESSAGE
    if voice:
        ssml = to_ssml(text)
        if ssml is not None:
            return {"contentType": "SSML", "content": ssml}
        text = clean_text(for_speech(text), MAX_REPLY_CHARS)  # too long for SSML: still no tracking wall
    return {"contentType": "PlainText", "content": text}


def _attributes(event: LexEvent, session_attributes: Mapping[str, str] | None) -> dict[str, str]:
    return dict(event.session_attributes if session_attributes is None else session_attributes)


def close(
    event: LexEvent, text: str, *, fulfilled: bool = True, session_attributes: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """End the intent with one message (Fulfilled, or Failed): an answer."""
    return {
        "sessionState": {
            "sessionAttributes": _attributes(event, session_attributes),
            "dialogAction": {"type": "Close"},
            "intent": _intent(event, "Fulfilled" if fulfilled else "Failed"),
        },
        "messages": [message(text, voice=event.is_voice)],
    }


def response_card(title: str, buttons: Any) -> dict[str, Any] | None:
    """An ImageResponseCard message with ``buttons`` (text/value pairs) under ``title``, within
    Lex's limits: the title cut to fit, at most five buttons, a button whose text or value is
    empty or too long dropped (cutting a value would send something else). None when no button fits."""
    kept = []
    for button in buttons if isinstance(buttons, (list, tuple)) else ():
        if not isinstance(button, Mapping):
            continue
        label, value = clean_text(_str(button.get("text")), BUTTON_TEXT_MAX), _str(button.get("value"))
        if not label or not _is_filled(value) or utf16_length(value) > BUTTON_TEXT_MAX:
            continue
        if len(kept) < MAX_BUTTONS:
            kept.append({"text": label, "value": value})
    if not kept:
        return None
    return {"contentType": "ImageResponseCard",
            "imageResponseCard": {"title": clean_text(title, CARD_TITLE_MAX) or "Please choose", "buttons": kept}}


def elicit_intent(event: LexEvent, text: str, *, session_attributes: Mapping[str, str] | None = None,
                  buttons: Any = None) -> dict[str, Any]:
    """Ask a question and keep listening: Lex (and a Connect "Get customer input" block) waits for
    the customer's next utterance instead of ending the conversation.

    ``buttons`` (``[{"text": "Yes", "value": "yes"}, ...]``) add an ImageResponseCard after the
    question on a text channel, titled with the question cut to fit; a caller (Speech, DTMF) hears
    only the question, since a card cannot be spoken.
    """
    messages = [message(text, voice=event.is_voice)]
    if buttons and not event.is_voice:
        card = response_card(messages[0]["content"], buttons)
        if card is not None:
            messages.append(card)
    return {
        "sessionState": {
            "sessionAttributes": _attributes(event, session_attributes),
            "dialogAction": {"type": "ElicitIntent"},
        },
        "messages": messages,
    }


def delegate(event: LexEvent) -> dict[str, Any]:
    """Hand the next step back to Lex (for dialog hooks of intents that are not ours)."""
    return {
        "sessionState": {
            "sessionAttributes": event.session_attributes,
            "dialogAction": {"type": "Delegate"},
            "intent": _intent(event, event.intent_state),
        }
    }
