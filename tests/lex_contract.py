"""What Amazon Lex V2 accepts back from a Lambda code hook, written from the documentation.

``problems(response, event=None)`` lists every reason Lex V2 would reject (or mishandle) a
Lambda response; an empty list means valid. ``no_internal_text(message)`` lists internals
(tracebacks, ARNs, exception names) that leaked into a customer-facing message.

Written from these sources, not from the code under test:

[RESP]   Lex V2 Developer Guide, "AWS Lambda response format for Lex V2"
         https://docs.aws.amazon.com/lexv2/latest/dg/lambda-response-format.html
         - ``sessionState`` is always required;
         - ``messages`` is optional (Lex then uses the bot's own prompt), but required when
           ``dialogAction.type`` is ``ElicitIntent`` or ``ConfirmIntent``;
         - each message: ``contentType`` one of CustomPayload | ImageResponseCard | PlainText |
           SSML; ``content`` carries the text for PlainText, CustomPayload and SSML;
           ``imageResponseCard`` carries the card for ImageResponseCard;
         - ``requestAttributes``: a string-to-string map.
[LAMBDA] the same guide's earlier "Using an AWS Lambda function / Response format" section
         (archived copy: github.com/awsdocs/amazon-lexv2-developer-guide, doc_source/lambda.md,
         2023; the same wording is in the AWS re:Post article "lex-dialogflow-fulfillment-lambda"):
         - ``dialogAction.type`` is always required; ``slotToElicit`` only when the type is
           ``ElicitSlot``;
         - ``intent`` is not required when the type is ``Delegate`` or ``ElicitIntent``
           (so it *is* required for Close, ConfirmIntent and ElicitSlot);
         - ``intent.state`` is required, and can only be ``ReadyForFulfillment`` when the type
           is ``Delegate``.
         Nothing there forbids ``Close`` with ``InProgress``; only ReadyForFulfillment is ruled
         out for non-Delegate types. Requiring Fulfilled/Failed on Close is this project's
         policy (a fulfillment hook ends the intent), checked only with ``strict=True``.
[COMMON] "Common structures in an AWS Lambda function for Amazon Lex V2"
         https://docs.aws.amazon.com/lexv2/latest/dg/lambda-common-structures.html
         - intent.confirmationState: Confirmed | Denied | None;
         - intent.state: Failed | Fulfilled | FulfillmentInProgress | InProgress |
           ReadyForFulfillment | Waiting;
         - slots: slot name -> slot object (``shape``, ``value`` {originalValue,
           interpretedValue, resolvedValues}, ``values`` for lists), or null when unfilled.
[API]    Lex V2 Runtime API reference, data types (RecognizeText / PutSession; the same
         constraints are in botocore's lexv2-runtime 2020-08-07 service model):
         https://docs.aws.amazon.com/lexv2/latest/APIReference/API_runtime_SessionState.html etc.
         - SessionState: activeContexts 0..20; sessionAttributes string->string, key length >= 1;
           originatingRequestId length >= 1;
         - DialogAction: type required, Close | ConfirmIntent | Delegate | ElicitIntent |
           ElicitSlot | None (the Lambda guide lists the first five; ``None`` is in the API
           enum and is accepted here); slotToElicit length >= 1; slotElicitationStyle
           Default | SpellByLetter | SpellByWord; subSlotToElicit {name (required), ...};
         - Intent: name required, length >= 1; slots map, key length >= 1; state and
           confirmationState enums as above;
         - Slot: shape Scalar | List | Composite; value {interpretedValue required >= 1,
           originalValue >= 1, resolvedValues [string >= 1]}; values [Slot]; subSlots {Slot};
         - Message: contentType required; content 1..1024 characters;
         - ImageResponseCard: title required 1..250; subtitle 1..250; imageUrl 1..250;
           buttons 0..5; Button: text 1..50 and value 1..50, both required;
         - Messages list: at most 10 (RecognizeText response, PutSession request);
         - ActiveContext: name 1..100 matching ^([A-Za-z0-9]_?)+$, timeToLive
           {timeToLiveInSeconds 5..86400, turnsToLive 1..20} and contextAttributes (<= 10
           entries, key 1..100, value 1..1024) all required.
[MODEL]  Lex V2 Model Building API, CreateIntent ``intentName`` / ``Name``:
         1..100 characters matching ^([0-9a-zA-Z][_-]?){1,100}$ -- every intent (and slot) a bot
         can have is named so, so an intent name outside it cannot exist in the bot.
[QUOTA]  "Quotas", Runtime quotas (https://docs.aws.amazon.com/lexv2/latest/dg/quotas.html;
         archived doc_source/quotas.md): maximum input size to a Lambda function 12 KB;
         maximum output size of a Lambda function 25 KB; maximum size of session attributes
         in Lambda function output 12 KB. The same page: character limits count Unicode
         code units (UTF-16), so an emoji counts 2. Sizes here: output = the bytes the Python
         Lambda runtime sends (``json.dumps`` with its defaults, UTF-8); session attributes =
         the compact UTF-8 JSON of the map (the smallest any encoder could make it).
[POLLY]  Amazon Polly, "Identifying SSML-enhanced text" (speak-tag.html): ``<speak>`` is the
         root element; all SSML must be enclosed in it. "Reserved characters in SSML"
         (escapees.html): ``&``, ``<``, ``>`` must always be escaped -- i.e. the content must
         be well-formed XML.
[STRICT] Lex deserialises the response strictly: a wrongly typed field is an
         "Invalid Lambda Response" (e.g. aws-samples/aws-lex-v2-bot-analytics issue #1:
         intent given as a string -> "Can not construct instance of AutoValue_Intent$Builder";
         aws/aws-lambda-go issue #304: "Unrecognized field"). So JSON null for an enum, an
         int for a string, or a field the format does not define are all problems here.

[JSON]   RFC 8259: object keys are strings, numbers are finite, and (section 8.2) strings with
         unpaired surrogates have unpredictable behaviour -- a Java JSON generator writing UTF-8
         (Jackson's) refuses them, so Lex could not hand such a value back to its client.
         Nesting is bounded at 1000 levels (Jackson's default maxNestingDepth; not a Lex quota).
[EVENT]  With the event: the intent named in the response must be one the bot has -- one the
         event itself names (sessionState.intent, interpretations, proposedNextState) or the
         FallbackIntent every Lex V2 locale has. Echoing a junk name back is a rejection.

Every problem is a string ``"[rule] path: detail"``; ``kind(problem)`` gives ``"[rule] path"``
with list indices and map keys folded, for counting failures by kind.
"""
from __future__ import annotations

