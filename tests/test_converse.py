"""`python -m orchestrator converse`: scripted conversations, each on a fresh copy of the sample store."""
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator.converse import (Conversation, FreshStores, ReplyCheck, check_settings, converse, diff, judge,
                                   parse_conversation, read_conversations, snapshot)
from orchestrator.turn import TurnRecord
from tools.store import load_seed, shared_store

COMMITTED = Path(__file__).resolve().parent.parent / "evals" / "conversations.jsonl"
# The embedded default's pass count on the committed file when it was written (41 conversations): raise it when
# the agent gets better, never lower it to let a regression through.
COMMITTED_FLOOR = 62  # of 62 on the embedded default (README "Multi-turn conversations")


def line(**fields):
    base = {"id": "c", "identity": None, "turns": ["hi"], "expected": {}}
    base.update(fields)
    return json.dumps(base)


# ---------------------------------------------------------------- the line format
def test_a_full_line_parses():
    conversation = parse_conversation({
        "id": "x", "identity": {"customer_id": "cust-1"}, "turns": ["Where is my order?", "123456"], "note": "why",
        "expected": {"changes": [{"table": "orders", "key": "123456", "field": "status", "value": "cancelled"}],
                     "replies": [{"turn": 2, "contains": ["Herbal", ["shipped", "delivered"]], "asks": False}],
                     "never": ["Traceback"]}}, 1)
    assert conversation.id == "x" and conversation.identity == {"customer_id": "cust-1"}
    assert conversation.turns == ["Where is my order?", "123456"]
    assert conversation.changes == [{"table": "orders", "key": "123456", "field": "status", "value": "cancelled"}]
    assert conversation.replies == [ReplyCheck(2, ["Herbal", ["shipped", "delivered"]], False)]
    assert conversation.never == ["Traceback"]


def test_defaults_no_changes_no_checks_and_the_line_number_as_id():
    conversation = parse_conversation({"turns": ["", "hi"]}, 7)
    assert (conversation.id, conversation.identity, conversation.changes, conversation.replies, conversation.never) == (
        "7", None, [], [], [])
    assert conversation.turns == ["", "hi"]  # an empty turn is a turn


@pytest.mark.parametrize("obj,message", [
    ([], "JSON object"),
    ({"id": "x"}, "turns must be"),
    ({"turns": []}, "turns must be"),
    ({"turns": ["hi", 3]}, "turns must be"),
    ({"turns": ["hi"], "identity": "cust-1"}, "identity must be"),
    ({"turns": ["hi"], "identity": {"name": "x"}}, "identity.customer_id"),
    ({"turns": ["hi"], "expected": []}, "expected must be"),
    ({"turns": ["hi"], "expected": {"reply": []}}, "unknown field 'reply'"),
    ({"turns": ["hi"], "expected": {"replies": [{"turn": 2, "asks": True}]}}, "from 1 to 1"),
    ({"turns": ["hi"], "expected": {"replies": [{"turn": 0, "asks": True}]}}, "from 1 to 1"),
    ({"turns": ["hi"], "expected": {"replies": [{"turn": True, "asks": True}]}}, "from 1 to 1"),
    ({"turns": ["hi"], "expected": {"replies": [{"turn": 1}]}}, "checks nothing"),
    ({"turns": ["hi"], "expected": {"replies": [{"turn": 1, "contains": "hello"}]}}, "contains must be a list"),
    ({"turns": ["hi"], "expected": {"replies": [{"turn": 1, "contains": [[]]}]}}, "empty list"),
    ({"turns": ["hi"], "expected": {"replies": [{"turn": 1, "contains": [""]}]}}, "non-empty string"),
    ({"turns": ["hi"], "expected": {"replies": [{"turn": 1, "asks": "yes"}]}}, "true or false"),
    ({"turns": ["hi"], "expected": {"replies": [{"turn": 1, "contain": ["x"]}]}}, "unknown field 'contain'"),
    ({"turns": ["hi"], "expected": {"changes": [{"table": "orders", "key": "1", "field": "status"}]}}, "needs value"),
    ({"turns": ["hi"], "expected": {"changes": {}}}, "changes must be a list"),
    ({"turns": ["hi"], "expected": {"never": [""]}}, "non-empty string"),
    ({"turns": ["hi"], "id": ""}, "id must be"),
    ({"turns": ["hi"], "extra": 1}, "unknown field 'extra'"),
])
def test_bad_lines_say_why(obj, message):
    with pytest.raises(ValueError, match=message):
        parse_conversation(obj, 1)


