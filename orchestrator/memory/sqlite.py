"""Conversations in a SQLite file (the local default): one row per conversation, saved conditionally.

One connection under a lock serves the process's threads; WAL lets other processes read while one
writes, and the conditional UPDATE/INSERT keeps versions right across processes too. Expired rows
read as empty but keep their version; they are deleted lazily, an hour after expiry, on a later save.
"""
from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path

from . import (DEFAULT_TTL_HOURS, Clock, Conversation, ConversationConflict, ConversationStoreError, _check_save,
               _check_ttl, _conversation, dumps)

PURGE_EVERY_S = 300  # at most one purge per store this often
PURGE_GRACE_S = 3600  # a writer that loaded just before expiry still conflicts rather than recreating


class SQLiteConversationStore:
    def __init__(self, path: str | os.PathLike[str], *, ttl_seconds: float = DEFAULT_TTL_HOURS * 3600,
                 clock: Clock = time.time) -> None:
        self.path = str(path)
        self.ttl_seconds = _check_ttl(ttl_seconds)
        self.clock = clock
        self._lock = threading.Lock()
        self._next_purge = 0.0
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=5, isolation_level=None, check_same_thread=False)
            if self.path != ":memory:":
                self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS conversations (key TEXT PRIMARY KEY, version INTEGER NOT NULL,"
                             " messages TEXT NOT NULL, expires_at INTEGER NOT NULL)")
            self._db.execute("CREATE INDEX IF NOT EXISTS conversations_expiry ON conversations (expires_at)")
        except (OSError, sqlite3.Error) as e:
            raise ConversationStoreError(f"conversation store unavailable: {type(e).__name__}") from None

    def load(self, key: str) -> Conversation:
        try:
            with self._lock:
                row = self._db.execute("SELECT version, messages, expires_at FROM conversations WHERE key = ?",
                                       (key,)).fetchone()
        except sqlite3.Error as e:
            raise ConversationStoreError(f"conversation load failed: {type(e).__name__}") from None
        if row is None:
            return Conversation([], 0)
        version, text, expires_at = row
        return _conversation(text, version, expires_at <= self.clock())

    def save(self, key: str, messages: list, expected_version: int, state: dict | None = None) -> int:
        _check_save(messages, expected_version)
        text = dumps(messages, state)
        now = self.clock()
        expires_at = int(now + self.ttl_seconds)
        try:
            with self._lock:
                if expected_version == 0:
                    try:
                        self._db.execute("INSERT INTO conversations (key, version, messages, expires_at)"
                                         " VALUES (?, 1, ?, ?)", (key, text, expires_at))
                    except sqlite3.IntegrityError:
                        raise ConversationConflict("conversation changed since it was loaded") from None
                else:
                    done = self._db.execute("UPDATE conversations SET version = version + 1, messages = ?,"
                                            " expires_at = ? WHERE key = ? AND version = ?",
                                            (text, expires_at, key, expected_version))
                    if done.rowcount != 1:
                        raise ConversationConflict("conversation changed since it was loaded")
        except sqlite3.Error as e:
            raise ConversationStoreError(f"conversation save failed: {type(e).__name__}") from None
        if now >= self._next_purge:
            self._next_purge = now + PURGE_EVERY_S
            try:
                with self._lock:
                    self._db.execute("DELETE FROM conversations WHERE expires_at < ?", (int(now - PURGE_GRACE_S),))
            except sqlite3.Error:
                pass  # the save stood; the next purge tries again
        return expected_version + 1

    def close(self) -> None:
        with self._lock:
            self._db.close()
