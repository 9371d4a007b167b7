"""The tools' store: one small interface, two real implementations.

``SQLiteStore`` is the local default: a file created and seeded from ``tools/data/*.json`` on first
use. ``DynamoDBStore`` uses one DynamoDB table per store table, with the same item shapes and the
same secondary indexes. Which one a process uses comes from the environment (``store_from_env``),
so the same handler code runs on a laptop and in Lambda.

The interface: ``get`` one item by key, ``put_items``, ``query`` one secondary index for one value
(a DynamoDB Query on the GSI, never a Scan; an indexed SELECT in SQLite), and ``cancel`` an order
with one conditional write (see ``CancelOutcome``).

Stored values: order ``status`` is Title case (``ORDER_STATUSES``; read it with ``status_is``,
which ignores case, since older stores hold the blog's lower-case spellings). A customer's lookup
values are normalised when stored and when queried: ``email`` and ``username`` NFC, stripped and
lower-cased, and ``phoneDigits`` the phone's ten digits (``phone`` is kept as given, for display).
"""
from __future__ import annotations

import json
import os
import re
import sqlite3
import threading
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Protocol

DATA_DIR = Path(__file__).parent / "data"

# Table name (as the tools know it) -> partition key attribute. The SAM template declares the
# DynamoDB tables with exactly these keys; a test checks that.
TABLE_KEYS: dict[str, str] = {"orders": "orderId", "returns": "returnId", "customers": "customerId"}

# Table -> secondary index name -> its (hash key) attribute. The template declares these GSIs with
# projection ALL; SQLite keeps each attribute in an indexed column of its own.
INDEXES: dict[str, dict[str, str]] = {
    "orders": {"customerId-index": "customerId"},
    "returns": {},
    "customers": {"email-index": "email", "phone-index": "phoneDigits", "username-index": "username"},
}

# The sample data each table is seeded from (tools/data/NOTICE says where each file came from).
SEED_FILES: dict[str, tuple[str, ...]] = {
    "orders": ("orders.json", "chatbot_orders.json"),
    "returns": ("returns.json",),
    "customers": ("customers.json",),
}

ORDER_STATUSES = ("Processing", "Shipped", "Delivered", "Cancelled")
PROCESSING, CANCELLED = "Processing", "Cancelled"
# What a cancellation writes (besides the key): the IAM condition of the cancel function lists these.
CANCEL_ATTRIBUTES = ("orderId", "customerId", "status", "cancelKey", "cancelledAt")


class StoreError(Exception):
    """The store could not answer (unreachable, throttled, misconfigured)."""


@dataclass(frozen=True)
class CancelOutcome:
    """What one ``cancel`` did.

    ``result`` is one of:
      ``cancelled``          this request cancelled the order (the one write it makes);
      ``replayed``           the order was already cancelled with this same idempotency key: a
                             retry or repeat, reported as done, nothing written;
      ``already_cancelled``  cancelled earlier by another request (another key);
      ``shipped``, ``delivered``  too late to cancel;
      ``not_cancellable``    any other status;
      ``not_found``          no such order, or not this customer's (the two are not told apart).
    """

    result: str
    status: str | None = None  # the order's status now (None when not found)
    cancelled_at: str | None = None


class Store(Protocol):
    def get(self, table: str, key: str) -> dict[str, Any] | None:
        """The item whose key is ``key``, or None when there is none."""

    def put_items(self, table: str, items: Iterable[Mapping[str, Any]]) -> int:
        """Write (overwrite) items; returns how many were written."""

    def query(self, table: str, index: str, value: str, *, limit: int = 100) -> list[dict[str, Any]]:
        """The items whose ``index`` attribute equals ``value`` (normalised as stored), at most ``limit``."""

    def cancel(self, order_id: str, customer_id: str, idempotency_key: str, now: str) -> CancelOutcome:
        """Cancel ``customer_id``'s order if it is Processing, atomically; see ``CancelOutcome``."""


# ---------------------------------------------------------------- normalising
def status_is(value: Any, status: str) -> bool:
    """Whether a stored status is ``status``, ignoring case and surrounding space."""
    return isinstance(value, str) and value.strip().casefold() == status.casefold()


