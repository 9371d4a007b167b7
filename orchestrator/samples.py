"""Sample Lex V2 events from ``lex/events/``, shared by the tests, ``make demo`` and the CLI."""
from __future__ import annotations

import copy
import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

EVENTS_DIR = Path(__file__).resolve().parent.parent / "lex" / "events"

# The blog's test cases, in the order it shows them.
BLOG_CASES = (
    "Could you tell me if order 123456 has shipped?",
    "Is my return rtn003 processed?",
    "What is the weather like in Scotland today?",
    "What is the status of order 383833?",
    "Is my return rtn123 processed?",
    "What is the impact of return rtn001 on world peace?",
)


@lru_cache(maxsize=None)
def _load(name: str) -> str:
    path = EVENTS_DIR / f"{name}.json"
    if not path.is_file():
        raise FileNotFoundError(f"no sample event {name!r} in {EVENTS_DIR} (run from a clone of the repository)")
    return path.read_text(encoding="utf-8")


def load_event(name: str) -> dict[str, Any]:
    """A fresh copy of ``lex/events/NAME.json``."""
    return json.loads(_load(name))


def text_event(text: str, session_attributes: Mapping[str, str] | None = None,
               session_id: str | None = None) -> dict[str, Any]:
    """A typed FallbackIntent fulfillment event for ``text``, built from ``fallback_text.json``
    (its session id unless ``session_id`` is given: the handler keeps one conversation per id)."""
    event = load_event("fallback_text")
    if session_id is not None:
        event["sessionId"] = session_id
    event["inputTranscript"] = text
    event["transcriptions"][0]["transcription"] = text
    event["sessionState"]["sessionAttributes"] = dict(session_attributes or {})
    return copy.deepcopy(event)
