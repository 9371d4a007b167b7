"""Tool-calling model adapters: Bedrock Converse, OpenAI-compatible chat servers, SageMaker Messages API.

Bedrock and SageMaker requests are checked exactly under botocore's Stubber; the OpenAI adapter
talks to real HTTP servers on 127.0.0.1 (a small one of ours for whole response bodies, the fault
stubs of ``tests/faults.py`` for failures). Shared response bodies live in ``tests/events/converse``.
"""
from __future__ import annotations

import copy
import io
import json
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.exceptions import ConnectTimeoutError, ReadTimeoutError
from botocore.response import StreamingBody
from botocore.stub import Stubber

from orchestrator import budget
from orchestrator.messages import (STOP_END_TURN, STOP_MAX_TOKENS, STOP_TOOL_USE, assistant, text_block,
                                   tool_result, tool_use, tool_uses, user_text)
from orchestrator.models import ANY, AUTO, Inference, ModelError, ModelTimeout, build_model, choose_tool
from orchestrator.models.bedrock import BedrockModel
from orchestrator.models.openai_tools import OpenAIToolsModel
from orchestrator.models.sagemaker_messages import SageMakerMessagesModel
from orchestrator.models.wire_chat import chat_request, parse_chat_response, text_tool_calls
from tests.faults import StubServer

EVENTS = Path(__file__).parent / "events" / "converse"
NOVA = "us.amazon.nova-lite-v1:0"
ANTHROPIC = "us.anthropic.claude-3-5-haiku-20241022-v1:0"
SYSTEM = "You are the store's support agent. Call a tool when the customer gives an order or return id."
ORDER_SCHEMA = {"type": "object", "properties": {"order_id": {"type": "string", "pattern": "^[0-9]{6}$"}},
                "required": ["order_id"]}
RETURN_SCHEMA = {"type": "object", "properties": {"return_id": {"type": "string"}}, "required": ["return_id"]}
TOOLS = [
    {"toolSpec": {"name": "order_inquiry", "description": "Status of an order.",
                  "inputSchema": {"json": ORDER_SCHEMA}}},
    {"toolSpec": {"name": "returns_inquiry", "description": "Status of a return.",
                  "inputSchema": {"json": RETURN_SCHEMA}}},
]
HISTORY = [
    user_text("Where is order 123456?"),
    assistant([text_block("Let me look."), tool_use("t1", "order_inquiry", {"order_id": "123456"})]),
    {"role": "user", "content": [tool_result("t1", {"status": "shipped"}, text="Order 123456 shipped.")]},
    user_text("And my return?"),
]
INFERENCE = Inference(max_tokens=300, stop=("\n\n", "Customer:"))
CHOICES = {"auto": AUTO, "any": ANY, "tool": choose_tool("order_inquiry")}


def event(name: str) -> Any:
    return json.loads((EVENTS / name).read_text())


def chat_answer(content: Any = None, tool_calls: Any = None, finish_reason: str = "stop") -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls is not None:
        message["tool_calls"] = tool_calls
    return {"choices": [{"index": 0, "message": message, "finish_reason": finish_reason}]}


@pytest.fixture(autouse=True)
def no_calls_left_hanging():
    """Calls given up at a deadline end with their test, so no other test sees them still running."""
    FakeClient.released.clear()
    yield
    FakeClient.released.set()
    for _ in range(100):
        if budget.abandoned_calls() == 0:
            break
        time.sleep(0.01)


# --- Bedrock ---------------------------------------------------------------------------------

def bedrock(model_id: str = NOVA):
    client = boto3.client("bedrock-runtime", region_name="us-east-1")
    timeouts: list[float] = []

    def factory(timeout_s: float):
        timeouts.append(timeout_s)
        return client

    return BedrockModel(model_id, client_factory=factory), Stubber(client), timeouts


def test_bedrock_request_shapes_per_family_and_tool_choice():
    greedy = {NOVA: {"inferenceConfig": {"topK": 1}}, ANTHROPIC: {"top_k": 1}}
    for model_id, extra in greedy.items():
        for choice in CHOICES.values():
            model, stubber, timeouts = bedrock(model_id)
            stubber.add_response("converse", event("bedrock_two_tool_uses.json"), {
                "modelId": model_id,
                "messages": HISTORY,
                "system": [{"text": SYSTEM}],
                "toolConfig": {"tools": TOOLS, "toolChoice": choice},
                "inferenceConfig": {"maxTokens": 300, "temperature": 1.0, "topP": 1.0, "stopSequences": ["Customer:"]},
                "additionalModelRequestFields": extra,
            })
            with stubber:
                model.converse(HISTORY, tools=TOOLS, tool_choice=choice, system=SYSTEM, inference=INFERENCE,
                               timeout_s=6.5)
            stubber.assert_no_pending_responses()
            assert timeouts == [6.5]  # the client is built for what is left of the turn


