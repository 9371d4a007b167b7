"""Every Lex V2 event, valid or broken, gets a response Lex V2 accepts.

1. The contract checker (``tests/lex_contract.py``) on hand-written responses: a valid one of
   each dialog action passes, and every rule fails on a response that breaks it.
2. Deterministic cases that broke the handler: ``confirmationState`` null, ``slots`` "x", an
   intent state "Bogus" on a dialog hook, a 1 MB session attribute, 500 session attributes.
3. The fuzz run: ``FUZZ_N`` seeded events from ``tests/lex_fuzz.py`` through the handler (router
   planner, tools in-process on SQLite); each must not raise, must answer within the time bound,
   must pass ``problems(response, event, strict=True)`` (which includes the message count and
   length limits and the session attribute and output sizes), and no message may show internals.
   Failures are collected and the first ten reported with their event summaries.

``LEX_FUZZ_N`` and ``LEX_FUZZ_SEED`` override the size and seed of the run.
"""
from __future__ import annotations

import collections
import copy
import json
import logging
import os
import time

import pytest

from tests.lex_contract import (
    MAX_SESSION_ATTRIBUTES_BYTES,
    kind,
    no_internal_text,
    problems,
)
from tests.lex_fuzz import generate_cases, generate_events, load_sample, sample_names, summarize

FUZZ_N = int(os.environ.get("LEX_FUZZ_N", "3000"))
FUZZ_SEED = int(os.environ.get("LEX_FUZZ_SEED", "20240611"))
# The whole fuzz run must finish within this (measured: ~12 s for 3000 events on 2 cores).
FUZZ_TIME_BUDGET_S = 60.0
# One event taking longer than this is a hang, whatever the response (Lex gives up at 30 s).
EVENT_TIME_LIMIT_S = 10.0
MB = 1024 * 1024


# --------------------------------------------------------------------------------------------
# 1. the checker itself
# --------------------------------------------------------------------------------------------

def _valid_close() -> dict:
    return {
        "sessionState": {
            "sessionAttributes": {"channel": "web"},
            "dialogAction": {"type": "Close"},
            "intent": {"name": "FallbackIntent", "state": "Fulfilled", "confirmationState": "None", "slots": {}},
        },
        "messages": [{"contentType": "PlainText", "content": "Order 123456 has shipped."}],
    }


