"""Conversation memory: keys, bounding, the three stores' versions and expiry, and concurrent turns."""
import json
import random
import sqlite3
import subprocess
import sys
import threading

import boto3
import pytest
from moto import mock_aws

from orchestrator import memory
from orchestrator.memory import (Conversation, ConversationConflict, ConversationStoreError,
                                 InMemoryConversationStore, bounded, conversation_key, dumps, save_turn,
                                 store_from_env)
from orchestrator.memory.dynamodb import DynamoDBConversationStore
from orchestrator.memory.sqlite import PURGE_GRACE_S, SQLiteConversationStore
from tests.cfn import load_template

TABLE = "conversations-test"
HOUR = 3600


class Clock:
    def __init__(self, now=1_700_000_000.0):
        self.now = now

    def __call__(self):
        return self.now


def user(text):
    return {"role": "user", "content": [{"text": text}]}


def answer(text):
    return {"role": "assistant", "content": [{"text": text}]}


def tool_turn(text, n=0):
    """A turn with one tool call: question, toolUse, toolResult-only user message, answer."""
    return [user(text),
            {"role": "assistant", "content": [{"toolUse": {"toolUseId": f"t{n}", "name": "order_inquiry",
                                                           "input": {"order_id": str(n)}}}]},
            {"role": "user", "content": [{"toolResult": {"toolUseId": f"t{n}", "status": "success",
                                                         "content": [{"json": {"status": "shipped", "n": n}}]}}]},
            answer(f"Order {n} shipped.")]


def create_template_table(client, name=TABLE):
    """The conversations table exactly as template.yaml declares it: keys, billing, SSE and TTL."""
    props = load_template()["Resources"]["ConversationsTable"]["Properties"]
    client.create_table(TableName=name, KeySchema=props["KeySchema"], AttributeDefinitions=props["AttributeDefinitions"],
                        BillingMode=props["BillingMode"],  # CloudFormation's SSEEnabled is the API's Enabled
                        SSESpecification={"Enabled": props["SSESpecification"]["SSEEnabled"]})
    client.update_time_to_live(TableName=name, TimeToLiveSpecification=props["TimeToLiveSpecification"])
    return props


@pytest.fixture
def dynamodb():
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_template_table(client)
        yield client


def make_store(kind, tmp_path, clock, dynamodb_client=None):
    if kind == "memory":
        return InMemoryConversationStore(ttl_seconds=HOUR, clock=clock)
    if kind == "sqlite":
        return SQLiteConversationStore(tmp_path / "conversations.sqlite3", ttl_seconds=HOUR, clock=clock)
    return DynamoDBConversationStore(TABLE, client=dynamodb_client, ttl_seconds=HOUR, clock=clock)


@pytest.fixture(params=["memory", "sqlite", "dynamodb"])
def store_and_clock(request, tmp_path):
    clock = Clock()
    if request.param == "dynamodb":
        with mock_aws():
            client = boto3.client("dynamodb", region_name="us-east-1")
            create_template_table(client)
            yield make_store("dynamodb", tmp_path, clock, client), clock
        return
    store = make_store(request.param, tmp_path, clock)
    yield store, clock
    if hasattr(store, "close"):
        store.close()


# ------------------------------------------------------------------ keys


def test_conversation_key_is_stable_fixed_length_and_holds_no_session_data():
    key = conversation_key("session-123", "BOT", "ALIAS", "en_US")
    assert key == conversation_key("session-123", "BOT", "ALIAS", "en_US")
    assert len(key) == 64 and int(key, 16) >= 0 and "session" not in key
    variants = {conversation_key("session-124", "BOT", "ALIAS", "en_US"), conversation_key("session-123", "BOT2", "ALIAS", "en_US"),
                conversation_key("session-123", "BOT", "ALIAS2", "en_US"), conversation_key("session-123", "BOT", "ALIAS", "en_GB"),
                conversation_key("session-123B", "OT", "ALIAS", "en_US"), conversation_key("session-123")}
    assert key not in variants and len(variants) == 6
    assert len(conversation_key("x" * 100_000)) == 64
    with pytest.raises(ValueError):
        conversation_key("")