def test_bedrock_leaves_out_what_was_not_asked_for():
    model, stubber, _ = bedrock("meta.llama3-1-8b-instruct-v1:0")  # no top-k field for this family
    stubber.add_response("converse", event("bedrock_two_tool_uses.json"), {
        "modelId": "meta.llama3-1-8b-instruct-v1:0", "messages": HISTORY[:1],
        "inferenceConfig": {"maxTokens": 512, "temperature": 1.0, "topP": 1.0}})
    model2, stubber2, _ = bedrock(NOVA)  # tools without a choice: no toolChoice
    stubber2.add_response("converse", event("bedrock_two_tool_uses.json"), {
        "modelId": NOVA, "messages": HISTORY[:1], "toolConfig": {"tools": TOOLS},
        "inferenceConfig": {"maxTokens": 512, "temperature": 1.0, "topP": 1.0},
        "additionalModelRequestFields": {"inferenceConfig": {"topK": 1}}})
    with stubber, stubber2:
        model.converse(HISTORY[:1], tool_choice=ANY)  # a choice without tools is dropped with them
        model2.converse(HISTORY[:1], tools=TOOLS)
    stubber.assert_no_pending_responses()
    stubber2.assert_no_pending_responses()


def test_bedrock_response_with_two_tool_uses():
    model, stubber, _ = bedrock()
    stubber.add_response("converse", event("bedrock_two_tool_uses.json"))
    with stubber:
        response = model.converse(HISTORY, tools=TOOLS, tool_choice=ANY, system=SYSTEM)
    assert response.stop_reason == STOP_TOOL_USE
    assert response.message == event("bedrock_two_tool_uses.json")["output"]["message"]
    assert [(u["toolUseId"], u["name"], u["input"]) for u in tool_uses(response.message)] == [
        ("tooluse_kZJMlvQmRJ6eAyJE5GIl7Q", "order_inquiry", {"order_id": "123456"}),
        ("tooluse_Qa1bNWVSTkq0k8lUQ3cJxw", "returns_inquiry", {"return_id": "R-7788"})]
    assert response.raw_text.startswith("<thinking>")


@pytest.mark.parametrize("code,status", [("ThrottlingException", 429), ("ModelErrorException", 424),
                                         ("ValidationException", 400), ("ServiceUnavailableException", 503)])
def test_bedrock_client_errors_name_their_code(code, status):
    model, stubber, _ = bedrock()
    stubber.add_client_error("converse", service_error_code=code, service_message="secret detail",
                             http_status_code=status)
    with stubber, pytest.raises(ModelError, match=f"^bedrock error {code}$") as caught:
        model.converse(HISTORY, tools=TOOLS)
    assert not isinstance(caught.value, ModelTimeout)


class FakeClient:
    """A client that answers ``answer``, raises ``error``, or first hangs for ``sleep_s`` (until the test ends)."""

    released = threading.Event()

    def __init__(self, answer: Any = None, error: Exception | None = None, sleep_s: float = 0.0) -> None:
        self.answer, self.error, self.sleep_s = answer, error, sleep_s

    def _call(self, **kwargs: Any) -> Any:
        if self.sleep_s:
            FakeClient.released.wait(self.sleep_s)
        if self.error:
            raise self.error
        return self.answer

    converse = invoke_endpoint = _call


@pytest.mark.parametrize("error", [ReadTimeoutError(endpoint_url="https://bedrock-runtime"),
                                   ConnectTimeoutError(endpoint_url="https://bedrock-runtime")])
def test_bedrock_socket_timeouts_are_model_timeouts(error):
    with pytest.raises(ModelTimeout):
        BedrockModel(NOVA, client_factory=lambda t: FakeClient(error=error)).converse(HISTORY, timeout_s=1)