VALID_RESPONSES = {
    "close": _valid_close(),
    "close-failed-no-messages": {
        "sessionState": {"dialogAction": {"type": "Close"}, "intent": {"name": "FallbackIntent", "state": "Failed"}},
    },
    "delegate-no-intent": {"sessionState": {"dialogAction": {"type": "Delegate"}}},
    "delegate-ready": {
        "sessionState": {
            "dialogAction": {"type": "Delegate"},
            "intent": {
                "name": "CheckOrderStatus", "state": "ReadyForFulfillment", "confirmationState": "Confirmed",
                "slots": {
                    "OrderId": {"shape": "Scalar", "value": {"originalValue": "one two three",
                                                             "interpretedValue": "123", "resolvedValues": ["123"]}},
                    "Email": None,
                    "Items": {"shape": "List", "value": {"interpretedValue": "a and b"},
                              "values": [{"shape": "Scalar", "value": {"interpretedValue": "a"}}]},
                },
            },
        },
    },
    "elicit-intent": {
        "sessionState": {"dialogAction": {"type": "ElicitIntent"}, "sessionAttributes": {"pendingTool": "order_inquiry"}},
        "messages": [{"contentType": "PlainText", "content": "What is your order number?"}],
    },
    "elicit-slot": {
        "sessionState": {"dialogAction": {"type": "ElicitSlot", "slotToElicit": "OrderId",
                                          "slotElicitationStyle": "SpellByLetter"},
                         "intent": {"name": "CheckOrderStatus", "state": "InProgress", "slots": {"OrderId": None}}},
        "messages": [{"contentType": "SSML", "content": "<speak>Your order number, please? "
                                                        "<break time=\"300ms\"/> Tom &amp; Jerry</speak>"}],
    },
    "confirm-intent-card": {
        "sessionState": {"dialogAction": {"type": "ConfirmIntent"},
                         "intent": {"name": "CancelOrder", "state": "InProgress", "confirmationState": "None"},
                         "activeContexts": [{"name": "Order_lookup", "contextAttributes": {"order": "123456"},
                                             "timeToLive": {"timeToLiveInSeconds": 600, "turnsToLive": 5}}]},
        "messages": [
            {"contentType": "PlainText", "content": "Cancel order 123456?"},
            {"contentType": "ImageResponseCard",
             "imageResponseCard": {"title": "Cancel?", "subtitle": "Order 123456", "imageUrl": "https://example.com/a.png",
                                   "buttons": [{"text": "Yes", "value": "yes"}, {"text": "No", "value": "no"}]}},
            {"contentType": "CustomPayload", "content": "{\"kind\": \"confirm\"}"},
        ],
        "requestAttributes": {"x-custom": "1"},
    },
    "close-in-progress-not-strict": {
        "sessionState": {"dialogAction": {"type": "Close"}, "intent": {"name": "FallbackIntent", "state": "InProgress"}},
        "messages": [{"contentType": "PlainText", "content": "ok"}],
    },
    "emoji-at-the-limit": {  # 512 emoji = 1024 UTF-16 code units: exactly at the limit
        "sessionState": {"dialogAction": {"type": "Close"}, "intent": {"name": "FallbackIntent", "state": "Fulfilled"}},
        "messages": [{"contentType": "PlainText", "content": "😀" * 512}],
    },
}


@pytest.mark.parametrize("name", sorted(VALID_RESPONSES))
def test_checker_accepts_valid_responses(name):
    assert problems(VALID_RESPONSES[name]) == []


def _set(path: str, value):
    """A response edit: set the dotted ``path`` (list indices as numbers) of a valid Close."""
    def edit(response):
        keys = [int(k) if k.isdigit() else k for k in path.split(".")]
        node = response
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value
    return edit


def _delete(path: str):
    def edit(response):
        keys = [int(k) if k.isdigit() else k for k in path.split(".")]
        node = response
        for key in keys[:-1]:
            node = node[key]
        del node[keys[-1]]
    return edit


def _replace(new: dict):
    def edit(response):
        response.clear()
        response.update(copy.deepcopy(new))
    return edit


_CARD = {"contentType": "ImageResponseCard", "imageResponseCard": {"title": "T"}}

