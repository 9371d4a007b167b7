"""The customers tool (get_user): find one account by exactly one of email, phone or username.

``{"email": "anacarolina_silva@example.com"}`` (or ``{"phone": "312-555-8204"}``, or
``{"username": "arnav_desai"}``) in; out, in the tool contract:

* 200, ``data`` = ``{customerId, name, email, phone, username}`` and the body "Found the account
  of Ana Carolina Silva." (what the customer may be told is the orchestrator's decision);
* 404 "I couldn't find an account with that email." (phone number, username): also when more than
  one account has the value, since then none of them is known to be the customer's;
* 400 saying what was wrong (no identifier, more than one, not a string, not valid), never
  echoing the value; 500 when the store cannot answer.

Each identifier is read from a secondary index of the customers table (a DynamoDB Query, never a
Scan), by its normalised value (``tools.store``): email and username ignoring case, phone by its
ten digits. Nothing the customer typed, and nothing found, is logged.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from .lookup import answer
from .store import Store, StoreError, normalise_email, normalise_phone, normalise_username, shared_store

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Identifier:
    field: str  # the event field
    index: str  # the customers table's index
    noun: str  # how the 404 names it: "that email"
    normalise: Callable[[str], str | None]
    pattern: re.Pattern[str]  # full match on the normalised value
    hint: str  # what a valid value looks like, for the 400 message

    def validate(self, raw: str) -> str | None:
        value = self.normalise(raw)
        return value if value and self.pattern.fullmatch(value) else None


# Letters are Unicode letters (two sample usernames, like their emails, have accented letters:
# "márcia_oliveria"); digits are ASCII only.
_LETTER = r"[^\W\d_]"
EMAIL = re.compile(rf"(?=.{{3,254}}$)(?:{_LETTER}|[0-9._%+'-]){{1,64}}@(?:(?:{_LETTER}|[0-9-]){{1,63}}\.)+{_LETTER}{{2,63}}")
PHONE = re.compile(r"[0-9]{10}")
USERNAME = re.compile(rf"(?:{_LETTER}|[0-9_.-]){{3,40}}")

IDENTIFIERS: dict[str, Identifier] = {
    i.field: i for i in (
        Identifier("email", "email-index", "email", normalise_email, EMAIL,
                   "an email address looks like name@example.com"),
        Identifier("phone", "phone-index", "phone number", normalise_phone, PHONE,
                   "a phone number has ten digits, like 206-555-0100"),
        Identifier("username", "username-index", "username", normalise_username, USERNAME,
                   "a username is 3 to 40 letters, digits, dots, dashes or underscores"),
    )
}
ACCOUNT_FIELDS = ("customerId", "name", "email", "phone", "username")
_EITHER = "one of email, phone or username"


def find_user(event: Any, store: Store | None = None) -> dict[str, Any]:
    if not isinstance(event, Mapping):
        return answer(400, f"The request must be a JSON object with {_EITHER}.")
    given = [name for name in IDENTIFIERS if event.get(name) is not None
             and not (isinstance(event.get(name), str) and not event[name].strip())]
    if not given:
        return answer(400, f"{_EITHER[0].upper()}{_EITHER[1:]} is required.")
    if len(given) > 1:
        return answer(400, f"Give exactly {_EITHER}, not {' and '.join(given)} together.")
    identifier = IDENTIFIERS[given[0]]
    raw = event[identifier.field]
    if not isinstance(raw, str):
        return answer(400, f"{identifier.field} must be a string: {identifier.hint}.")
    value = identifier.validate(raw)
    if value is None:
        return answer(400, f"{identifier.field} is not valid: {identifier.hint}.")
    try:
        found = (store or shared_store()).query("customers", identifier.index, value, limit=2)
    except StoreError as exc:
        logger.error("store query failed for customers: %s", exc)
        return answer(500, "Sorry, I can't look up accounts right now. Please try again in a few minutes.")
    if len(found) != 1:
        if found:
            logger.warning("more than one account has the same %s", identifier.field)
        logger.info("get_user by %s: not found", identifier.field)
        return answer(404, f"I couldn't find an account with that {identifier.noun}.")
    account = {name: found[0].get(name) for name in ACCOUNT_FIELDS}
    logger.info("get_user by %s: found", identifier.field)
    return answer(200, f"Found the account of {account['name']}.", account)


def lambda_handler(event: Any, context: Any = None) -> dict[str, Any]:
    return find_user(event)
