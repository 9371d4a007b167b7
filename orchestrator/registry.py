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
    # What to ask for when the id is missing, e.g. "your six-digit order number".
    ask_for: str = ""
    # Whether the router may mask these ids with the tool's noun. Only a pattern that belongs to one
    # tool says whose id it is; a catch-all pattern (a tool spec without one) says nothing.
    names_its_tool: bool = True
    # Filled by the agent from the customer the server identified, never by a model or the customer
    # (a customer id): left out of the spec a model sees, and refused if a model sends it.
    from_identity: bool = False

    @property
    def compiled(self) -> re.Pattern[str]:
        # ASCII: a spec's \d must not accept Arabic-Indic or fullwidth digits as an id.
        return re.compile(self.pattern, self.flags | re.ASCII)

    @property
    def finder(self) -> re.Pattern[str]:
        """Matches ids that stand alone in text: 1234567 holds no six-digit order id."""
        return _standalone(self.pattern, self.flags | re.ASCII)

    def find_all(self, text: str) -> list[str]:
        """Every valid id in ``text``, normalised, in order, without repeats."""
        seen: list[str] = []
        for match in self.finder.finditer(text or ""):
            value = self.normalise(match.group(0))
            if value not in seen:
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
    mutates: bool = False  # does calling it change data? (no tool here does yet)
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
        return {
            "type": "object",
            "properties": {p.name: p.json_schema() for p in self.model_parameters},
            "required": [p.name for p in self.model_parameters],
            "additionalProperties": False,
        }

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
        return {p.wire_name: arguments[p.name] for p in self.parameters}


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
        return [p for t in self.tools for p in t.parameters]


ORDER_ID = IdParameter(
    name="order_id",
    wire_name="orderId",
    description="The customer's order number: six digits, for example 123456.",
    pattern=r"[0-9]{6}",
    ask_for="your six-digit order number (for example 123456)",
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
    parameters=(ORDER_ID,),
    function_name_env="ORDERS_FUNCTION_NAME",
    local_handler="tools.orders:lambda_handler",
    noun="order",
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

DEFAULT_REGISTRY = Registry(
    tools=(ORDER_INQUIRY, RETURNS_INQUIRY),
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
        "Cancel order 123456",
        "How can I cancel my purchase 234567?",
        "I need help cancelling order 345678",
        "I want to change the items in order 234567",
        "Please update the shipping address on my order",
        "I'd like to place a new order",
        "What is your refund policy?",
        "What shipping options do you offer?",
        "Which payment methods do you accept?",
        "I need a copy of my invoice",
        "How do I reset my password?",
        "I want to file a complaint",
        "Can I speak to a human agent?",
    ),
)