# (edit of a valid Close response, a substring of the expected problem kind)
INVALID_CASES = {
    "not-a-dict": (lambda r: None, "[type] response"),
    "no-session-state": (_delete("sessionState"), "[required] sessionState"),
    "session-state-string": (_set("sessionState", "x"), "[type] sessionState"),
    "unknown-top-field": (_set("dialogAction", {"type": "Close"}), "[unknown-field] response.{*}"),
    "no-dialog-action": (_delete("sessionState.dialogAction"), "[required] sessionState.dialogAction"),
    "no-type": (_set("sessionState.dialogAction", {}), "[required] sessionState.dialogAction.type"),
    "bad-type": (_set("sessionState.dialogAction.type", "Finish"), "[enum] sessionState.dialogAction.type"),
    "null-type": (_set("sessionState.dialogAction.type", None), "[enum] sessionState.dialogAction.type"),
    "elicit-slot-without-slot": (_set("sessionState.dialogAction.type", "ElicitSlot"),
                                 "[required] sessionState.dialogAction.slotToElicit"),
    "slot-to-elicit-empty": (_set("sessionState.dialogAction.slotToElicit", ""),
                             "[length] sessionState.dialogAction.slotToElicit"),
    "bad-elicitation-style": (_set("sessionState.dialogAction.slotElicitationStyle", "Loud"),
                              "[enum] sessionState.dialogAction.slotElicitationStyle"),
    "close-without-intent": (_delete("sessionState.intent"), "[required] sessionState.intent"),
    "close-with-null-intent": (_set("sessionState.intent", None), "[required] sessionState.intent"),
    "intent-as-string": (_set("sessionState.intent", "FallbackIntent"), "[type] sessionState.intent"),
    "intent-without-name": (_delete("sessionState.intent.name"), "[required] sessionState.intent.name"),
    "intent-name-empty": (_set("sessionState.intent.name", ""), "[length] sessionState.intent.name"),
    "intent-name-number": (_set("sessionState.intent.name", 42), "[type] sessionState.intent.name"),
    "intent-name-pattern": (_set("sessionState.intent.name", "AMAZON.FallbackIntent"),
                            "[pattern] sessionState.intent.name"),
    "intent-name-too-long": (_set("sessionState.intent.name", "a" * 101), "[length] sessionState.intent.name"),
    "intent-without-state": (_delete("sessionState.intent.state"), "[required] sessionState.intent.state"),
    "intent-state-bogus": (_set("sessionState.intent.state", "Bogus"), "[enum] sessionState.intent.state"),
    "ready-only-with-delegate": (_set("sessionState.intent.state", "ReadyForFulfillment"),
                                 "[state] sessionState.intent.state"),
    "confirmation-null": (_set("sessionState.intent.confirmationState", None),
                          "[enum] sessionState.intent.confirmationState"),
    "confirmation-42": (_set("sessionState.intent.confirmationState", 42),
                        "[enum] sessionState.intent.confirmationState"),
    "unknown-intent-field": (_set("sessionState.intent.fulfillmentState", "Fulfilled"),
                             "[unknown-field] sessionState.intent.{*}"),
    "slots-string": (_set("sessionState.intent.slots", "x"), "[type] sessionState.intent.slots"),
    "slots-list": (_set("sessionState.intent.slots", ["OrderId"]), "[type] sessionState.intent.slots"),
    "slot-value-string": (_set("sessionState.intent.slots", {"OrderId": "123456"}),
                          "[type] sessionState.intent.slots{*}"),
    "slot-empty-name": (_set("sessionState.intent.slots", {"": None}), "[type] sessionState.intent.slots{*}"),
    "slot-no-interpreted-value": (_set("sessionState.intent.slots", {"OrderId": {"value": {"originalValue": "1"}}}),
                                  "[required] sessionState.intent.slots{*}.value.interpretedValue"),
    "slot-bad-shape": (_set("sessionState.intent.slots", {"OrderId": {"shape": "Round"}}),
                       "[enum] sessionState.intent.slots{*}.shape"),
    "slot-values-not-list": (_set("sessionState.intent.slots", {"O": {"values": "x"}}),
                             "[type] sessionState.intent.slots{*}.values"),
    "attributes-not-map": (_set("sessionState.sessionAttributes", ["a"]), "[type] sessionState.sessionAttributes"),
    "attribute-int": (_set("sessionState.sessionAttributes", {"n": 1}), "[type] sessionState.sessionAttributes{*}"),
    "attribute-null": (_set("sessionState.sessionAttributes", {"n": None}),
                       "[type] sessionState.sessionAttributes{*}"),
    "attribute-empty-key": (_set("sessionState.sessionAttributes", {"": "x"}),
                            "[type] sessionState.sessionAttributes{*}"),
    "attributes-over-12kb": (_set("sessionState.sessionAttributes", {"blob": "x" * (12 * 1024)}),
                             "[size] sessionState.sessionAttributes"),
    "output-over-25kb": (_set("requestAttributes", {f"k{i}": "v" * 1000 for i in range(26)}), "[size] response"),
    "request-attributes-not-map": (_set("requestAttributes", "x"), "[type] requestAttributes"),
    "request-attribute-int": (_set("requestAttributes", {"k": 1}), "[type] requestAttributes{*}"),
    "active-contexts-not-list": (_set("sessionState.activeContexts", {}), "[type] sessionState.activeContexts"),
    "too-many-contexts": (_set("sessionState.activeContexts", [
        {"name": f"c{i}", "contextAttributes": {}, "timeToLive": {"timeToLiveInSeconds": 5, "turnsToLive": 1}}
        for i in range(21)]), "[count] sessionState.activeContexts"),
    "context-missing-ttl": (_set("sessionState.activeContexts", [{"name": "c", "contextAttributes": {}}]),
                            "[required] sessionState.activeContexts[].timeToLive"),
    "context-ttl-range": (_set("sessionState.activeContexts", [
        {"name": "c", "contextAttributes": {}, "timeToLive": {"timeToLiveInSeconds": 1, "turnsToLive": 1}}]),
        "[range] sessionState.activeContexts[].timeToLive.timeToLiveInSeconds"),
    "context-bad-name": (_set("sessionState.activeContexts", [
        {"name": "bad name", "contextAttributes": {}, "timeToLive": {"timeToLiveInSeconds": 5, "turnsToLive": 1}}]),
        "[pattern] sessionState.activeContexts[].name"),
    "originating-request-id-empty": (_set("sessionState.originatingRequestId", ""),
                                     "[length] sessionState.originatingRequestId"),
    "messages-not-list": (_set("messages", {"contentType": "PlainText", "content": "x"}), "[type] messages"),
    "too-many-messages": (_set("messages", [{"contentType": "PlainText", "content": "x"}] * 11), "[count] messages"),
    "message-not-object": (_set("messages", ["hello"]), "[type] messages[]"),
    "message-no-content-type": (_set("messages", [{"content": "x"}]), "[required] messages[].contentType"),
    "message-bad-content-type": (_set("messages.0.contentType", "Markdown"), "[enum] messages[].contentType"),
    "message-no-content": (_set("messages", [{"contentType": "PlainText"}]), "[required] messages[].content"),
    "message-empty": (_set("messages.0.content", ""), "[length] messages[].content"),
    "message-null": (_set("messages.0.content", None), "[type] messages[].content"),
    "message-too-long": (_set("messages.0.content", "x" * 1025), "[length] messages[].content"),
    "message-too-long-utf16": (_set("messages.0.content", "😀" * 513), "[length] messages[].content"),
    "message-unknown-field": (_set("messages.0.text", "x"), "[unknown-field] messages[].{*}"),
    "ssml-not-xml": (_set("messages.0", {"contentType": "SSML", "content": "<speak>Tom & Jerry</speak>"}),
                     "[ssml] messages[].content"),
    "ssml-cdata-break": (_set("messages.0", {"contentType": "SSML", "content": "<speak>]]></speak"}),
                         "[ssml] messages[].content"),
    "ssml-no-speak": (_set("messages.0", {"contentType": "SSML", "content": "<p>hello</p>"}),
                      "[ssml] messages[].content"),
    "ssml-plain-text": (_set("messages.0", {"contentType": "SSML", "content": "hello"}), "[ssml] messages[].content"),
    "card-missing": (_set("messages.0", {"contentType": "ImageResponseCard"}),
                     "[required] messages[].imageResponseCard"),
    "card-no-title": (_set("messages.0", {"contentType": "ImageResponseCard", "imageResponseCard": {}}),
                      "[required] messages[].imageResponseCard.title"),
    "card-title-long": (_set("messages.0", {**_CARD, "imageResponseCard": {"title": "t" * 251}}),
                        "[length] messages[].imageResponseCard.title"),
    "card-subtitle-long": (_set("messages.0", {**_CARD, "imageResponseCard": {"title": "t", "subtitle": "s" * 251}}),
                           "[length] messages[].imageResponseCard.subtitle"),
    "card-url-long": (_set("messages.0", {**_CARD, "imageResponseCard": {"title": "t", "imageUrl": "u" * 251}}),
                      "[length] messages[].imageResponseCard.imageUrl"),
    "card-six-buttons": (_set("messages.0", {**_CARD, "imageResponseCard": {
        "title": "t", "buttons": [{"text": "b", "value": "v"}] * 6}}), "[count] messages[].imageResponseCard.buttons"),
    "button-text-long": (_set("messages.0", {**_CARD, "imageResponseCard": {
        "title": "t", "buttons": [{"text": "b" * 51, "value": "v"}]}}),
        "[length] messages[].imageResponseCard.buttons[].text"),
    "button-value-long": (_set("messages.0", {**_CARD, "imageResponseCard": {
        "title": "t", "buttons": [{"text": "b", "value": "v" * 51}]}}),
        "[length] messages[].imageResponseCard.buttons[].value"),
    "button-no-value": (_set("messages.0", {**_CARD, "imageResponseCard": {"title": "t", "buttons": [{"text": "b"}]}}),
                        "[required] messages[].imageResponseCard.buttons[].value"),
    "elicit-intent-without-messages": (_replace({"sessionState": {"dialogAction": {"type": "ElicitIntent"}}}),
                                       "[required] messages"),
    "elicit-intent-empty-messages": (_replace({"sessionState": {"dialogAction": {"type": "ElicitIntent"}},
                                               "messages": []}), "[required] messages"),
    "confirm-intent-without-messages": (_replace({"sessionState": {
        "dialogAction": {"type": "ConfirmIntent"}, "intent": {"name": "X", "state": "InProgress"}}}),
        "[required] messages"),
    "confirm-intent-without-intent": (_replace({"sessionState": {"dialogAction": {"type": "ConfirmIntent"}},
                                                "messages": [{"contentType": "PlainText", "content": "ok?"}]}),
                                      "[required] sessionState.intent"),
    "lone-surrogate": (_set("messages.0.content", "order \ud800"), "[json] response.messages[].content"),
    "nan": (_set("sessionState.intent.slots", {"OrderId": {"value": {"interpretedValue": "1"}, "score": float("nan")}}),
            "[json]"),
    "non-string-key": (_set("sessionState.sessionAttributes", {1: "x"}), "[json] response.sessionState.sessionAttributes"),
    "not-json-type": (_set("sessionState.sessionAttributes", {"when": object()}), "[json]"),
}


