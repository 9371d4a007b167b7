"""Thin typed views over the Amazon Lex V2 code hook event, and builders for its response.

Lex V2 event: https://docs.aws.amazon.com/lexv2/latest/dg/lambda-input-format.html
Response:    https://docs.aws.amazon.com/lexv2/latest/dg/lambda-response-format.html

Unknown fields are ignored; missing ones read as empty. Session attributes come back from the
client: read them as hints, never as identity or authority.
"""
from __future__ import annotations

from typing import Any, Mapping

FALLBACK_INTENT = "FallbackIntent"
# Lex limits the whole session state; keep our own attribute values short.
MAX_ATTRIBUTE_LENGTH = 256


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


class LexEvent:
    """A read-only view of a Lex V2 Lambda event."""

    def __init__(self, event: Any) -> None:
        self.raw: dict[str, Any] = _dict(event)

    @property
    def input_transcript(self) -> str:
        """What the customer typed, or what speech recognition heard ("" when absent)."""
        value = self.raw.get("inputTranscript")
        return value if isinstance(value, str) else ""

    @property
    def input_mode(self) -> str:
        """"Text", "Speech" or "DTMF"."""
        return str(self.raw.get("inputMode") or "Text")

    @property
    def invocation_source(self) -> str:
        """"FulfillmentCodeHook" or "DialogCodeHook"."""
        return str(self.raw.get("invocationSource") or "FulfillmentCodeHook")

    @property
    def session_id(self) -> str:
        return str(self.raw.get("sessionId") or "")

    @property
    def session_state(self) -> dict[str, Any]:
        return _dict(self.raw.get("sessionState"))

    @property
    def intent(self) -> dict[str, Any]:
        """The intent Lex resolved (``sessionState.intent``)."""
        return _dict(self.session_state.get("intent"))

    @property
    def intent_name(self) -> str:
        return str(self.intent.get("name") or "")

    @property
    def is_fallback(self) -> bool:
        return self.intent_name == FALLBACK_INTENT

    @property
    def session_attributes(self) -> dict[str, str]:
        """Session attributes, keeping only string keys and values (as Lex defines them)."""
        attrs = _dict(self.session_state.get("sessionAttributes"))
        return {k: v for k, v in attrs.items() if isinstance(k, str) and isinstance(v, str)}

    @property
    def locale_id(self) -> str:
        return str(_dict(self.raw.get("bot")).get("localeId") or "en_US")

    @property
    def transcriptions(self) -> list[dict[str, Any]]:
        """Speech recognition alternatives, best first (empty for text input)."""
        value = self.raw.get("transcriptions")
        return [t for t in value if isinstance(t, dict)] if isinstance(value, list) else []


def _intent_for_response(event: LexEvent, state: str) -> dict[str, Any]:
    intent = {"name": event.intent_name or FALLBACK_INTENT, "state": state}
    if "slots" in event.intent:
        intent["slots"] = event.intent["slots"]
    intent["confirmationState"] = event.intent.get("confirmationState", "None")
    return intent


def close(
    event: LexEvent, message: str, *, fulfilled: bool = True, session_attributes: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """End the intent with one plain-text message (Fulfilled, or Failed)."""
    attrs = dict(event.session_attributes if session_attributes is None else session_attributes)
    return {
        "sessionState": {
            "sessionAttributes": attrs,
            "dialogAction": {"type": "Close"},
            "intent": _intent_for_response(event, "Fulfilled" if fulfilled else "Failed"),
        },
        "messages": [{"contentType": "PlainText", "content": message}],
    }


def delegate(event: LexEvent) -> dict[str, Any]:
    """Hand the next step back to Lex (for dialog hooks of intents that are not ours)."""
    return {
        "sessionState": {
            "sessionAttributes": event.session_attributes,
            "dialogAction": {"type": "Delegate"},
            "intent": _intent_for_response(event, str(event.intent.get("state") or "InProgress")),
        }
    }