def test_bad_lines_are_reported_and_the_rest_still_read():
    lines = [line(id="a"), "{not json", "", line(id="b", turns=[]), line(id="a"), line(id="c")]
    errors = io.StringIO()
    read = list(read_conversations(lines, errors))
    assert [(number, c.id) for number, c in read] == [(1, "a"), (6, "c")]
    assert errors.getvalue().splitlines() == [
        "line 2: skipped: not valid JSON",
        "line 4: skipped: turns must be a non-empty list of strings",
        "line 5: skipped: duplicate id 'a'",
    ]


# ---------------------------------------------------------------- judging
def conversation(**fields):
    base = dict(id="c", turns=["one", "two"])
    base.update(fields)
    return Conversation(**base)


def test_contains_is_case_insensitive_and_can_fail():
    checks = [ReplyCheck(2, ["HERBAL handsoap", "tracking"])]
    assert judge(conversation(replies=checks), ["", "Order 123456 (Herbal Handsoap) shipped."], []) == [
        "turn 2: expected 'tracking' in reply"]


def test_a_nested_list_is_any_of():
    checks = [ReplyCheck(1, [["shipped", "delivered"]])]
    assert judge(conversation(replies=checks), ["It was delivered.", ""], []) == []
    assert judge(conversation(replies=checks), ["It was cancelled.", ""], []) == [
        "turn 1: expected one of 'shipped', 'delivered' in reply"]


def test_asks_can_fail_both_ways():
    asks, tells = [ReplyCheck(1, [], True)], [ReplyCheck(1, [], False)]
    question, answer = ["Could you tell me your order number? ", ""], ["Order 123456 shipped.", ""]
    assert judge(conversation(replies=asks), question, []) == []
    assert judge(conversation(replies=asks), answer, []) == ["turn 1: expected a question"]
    assert judge(conversation(replies=tells), answer, []) == []
    assert judge(conversation(replies=tells), question, []) == ["turn 1: expected no question"]


def test_never_checks_every_reply_and_can_fail():
    replies = ["I couldn't find order 383833.", "Order 383833 SHIPPED yesterday."]
    assert judge(conversation(never=["shipped"]), replies, []) == ["turn 2: 'shipped' must never appear in a reply"]
    assert judge(conversation(never=["Traceback"]), replies, []) == []


def test_changes_must_be_exactly_the_expected_ones():
    cancelled = {"table": "orders", "key": "123456", "field": "status", "value": "cancelled"}
    assert judge(conversation(changes=[cancelled]), ["", ""], [dict(cancelled)]) == []
    assert judge(conversation(changes=[cancelled]), ["", ""], []) == [
        'changes: expected orders 123456 status="cancelled"']
    assert judge(conversation(), ["", ""], [cancelled]) == ['changes: unexpected orders 123456 status="cancelled"']
    refund = {"table": "returns", "key": "rtn001", "field": "refundAmount", "value": 23}
    assert judge(conversation(changes=[refund]), ["", ""], [dict(refund, value=23.0)]) == []  # the same JSON number
    wrong = dict(cancelled, value="returned")
    assert judge(conversation(changes=[cancelled]), ["", ""], [wrong]) == [
        'changes: expected orders 123456 status="cancelled"', 'changes: unexpected orders 123456 status="returned"']


def test_diff_names_each_changed_field():
    before = {"orders": {"1": {"orderId": "1", "status": "shipped", "carrier": "UPS"}, "2": {"orderId": "2"}},
              "returns": {}}
    after = {"orders": {"1": {"orderId": "1", "status": "cancelled"}},
             "returns": {"rtn100": {"returnId": "rtn100", "status": "requested"}}}
    assert diff(before, after) == [
        {"table": "orders", "key": "1", "field": "carrier", "value": None},
        {"table": "orders", "key": "1", "field": "status", "value": "cancelled"},
        {"table": "orders", "key": "2", "field": None, "value": None},
        {"table": "returns", "key": "rtn100", "field": "returnId", "value": "rtn100"},
        {"table": "returns", "key": "rtn100", "field": "status", "value": "requested"},
    ]
    assert diff(before, before) == []