@pytest.mark.parametrize("name", sorted(INVALID_CASES))
def test_every_rule_can_fail(name):
    edit, expected = INVALID_CASES[name]
    response = _valid_close()
    result = edit(response)
    response = response if result is None and name != "not-a-dict" else result
    found = problems(response)
    assert found, f"{name}: no problem found"
    assert any(expected in kind(p) or expected in p for p in found), f"{name}: expected {expected!r} in {found}"


def test_event_relative_rule_intent_must_exist_in_the_bot():
    event = load_sample("greeting_dialog_hook")
    response = _valid_close()
    assert problems(response, event) == []  # FallbackIntent is in every bot
    response["sessionState"]["intent"]["name"] = "Greeting"
    assert problems(response, event) == []
    response["sessionState"]["intent"]["name"] = "DeleteEverything"
    assert any(kind(p) == "[intent-unknown] sessionState.intent.name" for p in problems(response, event))


def test_strict_policy_close_must_end_the_intent():
    response = VALID_RESPONSES["close-in-progress-not-strict"]
    assert problems(response) == []
    assert [kind(p) for p in problems(response, strict=True)] == ["[policy] sessionState.intent.state"]
    assert problems(_valid_close(), strict=True) == []


@pytest.mark.parametrize("text", [
    "Traceback (most recent call last):\n  File \"/var/task/orchestrator/handler.py\", line 3",
    'File "handler.py", line 12, in lambda_handler',
    "User: arn:aws:sts::123456789012:assumed-role/x is not authorized",
    "botocore.exceptions.ClientError: An error occurred (ResourceNotFoundException)",
    "KeyError: 'orderId'",
    "Error: something broke",
    "An unexpected Exception occurred",
    "'NoneType' object has no attribute 'get'",
    "sqlite3.OperationalError: no such table: orders",
    "Task timed out after 3.00 seconds",
    "/var/task/tools/orders.py",
    "<class 'ValueError'>",
])
def test_internal_text_is_flagged(text):
    assert no_internal_text(text)
    assert no_internal_text({"contentType": "PlainText", "content": text})


