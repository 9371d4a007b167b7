"""What the lookup tools share: validate one id, read one item, answer in the tool contract.

A tool answers ``{"statusCode", "body", "data"}`` and never raises: bad input is a 400 that says
what was wrong, an unknown id a 404 that asks the customer to check it, a store failure a 500.

What an answer reveals is decided here, at the source, not by whoever relays it:

* ``shown`` lists the item attributes the answer's ``data`` may carry (an allow-list: an attribute
  added to the table later stays out until someone adds it here);
* ``owner`` (optional) gives the item's owner a fuller answer: when the event names the owner
  (``customerId``) and the stored item's owner is exactly that one, the answer is
  ``owner.describe`` and the item minus ``owner.hidden``; when it names anyone else, or the item
  has no owner, the answer is the 404 of a missing id, byte for byte (``not_found``), so that a
  caller cannot tell "someone else's" from "no such thing".

Nothing about the id asked for, the customer or the item is logged.
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
class OwnerView:
    """The fuller answer an item's owner gets, and how the event names the owner."""

    field: str  # the event field and the item attribute naming the owner, e.g. "customerId"
    pattern: re.Pattern[str]  # full match on the stripped value
    hint: str  # what a valid value looks like, for the 400 message
    describe: Callable[[dict[str, Any]], str]
    hidden: tuple[str, ...] = ()  # item attributes left out of the owner's data too

    def problem(self, raw: Any) -> str | None:
        """What is wrong with the value given for ``field`` (the 400's body), or None."""
        if not isinstance(raw, str):
            return f"{self.field} must be a string: {self.hint}."
        if not self.pattern.fullmatch(raw.strip()):
            return f"{self.field} is not valid: {self.hint}."
        return None


@dataclass(frozen=True)
class LookupTool:
    """One read-only lookup: an id field in the event, its pattern, its table, its sentence."""

    table: str
    id_field: str  # the event field, e.g. "orderId"
    noun: str  # how the customer calls it, e.g. "order"
    pattern: re.Pattern[str]  # full match on the normalised id
    id_hint: str  # what a valid id looks like, for the 400 message
    describe: Callable[[dict[str, Any]], str]  # the sentence anyone who knows the id hears
    normalise: Callable[[str], str] = str.strip
    shown: tuple[str, ...] = ()  # the item attributes anyone's answer carries in data (those present)
    owner: OwnerView | None = None  # the owner's fuller answer; None: everyone gets the same one

    def not_found(self, key: str) -> dict[str, Any]:
        """The answer for an id that is not there (or, to this caller, might as well not be)."""
        return answer(
            404,
            f"I couldn't find {self.noun} {key}. Please check the {self.noun} number and try again.",
            {self.id_field: key},
        )

    def unavailable(self) -> dict[str, Any]:
        return answer(500, f"Sorry, I can't look up {self.noun}s right now. Please try again in a few minutes.")

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
        claimed: str | None = None  # the owner the event names; None: an anonymous look-up
        if self.owner is not None and event.get(self.owner.field) is not None:
            problem = self.owner.problem(event[self.owner.field])
            if problem is not None:
                return answer(400, problem)
            claimed = event[self.owner.field].strip()
        try:
            item = (store or shared_store()).get(self.table, key)
        except StoreError as exc:
            logger.error("store read failed for %s: %s", self.table, exc)
            return self.unavailable()
        if item is None:
            return self.not_found(key)
        if claimed is not None and self.owner is not None:
            if item.get(self.owner.field) != claimed:  # another's, or nobody's: as if missing
                return self.not_found(key)
            describe: Callable[[dict[str, Any]], str] = self.owner.describe
            data = {k: v for k, v in item.items() if k not in self.owner.hidden}
        else:
            describe = self.describe
            data = {k: item[k] for k in self.shown if item.get(k) is not None}
        try:
            sentence = describe(item)
        except (KeyError, TypeError, ValueError) as exc:  # an item missing a field: never a trace
            logger.error("malformed %s item: %s", self.table, type(exc).__name__)
            return self.unavailable()
        return answer(200, sentence, data)
