"""Conversation memory: a session's Converse-shaped history, loaded once and saved once per turn.

>>> store = InMemoryConversationStore()
>>> key = conversation_key("session-1", "BOTID", "ALIASID", "en_US")
>>> loaded = store.load(key)
>>> loaded.version, loaded.messages
(0, [])
>>> save_turn(store, key, loaded, [{"role": "user", "content": [{"text": "hi"}]}])
1

Saves are conditional on the version that was loaded (optimistic concurrency): a save that finds
another turn of the same session wrote in between raises ``ConversationConflict``, and
``save_turn`` then appends its turn to what is there now. Stores: ``memory`` (tests, eval),
``sqlite`` (local default) and ``dynamodb`` (Lambda), chosen by ``store_from_env``:

| variable | default | meaning |
|---|---|---|
| CONVERSATION_STORE | sqlite | sqlite, dynamodb or memory |
| CONVERSATION_PATH | ~/.cache/lex-llm-agent/conversations.sqlite3 | the SQLite file |
| CONVERSATION_TABLE | | the DynamoDB table (required for dynamodb) |
| CONVERSATION_TTL_HOURS | 24 | hours a conversation lives after its last save |

Nothing heavy at import: the SQLite and DynamoDB stores (sqlite3, boto3) load on first use.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Protocol, Sequence

from ..messages import blocks

ENV_VARS = ("CONVERSATION_STORE", "CONVERSATION_PATH", "CONVERSATION_TABLE", "CONVERSATION_TTL_HOURS")
STORES = ("sqlite", "dynamodb", "memory")
DEFAULT_PATH = "~/.cache/lex-llm-agent/conversations.sqlite3"
DEFAULT_TTL_HOURS = 24.0
MAX_TURNS = 20
MAX_CHARS = 64_000  # of the stored (ASCII) JSON, so also bytes: far under DynamoDB's 400 KB item limit

Clock = Callable[[], float]


@dataclass
class Conversation:
    messages: list = field(default_factory=list)
    version: int = 0  # 0: nothing stored yet
    # What the server holds about the conversation besides its messages (a pending confirmation,
    # the identified customer): never in session attributes, which a client can set.
    state: dict = field(default_factory=dict)


class ConversationConflict(Exception):
    """The stored version is not the one loaded: another turn of the session saved in between."""


class ConversationStoreError(Exception):
    """The store could not load or save (unreachable, throttled, unreadable); names no customer data."""


class ConversationStore(Protocol):
    def load(self, key: str) -> Conversation:
        """The stored conversation, or ``Conversation([], version)`` when none or expired."""

    def save(self, key: str, messages: list, expected_version: int, state: dict | None = None) -> int:
        """Store ``messages`` (and ``state``) if the stored version is ``expected_version``; the new
        version. Raises ConversationConflict otherwise."""


def conversation_key(session_id: str, bot_id: str = "", alias_id: str = "", locale_id: str = "") -> str:
    """A fixed-length key (64 hex digits) for one Lex session: no session id or customer data in keys."""
    if not session_id:
        raise ValueError("conversation_key needs a session id")
    parts = "\x1f".join(str(p) for p in (session_id, bot_id, alias_id, locale_id))
    return hashlib.sha256(parts.encode("utf-8", "surrogatepass")).hexdigest()


def dumps(messages: Any, state: Mapping[str, Any] | None = None) -> str:
    """The stored form: compact ASCII JSON, so its length in characters is its size in bytes.
    A bare list of messages, or ``{"messages": [...], "state": {...}}`` when there is state."""
    document: Any = {"messages": messages, "state": dict(state)} if state else messages
    return json.dumps(document, separators=(",", ":"), ensure_ascii=True)


def loads_document(text: str) -> tuple[list, dict]:
    """(messages, state) from the stored form."""
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        document = None
    if isinstance(document, dict):
        messages, state = document.get("messages"), document.get("state") or {}
    else:
        messages, state = document, {}
    if not isinstance(messages, list) or not isinstance(state, dict):
        raise ConversationStoreError("stored conversation is unreadable")
    return messages, state


def loads(text: str) -> list:
    return loads_document(text)[0]


def _starts_turn(message: Any) -> bool:
    return (isinstance(message, Mapping) and message.get("role") == "user"
            and any(isinstance(t, str) for t in blocks(message, "text")))


def turns(messages: Sequence[Any]) -> list[list]:
    """Messages grouped by turn; messages before the first customer text (no whole turn) are dropped."""
    grouped: list[list] = []
    for message in messages:
        if _starts_turn(message):
            grouped.append([message])
        elif grouped:
            grouped[-1].append(message)
    return grouped


def bounded(messages: Sequence[Any], max_turns: int = MAX_TURNS, max_chars: int = MAX_CHARS) -> list:
    """The newest whole turns that fit both ``max_turns`` and ``max_chars`` (of ``dumps`` of the list).

    The result always starts at a customer text message (never a toolResult-only one), or is empty:
    a newest turn that alone exceeds ``max_chars`` is dropped too, so the stored size always holds.
    """
    if max_turns < 1 or max_chars < 2:
        raise ValueError("bounded needs max_turns >= 1 and max_chars >= 2")
    kept: list[list] = []
    size = 2  # "[" and "]"
    for turn in reversed(turns(messages)[-max_turns:]):
        grown = size + sum(len(dumps(m)) + 1 for m in turn)  # each message and a comma (one too many)
        if grown - 1 > max_chars:
            break
        kept.append(turn)
        size = grown
    return [m for turn in reversed(kept) for m in turn]


def save_turn(store: ConversationStore, key: str, loaded: Conversation, new_messages: Sequence[Any], *,
              attempts: int = 3, max_turns: int = MAX_TURNS, max_chars: int = MAX_CHARS,
              state: Mapping[str, Any] | None = None,
              merge: Callable[[Mapping[str, Any], Mapping[str, Any], Mapping[str, Any]], dict[str, Any]] | None = None,
              ) -> int:
    """Save ``bounded(loaded.messages + new_messages)``; the new version.

    ``loaded`` is what ``load`` gave, unchanged (give the agent a copy: ``history = list(loaded.messages)``,
    then ``new_messages = history[len(loaded.messages):]``).

    On a conflict, reload and append the same new messages to what is stored now, up to ``attempts``
    saves in all, then let ConversationConflict out: a turn is never silently lost. Each conflict
    means another writer succeeded, so ``attempts`` >= the number of concurrent writers always succeeds.
    A conflict whose reload shows exactly what this call wrote, one version on, counts as saved.
    ``state`` (None: keep the loaded state) is this turn's: on a conflict it replaces the stored one,
    or ``merge(stored, ours, loaded)`` decides (the agent adds its counts of failed tries to the
    stored ones, so turns saved at once all count).
    """
    state = dict(loaded.state if state is None else state)
    ours = dict(state)
    new_messages = list(new_messages)
    base = loaded
    for attempt in range(1, attempts + 1):
        messages = bounded(list(base.messages) + new_messages, max_turns, max_chars)
        try:
            return store.save(key, messages, base.version, **({"state": state} if state else {}))
        except ConversationConflict:
            if attempt >= attempts:
                raise
            expected, base = base.version, store.load(key)
            if base.version == expected + 1 and base.messages == messages:
                return base.version  # our own write landed (its reply was lost and a retry conflicted)
            if merge is not None:
                state = merge(base.state, ours, loaded.state)
    raise ValueError("save_turn needs attempts >= 1")


def _conversation(text: str, version: int, expired: bool) -> Conversation:
    """What a store read back: empty (version kept) once expired."""
    if expired:
        return Conversation([], version)
    messages, state = loads_document(text)
    return Conversation(messages, version, state)


def _check_save(messages: Any, expected_version: Any) -> None:
    if not isinstance(messages, list):
        raise TypeError("messages must be a list")
    if not isinstance(expected_version, int) or isinstance(expected_version, bool) or expected_version < 0:
        raise ValueError("expected_version must be an int >= 0")


def _check_ttl(ttl_seconds: float) -> float:
    ttl = float(ttl_seconds)
    if not (math.isfinite(ttl) and ttl > 0):
        raise ValueError("ttl_seconds must be a positive number")
    return ttl


class InMemoryConversationStore:
    """A dict under a lock, with the same versions and expiry as the real stores (eval and tests)."""

    def __init__(self, *, ttl_seconds: float = DEFAULT_TTL_HOURS * 3600, clock: Clock = time.time) -> None:
        self.ttl_seconds = _check_ttl(ttl_seconds)
        self.clock = clock
        self._lock = threading.Lock()
        self._rows: dict[str, tuple[int, str, int]] = {}  # key -> (version, JSON, expires at)

    def load(self, key: str) -> Conversation:
        with self._lock:
            row = self._rows.get(key)
        if row is None:
            return Conversation([], 0)
        version, text, expires_at = row
        return _conversation(text, version, expires_at <= self.clock())

    def save(self, key: str, messages: list, expected_version: int, state: dict | None = None) -> int:
        _check_save(messages, expected_version)
        text = dumps(messages, state)
        with self._lock:
            stored = self._rows.get(key, (0, "", 0))[0]
            if stored != expected_version:
                raise ConversationConflict("conversation changed since it was loaded")
            self._rows[key] = (stored + 1, text, int(self.clock() + self.ttl_seconds))
        return stored + 1


def _ttl_hours(env: Mapping[str, str]) -> float:
    raw = (env.get("CONVERSATION_TTL_HOURS") or "").strip()
    if not raw:
        return DEFAULT_TTL_HOURS
    try:
        hours = float(raw)
    except ValueError:
        hours = math.nan
    if not (math.isfinite(hours) and hours > 0):
        raise ValueError(f"CONVERSATION_TTL_HOURS must be a positive number of hours, got {raw!r}")
    return hours


def store_from_env(env: Mapping[str, str] = os.environ) -> ConversationStore:
    """The store the environment names (see the module's table); ValueError names a bad variable."""
    kind = (env.get("CONVERSATION_STORE") or "sqlite").strip().lower()
    ttl_seconds = _ttl_hours(env) * 3600
    if kind == "sqlite":
        from .sqlite import SQLiteConversationStore

        path = (env.get("CONVERSATION_PATH") or "").strip() or os.path.expanduser(DEFAULT_PATH)
        return SQLiteConversationStore(path, ttl_seconds=ttl_seconds)
    if kind == "dynamodb":
        table = (env.get("CONVERSATION_TABLE") or "").strip()
        if not table:
            raise ValueError("CONVERSATION_TABLE must name the DynamoDB table when CONVERSATION_STORE is dynamodb")
        from .dynamodb import DynamoDBConversationStore

        region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None
        return DynamoDBConversationStore(table, region=region, ttl_seconds=ttl_seconds)
    if kind == "memory":
        return InMemoryConversationStore(ttl_seconds=ttl_seconds)
    raise ValueError(f"CONVERSATION_STORE must be one of {', '.join(STORES)}, got {kind!r}")