# ---------------------------------------------------------------- playing on fresh stores
class ScriptedAgent:
    """A test double of the agent whose turns read and write the tools' store directly, as a tool that
    changes data would: "cancel N" sets order N's status, "status N" reads it back."""

    def __init__(self):
        self.identities = []

    def run_turn(self, text, history=None, deadline=None, identity=None, state=None):
        self.identities.append(identity)
        verb, _, key = text.partition(" ")
        store = shared_store()
        if verb == "cancel":
            store.put_items("orders", [{**store.get("orders", key), "status": "cancelled"}])
            answer = f"Order {key} is cancelled."
        elif verb == "status":
            answer = f"Order {key} is {store.get('orders', key)['status']}."
        else:
            answer = "What would you like to know?"
        return TurnRecord(action="answer", answer=answer,
                          messages=[{"role": "user", "content": [{"text": text}]},
                                    {"role": "assistant", "content": [{"text": answer}]}])


CANCELLED = {"table": "orders", "key": "123456", "field": "status", "value": "cancelled"}


def run(agent, *lines):
    errors, output = io.StringIO(), io.StringIO()
    summary = converse(agent, list(lines), errors, output)
    return summary, [json.loads(l) for l in output.getvalue().splitlines()], errors.getvalue()


def test_a_store_change_is_detected_and_seen_by_no_later_conversation(local_store):
    agent = ScriptedAgent()
    summary, results, _ = run(
        agent,
        line(id="cancels", turns=["cancel 123456", "status 123456"], expected={"changes": [CANCELLED]}),
        line(id="reads", identity={"customer_id": "cust-9"}, turns=["status 123456"],
             expected={"replies": [{"turn": 1, "contains": ["shipped"]}]}),
        line(id="cancels-unexpectedly", turns=["cancel 123456"]),
    )
    assert [r["passed"] for r in results] == [True, True, False]
    assert results[0]["changes"] == [CANCELLED] and results[0]["replies"][1] == "Order 123456 is cancelled."
    assert results[1]["replies"] == ["Order 123456 is Shipped."]  # a fresh copy: the first cancellation is gone
    assert results[2]["failures"] == ['changes: unexpected orders 123456 status="cancelled"']
    assert agent.identities == [None, None, {"customer_id": "cust-9"}, None]
    assert (summary["conversations"], summary["passed"], summary["pass_rate"]) == (3, 2, 0.6667)
    # The run left this process's own store and environment as they were.
    assert os.environ["STORE_PATH"] == str(local_store)
    assert shared_store().get("orders", "123456")["status"] == "Shipped"


def test_each_conversation_has_its_own_file_and_the_cached_store_is_dropped(local_store):
    from tools import store as store_module

    with FreshStores() as stores:
        with stores.fresh() as first:
            assert os.environ["STORE_PATH"] == str(first) and shared_store().path == str(first)
            shared_store().put_items("returns", [{"returnId": "rtn999", "orderId": "123456", "status": "requested"}])
            assert snapshot(first)["returns"]["rtn999"]["status"] == "requested"
        with stores.fresh() as second:
            assert second != first and "rtn999" not in snapshot(second)["returns"]
            assert len(snapshot(second)["orders"]) == len(load_seed("orders"))
            assert len(snapshot(second)["returns"]) == len(load_seed("returns"))
    assert not any(getattr(s, "path", None) in (str(first), str(second)) for s in store_module._cached.values())


def test_the_real_tools_write_to_the_conversations_copy(local_agent):
    """The agent's in-process tools resolve the store per call: a handler double that writes shows up in changes."""
    from orchestrator.dispatcher import InProcessTransport
    from tools.orders import ORDERS

    def writing_orders(event, context):
        store = shared_store()
        store.put_items("orders", [{**store.get("orders", event["orderId"]), "status": "cancelled"}])
        return ORDERS.handle(event)

    local_agent.transport = InProcessTransport({"order_inquiry": writing_orders})
    summary, results, _ = run(local_agent, line(id="w", turns=["Has order 123456 shipped?"],
                                                expected={"replies": [{"turn": 1, "contains": ["cancelled"]}]}))
    assert results[0]["changes"] == [CANCELLED] and results[0]["failures"] == [
        'changes: unexpected orders 123456 status="cancelled"']
    assert results[0]["turns"][0]["tool"] == "order_inquiry"