# ------------------------------------------------------------------ bounded


def test_bounded_keeps_whole_newest_turns_and_never_starts_with_a_tool_result():
    history = [m for n in range(5) for m in tool_turn(f"question {n}", n)]
    kept = bounded(history, max_turns=2)
    assert kept == history[-8:] and kept[0] == user("question 3")
    # Messages with no whole turn (a leading tool result or answer) are dropped.
    orphans = history[2:]  # starts with the toolResult-only message of turn 0, then its answer
    assert bounded(orphans)[0] == user("question 1") and bounded(orphans) == history[4:]
    assert bounded([answer("hello")] + history[:4]) == history[:4]
    assert bounded([]) == []
    snapshot = json.loads(json.dumps(history))
    bounded(history, max_turns=1, max_chars=300)
    assert history == snapshot  # the input is not changed


def test_bounded_holds_the_size_limit_with_the_most_whole_turns_that_fit():
    rng = random.Random(7)
    for trial in range(200):
        history = []
        for n in range(rng.randint(0, 12)):
            turn = tool_turn("é" * rng.randint(1, 400), n) if rng.random() < 0.5 else [user("q" * rng.randint(1, 900)), answer("a")]
            history += turn
        max_turns, max_chars = rng.randint(1, 8), rng.randint(2, 3000)
        kept = bounded(history, max_turns, max_chars)
        assert len(dumps(kept)) <= max_chars
        all_turns = memory.turns(history)
        kept_turns = memory.turns(kept)
        assert len(kept_turns) <= max_turns and kept == [m for t in all_turns[len(all_turns) - len(kept_turns):] for m in t]
        if len(kept_turns) < min(max_turns, len(all_turns)):  # the next older turn would not have fitted
            one_more = all_turns[len(all_turns) - len(kept_turns) - 1:]
            assert len(dumps([m for t in one_more for m in t])) > max_chars, trial


def test_a_newest_turn_over_the_size_limit_leaves_nothing_rather_than_an_oversize_item():
    history = tool_turn("small", 1) + [user("x" * 70_000), answer("ok")]
    assert bounded(history) == []
    assert bounded(history, max_chars=200_000) == history
    with pytest.raises(ValueError):
        bounded(history, max_turns=0)


# ------------------------------------------------------------------ every store


def test_round_trip_and_versions(store_and_clock):
    store, _ = store_and_clock
    key = conversation_key("s1")
    assert store.load(key) == Conversation([], 0)
    first = tool_turn("Where is order 123456? ünïcödé 📦", 123456)
    assert store.save(key, first, 0) == 1
    assert store.load(key) == Conversation(first, 1)
    second = first + [user("thanks"), answer("You're welcome.")]
    assert store.save(key, second, 1) == 2
    assert store.load(key) == Conversation(second, 2)
    assert store.load(conversation_key("s2")) == Conversation([], 0)


def test_a_stale_version_conflicts_and_changes_nothing(store_and_clock):
    store, _ = store_and_clock
    key = conversation_key("s1")
    store.save(key, [user("a")], 0)
    store.save(key, [user("a"), user("b")], 1)
    for stale in (0, 1, 3):
        with pytest.raises(ConversationConflict):
            store.save(key, [user("lost")], stale)
    assert store.load(key) == Conversation([user("a"), user("b")], 2)
    with pytest.raises(ValueError):
        store.save(key, [], -1)


def test_an_expired_conversation_reads_empty_but_keeps_its_version(store_and_clock):
    store, clock = store_and_clock
    key = conversation_key("s1")
    store.save(key, [user("a")], 0)
    clock.now += HOUR - 1
    assert store.load(key) == Conversation([user("a")], 1)
    clock.now += 2
    assert store.load(key) == Conversation([], 1)
    with pytest.raises(ConversationConflict):  # a writer that loaded "new" does not silently replace it
        store.save(key, [user("b")], 0)
    assert store.save(key, [user("c")], 1) == 2
    assert store.load(key) == Conversation([user("c")], 2)  # the save renewed the expiry