import json
import math
import re
import xml.etree.ElementTree as ET
from typing import Any, Iterable

DIALOG_ACTION_TYPES = ("Close", "ConfirmIntent", "Delegate", "ElicitIntent", "ElicitSlot", "None")
INTENT_STATES = ("Failed", "Fulfilled", "InProgress", "ReadyForFulfillment", "Waiting", "FulfillmentInProgress")
CONFIRMATION_STATES = ("Confirmed", "Denied", "None")
CONTENT_TYPES = ("PlainText", "SSML", "CustomPayload", "ImageResponseCard")
SLOT_SHAPES = ("Scalar", "List", "Composite")
ELICITATION_STYLES = ("Default", "SpellByLetter", "SpellByWord")

# [RESP]/[LAMBDA]: types whose response needs an intent, and types whose response needs messages.
INTENT_REQUIRED_FOR = ("Close", "ConfirmIntent", "ElicitSlot", "None")
MESSAGES_REQUIRED_FOR = ("ElicitIntent", "ConfirmIntent")
CLOSING_STATES = ("Fulfilled", "Failed")  # strict (project policy) only

NAME_PATTERN = re.compile(r"^([0-9a-zA-Z][_-]?){1,100}$")  # [MODEL]
NAME_MAX = 100
CONTEXT_NAME_PATTERN = re.compile(r"^([A-Za-z0-9]_?)+$")  # [API] ActiveContextName
MESSAGE_CONTENT_MAX = 1024  # [API] Message.content
MAX_MESSAGES = 10  # [API] Messages
CARD_TEXT_MAX = 250  # [API] title, subtitle, imageUrl
MAX_BUTTONS = 5
BUTTON_TEXT_MAX = 50
MAX_ACTIVE_CONTEXTS = 20
MAX_CONTEXT_ATTRIBUTES = 10
MAX_OUTPUT_BYTES = 25 * 1024  # [QUOTA]
MAX_SESSION_ATTRIBUTES_BYTES = 12 * 1024  # [QUOTA]
MAX_INPUT_BYTES = 12 * 1024  # [QUOTA]: what Lex itself would ever send us
# Not a Lex quota: Jackson's default StreamReadConstraints.maxNestingDepth (2.15+), the parser
# limit a Java service like Lex most likely reads the response with.
MAX_JSON_DEPTH = 1000
# Every intent locale in a Lex V2 bot has the built-in FallbackIntent.
ALWAYS_PRESENT_INTENTS = ("FallbackIntent",)

