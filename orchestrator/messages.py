"""Messages in the Bedrock Converse shape: the one currency between the loop, models, memory and eval.

A message is ``{"role": "user" | "assistant", "content": [block, ...]}`` and a block is one of
``{"text": str}``, ``{"toolUse": {"toolUseId", "name", "input"}}`` or ``{"toolResult":
{"toolUseId", "content": [{"json": ...} | {"text": ...}], "status": "success" | "error"}}``
(https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Message.html). Plain dicts,
so a history is JSON as it is, for DynamoDB, SQLite, the eval and Bedrock alike.

The building blocks, each a small function:

>>> history = [user_text("Where is order 123456?")]
>>> call = tool_use("t1", "order_inquiry", {"order_id": "123456"})
>>> history.append(assistant([call]))
>>> [u["name"] for u in tool_uses(history[-1])]
['order_inquiry']
>>> append_results(history, [tool_result("t1", {"status": "shipped"}, text="Order 123456 shipped.")])
>>> history[-1]["role"], history[-1]["content"][0]["toolResult"]["status"]
('user', 'success')
>>> text_of(assistant_text("Hello!"))
'Hello!'
"""
from __future__ import annotations

import json
import uuid
from typing import Any, Iterable, Mapping

Message = dict[str, Any]
Block = dict[str, Any]

STOP_END_TURN = "end_turn"
STOP_TOOL_USE = "tool_use"
STOP_MAX_TOKENS = "max_tokens"


def new_tool_use_id(prefix: str = "tooluse") -> str:
    """A fresh id for a toolUse block (models that return none get one of ours)."""
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def text_block(text: str) -> Block:
    return {"text": text}


def user_text(text: str) -> Message:
    """The customer's turn.

    >>> user_text("hi")
    {'role': 'user', 'content': [{'text': 'hi'}]}
    """
    return {"role": "user", "content": [text_block(text)]}


def assistant(blocks: Iterable[Block]) -> Message:
    return {"role": "assistant", "content": list(blocks)}


def assistant_text(text: str) -> Message:
    return assistant([text_block(text)])


def tool_use(tool_use_id: str, name: str, tool_input: Mapping[str, Any]) -> Block:
    """A model's request to call ``name``.

    >>> tool_use("t1", "order_inquiry", {"order_id": "123456"})["toolUse"]["name"]
    'order_inquiry'
    """
    return {"toolUse": {"toolUseId": tool_use_id, "name": name, "input": dict(tool_input)}}


def tool_result(tool_use_id: str, data: Mapping[str, Any] | None = None, *, text: str = "",
                status: str = "success") -> Block:
    """What a tool call gave, for the model: structured ``data`` and/or one ``text`` sentence.

    >>> tool_result("t1", text="Refused: order_id was not given by the customer.", status="error")["toolResult"]["status"]
    'error'
    """
    content: list[dict[str, Any]] = []
    if data:
        content.append({"json": dict(data)})
    if text or not content:
        content.append({"text": text})
    return {"toolResult": {"toolUseId": tool_use_id, "content": content, "status": status}}


def append_results(history: list[Message], results: Iterable[Block]) -> None:
    """Append the results of one assistant message's tool calls, in order, as the next user message."""
    history.append({"role": "user", "content": list(results)})


def blocks(message: Mapping[str, Any] | None, kind: str) -> list[dict[str, Any]]:
    """The ``kind`` ("text", "toolUse", "toolResult") payloads of a message's blocks, in order."""
    content = (message or {}).get("content")
    if not isinstance(content, list):
        return []
    return [b[kind] for b in content if isinstance(b, Mapping) and kind in b]


def tool_uses(message: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    return [u for u in blocks(message, "toolUse") if isinstance(u, Mapping)]


def tool_results(message: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    return [r for r in blocks(message, "toolResult") if isinstance(r, Mapping)]


def text_of(message: Mapping[str, Any] | None) -> str:
    """The message's text blocks joined (a tool-result message has none)."""
    return " ".join(t for t in blocks(message, "text") if isinstance(t, str)).strip()


def result_text(result: Mapping[str, Any]) -> str:
    """A toolResult's sentence (its text content), else its JSON, compactly."""
    parts = []
    for item in result.get("content") or []:
        if isinstance(item, Mapping) and isinstance(item.get("text"), str):
            parts.append(item["text"])
    if parts:
        return " ".join(p for p in parts if p)
    for item in result.get("content") or []:
        if isinstance(item, Mapping) and "json" in item:
            return json.dumps(item["json"], separators=(",", ":"), default=str)
    return ""


def result_json(result: Mapping[str, Any]) -> dict[str, Any]:
    """A toolResult's structured data ({} when it has none).

    >>> result_json(tool_result("t1", {"orderId": "123456"}, text="Order 123456 has shipped.")["toolResult"])
    {'orderId': '123456'}
    """
    for item in result.get("content") or []:
        if isinstance(item, Mapping) and isinstance(item.get("json"), Mapping):
            return dict(item["json"])
    return {}


def successful_results(history: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Every toolResult with status success in ``history``, in order: what our tools really answered."""
    return [r for m in history for r in tool_results(m) if r.get("status") == "success"]


def customer_texts(history: Iterable[Mapping[str, Any]]) -> list[str]:
    """Everything the customer typed in this conversation (user text blocks, not tool results)."""
    return [t for m in history if m.get("role") == "user" for t in blocks(m, "text") if isinstance(t, str)]


def texts_of_role(history: Iterable[Mapping[str, Any]], role: str) -> list[str]:
    """The text of each message of ``role`` that has text, in order."""
    return [text_of(m) for m in history if m.get("role") == role and blocks(m, "text")]


def last_user_text(history: list[Mapping[str, Any]]) -> str:
    for message in reversed(history):
        if message.get("role") == "user" and blocks(message, "text"):
            return text_of(message)
    return ""