def test_save_turn_appends_to_what_another_turn_saved_in_between(store_and_clock):
    store, _ = store_and_clock
    key = conversation_key("s1")
    store.save(key, [user("first"), answer("1")], 0)
    loaded_a, loaded_b = store.load(key), store.load(key)
    turn_a, turn_b = [user("second"), answer("2")], tool_turn("third", 3)
    assert save_turn(store, key, loaded_a, turn_a) == 2
    assert save_turn(store, key, loaded_b, turn_b) == 3
    assert store.load(key) == Conversation([user("first"), answer("1")] + turn_a + turn_b, 3)


def test_save_turn_bounds_what_it_saves(store_and_clock):
    store, _ = store_and_clock
    key = conversation_key("s1")
    loaded = store.load(key)
    for n in range(30):
        save_turn(store, key, loaded, tool_turn(f"q{n}", n), max_turns=5)
        loaded = store.load(key)
    assert loaded.version == 30 and loaded.messages == [m for n in range(25, 30) for m in tool_turn(f"q{n}", n)]


def test_save_turn_gives_up_after_its_attempts_and_says_so():
    class AlwaysChanged(InMemoryConversationStore):
        saves = 0

        def save(self, key, messages, expected_version):
            self.saves += 1
            raise ConversationConflict("changed")

    store = AlwaysChanged()
    with pytest.raises(ConversationConflict):
        save_turn(store, "k", Conversation(), [user("hi")], attempts=3)
    assert store.saves == 3


def test_save_turn_does_not_repeat_a_turn_whose_write_landed_but_reported_a_conflict():
    class LostReply(InMemoryConversationStore):
        def save(self, key, messages, expected_version):  # as a PutItem whose reply timed out, then a retry
            super().save(key, messages, expected_version)
            raise ConversationConflict("changed")

    store = LostReply()
    assert save_turn(store, "k", Conversation(), [user("hi"), answer("hello")]) == 1
    assert store.load("k") == Conversation([user("hi"), answer("hello")], 1)


def _concurrent_turns(store, writers=8):
    """``writers`` threads, released together, each saving its own turn from the same loaded version."""
    key = conversation_key("busy-session")
    store.save(key, [user("opening"), answer("hello")], 0)
    loaded = store.load(key)
    start, errors, versions = threading.Barrier(writers), [], []

    def turn(n):
        try:
            start.wait(timeout=10)
            versions.append(save_turn(store, key, loaded, tool_turn(f"question {n}", n), attempts=writers))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=turn, args=(n,)) for n in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors and sorted(versions) == list(range(2, writers + 2))
    final = store.load(key)
    assert final.version == writers + 1 and final.messages[:2] == [user("opening"), answer("hello")]
    saved = memory.turns(final.messages)[1:]
    assert sorted(saved, key=lambda t: t[0]["content"][0]["text"]) == [tool_turn(f"question {n}", n) for n in range(writers)]


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_concurrent_turns_of_one_session_all_keep_their_messages(kind, tmp_path):
    store = make_store(kind, tmp_path, Clock())
    _concurrent_turns(store)


def test_concurrent_turns_keep_their_messages_in_dynamodb(dynamodb, monkeypatch):
    # moto checks a PutItem's condition and then writes, with no lock: under real threads about one run
    # in eight let two writers of one version both succeed. DynamoDB makes a conditional write atomic
    # per item; a lock around moto's PutItem gives the same, so this tests our retries, not moto's race.
    from moto.dynamodb.models import DynamoDBBackend

    put_item, lock = DynamoDBBackend.put_item, threading.Lock()

    def atomic_put_item(self, *args, **kwargs):
        with lock:
            return put_item(self, *args, **kwargs)

    monkeypatch.setattr(DynamoDBBackend, "put_item", atomic_put_item)
    _concurrent_turns(make_store("dynamodb", None, Clock(), dynamodb))