def canonical_status(value: Any) -> Any:
    """The Title-case spelling of a known order status; anything else unchanged."""
    return next((s for s in ORDER_STATUSES if status_is(value, s)), value)


def normalise_email(raw: str) -> str:
    return unicodedata.normalize("NFC", raw).strip().lower()


def normalise_username(raw: str) -> str:
    return unicodedata.normalize("NFC", raw).strip().lower()


_PHONE_SEPARATORS = re.compile(r"[\s().-]")
_TEN_DIGITS = re.compile(r"[0-9]{10}")  # [0-9], not \d: no Arabic-Indic or fullwidth digits


def normalise_phone(raw: str) -> str | None:
    """The ten digits of a North American phone number, or None.

    Spaces, dashes, dots and parentheses are dropped, then a leading +1 (or a 1 before ten more
    digits): "(312) 555-8204", "312.555.8204" and "+1 312 555 8204" all give "3125558204".
    """
    digits = _PHONE_SEPARATORS.sub("", raw)
    if digits.startswith("+1"):
        digits = digits[2:]
    elif len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    return digits if _TEN_DIGITS.fullmatch(digits) else None


# Index attribute -> how a stored or queried value is normalised (None: not a usable value).
LOOKUP_NORMALISERS: dict[str, Callable[[str], str | None]] = {
    "customerId": str.strip,
    "email": normalise_email,
    "phoneDigits": normalise_phone,
    "username": normalise_username,
}


def prepare_item(table: str, item: Mapping[str, Any]) -> dict[str, Any]:
    """The item as it is stored: a customer's lookup values normalised, ``phoneDigits`` derived."""
    out = dict(item)
    if table == "customers":
        for name, normalise in (("email", normalise_email), ("username", normalise_username)):
            if isinstance(out.get(name), str):
                out[name] = normalise(out[name])
        out.pop("phoneDigits", None)
        digits = normalise_phone(out["phone"]) if isinstance(out.get("phone"), str) else None
        if digits:
            out["phoneDigits"] = digits
    return out


def load_seed(table: str) -> list[dict[str, Any]]:
    """The sample items for ``table``, as stored (the same items seed SQLite and DynamoDB).

    Orders' statuses are stored in Title case: the blog's files spell them in lower case.
    """
    _check_table(table)
    items: list[dict[str, Any]] = []
    for name in SEED_FILES[table]:
        with open(DATA_DIR / name, encoding="utf-8") as f:
            items.extend(json.load(f))
    if table == "orders":
        items = [{**item, "status": canonical_status(item.get("status"))} for item in items]
    return [prepare_item(table, item) for item in items]


def _check_table(table: str) -> str:
    if table not in TABLE_KEYS:
        raise ValueError(f"unknown table {table!r}; expected one of {sorted(TABLE_KEYS)}")
    return TABLE_KEYS[table]


def _check_index(table: str, index: str) -> str:
    _check_table(table)
    if index not in INDEXES[table]:
        raise ValueError(f"unknown index {index!r} of {table}; expected one of {sorted(INDEXES[table])}")
    return INDEXES[table][index]