@pytest.mark.parametrize("text", [
    "Order 123456 (Herbal Handsoap) has shipped and should arrive on Friday.",
    "Sorry, something went wrong on our side. Please try again in a moment.",
    "I can only help with orders and returns. With the exception of those, please contact us.",
    "Please select a reason from the list. What is your order number?",
    "Return rtn003 has been processed; the refund takes 3 to 5 days.",
])
def test_customer_text_is_not_flagged(text):
    assert no_internal_text(text) == []


def test_internal_text_in_a_card_is_flagged():
    card = {"contentType": "ImageResponseCard",
            "imageResponseCard": {"title": "Oops", "buttons": [{"text": "KeyError: x", "value": "v"}]}}
    assert no_internal_text(card)


def test_generator_is_deterministic_and_mixed():
    first = [json.dumps(e, sort_keys=True, default=repr) for e in generate_events(200, 7)]
    again = [json.dumps(e, sort_keys=True, default=repr) for e in generate_events(200, 7)]
    other = [json.dumps(e, sort_keys=True, default=repr) for e in generate_events(200, 8)]
    assert first == again and first != other
    summaries = [s for s, _ in generate_cases(600, 7)]
    unmutated = [s for s in summaries if all(p.startswith("utterance=") for p in s.split(" | ")[1:])]
    assert len(unmutated) > 100
    for needed in ("confirmationState=", "slots=", "intent.state=", "sessionAttributes", "inputMode=",
                   "transcriptions junk", "interpretations junk", "dialog-hook", "wrong-type", "missing"):
        assert any(needed in s for s in summaries), needed


