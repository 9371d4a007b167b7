"""Who the customer is, from checks the server makes: a verified channel token, or two identifiers.

A signed-in customer arrives with a channel identity the handler verified this turn (``identity.py``).
Anyone else identifies by giving two of the email address, phone number and username on one
account. Each one the customer gives is looked up (the ``get_user`` tool, one identifier per call)
and the account it belongs to is kept here, in the conversation's server-side state, never in a
message: until two identifiers agree, the customer hears the same "please also tell me ..."
whether the first one matched an account or not, so one identifier tells a stranger nothing.
When two agree the customer is identified for the rest of the conversation; when they do not,
the customer hears so without being told which one was wrong, and after ``MAX_FAILED_ATTEMPTS``
such tries the conversation stops checking account details.

>>> state = {}
>>> note(state, "email", "345678", "Ana Carolina Silva").outcome
'need_more'
>>> result = note(state, "phone", "345678", "Ana Carolina Silva")
>>> result.outcome, state["identity"]["customer_id"], state["identity"]["via"]
('identified', '345678', 'two_identifiers')
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, MutableMapping

KINDS = ("email", "phone", "username")
NAMES = {"email": "email address", "phone": "phone number", "username": "username"}
MAX_FAILED_ATTEMPTS = 3  # tries at two identifiers that do not agree, per conversation
MAX_FAILED_LOOKUPS = 3  # ids an unidentified customer looked up that were not found, per conversation
# Set for a turn whose conversation could not be read: its counts of failed tries are unknown, so
# the turn neither checks account details nor looks ids up for a stranger (never saved).
MEMORY_UNAVAILABLE = "memory_unavailable"
COUNTERS = ("identify_failures", "failed_lookups")


@dataclass(frozen=True)
class Identification:
    outcome: str  # need_more | identified | mismatch | locked | already
    sentence: str  # what the customer (and the model) is told
    customer_id: str | None = None


def _others(given: Mapping[str, Any]) -> str:
    missing = [NAMES[k] for k in KINDS if k not in given]
    return " or ".join(missing) if missing else "another detail"


def identified(state: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The customer two identifiers proved earlier in this conversation, if any."""
    found = (state or {}).get("identity")
    return dict(found) if isinstance(found, Mapping) and found.get("customer_id") else None


def locked(state: Mapping[str, Any] | None) -> bool:
    state = state or {}
    return bool(state.get(MEMORY_UNAVAILABLE)) or int(state.get("identify_failures", 0)) >= MAX_FAILED_ATTEMPTS


def note(state: MutableMapping[str, Any], kind: str, customer_id: str | None, name: str | None = None,
         ) -> Identification:
    """Record that the customer gave a ``kind`` identifier which belongs to ``customer_id`` (None:
    to no single account), and say what follows."""
    if locked(state):
        return Identification("locked", IDENTIFY_LOCKED_REPLY)
    given = dict(state.get("identifiers") or {})
    given[kind] = customer_id or ""
    state["identifiers"] = given
    counts: dict[str, int] = {}
    for account in given.values():
        if account:
            counts[account] = counts.get(account, 0) + 1
    match = next((account for account, count in counts.items() if count >= 2), None)
    if match is not None:
        state["identity"] = {"customer_id": match, "via": "two_identifiers", "name": name or ""}
        state.pop("identifiers", None)
        return Identification("identified", IDENTIFIED_NOTE.format(name=f", {name}" if name else ""), match)
    if len(given) < 2:
        return Identification("need_more", IDENTIFY_MORE_REPLY.format(others=_others(given)))
    state["identify_failures"] = int(state.get("identify_failures", 0)) + 1
    if locked(state):
        return Identification("mismatch", IDENTIFY_LOCKED_REPLY)
    return Identification("mismatch", IDENTIFY_MISMATCH_REPLY)


def failed_lookup(state: MutableMapping[str, Any]) -> None:
    state["failed_lookups"] = int(state.get("failed_lookups", 0)) + 1


def lookups_exhausted(state: Mapping[str, Any] | None) -> bool:
    state = state or {}
    return bool(state.get(MEMORY_UNAVAILABLE)) or int(state.get("failed_lookups", 0)) >= MAX_FAILED_LOOKUPS


def merge_state(stored: Mapping[str, Any], ours: Mapping[str, Any], loaded: Mapping[str, Any]) -> dict[str, Any]:
    """The state to save when another turn of the conversation saved first (``stored``): ours, but
    this turn's failed tries are added to the stored counts, never reset them (eight guesses sent at
    once count eight), and an identity another turn proved is kept."""
    merged = {k: v for k, v in ours.items() if k != MEMORY_UNAVAILABLE}
    for counter in COUNTERS:
        added = max(0, int(ours.get(counter, 0) or 0) - int(loaded.get(counter, 0) or 0))
        total = int(stored.get(counter, 0) or 0) + added
        if total:
            merged[counter] = total
    if "identity" not in merged and identified(stored):
        merged["identity"] = dict(stored["identity"])
    return merged


IDENTIFY_QUESTION = ("I can help with that once I know it's you. Could you tell me two of these from your account: "
                     "your email address, phone number or username?")
IDENTIFY_MORE_REPLY = "Thanks. To make sure it's you, could you also tell me the {others} on your account?"
IDENTIFIED_NOTE = "Thank you{name}, I've confirmed it's you."
IDENTIFY_MISMATCH_REPLY = ("Sorry, those details don't match one account I can confirm. Could you check them and "
                           "tell me two of your email address, phone number or username again?")
IDENTIFY_LOCKED_REPLY = ("Sorry, I can't check more account details in this chat. Please sign in on our website, "
                         "or contact us another way.")
ALREADY_IDENTIFIED_REPLY = "You're already identified in this chat."
LOOKUP_LIMIT_REPLY = ("Sorry, I can't look up more order numbers or return ids in this chat. If you tell me two of "
                      "your email address, phone number or username, I can show you your own orders.")
# What a refused call's toolResult tells the model (and the embedded model turns into a reply).
LOOKUP_LIMIT_REASON = ("too many ids were not found in this conversation, so no more look-ups by id until the "
                       "customer is identified.")