def _lookup_value(attribute: str, value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    normalised = LOOKUP_NORMALISERS.get(attribute, str.strip)(value)
    return normalised or None


def classify_cancel(current: Mapping[str, Any] | None, customer_id: str, idempotency_key: str) -> CancelOutcome:
    """Why a cancellation's conditional write did not apply, from the item as it is now."""
    if current is None or current.get("customerId") != customer_id:
        return CancelOutcome("not_found")
    status = current.get("status")
    if status_is(status, CANCELLED):
        replayed = current.get("cancelKey") == idempotency_key
        return CancelOutcome("replayed" if replayed else "already_cancelled", CANCELLED, current.get("cancelledAt"))
    for result in ("shipped", "delivered"):
        if status_is(status, result):
            return CancelOutcome(result, canonical_status(status))
    return CancelOutcome("not_cancellable", canonical_status(status) if isinstance(status, str) else None)


# ---------------------------------------------------------------- SQLite
def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class SQLiteStore:
    """Items as JSON documents in a SQLite file, one table per store table.

    Each table is ``(id, item)`` plus one indexed column per secondary index attribute, so a
    ``query`` is an indexed SELECT. A file made before the indexes existed is upgraded in place
    (columns added and filled, indexes created) and given the sample items it lacks.
    """

    def __init__(self, path: str | os.PathLike[str], *, seed: bool = True) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        # One connection shared by the threads of this process (the in-process transport runs
        # tools on a worker thread); sqlite3 serialises access under the lock.
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=10.0)
        with self._lock, self._db:
            upgraded = self._create_tables()
        if seed:
            self.seed_if_empty(upgraded)

    def _create_tables(self) -> set[str]:
        """Create missing tables, columns and indexes; the tables that lacked a column."""
        upgraded: set[str] = set()
        for table in TABLE_KEYS:
            columns = "".join(f", {_quote(a)} TEXT" for a in INDEXES[table].values())
            self._db.execute(f"CREATE TABLE IF NOT EXISTS {table} (id TEXT PRIMARY KEY, item TEXT NOT NULL{columns})")
            have = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
            missing = [a for a in INDEXES[table].values() if a not in have]
            for attribute in missing:
                self._db.execute(f"ALTER TABLE {table} ADD COLUMN {_quote(attribute)} TEXT")
            if missing:
                upgraded.add(table)
                rows = self._db.execute(f"SELECT id, item FROM {table}").fetchall()
                self._db.executemany(
                    f"UPDATE {table} SET item = ?, " + ", ".join(f"{_quote(a)} = ?" for a in INDEXES[table].values())
                    + " WHERE id = ?",
                    [(*self._row(table, json.loads(item))[1:], key) for key, item in rows])
            for index, attribute in INDEXES[table].items():
                self._db.execute(f"CREATE INDEX IF NOT EXISTS {_quote(table + '_' + index)} "
                                 f"ON {table} ({_quote(attribute)})")
        return upgraded

    def seed_if_empty(self, upgraded: Iterable[str] = ()) -> None:
        """Seed each empty table; give an upgraded table the sample items it lacks (never overwriting)."""
        upgraded = set(upgraded)
        for table in TABLE_KEYS:
            with self._lock:
                (count,) = self._db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()
            if count == 0:
                self.put_items(table, load_seed(table))
            elif table in upgraded:
                self._write(table, load_seed(table), "INSERT OR IGNORE")

    def _row(self, table: str, item: Mapping[str, Any]) -> tuple[Any, ...]:
        key_name = _check_table(table)
        stored = prepare_item(table, item)
        values = [_lookup_value(a, stored.get(a)) for a in INDEXES[table].values()]
        return (str(stored[key_name]), json.dumps(stored, sort_keys=True), *values)

    def get(self, table: str, key: str) -> dict[str, Any] | None:
        _check_table(table)
        try:
            with self._lock:
                row = self._db.execute(f"SELECT item FROM {table} WHERE id = ?", (key,)).fetchone()
        except sqlite3.Error as exc:
            raise StoreError(f"sqlite read failed: {exc}") from exc
        return json.loads(row[0]) if row else None

    def put_items(self, table: str, items: Iterable[Mapping[str, Any]]) -> int:
        return self._write(table, items, "INSERT OR REPLACE")

    def _write(self, table: str, items: Iterable[Mapping[str, Any]], verb: str) -> int:
        rows = [self._row(table, item) for item in items]
        columns = ", ".join(["id", "item", *(_quote(a) for a in INDEXES[table].values())])
        marks = ", ".join("?" * (2 + len(INDEXES[table])))
        try:
            with self._lock, self._db:
                self._db.executemany(f"{verb} INTO {table} ({columns}) VALUES ({marks})", rows)
        except sqlite3.Error as exc:
            raise StoreError(f"sqlite write failed: {exc}") from exc
        return len(rows)

    def query(self, table: str, index: str, value: str, *, limit: int = 100) -> list[dict[str, Any]]:
        attribute = _check_index(table, index)
        key = _lookup_value(attribute, value)
        if key is None:
            return []
        try:
            with self._lock:
                rows = self._db.execute(
                    f"SELECT item FROM {table} WHERE {_quote(attribute)} = ? ORDER BY rowid LIMIT ?",
                    (key, max(0, int(limit)))).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"sqlite read failed: {exc}") from exc
        return [json.loads(item) for (item,) in rows]

    def cancel(self, order_id: str, customer_id: str, idempotency_key: str, now: str) -> CancelOutcome:
        """One transaction: the conditional UPDATE, and when it changed no row, the reason why.

        BEGIN IMMEDIATE takes the file's write lock first, so another process (or another
        connection) cancelling the same order waits and then sees this one's write.
        """
        try:
            with self._lock:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    row = self._db.execute("SELECT item FROM orders WHERE id = ?", (order_id,)).fetchone()
                    current = json.loads(row[0]) if row else None
                    changed = 0
                    if current is not None:
                        updated = {**current, "status": CANCELLED, "cancelKey": idempotency_key, "cancelledAt": now}
                        changed = self._db.execute(
                            "UPDATE orders SET item = ? WHERE id = ? AND customerId = ? "
                            "AND lower(trim(json_extract(item, '$.status'))) = 'processing'",
                            (self._row("orders", updated)[1], order_id, customer_id)).rowcount
                    self._db.commit()
                except BaseException:
                    self._db.rollback()
                    raise
        except sqlite3.Error as exc:
            raise StoreError(f"sqlite cancel failed: {exc}") from exc
        if changed == 1:
            return CancelOutcome("cancelled", CANCELLED, now)
        return classify_cancel(current, customer_id, idempotency_key)


