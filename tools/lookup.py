"""What the lookup tools share: validate one id, read one item, answer in the tool contract.

A tool answers ``{"statusCode", "body", "data"}`` and never raises: bad input is a 400 that says
what was wrong, an unknown id a 404 that asks the customer to check it, a store failure a 500.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from .store import Store, StoreError, shared_store

logger = logging.getLogger(__name__)


def answer(status_code: int, body: str, data: Mapping[str, Any] | None = None) -> dict[str, Any]:
    return {"statusCode": status_code, "body": body, "data": dict(data or {})}


@dataclass(frozen=True)
class LookupTool:
    """One read-only lookup: an id field in the event, its pattern, its table, its sentence."""

    table: str
    id_field: str  # the event field, e.g. "orderId"
    noun: str  # how the customer calls it, e.g. "order"
    pattern: re.Pattern[str]  # full match on the normalised id
    id_hint: str  # what a valid id looks like, for the 400 message
    describe: Callable[[dict[str, Any]], str]
    normalise: Callable[[str], str] = str.strip
    hidden: tuple[str, ...] = ()  # item attributes left out of the answer's data

    def handle(self, event: Any, store: Store | None = None) -> dict[str, Any]:
        if not isinstance(event, Mapping):
            return answer(400, f"The request must be a JSON object with the field {self.id_field}.")
        raw = event.get(self.id_field)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return answer(400, f"{self.id_field} is required: {self.id_hint}.")
        if not isinstance(raw, str):
            return answer(400, f"{self.id_field} must be a string: {self.id_hint}.")
        key = self.normalise(raw)
        if not self.pattern.fullmatch(key):
            return answer(400, f"{self.id_field} is not valid: {self.id_hint}.")
        try:
            item = (store or shared_store()).get(self.table, key)
        except StoreError as exc:
            logger.error("store read failed for %s: %s", self.table, exc)
            return answer(500, f"Sorry, I can't look up {self.noun}s right now. Please try again in a few minutes.")
        if item is None:
            return answer(
                404,
                f"I couldn't find {self.noun} {key}. Please check the {self.noun} number and try again.",
                {self.id_field: key},
            )
        try:
            sentence = self.describe(item)
        except (KeyError, TypeError, ValueError) as exc:  # an item missing a field: never a trace
            logger.error("malformed %s item: %s", self.table, type(exc).__name__)
            return answer(500, f"Sorry, I can't look up {self.noun}s right now. Please try again in a few minutes.")
        return answer(200, sentence, {k: v for k, v in item.items() if k not in self.hidden})