# --------------------------------------------------------------------------------------------
# 2. deterministic cases known to break
# --------------------------------------------------------------------------------------------

def _check(response, event):
    found = problems(response, event, strict=True)
    messages = response.get("messages") if isinstance(response, dict) else None
    for message in messages if isinstance(messages, list) else []:
        found += no_internal_text(message)
    return found


def _assert_valid(response, event):
    found = _check(response, event)
    if found:
        pytest.fail("invalid Lex V2 response:\n  " + "\n  ".join(p[:300] for p in found)
                    + f"\nresponse: {json.dumps(response, default=repr)[:600]}", pytrace=False)


def _fallback(**changes):
    event = load_sample("fallback_text")
    for key, value in changes.items():
        event["sessionState"]["intent"][key] = value
    return event


def _dialog_hook(**changes):
    event = load_sample("greeting_dialog_hook")
    for key, value in changes.items():
        event["sessionState"]["intent"][key] = value
    return event


@pytest.mark.parametrize("build", [_fallback, _dialog_hook], ids=["fulfillment", "dialog-hook"])
def test_confirmation_state_null(local_handler, build):
    event = build(confirmationState=None)
    response = local_handler.lambda_handler(event, None)
    _assert_valid(response, event)


@pytest.mark.parametrize("build", [_fallback, _dialog_hook], ids=["fulfillment", "dialog-hook"])
@pytest.mark.parametrize("slots", ["x", ["OrderId"], {"OrderId": "123456"}], ids=["string", "list", "flat"])
def test_slots_not_a_slot_map(local_handler, build, slots):
    event = build(slots=slots)
    response = local_handler.lambda_handler(event, None)
    _assert_valid(response, event)


