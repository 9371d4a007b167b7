"""The OpenAI chat-completions wire format, shared by every server that speaks it (vLLM, llama.cpp
server, Ollama, SageMaker LMI and TGI's Messages API).

Converse in (``chat_request``), Converse out (``parse_chat_response``), and one bounded HTTP POST
(``post_json``). Small models often write their tool calls as text instead of ``tool_calls``:
Qwen2.5 behind llama.cpp's server without ``--jinja`` answers
``<tool_call>\\n{"name": ..., "arguments": {...}}\\n</tool_call>``, others a bare JSON object, a
list of them or a ```json fence, and the 1.5B model doubles its braces about half the time
(``{{"name": ..., "arguments": {{...}}}}``). ``text_tool_calls`` reads all of those. Which tool
was called is reported as the model wrote it: the agent checks it against the tools and the
tool choice.
"""
from __future__ import annotations

import http.client
import json
import re
import socket
import time
import urllib.parse
from typing import Any, Mapping, Sequence

from .. import wire
from ..llm import server_stops
from ..messages import (STOP_END_TURN, STOP_MAX_TOKENS, STOP_TOOL_USE, Block, Message, assistant,
                        blocks, new_tool_use_id, result_text, text_block, tool_results, tool_use)
from . import Inference, ModelError, ModelResponse

CONNECT_TIMEOUT_S = 2.0
_CHUNK = 16 * 1024


# --- Converse -> chat request ---------------------------------------------------------------

def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=str)


def chat_messages(messages: Sequence[Message], system: str = "") -> list[dict[str, Any]]:
    """Converse history as chat messages: system first, a toolUse as an assistant ``tool_calls``
    entry, each toolResult as its own ``tool`` message (which must follow the call, so they go
    before any text in the same user message)."""
    chat: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
    for message in messages:
        texts = " ".join(t for t in blocks(message, "text") if isinstance(t, str)).strip()
        if message.get("role") == "assistant":
            calls = [{"id": u.get("toolUseId") or new_tool_use_id(), "type": "function",
                      "function": {"name": u.get("name", ""), "arguments": _compact(u.get("input") or {})}}
                     for u in blocks(message, "toolUse") if isinstance(u, Mapping)]
            turn: dict[str, Any] = {"role": "assistant", "content": texts}  # "", never null: llama.cpp rejects null
            if calls:
                turn["tool_calls"] = calls
            chat.append(turn)
            continue
        for result in tool_results(message):
            chat.append({"role": "tool", "tool_call_id": result.get("toolUseId", ""), "content": result_text(result)})
        if texts:
            chat.append({"role": "user", "content": texts})
    return chat