def test_bedrock_whole_call_is_bounded_and_an_empty_answer_is_an_error():
    slow = BedrockModel(NOVA, client_factory=lambda t: FakeClient(answer={}, sleep_s=2))
    started = time.monotonic()
    with pytest.raises(ModelTimeout):
        slow.converse(HISTORY, timeout_s=0.2)
    assert time.monotonic() - started < 1
    with pytest.raises(ModelTimeout):
        slow.converse(HISTORY, timeout_s=0)
    for answer in ({"stopReason": "end_turn"}, {"output": {}, "stopReason": "end_turn"}, None):
        with pytest.raises(ModelError, match="no output.message"):
            BedrockModel(NOVA, client_factory=lambda t: FakeClient(answer=answer)).converse(HISTORY)


# --- OpenAI-compatible chat server ------------------------------------------------------------

class ChatServer:
    """A chat-completions server on 127.0.0.1 that answers whole bodies: ``server.answer`` is the JSON
    (or bytes) and ``server.status`` the status of every answer; ``server.requests`` what it was sent."""

    def __init__(self) -> None:
        self.answer: Any = chat_answer("ok")
        self.status = 200
        self.requests: list[tuple[str, dict[str, str], Any]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            timeout = 5  # a client that stalls cannot hold a handler thread for long

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(min(int(self.headers.get("Content-Length") or 0), 1_000_000))
                owner.requests.append((self.path, dict(self.headers), json.loads(raw)))
                body = owner.answer if isinstance(owner.answer, bytes) else json.dumps(owner.answer).encode()
                self.send_response(owner.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> "ChatServer":
        self.thread.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(1)


@pytest.fixture
def chat_server():
    with ChatServer() as server:
        yield server


EXPECTED_CHAT_MESSAGES = [
    {"role": "system", "content": SYSTEM},
    {"role": "user", "content": "Where is order 123456?"},
    {"role": "assistant", "content": "Let me look.", "tool_calls": [
        {"id": "t1", "type": "function", "function": {"name": "order_inquiry", "arguments": '{"order_id":"123456"}'}}]},
    {"role": "tool", "tool_call_id": "t1", "content": "Order 123456 shipped."},
    {"role": "user", "content": "And my return?"},
]
EXPECTED_CHAT_TOOLS = [
    {"type": "function", "function": {"name": "order_inquiry", "description": "Status of an order.",
                                      "parameters": ORDER_SCHEMA}},
    {"type": "function", "function": {"name": "returns_inquiry", "description": "Status of a return.",
                                      "parameters": RETURN_SCHEMA}},
]
EXPECTED_CHAT_CHOICE = {"auto": "auto", "any": "required",
                        "tool": {"type": "function", "function": {"name": "order_inquiry"}}}


@pytest.mark.parametrize("choice", CHOICES)
def test_openai_request_body_per_tool_choice(chat_server, choice):
    chat_server.answer = event("openai_tool_calls.json")
    model = OpenAIToolsModel(chat_server.base_url, "qwen2.5-1.5b-instruct", api_key="sk-test")
    model.converse(HISTORY, tools=TOOLS, tool_choice=CHOICES[choice], system=SYSTEM, inference=INFERENCE, timeout_s=5)
    [(path, headers, body)] = chat_server.requests
    assert path == "/v1/chat/completions"
    assert headers["Authorization"] == "Bearer sk-test"
    assert body == {"model": "qwen2.5-1.5b-instruct", "messages": EXPECTED_CHAT_MESSAGES, "tools": EXPECTED_CHAT_TOOLS,
                    "tool_choice": EXPECTED_CHAT_CHOICE[choice], "max_tokens": 300, "temperature": 0,
                    "stop": ["Customer:"]}


def test_chat_messages_edge_cases():
    history = [
        assistant([tool_use("a", "order_inquiry", {"order_id": "1"}), tool_use("b", "returns_inquiry", {})]),
        {"role": "user", "content": [tool_result("a", {"status": "shipped"}),  # data only: compact JSON
                                     tool_result("b", text="Refused: no return id.", status="error"),
                                     text_block("thanks")]},
    ]
    assert chat_request(history) == {"messages": [
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "a", "type": "function", "function": {"name": "order_inquiry", "arguments": '{"order_id":"1"}'}},
            {"id": "b", "type": "function", "function": {"name": "returns_inquiry", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "a", "content": '{"status":"shipped"}'},
        {"role": "tool", "tool_call_id": "b", "content": "Refused: no return id."},
        {"role": "user", "content": "thanks"},
    ], "max_tokens": 512, "temperature": 0}  # no tools: no tool_choice either, no model for SageMaker


def test_openai_structured_tool_calls_over_http(chat_server):
    chat_server.answer = event("openai_tool_calls.json")
    response = OpenAIToolsModel(chat_server.base_url, "m").converse(HISTORY, tools=TOOLS, tool_choice=ANY)
    assert response.stop_reason == STOP_TOOL_USE
    assert response.message == {"role": "assistant", "content": [
        tool_use("call_order_1", "order_inquiry", {"order_id": "123456"}),
        tool_use("call_return_2", "returns_inquiry", {"return_id": "R-7788"})]}
    assert response.raw_text is None
    assert "Authorization" not in chat_server.requests[0][1]  # no key, no header


def test_openai_qwen_tool_calls_in_content_over_http(chat_server):
    chat_server.answer = event("openai_qwen_tool_call_content.json")
    response = OpenAIToolsModel(chat_server.base_url, "m").converse(HISTORY, tools=TOOLS, tool_choice=AUTO)
    assert response.stop_reason == STOP_TOOL_USE
    content = response.message["content"]
    assert content[0] == {"text": "Let me check both for you."}
    assert [(u["name"], u["input"]) for u in tool_uses(response.message)] == [
        ("order_inquiry", {"order_id": "123456"}), ("returns_inquiry", {"return_id": "R-7788"})]
    assert all(u["toolUseId"].startswith("tooluse_") for u in tool_uses(response.message))
    assert len({u["toolUseId"] for u in tool_uses(response.message)}) == 2
    assert "<tool_call>" in response.raw_text


def test_openai_text_through_the_fault_stub():
    written = '{"name": "order_inquiry", "arguments": {"order_id": "123456"}}'
    with StubServer("openai", respond=lambda request: written) as stub:
        response = OpenAIToolsModel(stub.base_url, "m").converse(HISTORY, tools=TOOLS, tool_choice=ANY, timeout_s=3)
    assert [(u["name"], u["input"]) for u in tool_uses(response.message)] == [("order_inquiry", {"order_id": "123456"})]
    assert response.stop_reason == STOP_TOOL_USE  # finish_reason "stop", but a call was found


ORDER = ("order_inquiry", {"order_id": "123456"})
RETURN = ("returns_inquiry", {"return_id": "R-7788"})
WRITTEN_CALLS = {
    "tagged": ('<tool_call>\n{"name": "order_inquiry", "arguments": {"order_id": "123456"}}\n</tool_call>',
               [ORDER], ""),
    "tagged twice, doubled": (
        '<tool_call>\n{{"name": "order_inquiry", "arguments": {{"order_id": "123456"}}}}\n</tool_call>\n'
        '<tool_call>\n{"name": "returns_inquiry", "arguments": {"return_id": "R-7788"}}\n</tool_call>',
        [ORDER, RETURN], ""),
    "tag left open": ('<tool_call>\n{"name": "order_inquiry", "arguments": {"order_id": "123456"}}', [ORDER], ""),
    "bare object": ('{"name": "order_inquiry", "arguments": {"order_id": "123456"}}', [ORDER], ""),
    "bare list": ('[{"name": "order_inquiry", "arguments": {"order_id": "123456"}}, '
                  '{"name": "returns_inquiry", "arguments": {"return_id": "R-7788"}}]', [ORDER, RETURN], ""),
    "fenced": ('Sure.\n```json\n{"name": "order_inquiry", "arguments": {"order_id": "123456"}}\n```', [ORDER], "Sure."),
    "doubled braces": ('{{"name": "order_inquiry", "arguments": {{"order_id": "123456"}}}}', [ORDER], ""),
    "doubled outside only": ('{{"name": "order_inquiry", "arguments": {"order_id": "123456"}}}', [ORDER], ""),
    "arguments as a string": ('{"name": "order_inquiry", "arguments": "{\\"order_id\\": \\"123456\\"}"}', [ORDER], ""),
    "llama parameters": ('{"name": "order_inquiry", "parameters": {"order_id": "123456"}}', [ORDER], ""),
    "prose around": ('I will check. {"name": "order_inquiry", "arguments": {"order_id": "123456"}} One moment.',
                     [ORDER], "I will check. One moment."),
    "prose only": ("Your order shipped {on time}.", [], "Your order shipped {on time}."),
    "prose JSON, not a call": ('Example: {"name": "Ann"} and [1, 2]', [], 'Example: {"name": "Ann"} and [1, 2]'),
}


@pytest.mark.parametrize("case", WRITTEN_CALLS)
def test_tool_calls_written_as_text(case):
    text, calls, prose = WRITTEN_CALLS[case]
    assert text_tool_calls(text) == (calls, prose)


def test_unusable_tool_calls_are_model_errors():
    with pytest.raises(ModelError, match="<tool_call>"):
        text_tool_calls("<tool_call>\norder_inquiry(123456)\n</tool_call>")
    bad = [{"id": "c1", "type": "function", "function": {"name": "order_inquiry", "arguments": '{"order_id": '}}]
    with pytest.raises(ModelError, match="arguments"):
        parse_chat_response(chat_answer(None, bad, "tool_calls"))
    for payload in ({"choices": []}, {"error": "x"}, [], chat_answer(None), chat_answer("  ")):
        with pytest.raises(ModelError):
            parse_chat_response(payload)


def test_chat_response_stop_reasons_and_missing_ids():
    calls = [{"type": "function", "function": {"name": "order_inquiry", "arguments": {"order_id": "123456"}}}]
    response = parse_chat_response(chat_answer("", calls, "tool_calls"))  # no id, arguments as an object (Ollama)
    [use] = tool_uses(response.message)
    assert use["toolUseId"].startswith("tooluse_") and use["input"] == {"order_id": "123456"}
    assert response.stop_reason == STOP_TOOL_USE
    assert parse_chat_response(chat_answer("Your order", None, "length")).stop_reason == STOP_MAX_TOKENS
    done = parse_chat_response(chat_answer("Your order shipped.", None, "stop"))
    assert (done.message, done.stop_reason) == ({"role": "assistant", "content": [{"text": "Your order shipped."}]},
                                                STOP_END_TURN)


@pytest.mark.parametrize("fault,error,message", [
    ("http_503", ModelError, "^server answered HTTP 503$"),
    ("throttle", ModelError, "^server answered HTTP 429$"),
    ("malformed_json", ModelError, "unusable"),
    ("deep_json", ModelError, "nested too deeply"),
    ("huge_body", ModelError, "larger than"),
    ("empty_list", ModelError, "choices"),
    ("hang", ModelTimeout, "did not answer"),
    ("trickle", ModelTimeout, "did not answer"),  # every read is quick, the whole is not
])
def test_openai_faults_are_typed_and_bounded(fault, error, message):
    with StubServer("openai", fault=fault) as stub:
        started = time.monotonic()
        with pytest.raises(error, match=message):
            OpenAIToolsModel(stub.base_url, "m").converse(HISTORY, tools=TOOLS, timeout_s=0.6)
        assert time.monotonic() - started < 1.2


def test_openai_connect_that_never_completes_is_bounded():
    with StubServer("openai") as stub:
        stub.fault = "never_connect"
        started = time.monotonic()
        with pytest.raises(ModelTimeout):
            OpenAIToolsModel(stub.base_url, "m").converse(HISTORY, timeout_s=0.5)
        assert time.monotonic() - started < 1.1


def test_openai_unreachable_and_no_time_left():
    with ChatServer() as server:
        base_url = server.base_url
    with pytest.raises(ModelError, match="unreachable"):  # nobody listens there any more
        OpenAIToolsModel(base_url, "m").converse(HISTORY, timeout_s=2)
    with pytest.raises(ModelTimeout):
        OpenAIToolsModel(base_url, "m").converse(HISTORY, timeout_s=0)


# --- SageMaker Messages API -------------------------------------------------------------------

def _body(payload: Any) -> StreamingBody:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return StreamingBody(io.BytesIO(raw), len(raw))


def sagemaker():
    client = boto3.client("sagemaker-runtime", region_name="us-east-1")
    timeouts: list[float] = []

    def factory(timeout_s: float):
        timeouts.append(timeout_s)
        return client

    return SageMakerMessagesModel("qwen-lmi", client_factory=factory), Stubber(client), timeouts


@pytest.mark.parametrize("choice", CHOICES)
def test_sagemaker_messages_request_per_tool_choice(choice):
    model, stubber, timeouts = sagemaker()
    expected = {"messages": EXPECTED_CHAT_MESSAGES, "tools": EXPECTED_CHAT_TOOLS,
                "tool_choice": EXPECTED_CHAT_CHOICE[choice], "max_tokens": 300, "temperature": 0, "stop": ["Customer:"]}
    stubber.add_response("invoke_endpoint", {"Body": _body(event("openai_tool_calls.json")),
                                              "ContentType": "application/json"},
                         {"EndpointName": "qwen-lmi", "ContentType": "application/json", "Accept": "application/json",
                          "Body": json.dumps(expected).encode("utf-8")})
    with stubber:
        response = model.converse(HISTORY, tools=TOOLS, tool_choice=CHOICES[choice], system=SYSTEM,
                                  inference=INFERENCE, timeout_s=4.5)
    stubber.assert_no_pending_responses()
    assert timeouts == [4.5]
    assert response.stop_reason == STOP_TOOL_USE
    assert [u["toolUseId"] for u in tool_uses(response.message)] == ["call_order_1", "call_return_2"]


def test_sagemaker_messages_parses_tool_calls_written_as_text():
    model, stubber, _ = sagemaker()
    stubber.add_response("invoke_endpoint", {"Body": _body(event("openai_qwen_tool_call_content.json"))})
    with stubber:
        response = model.converse(HISTORY, tools=TOOLS, tool_choice=AUTO)
    assert response.message["content"][0] == {"text": "Let me check both for you."}
    assert [(u["name"], u["input"]) for u in tool_uses(response.message)] == [ORDER, RETURN]


def test_sagemaker_messages_errors():
    model, stubber, _ = sagemaker()
    stubber.add_client_error("invoke_endpoint", service_error_code="ModelError", http_status_code=424)
    stubber.add_client_error("invoke_endpoint", service_error_code="ThrottlingException", http_status_code=400)
    stubber.add_response("invoke_endpoint", {"Body": _body(b"x" * 300_000)})
    stubber.add_response("invoke_endpoint", {"Body": _body(b"[" * 50_000 + b"]" * 50_000)})
    with stubber:
        for match in ("^endpoint error ModelError$", "^endpoint error ThrottlingException$", "larger than", "deeply"):
            with pytest.raises(ModelError, match=match):
                model.converse(HISTORY)
    slow = SageMakerMessagesModel("e", client_factory=lambda t: FakeClient(sleep_s=2))
    with pytest.raises(ModelTimeout):
        slow.converse(HISTORY, timeout_s=0.2)
    timing_out = SageMakerMessagesModel("e", client_factory=lambda t: FakeClient(
        error=ReadTimeoutError(endpoint_url="https://runtime.sagemaker")))
    with pytest.raises(ModelTimeout):
        timing_out.converse(HISTORY, timeout_s=1)


# --- settings, registry, import cost ----------------------------------------------------------

def test_from_settings_builds_each_adapter_and_names_missing_variables():
    settings = SimpleNamespace(bedrock_model_id=NOVA, aws_region="eu-west-1", openai_model="qwen", openai_api_key="",
                               openai_base_url="http://127.0.0.1:8080/v1", sagemaker_endpoint_name="qwen-lmi")
    built = {name: build_model(name, settings) for name in ("bedrock", "openai", "sagemaker-messages")}
    assert {name: model.name for name, model in built.items()} == {
        "bedrock": "bedrock", "openai": "openai", "sagemaker-messages": "sagemaker-messages"}
    assert built["bedrock"].region == "eu-west-1" and built["openai"].url == "http://127.0.0.1:8080/v1/chat/completions"
    for name, variable in (("bedrock", "BEDROCK_MODEL_ID"), ("openai", "OPENAI_BASE_URL"),
                           ("sagemaker-messages", "SAGEMAKER_ENDPOINT_NAME")):
        with pytest.raises(ValueError, match=variable):
            build_model(name, SimpleNamespace())
    with pytest.raises(ValueError, match="OPENAI_MODEL"):
        build_model("openai", SimpleNamespace(openai_base_url="http://127.0.0.1:8080/v1"))


def test_importing_the_adapters_loads_no_boto3():
    code = ("import sys, orchestrator.models.bedrock, orchestrator.models.openai_tools, "
            "orchestrator.models.sagemaker_messages; print('boto3' in sys.modules, 'botocore' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False False"


def test_history_is_not_changed_by_a_call(chat_server):
    before = copy.deepcopy(HISTORY)
    chat_server.answer = event("openai_tool_calls.json")
    OpenAIToolsModel(chat_server.base_url, "m").converse(HISTORY, tools=TOOLS)
    assert HISTORY == before


def test_a_call_written_as_python_is_read_as_a_call():
    from orchestrator.models.wire_chat import text_tool_calls

    assert text_tool_calls("order_inquiry(order_id='123456')") == ([("order_inquiry", {"order_id": "123456"})], "")
    assert text_tool_calls('See `returns_inquiry(return_id="rtn001")`.')[0] == [("returns_inquiry", {"return_id": "rtn001"})]
    assert text_tool_calls("I will call get_it(x) later") == ([], "I will call get_it(x) later")