@pytest.mark.parametrize("state", ["Bogus", None, 42])
def test_bogus_intent_state_on_a_dialog_hook(local_handler, state):
    event = _dialog_hook(state=state)
    response = local_handler.lambda_handler(event, None)
    _assert_valid(response, event)


def _attribute_bytes(response) -> int:
    attrs = response["sessionState"].get("sessionAttributes", {})
    return len(json.dumps(attrs, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "replace"))


@pytest.mark.parametrize("sample", ["fallback_text", "greeting_dialog_hook"])
def test_one_megabyte_session_attribute(local_handler, sample):
    event = load_sample(sample)
    event["sessionState"]["sessionAttributes"] = {"channel": "web", "blob": "x" * MB}
    response = local_handler.lambda_handler(event, None)
    _assert_valid(response, event)
    assert _attribute_bytes(response) <= MAX_SESSION_ATTRIBUTES_BYTES
    assert all(len(v) < MB for v in response["sessionState"].get("sessionAttributes", {}).values())


@pytest.mark.parametrize("sample", ["fallback_text", "greeting_dialog_hook"])
def test_five_hundred_session_attributes(local_handler, sample):
    event = load_sample(sample)
    event["sessionState"]["sessionAttributes"] = {f"key{i:03d}": f"value number {i}" * 3 for i in range(500)}
    response = local_handler.lambda_handler(event, None)
    _assert_valid(response, event)
    assert _attribute_bytes(response) <= MAX_SESSION_ATTRIBUTES_BYTES


@pytest.mark.parametrize("name", sample_names())
def test_every_sample_event_gets_a_valid_response(local_handler, name):
    event = load_sample(name)
    response = local_handler.lambda_handler(event, None)
    _assert_valid(response, event)


# --------------------------------------------------------------------------------------------
# 3. the fuzz run
# --------------------------------------------------------------------------------------------

def test_fuzz_every_event_gets_a_valid_response(local_handler, caplog):
    caplog.set_level(logging.WARNING, logger="orchestrator")  # 3000 INFO turn lines would bury the report
    failures: list[tuple[str, list[str]]] = []
    by_kind: collections.Counter = collections.Counter()
    slowest = (0.0, "")
    started = time.perf_counter()
    for summary, event in generate_cases(FUZZ_N, FUZZ_SEED):
        original = summarize(event)
        t0 = time.perf_counter()
        try:
            response = local_handler.lambda_handler(event, None)
        except Exception as exc:  # noqa: BLE001 - every exception is a finding
            found = [f"[exception] {type(exc).__name__}: {str(exc)[:120]}"]
        else:
            found = _check(response, event)
        elapsed = time.perf_counter() - t0
        if elapsed > EVENT_TIME_LIMIT_S:
            found.append(f"[slow] took {elapsed:.1f}s")
        slowest = max(slowest, (elapsed, summary))
        if found:
            failures.append((f"{summary}\n      event: {original}", found))
            by_kind.update({kind(p) for p in found})
    total = time.perf_counter() - started

    report = [f"{len(failures)} of {FUZZ_N} events (seed {FUZZ_SEED}) got an invalid response "
              f"({total:.1f}s, slowest {slowest[0]:.2f}s: {slowest[1][:100]})", "by kind (events):"]
    report += [f"  {count:5d}  {name}" for name, count in by_kind.most_common()]
    report.append("first 10:")
    for summary, found in failures[:10]:
        report.append(f"  {summary}")
        report += [f"      - {p[:200]}" for p in found[:6]]
    if failures:
        pytest.fail("\n".join(report), pytrace=False)
    assert total < FUZZ_TIME_BUDGET_S, f"the fuzz run took {total:.1f}s (budget {FUZZ_TIME_BUDGET_S}s)"