def chat_tools(tools: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Converse ``toolSpec`` entries as chat ``function`` tools."""
    out = []
    for tool in tools:
        spec = tool.get("toolSpec", tool)
        function = {"name": spec["name"], "description": spec.get("description", ""),
                    "parameters": (spec.get("inputSchema") or {}).get("json", {"type": "object", "properties": {}})}
        out.append({"type": "function", "function": function})
    return out


def chat_tool_choice(tool_choice: Mapping[str, Any] | None) -> Any:
    """Converse ``toolChoice`` as chat ``tool_choice``: auto, required, or one named function."""
    if not tool_choice:
        return None
    if "any" in tool_choice:
        return "required"
    forced = tool_choice.get("tool")
    if isinstance(forced, Mapping) and forced.get("name"):
        return {"type": "function", "function": {"name": forced["name"]}}
    return "auto"


def chat_request(messages: Sequence[Message], *, tools: Sequence[Mapping[str, Any]] = (),
                 tool_choice: Mapping[str, Any] | None = None, system: str = "",
                 inference: Inference = Inference(), model: str | None = None) -> dict[str, Any]:
    """The chat-completions body. Greedy: temperature 0 is how these servers spell it."""
    request: dict[str, Any] = {"model": model} if model else {}
    request["messages"] = chat_messages(messages, system)
    if tools:  # a tool_choice without tools is an error on most servers
        request["tools"] = chat_tools(tools)
        choice = chat_tool_choice(tool_choice)
        if choice is not None:
            request["tool_choice"] = choice
    request["max_tokens"] = inference.max_tokens
    request["temperature"] = 0
    if server_stops(inference.stop):
        request["stop"] = server_stops(inference.stop)
    return request


# --- chat response -> Converse --------------------------------------------------------------

_TAGGED = re.compile(r"<tool_call>(.*?)(?:</tool_call>|(?=<tool_call>)|\Z)", re.DOTALL)
_FENCE = re.compile(r"```[a-zA-Z]*\s*(.*?)\s*```", re.DOTALL)
_EMPTY_FENCE = re.compile(r"```[a-zA-Z]*\s*```")
# Where a call written as bare JSON may begin: an object (or a list of them) opening with its keys.
_CANDIDATE = re.compile(r'(?:\[\s*)?\{\{?\s*"(?:name|arguments|parameters)"')
_MAX_CANDIDATES = 16
_MAX_CALL_CHARS = 32 * 1024


def _balanced_end(text: str, start: int) -> int | None:
    """The index just past the bracket that closes ``text[start]``, skipping JSON strings (a call
    longer than ``_MAX_CALL_CHARS`` is not looked for)."""
    depth, in_string, escaped = 0, False, False
    for i in range(start, min(len(text), start + _MAX_CALL_CHARS)):
        ch = text[i]
        if in_string:
            escaped, in_string = (False, True) if escaped else (ch == "\\", ch != '"')
        elif ch == '"':
            in_string = True
        elif ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
            if depth == 0:
                return i + 1
    return None


def _load(candidate: str) -> Any:
    """JSON, or the same with doubled braces undone; ``None`` when it is neither."""
    for attempt in (candidate, candidate.replace("{{", "{").replace("}}", "}")):
        try:
            return wire.loads(attempt.encode("utf-8"), wire.MAX_MODEL_RESPONSE_BYTES)
        except wire.WireError:
            continue
    return None


def _as_calls(value: Any, *, tagged: bool = False) -> list[tuple[str, dict[str, Any]]] | None:
    """(name, arguments) pairs when ``value`` is a tool call or a list of them, else ``None``.
    Bare JSON must carry ``arguments`` (or Llama's ``parameters``) to count; inside a
    ``<tool_call>`` tag a call with no arguments means none."""
    items = value if isinstance(value, list) else [value]
    calls = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
            return None
        key = "arguments" if "arguments" in item else "parameters" if "parameters" in item else None
        if key is None and not tagged:
            return None
        arguments = item.get(key) if key else {}
        if isinstance(arguments, str):  # some models encode the arguments twice
            arguments = _load(arguments) if arguments.strip() else {}
        if arguments is None:
            arguments = {}
        if not isinstance(arguments, dict):
            return None
        calls.append((item["name"], arguments))
    return calls or None


_PY_ARG = re.compile(r"""([a-z_][a-z0-9_]{0,63})\s*=\s*(?:'([^'\n]{0,200})'|"([^"\n]{0,200})")""")
_PY_CALL = re.compile(r"""`?\b([a-z][a-z0-9]*_[a-z0-9_]{1,60})\(\s*((?:[a-z_][a-z0-9_]{0,63}\s*=\s*"""
                      r"""(?:'[^'\n]{0,200}'|"[^"\n]{0,200}")\s*,?\s*){1,8})\)`?""")


def text_tool_calls(text: str) -> tuple[list[tuple[str, dict[str, Any]]], str]:
    """The tool calls a model wrote as text, and the prose left around them.

    >>> text_tool_calls('OK.<tool_call>{{"name": "order_inquiry", "arguments": {{"order_id": "12"}}}}</tool_call>')
    ([('order_inquiry', {'order_id': '12'})], 'OK.')
    """
    calls: list[tuple[str, dict[str, Any]]] = []

    def tagged(match: re.Match[str]) -> str:
        body = match.group(1).strip()
        fenced = _FENCE.fullmatch(body)
        found = _as_calls(_load(fenced.group(1) if fenced else body), tagged=True)
        if found is None:  # the model meant a call but wrote something unusable
            raise ModelError("model wrote a <tool_call> that is not a JSON tool call")
        calls.extend(found)
        return ""

    rest = _TAGGED.sub(tagged, text)
    # Bare JSON, fenced or not: each balanced {...} or [...] that reads as tool calls is taken out.
    # Only spans that open like a call are tried, and only so many: a body is up to 256 KiB.
    pieces, i, tries = [], 0, 0
    while tries < _MAX_CANDIDATES and (match := _CANDIDATE.search(rest, i)):
        tries += 1
        start = match.start()
        end = _balanced_end(rest, start)
        found = _as_calls(_load(rest[start:end])) if end else None
        if found and end:
            calls.extend(found)
            pieces.append(rest[i:start])
            i = end
        else:
            pieces.append(rest[i:start + 1])
            i = start + 1
    pieces.append(rest[i:])
    rest = "".join(pieces)
    # A call written as Python, as small models do: order_inquiry(order_id='123456').
    for match in list(_PY_CALL.finditer(rest))[:_MAX_CANDIDATES]:
        calls.append((match.group(1), {k: v1 or v2
                                       for k, v1, v2 in _PY_ARG.findall(match.group(2))}))
    rest = _PY_CALL.sub("", rest)
    prose = _EMPTY_FENCE.sub("", rest)
    prose = re.sub(r"[ \t]{2,}", " ", re.sub(r"\n{3,}", "\n\n", prose)).strip()  # the gaps calls left
    return calls, prose


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts, as some servers send them
        return "".join(p.get("text", "") for p in content if isinstance(p, Mapping) and p.get("type") == "text")
    return ""


def _structured_calls(tool_calls: Any) -> list[Block]:
    if not tool_calls:
        return []
    if not isinstance(tool_calls, list):
        raise ModelError("server response tool_calls is not a list")
    uses = []
    for call in tool_calls:
        function = call.get("function") if isinstance(call, Mapping) else None
        if not isinstance(function, Mapping) or not isinstance(function.get("name"), str):
            raise ModelError("server response has a tool call without a function name")
        arguments = function.get("arguments")
        if isinstance(arguments, str):  # the OpenAI shape: a JSON string (Ollama sends an object)
            arguments = _load(arguments) if arguments.strip() else {}
        if not isinstance(arguments, dict):
            raise ModelError(f"tool call {function['name']!r} has arguments that are not a JSON object")
        uses.append(tool_use(call.get("id") or new_tool_use_id(), function["name"], arguments))
    return uses


def parse_chat_response(payload: Any) -> ModelResponse:
    """``choices[0].message`` as a Converse assistant message with a Converse stop reason."""
    try:
        choice = payload["choices"][0]
        message = choice["message"]
    except (KeyError, IndexError, TypeError):
        raise ModelError("server response has no choices[0].message") from None
    if not isinstance(message, Mapping):
        raise ModelError("server response message is not an object")
    uses = _structured_calls(message.get("tool_calls"))
    raw = _content_text(message.get("content"))
    written, prose = text_tool_calls(raw)
    uses += [tool_use(new_tool_use_id(), name, arguments) for name, arguments in written]
    content: list[Block] = ([text_block(prose)] if prose else []) + uses
    if not content:
        raise ModelError("server returned an empty message")
    finish = choice.get("finish_reason") if isinstance(choice, Mapping) else None
    if uses or finish == "tool_calls":
        stop = STOP_TOOL_USE
    elif finish == "length":
        stop = STOP_MAX_TOKENS
    else:
        stop = STOP_END_TURN
    return ModelResponse(assistant(content), stop, raw_text=raw or None)


def parse_chat_body(raw: bytes) -> ModelResponse:
    """A response body (bytes) through the size cap and depth-safe JSON, then parsed."""
    try:
        payload = wire.loads(raw, wire.MAX_MODEL_RESPONSE_BYTES)
    except wire.WireError as exc:
        raise ModelError(f"server response unusable: {exc}") from exc
    return parse_chat_response(payload)


# --- one bounded POST -----------------------------------------------------------------------

def post_json(url: str, body: bytes, *, timeout_s: float,
              headers: Mapping[str, str] | None = None) -> tuple[int, bytes]:
    """POST ``body``; (status, response body). Connect waits at most 2 s, every later socket read
    at most what is left of ``timeout_s``, and the body is read in chunks, capped in size, with
    the clock checked between them. Wrap it in ``run_within`` to bound the whole call."""
    end = time.monotonic() + timeout_s

    def left() -> float:
        remaining = end - time.monotonic()
        if remaining <= 0:
            raise socket.timeout("deadline")
        return remaining

    parts = urllib.parse.urlsplit(url)
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    # A connect that never completes gives up early, as botocore's does, leaving time to retry.
    connection = kind(parts.hostname, parts.port, timeout=min(CONNECT_TIMEOUT_S, left()))
    try:
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connection.request("POST", path, body=body, headers={
            "Content-Type": "application/json", "Content-Length": str(len(body)), **(headers or {})})
        sock = connection.sock  # kept: the connection lets go of it once the response will close
        sock.settimeout(left())
        response = connection.getresponse()
        chunks, size = [], 0
        while True:
            sock.settimeout(left())
            chunk = response.read1(_CHUNK)
            if not chunk:
                break
            size += len(chunk)
            if size > wire.MAX_MODEL_RESPONSE_BYTES:
                raise wire.WireError(f"response larger than {wire.MAX_MODEL_RESPONSE_BYTES} bytes")
            chunks.append(chunk)
        return response.status, b"".join(chunks)
    finally:
        connection.close()