def test_concurrent_turns_from_two_sqlite_connections(tmp_path):
    """As two processes would: each its own connection to the one file."""
    clock = Clock()
    a, b = (SQLiteConversationStore(tmp_path / "shared.sqlite3", ttl_seconds=HOUR, clock=clock) for _ in range(2))
    key = conversation_key("s1")
    loaded = a.load(key)
    save_turn(a, key, loaded, [user("from a")])
    save_turn(b, key, loaded, [user("from b")])
    assert a.load(key) == b.load(key) == Conversation([user("from a"), user("from b")], 2)
    a.close(), b.close()


# ------------------------------------------------------------------ SQLite specifics


def test_sqlite_uses_wal_purges_expired_rows_lazily_and_reports_unreadable_rows(tmp_path):
    clock = Clock()
    path = tmp_path / "deep" / "dir" / "c.sqlite3"
    store = SQLiteConversationStore(path, ttl_seconds=HOUR, clock=clock)
    old, new = conversation_key("old"), conversation_key("new")
    store.save(old, [user("a")], 0)
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    clock.now += HOUR + PURGE_GRACE_S + 1
    assert store.load(old) == Conversation([], 1)  # expired: read as empty, the row still there
    store.save(new, [user("b")], 0)  # a later save purges
    assert [k for (k,) in db.execute("SELECT key FROM conversations")] == [new]
    db.execute("UPDATE conversations SET messages = 'not json'")
    db.commit()
    with pytest.raises(ConversationStoreError, match="unreadable"):
        store.load(new)
    db.close(), store.close()


# ------------------------------------------------------------------ DynamoDB specifics


