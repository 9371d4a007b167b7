"""The tools' store: one tiny interface, two real implementations.

``SQLiteStore`` is the local default: a file created and seeded from ``tools/data/*.json`` on first
use. ``DynamoDBStore`` reads one DynamoDB table per tool, with the same item shapes. Which one a
process uses comes from the environment (``store_from_env``), so the same handler code runs on a
laptop and in Lambda.
"""
from __future__ import annotations

import json
import os
import sqlite3
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable, Mapping, Protocol

DATA_DIR = Path(__file__).parent / "data"

# Table name (as the tools know it) -> partition key attribute. The SAM template declares the
# DynamoDB tables with exactly these keys; a test checks that.
TABLE_KEYS: dict[str, str] = {"orders": "orderId", "returns": "returnId"}


class StoreError(Exception):
    """The store could not answer (unreachable, throttled, misconfigured)."""


class Store(Protocol):
    def get(self, table: str, key: str) -> dict[str, Any] | None:
        """The item whose key is ``key``, or None when there is none."""

    def put_items(self, table: str, items: Iterable[Mapping[str, Any]]) -> int:
        """Write (overwrite) items; returns how many were written."""


def load_seed(table: str) -> list[dict[str, Any]]:
    """The sample items shipped for ``table`` (the same files seed SQLite and DynamoDB)."""
    _check_table(table)
    with open(DATA_DIR / f"{table}.json", encoding="utf-8") as f:
        return json.load(f)


def _check_table(table: str) -> str:
    if table not in TABLE_KEYS:
        raise ValueError(f"unknown table {table!r}; expected one of {sorted(TABLE_KEYS)}")
    return TABLE_KEYS[table]


class SQLiteStore:
    """Items as JSON documents in a SQLite file, one table per tool table."""

    def __init__(self, path: str | os.PathLike[str], *, seed: bool = True) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        # One connection shared by the threads of this process (the in-process transport runs
        # tools on a worker thread); sqlite3 serialises access under the lock.
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False)
        with self._lock, self._db:
            for table in TABLE_KEYS:
                self._db.execute(
                    f"CREATE TABLE IF NOT EXISTS {table} (id TEXT PRIMARY KEY, item TEXT NOT NULL)"
                )
        if seed:
            self.seed_if_empty()

    def seed_if_empty(self) -> None:
        for table in TABLE_KEYS:
            with self._lock:
                (count,) = self._db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()
            if count == 0:
                self.put_items(table, load_seed(table))

    def get(self, table: str, key: str) -> dict[str, Any] | None:
        _check_table(table)
        try:
            with self._lock:
                row = self._db.execute(f"SELECT item FROM {table} WHERE id = ?", (key,)).fetchone()
        except sqlite3.Error as exc:
            raise StoreError(f"sqlite read failed: {exc}") from exc
        return json.loads(row[0]) if row else None

    def put_items(self, table: str, items: Iterable[Mapping[str, Any]]) -> int:
        key_name = _check_table(table)
        rows = [(str(item[key_name]), json.dumps(dict(item), sort_keys=True)) for item in items]
        with self._lock, self._db:
            self._db.executemany(f"INSERT OR REPLACE INTO {table} (id, item) VALUES (?, ?)", rows)
        return len(rows)


def _from_dynamo(value: Any) -> Any:
    """DynamoDB returns numbers as Decimal; give callers plain ints and floats."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _from_dynamo(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_dynamo(v) for v in value]
    return value


def _to_dynamo(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: _to_dynamo(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_dynamo(v) for v in value]
    return value


class DynamoDBStore:
    """One DynamoDB table per tool table, keyed as ``TABLE_KEYS`` says."""

    def __init__(self, table_names: Mapping[str, str], *, resource: Any = None) -> None:
        # Each tool function is configured with its own table only (least privilege), so a
        # store may know just one of them.
        self.table_names = {t: n for t, n in table_names.items() if n}
        if not self.table_names:
            raise ValueError("DynamoDB store needs ORDERS_TABLE or RETURNS_TABLE")
        self._resource = resource

    def _table(self, table: str) -> Any:
        _check_table(table)
        if table not in self.table_names:
            raise StoreError(f"no DynamoDB table configured for {table}")
        if self._resource is None:
            import boto3  # lazy: the SQLite path never pays for boto3

            self._resource = boto3.resource("dynamodb")
        return self._resource.Table(self.table_names[table])

    def get(self, table: str, key: str) -> dict[str, Any] | None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            response = self._table(table).get_item(Key={TABLE_KEYS[table]: key})
        except (BotoCoreError, ClientError) as exc:
            raise StoreError(f"dynamodb read failed: {type(exc).__name__}") from exc
        item = response.get("Item")
        return _from_dynamo(item) if item is not None else None

    def put_items(self, table: str, items: Iterable[Mapping[str, Any]]) -> int:
        count = 0
        with self._table(table).batch_writer() as batch:
            for item in items:
                batch.put_item(Item=_to_dynamo(dict(item)))
                count += 1
        return count


def default_sqlite_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "lex-llm-agent" / "store.sqlite3"


def store_from_env(env: Mapping[str, str] | None = None) -> Store:
    """The store this process should use.

    ``STORE_BACKEND=dynamodb`` reads ``ORDERS_TABLE`` and ``RETURNS_TABLE``;
    ``STORE_BACKEND=sqlite`` (the default) uses ``STORE_PATH`` or a file in the user cache.
    """
    env = os.environ if env is None else env
    backend = env.get("STORE_BACKEND", "sqlite").strip().lower()
    if backend == "dynamodb":
        return DynamoDBStore({"orders": env.get("ORDERS_TABLE", ""), "returns": env.get("RETURNS_TABLE", "")})
    if backend == "sqlite":
        return SQLiteStore(env.get("STORE_PATH") or default_sqlite_path())
    raise ValueError(f"STORE_BACKEND must be 'sqlite' or 'dynamodb', not {backend!r}")


_cached: dict[tuple[str, ...], Store] = {}
_cache_lock = threading.Lock()


def shared_store() -> Store:
    """``store_from_env()``, built once per configuration and reused across invocations."""
    key = tuple(os.environ.get(k, "") for k in ("STORE_BACKEND", "STORE_PATH", "ORDERS_TABLE", "RETURNS_TABLE"))
    with _cache_lock:
        if key not in _cached:
            _cached[key] = store_from_env()
        return _cached[key]