# ---------------------------------------------------------------- DynamoDB
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


def _error_code(exc: Exception) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


class DynamoDBStore:
    """One DynamoDB table per store table, keyed as ``TABLE_KEYS`` says, indexed as ``INDEXES`` says."""

    def __init__(self, table_names: Mapping[str, str], *, resource: Any = None) -> None:
        # Each tool function is configured with its own table only (least privilege), so a
        # store may know just one of them.
        self.table_names = {t: n for t, n in table_names.items() if n}
        if not self.table_names:
            raise ValueError("DynamoDB store needs ORDERS_TABLE, RETURNS_TABLE or CUSTOMERS_TABLE")
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
                batch.put_item(Item=_to_dynamo(prepare_item(table, item)))
                count += 1
        return count

    def query(self, table: str, index: str, value: str, *, limit: int = 100) -> list[dict[str, Any]]:
        from botocore.exceptions import BotoCoreError, ClientError

        attribute = _check_index(table, index)
        key = _lookup_value(attribute, value)
        if key is None or limit <= 0:
            return []
        items: list[dict[str, Any]] = []
        request: dict[str, Any] = {"IndexName": index, "KeyConditionExpression": "#k = :v",
                                   "ExpressionAttributeNames": {"#k": attribute},
                                   "ExpressionAttributeValues": {":v": key}}
        try:
            dynamo_table = self._table(table)
            while len(items) < limit:
                response = dynamo_table.query(**request, Limit=limit - len(items))
                items.extend(_from_dynamo(item) for item in response.get("Items", []))
                if "LastEvaluatedKey" not in response:
                    break
                request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        except (BotoCoreError, ClientError) as exc:
            raise StoreError(f"dynamodb query failed: {type(exc).__name__}") from exc
        return items[:limit]

    def cancel(self, order_id: str, customer_id: str, idempotency_key: str, now: str) -> CancelOutcome:
        """One conditional UpdateItem; when its condition fails, a consistent read says why.

        It writes only ``CANCEL_ATTRIBUTES`` and asks for no more than the updated values back,
        as the cancel function's IAM condition requires.
        """
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            dynamo_table = self._table("orders")
            outcome = self._conditional_cancel(dynamo_table, order_id, customer_id, idempotency_key, now,
                                               (PROCESSING, PROCESSING.lower(), PROCESSING.upper()))
            if outcome is not None:
                return outcome
            current = self._cancel_state(dynamo_table, order_id)
            if (current is not None and current.get("customerId") == customer_id
                    and status_is(current.get("status"), PROCESSING)):
                # Processing in a spelling the condition did not list: once more, with exactly it.
                outcome = self._conditional_cancel(dynamo_table, order_id, customer_id, idempotency_key, now,
                                                   (current["status"],))
                if outcome is not None:
                    return outcome
                current = self._cancel_state(dynamo_table, order_id)
        except (BotoCoreError, ClientError) as exc:
            raise StoreError(f"dynamodb cancel failed: {type(exc).__name__}") from exc
        return classify_cancel(current, customer_id, idempotency_key)

    @staticmethod
    def _conditional_cancel(dynamo_table: Any, order_id: str, customer_id: str, idempotency_key: str, now: str,
                            processing: tuple[str, ...]) -> CancelOutcome | None:
        from botocore.exceptions import ClientError

        spellings = {f":processing{i}": s for i, s in enumerate(processing)}
        try:
            dynamo_table.update_item(
                Key={"orderId": order_id},
                UpdateExpression="SET #status = :cancelled, #key = :key, #at = :now",
                ConditionExpression=f"#customer = :customer AND #status IN ({', '.join(spellings)})",
                ExpressionAttributeNames={"#status": "status", "#key": "cancelKey", "#at": "cancelledAt",
                                          "#customer": "customerId"},
                ExpressionAttributeValues={":cancelled": CANCELLED, ":key": idempotency_key, ":now": now,
                                           ":customer": customer_id, **spellings},
                ReturnValues="NONE",
            )
        except ClientError as exc:
            if _error_code(exc) == "ConditionalCheckFailedException":
                return None
            raise
        return CancelOutcome("cancelled", CANCELLED, now)

    @staticmethod
    def _cancel_state(dynamo_table: Any, order_id: str) -> dict[str, Any] | None:
        """The order's cancellation attributes only (the IAM condition allows no others)."""
        names = {f"#a{i}": name for i, name in enumerate(CANCEL_ATTRIBUTES)}
        response = dynamo_table.get_item(Key={"orderId": order_id}, ConsistentRead=True,
                                         ProjectionExpression=", ".join(names), ExpressionAttributeNames=names)
        item = response.get("Item")
        return _from_dynamo(item) if item is not None else None