def test_dynamodb_item_shape_and_the_template_table(dynamodb):
    props = load_template()["Resources"]["ConversationsTable"]["Properties"]
    described = dynamodb.describe_table(TableName=TABLE)["Table"]
    assert described["KeySchema"] == props["KeySchema"] == [{"AttributeName": "conversationId", "KeyType": "HASH"}]
    assert dynamodb.describe_time_to_live(TableName=TABLE)["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "ENABLED", "AttributeName": "expiresAt"}
    clock = Clock()
    store = DynamoDBConversationStore(TABLE, client=dynamodb, ttl_seconds=24 * HOUR, clock=clock)
    key = conversation_key("s1", "BOT", "ALIAS", "en_US")
    turn = tool_turn("Where is order 123456?", 123456)
    assert save_turn(store, key, store.load(key), turn) == 1
    item = dynamodb.get_item(TableName=TABLE, Key={"conversationId": {"S": key}})["Item"]
    assert item == {"conversationId": {"S": key}, "messages": {"S": dumps(turn)}, "version": {"N": "1"},
                    "expiresAt": {"N": str(int(clock.now) + 24 * HOUR)}}
    assert store.load(key) == Conversation(turn, 1)


def test_dynamodb_item_past_its_ttl_but_not_yet_deleted_reads_empty(dynamodb):
    clock = Clock()
    key = conversation_key("s1")
    dynamodb.put_item(TableName=TABLE, Item={"conversationId": {"S": key}, "messages": {"S": dumps([user("old")])},
                                             "version": {"N": "7"}, "expiresAt": {"N": str(int(clock.now) - 1)}})
    store = DynamoDBConversationStore(TABLE, client=dynamodb, clock=clock)
    assert store.load(key) == Conversation([], 7)
    with pytest.raises(ConversationConflict):
        store.save(key, [user("new")], 0)
    assert save_turn(store, key, store.load(key), [user("new")]) == 8


def test_dynamodb_failures_are_store_errors_that_name_no_customer_data(dynamodb):
    store = DynamoDBConversationStore("no-such-table", client=dynamodb)
    key = conversation_key("secret-session")
    for call in (lambda: store.load(key), lambda: store.save(key, [user("my card is 4111")], 0)):
        with pytest.raises(ConversationStoreError) as raised:
            call()
        assert "ResourceNotFoundException" in str(raised.value)
        assert key not in str(raised.value) and "4111" not in str(raised.value)
        assert raised.value.__cause__ is None and raised.value.__suppress_context__
    assert not issubclass(ConversationStoreError, MemoryError)
    huge = DynamoDBConversationStore(TABLE, client=dynamodb)
    with pytest.raises(ConversationStoreError, match="too large"):
        huge.save(key, [user("x" * 400_000)], 0)


# ------------------------------------------------------------------ configuration


def test_store_from_env_defaults_to_sqlite_at_conversation_path(tmp_path, monkeypatch):
    path = tmp_path / "conv" / "c.sqlite3"
    monkeypatch.setenv("CONVERSATION_PATH", str(path))
    monkeypatch.delenv("CONVERSATION_STORE", raising=False)
    monkeypatch.delenv("CONVERSATION_TTL_HOURS", raising=False)
    store = store_from_env()
    assert isinstance(store, SQLiteConversationStore) and path.exists() and store.ttl_seconds == 24 * HOUR
    store.close()
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    store = store_from_env({"CONVERSATION_STORE": "SQLite", "CONVERSATION_TTL_HOURS": "0.5"})
    assert (home / ".cache" / "lex-llm-agent" / "conversations.sqlite3").exists() and store.ttl_seconds == 1800
    store.close()
    assert isinstance(store_from_env({"CONVERSATION_STORE": "memory"}), InMemoryConversationStore)


def test_store_from_env_builds_the_dynamodb_store(dynamodb):
    store = store_from_env({"CONVERSATION_STORE": "dynamodb", "CONVERSATION_TABLE": TABLE, "AWS_REGION": "us-east-1",
                            "CONVERSATION_TTL_HOURS": "720"})
    assert isinstance(store, DynamoDBConversationStore) and store.table == TABLE and store.ttl_seconds == 720 * HOUR
    assert store.save(conversation_key("s"), [user("hi")], 0) == 1


@pytest.mark.parametrize("env,variable", [
    ({"CONVERSATION_STORE": "dynamodb"}, "CONVERSATION_TABLE"),
    ({"CONVERSATION_STORE": "dynamodb", "CONVERSATION_TABLE": "  "}, "CONVERSATION_TABLE"),
    ({"CONVERSATION_STORE": "redis"}, "CONVERSATION_STORE"),
    ({"CONVERSATION_STORE": "memory", "CONVERSATION_TTL_HOURS": "0"}, "CONVERSATION_TTL_HOURS"),
    ({"CONVERSATION_STORE": "memory", "CONVERSATION_TTL_HOURS": "-3"}, "CONVERSATION_TTL_HOURS"),
    ({"CONVERSATION_STORE": "memory", "CONVERSATION_TTL_HOURS": "a day"}, "CONVERSATION_TTL_HOURS"),
    ({"CONVERSATION_STORE": "memory", "CONVERSATION_TTL_HOURS": "nan"}, "CONVERSATION_TTL_HOURS"),
    ({"CONVERSATION_STORE": "memory", "CONVERSATION_TTL_HOURS": "inf"}, "CONVERSATION_TTL_HOURS"),
])
def test_store_from_env_errors_name_the_variable(env, variable):
    with pytest.raises(ValueError, match=variable):
        store_from_env(env)


def test_importing_memory_loads_neither_boto3_nor_sqlite3():
    code = ("import sys, orchestrator.memory as m; m.InMemoryConversationStore(); "
            "print(','.join(n for n in ('boto3', 'botocore', 'sqlite3', '_sqlite3') if n in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


@pytest.mark.parametrize("make", ["memory", "sqlite"])
def test_state_is_kept_beside_the_messages_and_cleared_by_an_empty_one(make, tmp_path):
    from orchestrator.memory import InMemoryConversationStore, save_turn
    from orchestrator.memory.sqlite import SQLiteConversationStore

    store = InMemoryConversationStore() if make == "memory" else SQLiteConversationStore(str(tmp_path / "c.sqlite3"))
    turn = [{"role": "user", "content": [{"text": "cancel 37129"}]}, {"role": "assistant", "content": [{"text": "Sure?"}]}]
    pending = {"pending": {"tool": "cancel_order", "input": {"order_id": "37129"}, "expires": 1}}
    save_turn(store, "k", store.load("k"), turn, state=pending)
    loaded = store.load("k")
    assert loaded.state == pending and loaded.messages == turn
    save_turn(store, "k", loaded, turn, state={})
    assert store.load("k").state == {}