_KNOWN_FIELDS = {
    "response": {"sessionState", "messages", "requestAttributes"},
    "sessionState": {"activeContexts", "sessionAttributes", "dialogAction", "intent", "originatingRequestId",
                     "runtimeHints"},
    "dialogAction": {"type", "slotToElicit", "slotElicitationStyle", "subSlotToElicit"},
    "intent": {"name", "slots", "state", "confirmationState", "kendraResponse"},
    "slot": {"shape", "value", "values", "subSlots"},
    "value": {"originalValue", "interpretedValue", "resolvedValues"},
    "message": {"contentType", "content", "imageResponseCard"},
    "card": {"title", "subtitle", "imageUrl", "buttons"},
    "button": {"text", "value"},
    "activeContext": {"name", "timeToLive", "contextAttributes"},
    "timeToLive": {"timeToLiveInSeconds", "turnsToLive"},
    "subSlot": {"name", "subSlotToElicit"},
}

# Recursion guard for slot/sub-slot nesting (Lex itself nests List/Composite -> Scalar, a level or
# two); deeper structures are not walked further (MAX_JSON_DEPTH still bounds the whole response).
_MAX_DEPTH = 200


def utf16_length(text: str) -> int:
    """Length in UTF-16 code units, as Lex counts characters ([QUOTA])."""
    return sum(2 if ord(ch) > 0xFFFF else 1 for ch in text)


def kind(problem: str) -> str:
    """``"[rule] path"`` of a problem, with list indices and map keys folded."""
    head = problem.split(": ", 1)[0]
    head = re.sub(r"\[\d+\]", "[]", head)
    return re.sub(r"\{[^}]*\}", "{*}", head)


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "boolean", int: "number", float: "number", str: "string", list: "array", dict: "object"}.get(
        type(value), type(value).__name__)


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class _Checker:
    def __init__(self, strict: bool) -> None:
        self.strict = strict
        self.out: list[str] = []

    def add(self, rule: str, path: str, detail: str) -> None:
        self.out.append(f"[{rule}] {path}: {detail}")

    # -- primitives -------------------------------------------------------------------------
    def is_object(self, value: Any, path: str) -> bool:
        if isinstance(value, dict):
            return True
        self.add("type", path, f"must be an object, got {_type_name(value)}")
        return False

    def unknown_fields(self, value: dict, known: str, path: str) -> None:
        for key in value:
            if key not in _KNOWN_FIELDS[known]:
                self.add("unknown-field", f"{path}.{{{key}}}" if isinstance(key, str) else path,
                         f"field {_short(key)} is not part of the Lex V2 response format")

    def string(self, value: Any, path: str, *, min_len: int = 0, max_len: int | None = None,
               pattern: re.Pattern | None = None) -> bool:
        if not isinstance(value, str):
            self.add("type", path, f"must be a string, got {_type_name(value)} {_short(value)}")
            return False
        length = utf16_length(value)
        if length < min_len:
            self.add("length", path, f"must have at least {min_len} character(s), has {length}")
        elif max_len is not None and length > max_len:
            self.add("length", path, f"must have at most {max_len} characters, has {length}")
        if pattern is not None and not pattern.match(value):
            self.add("pattern", path, f"{_short(value)} does not match {pattern.pattern}")
        return True

    def enum(self, value: Any, allowed: Iterable[str], path: str) -> None:
        allowed = tuple(allowed)
        if not isinstance(value, str) or value not in allowed:
            shown = "JSON null" if value is None else f"{_type_name(value)} {_short(value)}"
            self.add("enum", path, f"{shown} is not one of {', '.join(allowed)}")

    def string_map(self, value: Any, path: str) -> None:
        if not self.is_object(value, path):
            return
        for key, item in value.items():
            if not isinstance(key, str) or key == "":
                self.add("type", f"{path}{{*}}", f"keys must be non-empty strings, got {_short(key)}")
                continue
            if not isinstance(item, str):
                self.add("type", f"{path}{{*}}", f"value of {_short(key, 40)} must be a string, "
                                               f"got {_type_name(item)} {_short(item, 40)}")

    def integer(self, value: Any, path: str, lo: int, hi: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            self.add("type", path, f"must be an integer, got {_type_name(value)} {_short(value)}")
        elif not lo <= value <= hi:
            self.add("range", path, f"{value} is not within {lo}..{hi}")

    # -- structures -------------------------------------------------------------------------
    def response(self, response: Any, event: Any) -> None:
        if not self.is_object(response, "response"):
            return
        self.json_safe(response)
        self.unknown_fields(response, "response", "response")
        if "sessionState" not in response:
            self.add("required", "sessionState", "is always required")
            state: dict = {}
        else:
            state = response["sessionState"] if self.is_object(response["sessionState"], "sessionState") else {}
        if state:
            self.session_state(state, response, event)
        elif "sessionState" in response and isinstance(response["sessionState"], dict):
            # An empty sessionState still lacks the required dialogAction.
            self.add("required", "sessionState.dialogAction", "is required (dialogAction.type is always required)")
        if "messages" in response:
            self.messages(response["messages"])
        if "requestAttributes" in response:
            self.string_map(response["requestAttributes"], "requestAttributes")
        self.sizes(response)

    def session_state(self, state: dict, response: dict, event: Any) -> None:
        self.unknown_fields(state, "sessionState", "sessionState")
        action_type = None
        if "dialogAction" not in state:
            self.add("required", "sessionState.dialogAction", "is required (dialogAction.type is always required)")
        elif self.is_object(state["dialogAction"], "sessionState.dialogAction"):
            action_type = self.dialog_action(state["dialogAction"])
        intent = state.get("intent")
        if "intent" not in state or intent is None:
            if action_type in INTENT_REQUIRED_FOR:
                self.add("required", "sessionState.intent", f"is required when dialogAction.type is {action_type}")
        elif self.is_object(intent, "sessionState.intent"):
            self.intent(intent, action_type, event)
        if action_type in MESSAGES_REQUIRED_FOR:
            messages = response.get("messages")
            if not isinstance(messages, list) or not messages:
                self.add("required", "messages", f"at least one message is required when dialogAction.type is "
                                                 f"{action_type}")
        if "sessionAttributes" in state:
            self.string_map(state["sessionAttributes"], "sessionState.sessionAttributes")
        if "activeContexts" in state:
            self.active_contexts(state["activeContexts"])
        if "originatingRequestId" in state:
            self.string(state["originatingRequestId"], "sessionState.originatingRequestId", min_len=1)
        if "runtimeHints" in state:
            self.is_object(state["runtimeHints"], "sessionState.runtimeHints")

    def dialog_action(self, action: dict) -> str | None:
        path = "sessionState.dialogAction"
        self.unknown_fields(action, "dialogAction", path)
        if "type" not in action:
            self.add("required", f"{path}.type", "is always required")
            return None
        action_type = action["type"]
        self.enum(action_type, DIALOG_ACTION_TYPES, f"{path}.type")
        if action_type == "ElicitSlot":
            if "slotToElicit" not in action:
                self.add("required", f"{path}.slotToElicit", "is required when dialogAction.type is ElicitSlot")
        if "slotToElicit" in action:
            self.string(action["slotToElicit"], f"{path}.slotToElicit", min_len=1, max_len=NAME_MAX,
                        pattern=NAME_PATTERN)
        if "slotElicitationStyle" in action:
            self.enum(action["slotElicitationStyle"], ELICITATION_STYLES, f"{path}.slotElicitationStyle")
        if "subSlotToElicit" in action:
            self.sub_slot(action["subSlotToElicit"], f"{path}.subSlotToElicit", 0)
        return action_type if isinstance(action_type, str) and action_type in DIALOG_ACTION_TYPES else None

    def sub_slot(self, value: Any, path: str, depth: int) -> None:
        if depth > _MAX_DEPTH:
            return
        if not self.is_object(value, path):
            return
        self.unknown_fields(value, "subSlot", path)
        if "name" not in value:
            self.add("required", f"{path}.name", "is required")
        else:
            self.string(value["name"], f"{path}.name", min_len=1)
        if "subSlotToElicit" in value:
            self.sub_slot(value["subSlotToElicit"], f"{path}.subSlotToElicit", depth + 1)

    def intent(self, intent: dict, action_type: str | None, event: Any) -> None:
        path = "sessionState.intent"
        self.unknown_fields(intent, "intent", path)
        if "name" not in intent:
            self.add("required", f"{path}.name", "is required")
        elif self.string(intent["name"], f"{path}.name", min_len=1, max_len=NAME_MAX, pattern=NAME_PATTERN):
            if event is not None and NAME_PATTERN.match(intent["name"]) and len(intent["name"]) <= NAME_MAX:
                known = intent_names(event)
                if intent["name"] not in known:
                    self.add("intent-unknown", f"{path}.name",
                             f"{_short(intent['name'])} is not an intent the event shows the bot has "
                             f"({', '.join(sorted(known))})")
        if "state" not in intent:
            self.add("required", f"{path}.state", "is required")
        else:
            state = intent["state"]
            self.enum(state, INTENT_STATES, f"{path}.state")
            if state == "ReadyForFulfillment" and action_type not in (None, "Delegate"):
                self.add("state", f"{path}.state", f"ReadyForFulfillment is only allowed with Delegate, "
                                                   f"not {action_type}")
            if self.strict and action_type == "Close" and state in INTENT_STATES and state not in CLOSING_STATES:
                self.add("policy", f"{path}.state", f"Close should end the intent Fulfilled or Failed, not {state}")
        if "confirmationState" in intent:
            self.enum(intent["confirmationState"], CONFIRMATION_STATES, f"{path}.confirmationState")
        if "slots" in intent:
            self.slots(intent["slots"], f"{path}.slots", 0)
        if "kendraResponse" in intent:
            self.is_object(intent["kendraResponse"], f"{path}.kendraResponse")

    def slots(self, slots: Any, path: str, depth: int) -> None:
        if depth > _MAX_DEPTH:
            return
        if not self.is_object(slots, path):
            return
        for name, slot in slots.items():
            if not isinstance(name, str) or name == "":
                self.add("type", f"{path}{{*}}", f"slot names must be non-empty strings, got {_short(name)}")
                continue
            if slot is None:  # [COMMON]/[API]: an unfilled slot is null
                continue
            self.slot(slot, f"{path}{{*}}", depth + 1)

    def slot(self, slot: Any, path: str, depth: int) -> None:
        if depth > _MAX_DEPTH:
            return
        if not self.is_object(slot, path):
            return
        self.unknown_fields(slot, "slot", path)
        if "shape" in slot:
            self.enum(slot["shape"], SLOT_SHAPES, f"{path}.shape")
        if "value" in slot and slot["value"] is not None and self.is_object(slot["value"], f"{path}.value"):
            value = slot["value"]
            self.unknown_fields(value, "value", f"{path}.value")
            if "interpretedValue" not in value:
                self.add("required", f"{path}.value.interpretedValue", "is required")
            else:
                self.string(value["interpretedValue"], f"{path}.value.interpretedValue", min_len=1)
            if "originalValue" in value:
                self.string(value["originalValue"], f"{path}.value.originalValue", min_len=1)
            if "resolvedValues" in value:
                resolved = value["resolvedValues"]
                if not isinstance(resolved, list):
                    self.add("type", f"{path}.value.resolvedValues", f"must be an array, got {_type_name(resolved)}")
                else:
                    for i, item in enumerate(resolved):
                        self.string(item, f"{path}.value.resolvedValues[{i}]", min_len=1)
        if "values" in slot:
            values = slot["values"]
            if not isinstance(values, list):
                self.add("type", f"{path}.values", f"must be an array, got {_type_name(values)}")
            else:
                for i, item in enumerate(values):
                    self.slot(item, f"{path}.values[{i}]", depth + 1)
        if "subSlots" in slot:
            self.slots(slot["subSlots"], f"{path}.subSlots", depth + 1)

    def active_contexts(self, contexts: Any) -> None:
        path = "sessionState.activeContexts"
        if not isinstance(contexts, list):
            self.add("type", path, f"must be an array, got {_type_name(contexts)}")
            return
        if len(contexts) > MAX_ACTIVE_CONTEXTS:
            self.add("count", path, f"at most {MAX_ACTIVE_CONTEXTS} contexts, got {len(contexts)}")
        for i, context in enumerate(contexts):
            cpath = f"{path}[{i}]"
            if not self.is_object(context, cpath):
                continue
            self.unknown_fields(context, "activeContext", cpath)
            for field in ("name", "timeToLive", "contextAttributes"):
                if field not in context:
                    self.add("required", f"{cpath}.{field}", "is required")
            if "name" in context:
                self.string(context["name"], f"{cpath}.name", min_len=1, max_len=100, pattern=CONTEXT_NAME_PATTERN)
            if "timeToLive" in context and self.is_object(context["timeToLive"], f"{cpath}.timeToLive"):
                ttl = context["timeToLive"]
                self.unknown_fields(ttl, "timeToLive", f"{cpath}.timeToLive")
                for field, lo, hi in (("timeToLiveInSeconds", 5, 86400), ("turnsToLive", 1, 20)):
                    if field not in ttl:
                        self.add("required", f"{cpath}.timeToLive.{field}", "is required")
                    else:
                        self.integer(ttl[field], f"{cpath}.timeToLive.{field}", lo, hi)
            if "contextAttributes" in context and self.is_object(context["contextAttributes"],
                                                                 f"{cpath}.contextAttributes"):
                attrs = context["contextAttributes"]
                if len(attrs) > MAX_CONTEXT_ATTRIBUTES:
                    self.add("count", f"{cpath}.contextAttributes", f"at most {MAX_CONTEXT_ATTRIBUTES} entries")
                for key, value in attrs.items():
                    self.string(key, f"{cpath}.contextAttributes{{*}}", min_len=1, max_len=100)
                    self.string(value, f"{cpath}.contextAttributes{{*}}", min_len=1, max_len=MESSAGE_CONTENT_MAX)

    def messages(self, messages: Any) -> None:
        if not isinstance(messages, list):
            self.add("type", "messages", f"must be an array, got {_type_name(messages)}")
            return
        if len(messages) > MAX_MESSAGES:
            self.add("count", "messages", f"at most {MAX_MESSAGES} messages, got {len(messages)}")
        for i, message in enumerate(messages):
            self.message(message, f"messages[{i}]")

    def message(self, message: Any, path: str) -> None:
        if not self.is_object(message, path):
            return
        self.unknown_fields(message, "message", path)
        if "contentType" not in message:
            self.add("required", f"{path}.contentType", "is required")
            content_type = None
        else:
            content_type = message["contentType"]
            self.enum(content_type, CONTENT_TYPES, f"{path}.contentType")
        if content_type in ("PlainText", "SSML", "CustomPayload") and "content" not in message:
            self.add("required", f"{path}.content", f"is required for {content_type}")
        if "content" in message:
            if self.string(message["content"], f"{path}.content", min_len=1, max_len=MESSAGE_CONTENT_MAX):
                if content_type == "SSML":
                    self.ssml(message["content"], f"{path}.content")
        if content_type == "ImageResponseCard" and "imageResponseCard" not in message:
            self.add("required", f"{path}.imageResponseCard", "is required for ImageResponseCard")
        if "imageResponseCard" in message:
            self.card(message["imageResponseCard"], f"{path}.imageResponseCard")

    def ssml(self, content: str, path: str) -> None:
        try:
            root = ET.fromstring(content)
        except ET.ParseError as exc:
            self.add("ssml", path, f"not well-formed XML ({exc})")
            return
        if root.tag != "speak":
            self.add("ssml", path, f"root element must be <speak>, got <{root.tag}>")

    def card(self, card: Any, path: str) -> None:
        if not self.is_object(card, path):
            return
        self.unknown_fields(card, "card", path)
        if "title" not in card:
            self.add("required", f"{path}.title", "is required")
        for field in ("title", "subtitle", "imageUrl"):
            if field in card:
                self.string(card[field], f"{path}.{field}", min_len=1, max_len=CARD_TEXT_MAX)
        if "buttons" in card:
            buttons = card["buttons"]
            if not isinstance(buttons, list):
                self.add("type", f"{path}.buttons", f"must be an array, got {_type_name(buttons)}")
                return
            if len(buttons) > MAX_BUTTONS:
                self.add("count", f"{path}.buttons", f"at most {MAX_BUTTONS} buttons, got {len(buttons)}")
            for i, button in enumerate(buttons):
                bpath = f"{path}.buttons[{i}]"
                if not self.is_object(button, bpath):
                    continue
                self.unknown_fields(button, "button", bpath)
                for field in ("text", "value"):
                    if field not in button:
                        self.add("required", f"{bpath}.{field}", "is required")
                    else:
                        self.string(button[field], f"{bpath}.{field}", min_len=1, max_len=BUTTON_TEXT_MAX)

    # -- whole-response rules -----------------------------------------------------------------
    def json_safe(self, response: dict) -> None:
        """The response must be JSON: str keys, finite numbers, valid Unicode, bounded nesting."""
        seen: set[str] = set()

        def once(tag: str, path: str, detail: str) -> None:
            if tag not in seen:
                seen.add(tag)
                self.add("json", _fold(path), detail)

        stack: list[tuple[Any, str, int]] = [(response, "response", 0)]
        while stack:
            value, path, depth = stack.pop()
            if depth > MAX_JSON_DEPTH:
                once("depth", path, f"nested more than {MAX_JSON_DEPTH} levels")
                continue
            if isinstance(value, dict):
                for key, item in value.items():
                    if not isinstance(key, str):
                        once("key", path, f"object key {_short(key)} is not a string")
                        continue
                    stack.append((key, path, depth + 1))
                    stack.append((item, f"{path}.{key}" if len(path) < 200 else path, depth + 1))
            elif isinstance(value, (list, tuple)):
                stack.extend((item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value))
            elif isinstance(value, str):
                try:
                    value.encode("utf-8")
                except UnicodeEncodeError:
                    once("surrogate", path, "string holds a lone surrogate (not valid Unicode text)")
            elif isinstance(value, float):
                if not math.isfinite(value):
                    once("nan", path, f"{value} is not a JSON number")
            elif not (value is None or isinstance(value, (bool, int))):
                once("other", path, f"{type(value).__name__} is not JSON")

    def sizes(self, response: dict) -> None:
        try:
            # What the Python Lambda runtime sends (awslambdaric serialises with ensure_ascii=False).
            output = json.dumps(response, ensure_ascii=False).encode("utf-8", "replace")
        except (TypeError, ValueError) as exc:
            self.add("json", "response", f"cannot be serialised: {exc}")
            return
        if len(output) > MAX_OUTPUT_BYTES:
            self.add("size", "response", f"{len(output)} bytes is over the {MAX_OUTPUT_BYTES}-byte Lambda output limit")
        state = response.get("sessionState")
        attrs = state.get("sessionAttributes") if isinstance(state, dict) else None
        if isinstance(attrs, dict):
            try:
                size = len(json.dumps(attrs, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "replace"))
            except (TypeError, ValueError):
                return
            if size > MAX_SESSION_ATTRIBUTES_BYTES:
                self.add("size", "sessionState.sessionAttributes",
                         f"{size} bytes is over the {MAX_SESSION_ATTRIBUTES_BYTES}-byte session attribute limit")


def _fold(path: str) -> str:
    """A JSON path with map keys below sessionAttributes/slots folded, so kinds stay few."""
    for prefix in ("response.sessionState.sessionAttributes", "response.sessionState.intent.slots",
                   "response.requestAttributes"):
        if path.startswith(prefix + "."):
            return prefix + "{*}"
    return path


def intent_names(event: Any) -> set[str]:
    """Intent names the event shows the bot has (well-formed ones only), plus FallbackIntent."""
    names = set(ALWAYS_PRESENT_INTENTS)
    if not isinstance(event, dict):
        return names
    candidates = []
    state = event.get("sessionState")
    if isinstance(state, dict):
        candidates.append(state.get("intent"))
    for interpretation in event.get("interpretations") or [] if isinstance(event.get("interpretations"), list) else []:
        if isinstance(interpretation, dict):
            candidates.append(interpretation.get("intent"))
    proposed = event.get("proposedNextState")
    if isinstance(proposed, dict):
        candidates.append(proposed.get("intent"))
    for intent in candidates:
        if isinstance(intent, dict):
            name = intent.get("name")
            if isinstance(name, str) and len(name) <= NAME_MAX and NAME_PATTERN.match(name):
                names.add(name)
    return names


def problems(response: Any, event: Any = None, *, strict: bool = False) -> list[str]:
    """Every reason Lex V2 would reject ``response`` (a Lambda code hook's return value).

    With ``event`` (the Lex event it answers), the intent named in the response must also be one
    the event shows the bot has. ``strict=True`` adds this project's policy: Close carries an
    intent state of Fulfilled or Failed.
    """
    checker = _Checker(strict)
    checker.response(response, event)
    return checker.out


# -- internals in customer text --------------------------------------------------------------

_INTERNAL_PATTERNS = (
    ("traceback", re.compile(r"Traceback \(most recent call last\)|\bTraceback\b")),
    ("source-file", re.compile(r"File \"|\.py\", line \d+|\.py:\d+")),
    ("arn", re.compile(r"\barn:aws[\w-]*:", re.IGNORECASE)),
    ("exception", re.compile(r"\b\w*Exception\b")),
    ("error-class", re.compile(r"\b(?:[A-Z][a-z0-9]+)+Error\b|\bError:")),
    ("botocore", re.compile(r"\bbotocore\b|\bboto3\b", re.IGNORECASE)),
    ("aws-request-id", re.compile(r"\bRequestId\b|\bx-amzn-\w+", re.IGNORECASE)),
    ("lambda-path", re.compile(r"/var/task|/var/runtime|/opt/python|site-packages")),
    ("python-repr", re.compile(r"<class '|<module '|\bNoneType\b|object has no attribute|"
                               r"\bnot subscriptable\b|\bunhashable type\b")),
    ("sql", re.compile(r"(?i:\bsqlite3?\b)|\bSELECT\b.*\bFROM\b|\bno such (?:table|column)\b")),
    ("lambda-timeout", re.compile(r"Task timed out after")),
)


def _texts_of(message: Any) -> list[str]:
    if isinstance(message, str):
        return [message]
    texts: list[str] = []
    if isinstance(message, dict):
        if isinstance(message.get("content"), str):
            texts.append(message["content"])
        card = message.get("imageResponseCard")
        if isinstance(card, dict):
            texts += [card[f] for f in ("title", "subtitle") if isinstance(card.get(f), str)]
            for button in card.get("buttons") or [] if isinstance(card.get("buttons"), list) else []:
                if isinstance(button, dict):
                    texts += [button[f] for f in ("text", "value") if isinstance(button.get(f), str)]
    return texts


def no_internal_text(message: Any) -> list[str]:
    """Internals (tracebacks, file paths, ARNs, exception names, SQL, ...) in a customer message.

    ``message`` is a Lex message dict or a plain string. Empty list: nothing found.
    """
    found = []
    for text in _texts_of(message):
        for name, pattern in _INTERNAL_PATTERNS:
            match = pattern.search(text)
            if match:
                found.append(f"[internal:{name}] {_short(match.group(0), 40)} in {_short(text, 80)}")
    return found
