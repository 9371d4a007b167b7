"""The dispatcher: invoke a validated tool call through a transport, within the deadline.

``LambdaTransport`` calls the tool Lambdas with boto3 (function names from the environment, the
time left as read timeout). ``InProcessTransport`` calls the same handler functions in this
process, for the laptop and the tests. Both answer a ``ToolResult``; neither raises.
"""
from __future__ import annotations

import json
import os
import time
from typing import Any, Callable, Mapping, Protocol

from . import aws, wire
from .budget import Deadline, DeadlineExceeded, TooManyAbandonedCalls, run_within
from .parser import ToolCall
from .plugins import resolve
from .registry import Registry, Tool
from .turn import ToolResult


class Transport(Protocol):
    name: str

    def invoke(self, tool: Tool, payload: dict[str, str], timeout_s: float) -> ToolResult:
        """Call the tool. Never raises."""


def result_from_response(response: Any) -> ToolResult:
    """Check a tool's answer against the tool contract."""
    if not isinstance(response, Mapping):
        return ToolResult(502, "", error="tool answered something that is not an object")
    status, body, data = response.get("statusCode"), response.get("body"), response.get("data", {})
    if not isinstance(status, int) or not isinstance(body, str) or not isinstance(data, Mapping):
        return ToolResult(502, "", error="tool answer does not follow the tool contract")
    return ToolResult(status, body, dict(data))


class InProcessTransport:
    """Calls ``tool.local_handler`` ("module:function") in this process, within the time given."""

    name = "inprocess"

    def __init__(self, handlers: Mapping[str, Callable[[dict, Any], Any]] | None = None) -> None:
        self._handlers = dict(handlers or {})

    def _handler(self, tool: Tool) -> Callable[[dict, Any], Any]:
        if tool.name not in self._handlers:
            self._handlers[tool.name] = resolve(tool.local_handler)
        return self._handlers[tool.name]

    def invoke(self, tool: Tool, payload: dict[str, str], timeout_s: float) -> ToolResult:
        try:
            handler = self._handler(tool)
            return result_from_response(run_within(timeout_s, lambda: handler(dict(payload), None), name="tool call",
                                                   target=f"inprocess:{tool.name}"))
        except DeadlineExceeded:
            return ToolResult(504, "", error=f"tool did not answer in {timeout_s:.1f}s")
        except Exception as exc:  # noqa: BLE001 - a crashing tool is a 502, never a crashed turn
            return ToolResult(502, "", error=f"tool raised {type(exc).__name__}")


class LambdaTransport:
    """Invokes the tool Lambda named by ``os.environ[tool.function_name_env]``."""

    name = "lambda"

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        region: str | None = None,
        client_factory: Callable[[float], Any] | None = None,
    ) -> None:
        self._env = os.environ if env is None else env
        self._client_for = client_factory or (lambda t: aws.client("lambda", t, region))

    def invoke(self, tool: Tool, payload: dict[str, str], timeout_s: float) -> ToolResult:
        from botocore.exceptions import BotoCoreError, ClientError, ConnectTimeoutError, ReadTimeoutError

        function_name = self._env.get(tool.function_name_env, "")
        if not function_name:
            return ToolResult(502, "", error=f"{tool.function_name_env} is not set")
        if timeout_s <= 0:
            return ToolResult(504, "", error="no time left for the tool call")

        end = time.monotonic() + timeout_s

        def invoke() -> tuple[str | None, bytes]:
            response = self._client_for(timeout_s).invoke(
                FunctionName=function_name,
                InvocationType="RequestResponse",
                Payload=json.dumps(payload).encode("utf-8"),
            )
            return response.get("FunctionError"), wire.read_capped(response["Payload"], wire.MAX_TOOL_RESPONSE_BYTES, end)

        try:
            # The read timeout bounds each socket read; run_within bounds the whole call.
            function_error, raw = run_within(timeout_s, invoke, name="tool call", target=f"lambda:{function_name}")
        except (DeadlineExceeded, ReadTimeoutError, ConnectTimeoutError):
            return ToolResult(504, "", error=f"tool did not answer in {timeout_s:.1f}s")
        except TooManyAbandonedCalls as exc:
            return ToolResult(503, "", error=f"tool not answering: {exc}")
        except ClientError as exc:
            code = aws.error_code(exc)
            return ToolResult(502, "", error=f"lambda invoke failed: {code}")
        except BotoCoreError as exc:
            return ToolResult(502, "", error=f"lambda invoke failed: {type(exc).__name__}")
        except wire.WireError as exc:
            return ToolResult(502, "", error=f"tool answer unusable: {exc}")
        except Exception as exc:  # noqa: BLE001 - a transport never raises: a thread that cannot start, say
            return ToolResult(502, "", error=f"lambda invoke failed: {type(exc).__name__}")
        if function_error:
            kind = "".join(c for c in str(function_error) if c.isalnum())[:32]
            return ToolResult(502, "", error=f"tool function error: {kind}")
        try:
            return result_from_response(wire.loads(raw, wire.MAX_TOOL_RESPONSE_BYTES))
        except wire.WireError as exc:
            return ToolResult(502, "", error=f"tool answer unusable: {exc}")


def dispatch(call: ToolCall, registry: Registry, transport: Transport, deadline: Deadline,
             idempotency_key: str | None = None) -> ToolResult:
    """Invoke ``call`` if, and only if, it is still a valid call of a registered tool."""
    if not call.is_valid_for(registry):
        return ToolResult(400, "", error="refused: not a valid call of a registered tool")
    if deadline.expired():
        return ToolResult(504, "", error="no time left for the tool call")
    payload = call.tool.payload(call.arguments)
    if call.tool.idempotency_field:
        if not idempotency_key:  # a change without its key could be applied twice
            return ToolResult(400, "", error="refused: a change needs its idempotency key")
        payload[call.tool.idempotency_field] = idempotency_key
    return transport.invoke(call.tool, payload, deadline.remaining())


_TRANSPORTS: dict[str, Callable[[], Transport]] = {"inprocess": InProcessTransport, "lambda": LambdaTransport}


def build_transport(name: str) -> Transport:
    try:
        return _TRANSPORTS[name]()
    except KeyError:
        raise ValueError(f"unknown tool transport {name!r}; choose one of {', '.join(sorted(_TRANSPORTS))}") from None