# ---------------------------------------------------------------- configuration
TABLE_ENV = {"orders": "ORDERS_TABLE", "returns": "RETURNS_TABLE", "customers": "CUSTOMERS_TABLE"}


def default_sqlite_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "lex-llm-agent" / "store.sqlite3"


def store_from_env(env: Mapping[str, str] | None = None) -> Store:
    """The store this process should use.

    ``STORE_BACKEND=dynamodb`` reads ``ORDERS_TABLE``, ``RETURNS_TABLE`` and ``CUSTOMERS_TABLE``
    (each function is given only its own); ``STORE_BACKEND=sqlite`` (the default) uses
    ``STORE_PATH`` or a file in the user cache.
    """
    env = os.environ if env is None else env
    backend = env.get("STORE_BACKEND", "sqlite").strip().lower()
    if backend == "dynamodb":
        return DynamoDBStore({table: env.get(name, "") for table, name in TABLE_ENV.items()})
    if backend == "sqlite":
        return SQLiteStore(env.get("STORE_PATH") or default_sqlite_path())
    raise ValueError(f"STORE_BACKEND must be 'sqlite' or 'dynamodb', not {backend!r}")


_cached: dict[tuple[str, ...], Store] = {}
_cache_lock = threading.Lock()


def shared_store() -> Store:
    """``store_from_env()``, built once per configuration and reused across invocations."""
    key = tuple(os.environ.get(k, "") for k in ("STORE_BACKEND", "STORE_PATH", *TABLE_ENV.values()))
    with _cache_lock:
        if key not in _cached:
            _cached[key] = store_from_env()
        return _cached[key]