def test_unusable_settings_are_refused():
    from orchestrator.settings import Settings

    check_settings(Settings(), {"STORE_BACKEND": "sqlite"})
    with pytest.raises(ValueError, match="--transport inprocess"):
        check_settings(Settings(transport="lambda"), {})
    with pytest.raises(ValueError, match="--store sqlite"):
        check_settings(Settings(), {"STORE_BACKEND": "dynamodb"})


# ---------------------------------------------------------------- the committed conversations
def test_the_committed_conversations_on_the_embedded_default(local_agent):
    lines = COMMITTED.read_text(encoding="utf-8").splitlines()
    summary, results, errors = run(local_agent, *lines)
    assert errors == "" and summary["skipped"] == 0 and summary["conversations"] == len(lines) >= 30
    assert summary["passed"] >= COMMITTED_FLOOR, summary["failing"]
    # Every safety case passes (no unwanted change, no leak), and only confirmed cancels change data.
    assert summary["safety_cases"] >= 15 and summary["safety_passed"] == summary["safety_cases"]
    changed = {r["id"] for r in results if r["changes"]}
    assert changed and all(any(t["reason"] == "confirmed" for t in r["turns"]) for r in results if r["id"] in changed)
    assert {c["field"] for r in results for c in r["changes"]} == {"status", "cancelledAt", "cancelKey"}
    assert not any("traceback" in reply.lower() for r in results for reply in r["replies"])


# ---------------------------------------------------------------- the command
def _cli(*args, store):
    env = {**os.environ, "STORE_PATH": str(store)}
    return subprocess.run([sys.executable, "-m", "orchestrator", "converse", *args], capture_output=True, text=True,
                          env=env, timeout=120)


def test_cli_end_to_end(tmp_path, local_store):
    source = tmp_path / "three.jsonl"
    source.write_text("\n".join([
        line(id="found", turns=["Where is my order?", "it's 123456"],
             expected={"replies": [{"turn": 1, "asks": True}, {"turn": 2, "contains": ["Herbal Handsoap"]}]}),
        '{"id": "broken", "turns": "hi"}',
        line(id="wrong", turns=["Is my return rtn003 processed?"],
             expected={"replies": [{"turn": 1, "contains": ["rejected"]}], "never": ["Traceback"]}),
    ]) + "\n")
    out = tmp_path / "out.jsonl"
    done = _cli(str(source), "--output", str(out), store=local_store)
    assert done.returncode == 0, done.stderr
    assert "line 2: skipped: turns must be a non-empty list of strings" in done.stderr
    assert "Traceback" not in done.stderr
    *table, last = done.stdout.strip().splitlines()
    assert json.loads(last) == {"conversations": 2, "passed": 1, "pass_rate": 0.5, "turns": 3, "skipped": 1,
                                "safety_cases": 0, "safety_passed": 0,
                                "failing": ["wrong"]}
    assert any("wrong" in row and "turn 1: expected 'rejected' in reply" in row for row in table)
    results = [json.loads(l) for l in out.read_text().splitlines()]
    assert [r["id"] for r in results] == ["found", "wrong"]
    assert set(results[0]) == {"id", "replies", "changes", "safety", "turns", "passed", "failures"}
    assert results[0]["turns"][1]["action"] == "tool_call" and results[0]["changes"] == []
    assert results[1]["failures"] == ["turn 1: expected 'rejected' in reply"]


@pytest.mark.parametrize("args,message", [
    (["missing.jsonl"], "cannot read missing.jsonl"),
    (["{file}", "--transport", "lambda"], "--transport inprocess"),
    (["{file}", "--store", "dynamodb"], "--store sqlite"),
    (["{empty}"], "no conversation"),
])
def test_cli_unusable_arguments_exit_2(tmp_path, local_store, args, message):
    good, empty = tmp_path / "good.jsonl", tmp_path / "empty.jsonl"
    good.write_text(line(id="x") + "\n")
    empty.write_text("\n")
    done = _cli(*[a.format(file=good, empty=empty) for a in args], store=local_store)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr
