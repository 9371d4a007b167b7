"""The tool registry: each tool declared once, and everything else derived from it.

The few-shot planner's prompt, the router's labelled examples, the parser's id extraction and
validation, the dispatcher's payload and function name, and the eval harness all read a
``Tool``. Adding a tool is one ``Tool(...)`` here and one handler under ``tools/``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable, Iterable, Iterator, Mapping

NO_TOOL = "no_tool"


@lru_cache(maxsize=64)
def _standalone(pattern: str, flags: int) -> re.Pattern[str]:
    return re.compile(rf"(?<![A-Za-z0-9])(?:{pattern})(?![A-Za-z0-9])", flags)


@lru_cache(maxsize=16)
def _in_context(context: str, pattern: str, flags: int) -> re.Pattern[str]:
    # The id ends where the word does: at a space, a comma, the end, or a full stop ending the sentence.
    return re.compile(rf"(?:{context})((?:{pattern}))(?=[\s,;:!?)]|\.(?:\s|$)|$)", flags | re.IGNORECASE)


def _lower(value: str) -> str:
    return value.strip().lower()


def _strip(value: str) -> str:
    return value.strip()


@dataclass(frozen=True)
class IdParameter:
    """A tool parameter that is an identifier the customer types: found and checked by regex."""

    name: str  # the argument name the planner and the eval use, e.g. "order_id"
    wire_name: str  # the field the tool Lambda reads, e.g. "orderId"
    description: str
    pattern: str  # matches the whole normalised id
    normalise: Callable[[str], str] = _strip
    flags: int = 0
    # What to ask for when the id is missing, e.g. "your order number (five or six digits, ...)".
    ask_for: str = ""
    # Whether the router may mask these ids with the tool's noun. Only a pattern that belongs to one
    # tool says whose id it is; a catch-all pattern (a tool spec without one) says nothing.
    names_its_tool: bool = True
    # Filled by the agent from the customer the server identified, never by a model or the customer
    # (a customer id): left out of the spec a model sees, and refused if a model sends it.
    from_identity: bool = False
    # A parameter that may be left out: an identity parameter filled only when the customer is
    # identified (an order look-up then sees the owner's view), or one of a tool's alternatives.
    required: bool = True
    # A regex that must come right before the id when it is found in text: a username is only a
    # username after "my username is".
    context: str = ""

    @property
    def compiled(self) -> re.Pattern[str]:
        # ASCII: a spec's \d must not accept Arabic-Indic or fullwidth digits as an id.
        return re.compile(self.pattern, self.flags | re.ASCII)

    @property
    def finder(self) -> re.Pattern[str]:
        """Matches ids that stand alone in text: 1234567 holds no five- or six-digit order id."""
        if self.context:
            return _in_context(self.context, self.pattern, self.flags | re.ASCII)
        return _standalone(self.pattern, self.flags | re.ASCII)

    def find_all(self, text: str) -> list[str]:
        """Every valid id in ``text``, normalised, in order, without repeats."""
        seen: list[str] = []
        for match in self.finder.finditer(text or ""):
            value = self.normalise(match.group(match.lastindex or 0))
            if self.compiled.fullmatch(value) and value not in seen:
                seen.append(value)
        return seen

    def validate(self, value: Any) -> str | None:
        """The normalised id, or None when ``value`` is not a valid id."""
        if not isinstance(value, str):
            return None
        normalised = self.normalise(value)
        return normalised if self.compiled.fullmatch(normalised) else None

    def json_schema(self) -> dict[str, Any]:
        return {"type": "string", "description": self.description, "pattern": f"^(?:{self.pattern})$"}


@dataclass(frozen=True)
class Example:
    """A labelled utterance: what a customer says and the arguments the tool should get."""

    utterance: str
    arguments: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)  # identity: the dispatcher checks a call's tool *is* the registered one
class Tool:
    name: str
    description: str
    parameters: tuple[IdParameter, ...]
    examples: tuple[Example, ...]
    # Where the tool lives: a Lambda function whose name is in this environment variable (AWS),
    # or a Python handler "module:function" (in-process, locally).
    function_name_env: str
    local_handler: str
    noun: str  # "order", "return": for messages to the customer
    mutates: bool = False  # does calling it change data?
    # Whether the tool's sentence is the whole answer, so a look-up costs one model call, not two.
    answers_directly: bool = True
    # For a tool that changes data: the read-only tool that shows what will change, the question
    # stated to the customer (fields of the preview's data in braces), and the payload field that
    # carries the idempotency key.
    preview: str = ""
    confirm: str = ""
    idempotency_field: str = ""
    # What the customer hears when the change could not be made (a 409), fields of its data in braces.
    conflict: str = ""
    # A field of the preview and the value (compared ignoring case) the change needs: an order that
    # has shipped is explained with ``conflict`` at once, not offered for a yes that cannot work.
    changes_only_when: tuple[str, str] | None = None
    # Whether an unidentified customer may call it: a look-up by one id, answered as a tracking page
    # would (the tool shows no owner's details without a customer id), limited in failed ids per
    # conversation, and switched off by ANONYMOUS_LOOKUPS=false.
    anonymous_lookup: bool = False
    # Its answer names the account an identifier belongs to: the agent keeps that server-side and
    # tells no one anything until two identifiers agree (``identify.py``).
    identifies: bool = False
    # A call fills exactly one of the parameters (an email, a phone number or a username).
    exactly_one: bool = False
    # For a tool that changes data: words the customer must use for the embedded router to choose
    # it (a regex). A near miss in meaning ("Was it cancelled?") must not start a change.
    intent_words: str = ""

    def parameter(self, name: str) -> IdParameter | None:
        return next((p for p in self.parameters if p.name == name), None)

    @property
    def model_parameters(self) -> tuple[IdParameter, ...]:
        """The parameters a model fills (not the ones the agent fills from the identified customer)."""
        return tuple(p for p in self.parameters if not p.from_identity)

    @property
    def identity_parameters(self) -> tuple[IdParameter, ...]:
        return tuple(p for p in self.parameters if p.from_identity)

    def json_schema(self) -> dict[str, Any]:
        """The parameters a model fills, as JSON Schema (what a native tool-calling model, the guard
        and the eval read)."""
        schema: dict[str, Any] = {
            "type": "object",
            "properties": {p.name: p.json_schema() for p in self.model_parameters},
            "required": [p.name for p in self.model_parameters if p.required],
            "additionalProperties": False,
        }
        if self.exactly_one:
            schema["minProperties"] = schema["maxProperties"] = 1
        return schema

    def accepts(self, arguments: Mapping[str, Any]) -> bool:
        """Whether ``arguments`` names every required parameter, no unknown one, and (for an
        ``exactly_one`` tool) exactly one of the model's."""
        names = set(arguments)
        if not {p.name for p in self.parameters if p.required} <= names <= {p.name for p in self.parameters}:
            return False
        return not self.exactly_one or len(names & {p.name for p in self.model_parameters}) == 1

    def spec(self) -> dict[str, Any]:
        """The tool as a Bedrock Converse ``toolSpec`` (what every model adapter is given)."""
        return {"toolSpec": {"name": self.name, "description": self.description,
                             "inputSchema": {"json": self.json_schema()}}}

    def normalise_input(self, tool_input: Mapping[str, Any]) -> dict[str, Any]:
        """The model's input with each id normalised as the tool expects it ("RTN003" -> "rtn003")."""
        out = dict(tool_input)
        for parameter in self.parameters:
            value = out.get(parameter.name)
            if isinstance(value, str):
                out[parameter.name] = parameter.normalise(value)
        return out

    def payload(self, arguments: Mapping[str, str]) -> dict[str, str]:
        """The tool Lambda's event for validated arguments."""
        return {p.wire_name: arguments[p.name] for p in self.parameters if p.name in arguments}


@dataclass(frozen=True, eq=False)  # identity hash: derived prompts and indexes are cached per registry
class Registry:
    """The tools the agent may call, plus labelled utterances that call none."""

    tools: tuple[Tool, ...]
    # Labelled no-tool utterances: greetings get the friendly reply, the rest the scope reply.
    greetings: tuple[str, ...] = ()
    out_of_scope: tuple[str, ...] = ()
    # Shop requests that none of *these* tools serves ("cancel order 123456"): labelled no-tool
    # like out_of_scope, but kept apart so that another tool set can drop them (``with_tools``).
    unserved: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        names = [t.name for t in self.tools]
        if len(set(names)) != len(names) or NO_TOOL in names:
            raise ValueError(f"tool names must be unique and not {NO_TOOL!r}: {names}")

    def __iter__(self) -> Iterator[Tool]:
        return iter(self.tools)

    def __len__(self) -> int:
        return len(self.tools)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.tools)

    def get(self, name: Any) -> Tool | None:
        """The tool called ``name``, or None: the one door through which a name becomes a tool."""
        if not isinstance(name, str):
            return None
        return next((t for t in self.tools if t.name == name), None)

    def with_tools(self, tools: Iterable[Tool], unserved: Iterable[str] | None = None) -> "Registry":
        """Another tool set with the same greetings and off-topic examples, and the same unserved
        requests unless ``unserved`` replaces them (a different tool set may serve them)."""
        return Registry(tuple(tools), self.greetings, self.out_of_scope,
                        self.unserved if unserved is None else tuple(unserved))

    @property
    def no_tool_examples(self) -> tuple[str, ...]:
        """Every labelled utterance that calls no tool."""
        return self.greetings + self.out_of_scope + self.unserved

    def id_parameters(self) -> list[IdParameter]:
        """The ids a customer types (never the ones the agent fills from identity)."""
        return [p for t in self.tools for p in t.model_parameters]


def _digits(value: str) -> str:
    """A phone number's ten digits: separators and a leading +1 dropped ("(312) 555-8204" -> "3125558204")."""
    digits = re.sub(r"[^0-9]", "", value)
    return digits[1:] if len(digits) == 11 and digits.startswith("1") else digits


ORDER_ID = IdParameter(
    name="order_id",
    wire_name="orderId",
    description="The customer's order number: five or six digits, for example 123456.",
    pattern=r"[0-9]{5,6}",
    ask_for="your order number (five or six digits, for example 123456)",
)

# The identified customer's account id: filled by the agent, never by a model or the customer.
CUSTOMER_ID = IdParameter(
    name="customer_id",
    wire_name="customerId",
    description="The identified customer's account id.",
    pattern=r"[A-Za-z0-9_-]{1,64}",
    names_its_tool=False,
    from_identity=True,
)
# An order look-up sees the owner's view (amount, and only their own orders) when the customer is
# identified, and a tracking page's view otherwise.
OWNER_ID = IdParameter(**{**CUSTOMER_ID.__dict__, "required": False})

EMAIL = IdParameter(
    name="email",
    wire_name="email",
    description="The email address on the customer's account.",
    pattern=r"[^\s@<>(),;:\"'\[\]]{1,64}@(?:[^\s@<>(),;:\"'\[\].]{1,63}\.)+[A-Za-z]{2,63}",
    normalise=_lower,
    required=False,
    ask_for="the email address, phone number or username on your account",
)
PHONE = IdParameter(
    name="phone",
    wire_name="phone",
    description="The phone number on the customer's account: ten digits, for example 206-555-0100.",
    pattern=r"(?:\+?1[ .-]?)?(?:\([0-9]{3}\)|[0-9]{3})[ .-]?[0-9]{3}[ .-]?[0-9]{4}",
    normalise=_digits,
    required=False,
    ask_for="the email address, phone number or username on your account",
)
USERNAME = IdParameter(
    name="username",
    wire_name="username",
    description="The username of the customer's account, as the customer wrote it after 'my username is'.",
    # Letters of any script (two sample usernames have accents), digits, '.', '_', '-': 3 to 40.
    pattern=r"[^\s@<>(),;:\"'\[\]/?!.][^\s@<>(),;:\"'\[\]/?!]{1,38}[^\s@<>(),;:\"'\[\]/?!.]",
    normalise=_lower,
    required=False,
    context=r"\buser\s?name\s*(?:is|:|=)?\s*",
    ask_for="the email address, phone number or username on your account",
)

RETURN_ID = IdParameter(
    name="return_id",
    wire_name="returnId",
    description="The return id: 'rtn' followed by three digits, for example rtn001.",
    pattern=r"rtn[0-9]{3}",
    flags=re.IGNORECASE,
    normalise=_lower,
    ask_for="your return id ('rtn' and three digits, for example rtn001)",
)

ORDER_INQUIRY = Tool(
    name="order_inquiry",
    description="Look up an order by its order number: whether it is processing, shipped, delivered "
    "or cancelled, with dates, carrier and tracking number.",
    parameters=(ORDER_ID, OWNER_ID),
    function_name_env="ORDERS_FUNCTION_NAME",
    local_handler="tools.orders:lambda_handler",
    noun="order",
    anonymous_lookup=True,
    examples=(
        Example("What is the status of order 123456?", {"order_id": "123456"}),
        Example("Could you tell me if order 123456 has shipped?", {"order_id": "123456"}),
        Example("Where is my order 234567?", {"order_id": "234567"}),
        Example("Has my package for order 345678 been delivered yet?", {"order_id": "345678"}),
        Example("I want to track order 456789", {"order_id": "456789"}),
        Example("When will order 567890 arrive?", {"order_id": "567890"}),
        Example("Can I get the tracking number for order 678901?", {"order_id": "678901"}),
        Example("Was order 789012 cancelled?", {"order_id": "789012"}),
        Example("Check on my purchase 890123 please", {"order_id": "890123"}),
        Example("my order hasn't arrived", {}),
        Example("Where is my order?", {}),
        Example("I'd like to know the delivery date of my purchase", {}),
    ),
)

RETURNS_INQUIRY = Tool(
    name="returns_inquiry",
    description="Look up a return by its return id: whether it was requested, received, processed, "
    "refunded or rejected, and the refund amount.",
    parameters=(RETURN_ID,),
    function_name_env="RETURNS_FUNCTION_NAME",
    local_handler="tools.returns:lambda_handler",
    noun="return",
    anonymous_lookup=True,
    examples=(
        Example("Is my return rtn001 processed?", {"return_id": "rtn001"}),
        Example("What is the status of return rtn002?", {"return_id": "rtn002"}),
        Example("Has return rtn003 been refunded yet?", {"return_id": "rtn003"}),
        Example("When will I get my refund for rtn004?", {"return_id": "rtn004"}),
        Example("Did you receive the item I sent back, return rtn005?", {"return_id": "rtn005"}),
        Example("Why was return rtn006 rejected?", {"return_id": "rtn006"}),
        Example("How much will I be refunded for return rtn007?", {"return_id": "rtn007"}),
        Example("Where is my refund?", {}),
        Example("I'm still waiting for my money back", {}),
        Example("I want to check on my return", {}),
        Example("Has my return been processed?", {}),
    ),
)

GET_USER = Tool(
    name="get_user",
    description="Find the customer's account by the email address, phone number or username they give "
    "(one per call). Two of them that belong to the same account identify the customer.",
    parameters=(EMAIL, PHONE, USERNAME),
    function_name_env="CUSTOMERS_FUNCTION_NAME",
    local_handler="tools.customers:lambda_handler",
    noun="account",
    answers_directly=False,
    identifies=True,
    exactly_one=True,
    examples=(
        Example("My email is jane_doe@example.com", {"email": "jane_doe@example.com"}),
        Example("my email address is sam.lee@example.org", {"email": "sam.lee@example.org"}),
        Example("My phone number is 206-555-0100", {"phone": "2065550100"}),
        Example("you can reach me at (415) 555-0199", {"phone": "4155550199"}),
        Example("My username is jane_doe", {"username": "jane_doe"}),
        Example("my user name is sam.lee", {"username": "sam.lee"}),
        Example("Here are my account details", {}),
        Example("I want to log in to my account", {}),
    ),
)

GET_CUSTOMER_ORDERS = Tool(
    name="get_customer_orders",
    description="List the identified customer's own orders with their status.",
    parameters=(CUSTOMER_ID,),
    function_name_env="ORDERS_FUNCTION_NAME",
    local_handler="tools.orders:lambda_handler",
    noun="order",
    answers_directly=False,
    examples=(
        Example("What are my orders?"),
        Example("Show me all my orders"),
        Example("List my recent purchases"),
        Example("Which orders do I have with you?"),
        Example("I don't remember my order number"),
        Example("I forgot my order id"),
    ),
)

CANCEL_ORDER = Tool(
    name="cancel_order",
    description="Cancel one of the identified customer's orders that is still processing (after the "
    "customer confirms).",
    parameters=(ORDER_ID, CUSTOMER_ID),
    function_name_env="CANCEL_ORDER_FUNCTION_NAME",
    local_handler="tools.cancel:lambda_handler",
    noun="order",
    mutates=True,
    preview="order_inquiry",
    confirm="Cancel order {orderId}: {quantity} x {product}, {amount}? Say yes to confirm.",
    idempotency_field="idempotencyKey",
    conflict="Order {orderId} can't be cancelled: its status is {status}, and only an order that is still being "
    "processed can be cancelled.",
    changes_only_when=("status", "processing"),
    intent_words=r"\bcancel(?:l?ing|s)?\b|\bcancellation\b",  # not "cancelled": that asks about one
    examples=(
        Example("Cancel order 123456", {"order_id": "123456"}),
        Example("Please cancel my order 234567", {"order_id": "234567"}),
        Example("How can I cancel my purchase 345678?", {"order_id": "345678"}),
        Example("I need help cancelling order 456789", {"order_id": "456789"}),
        Example("I want to cancel my order"),
        Example("I need to cancel an order but I don't remember the order number"),
    ),
)

DEFAULT_REGISTRY = Registry(
    tools=(ORDER_INQUIRY, RETURNS_INQUIRY, GET_USER, GET_CUSTOMER_ORDERS, CANCEL_ORDER),
    greetings=(
        "hello",
        "hi there",
        "hey",
        "good morning",
        "good afternoon",
        "thanks",
        "thank you so much",
        "bye",
        "how are you?",
    ),
    out_of_scope=(
        "What is the weather like today?",
        "Tell me a joke",
        "What is the capital of France?",
        "Who won the football game last night?",
        "Can you help me with my homework?",
        "What time is it in Tokyo?",
        "Recommend a good movie",
        "How do I cook pasta?",
        "What is the meaning of life?",
        "Write me a poem about the sea",
        "What do you think about politics?",
        "How tall is Mount Everest?",
        "Translate hello into Spanish",
        "What is your favourite colour?",
        "Book me a flight to Paris",
        "What is the exchange rate of the dollar?",
        "Set an alarm for 7am",
        "What's my credit score?",
    ),
    # Things customers ask of a shop that no tool here does: a look-up is not an answer to them.
    unserved=(
        "I want to change the items in order 234567",
        "Please update the shipping address on my order",
        "I'd like to place a new order",
        "What is your refund policy?",
        "What shipping options do you offer?",
        "Which payment methods do you accept?",
        "I need a copy of my invoice",
        "I want to check my bill #12345",
        "How do I reset my password?",
        "I want to file a complaint",
        "Can I speak to a human agent?",
    ),
)


# The look-up tools alone, with cancelling among the requests they do not serve: the tool set the
# routing figures were first measured on, kept so that those figures stay comparable.
LOOKUP_REGISTRY = DEFAULT_REGISTRY.with_tools(
    (ORDER_INQUIRY, RETURNS_INQUIRY),
    unserved=("Cancel order 123456", "How can I cancel my purchase 234567?", "I need help cancelling order 345678",
              *DEFAULT_REGISTRY.unserved),
)
