import io
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import boto3
import pytest
import requests
from botocore.exceptions import ReadTimeoutError
from botocore.response import StreamingBody
from botocore.stub import Stubber
from moto import mock_aws

from orchestrator.llm import LLMError, LLMTimeout, build_backend
from orchestrator.llm.openai_compat import OpenAICompatibleLLM
from orchestrator.llm.sagemaker import SageMakerLLM, build_request, parse_response
from orchestrator.llm.scripted import ScriptedLLM
from orchestrator.settings import Settings


def _body(payload) -> StreamingBody:
    raw = json.dumps(payload).encode()
    return StreamingBody(io.BytesIO(raw), len(raw))


def _stubbed(payload_format="jumpstart"):
    client = boto3.client("sagemaker-runtime", region_name="us-east-1")
    stubber = Stubber(client)
    timeouts = []

    def factory(timeout_s):
        timeouts.append(timeout_s)
        return client

    return SageMakerLLM("flan-ul2-endpoint", payload_format=payload_format, client_factory=factory), stubber, timeouts


def test_sagemaker_sends_the_jumpstart_v1_body_greedy():
    llm, stubber, timeouts = _stubbed()
    expected_body = json.dumps({"text_inputs": "Q?", "max_length": 10, "do_sample": False}).encode()
    stubber.add_response(
        "invoke_endpoint",
        {"Body": _body({"generated_texts": ["order_inquiry"]}), "ContentType": "application/json"},
        {"EndpointName": "flan-ul2-endpoint", "ContentType": "application/json", "Accept": "application/json",
         "Body": expected_body},
    )
    with stubber:
        assert llm.generate("Q?", max_tokens=10, stop=["\n"], timeout_s=7.5) == "order_inquiry"
    stubber.assert_no_pending_responses()
    assert timeouts == [7.5]  # the client is built for what is left of the turn


def test_sagemaker_tgi_format_and_stop_sequences():
    assert build_request("Q?", max_tokens=5, stop=["\n", "Question:"], payload_format="tgi") == {
        "inputs": "Q?", "parameters": {"max_new_tokens": 5, "do_sample": False, "stop": ["Question:"]}}
    llm, stubber, _ = _stubbed("tgi")
    stubber.add_response("invoke_endpoint", {"Body": _body([{"generated_text": "returns_inquiry\nQuestion: x"}])})
    with stubber:
        assert llm.generate("Q?", stop=["\n"]) == "returns_inquiry"


@pytest.mark.parametrize("body", [{"generated_texts": []}, {"unexpected": 1}, [], "text"])
def test_sagemaker_rejects_bodies_without_text(body):
    with pytest.raises(LLMError):
        parse_response(body)


def test_sagemaker_model_error_and_timeout_become_typed_errors():
    llm, stubber, _ = _stubbed()
    stubber.add_client_error("invoke_endpoint", service_error_code="ModelError", http_status_code=424)
    with stubber, pytest.raises(LLMError, match="ModelError"):
        llm.generate("Q?")

    class Slow:
        def invoke_endpoint(self, **kwargs):
            raise ReadTimeoutError(endpoint_url="https://runtime.sagemaker")

    slow = SageMakerLLM("e", client_factory=lambda t: Slow())
    with pytest.raises(LLMTimeout):
        slow.generate("Q?", timeout_s=1)
    with pytest.raises(LLMTimeout):
        slow.generate("Q?", timeout_s=0)


def test_sagemaker_rejects_bad_configuration():
    with pytest.raises(ValueError, match="endpoint name"):
        SageMakerLLM("")
    with pytest.raises(ValueError, match="payload format"):
        SageMakerLLM("e", payload_format="v3")


def test_sagemaker_against_moto_canned_results():
    """moto's sagemaker-runtime answers with results queued through its static API."""
    with mock_aws():
        queued = {"account_id": "123456789012", "region": "us-east-1", "results": [
            {"Body": json.dumps({"generated_texts": ["returns_inquiry"]}), "ContentType": "application/json",
             "InvokedProductionVariant": "AllTraffic", "CustomAttributes": ""}]}
        response = requests.post("http://motoapi.amazonaws.com/moto-api/static/sagemaker/endpoint-results", json=queued)
        assert response.status_code == 201
        llm = build_backend("sagemaker", Settings(backend="sagemaker", sagemaker_endpoint_name="flan-ul2",
                                                  aws_region="us-east-1"))
        assert llm.generate("Which tool?", timeout_s=5) == "returns_inquiry"


class _ChatServer(BaseHTTPRequestHandler):
    requests: list = []
    reply: dict = {}
    status = 200

    def do_POST(self):
        length = int(self.headers["Content-Length"])
        type(self).requests.append((self.path, self.headers.get("Authorization"), json.loads(self.rfile.read(length))))
        body = json.dumps(self.reply).encode()
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def chat_server():
    _ChatServer.requests = []
    _ChatServer.status = 200
    _ChatServer.reply = {"choices": [{"message": {"role": "assistant", "content": " order_inquiry\nmore"}}]}
    server = HTTPServer(("127.0.0.1", 0), _ChatServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/v1", _ChatServer
    server.shutdown()


def test_openai_compatible_request_and_reply(chat_server):
    url, server = chat_server
    llm = OpenAICompatibleLLM(url + "/", "flan", api_key="sk-test")
    assert llm.generate("Which tool?", max_tokens=7, stop=["\n"], timeout_s=5) == "order_inquiry"
    path, auth, body = server.requests[0]
    assert path == "/v1/chat/completions" and auth == "Bearer sk-test"
    # "\n" is applied here, after leading blank lines, not by the server (which would stop at them).
    assert body == {"model": "flan", "messages": [{"role": "user", "content": "Which tool?"}], "max_tokens": 7,
                    "temperature": 0}


def test_a_reply_that_starts_with_blank_lines_is_not_cut_to_nothing(chat_server):
    url, server = chat_server
    server.reply = {"choices": [{"message": {"content": "\n\nreturns_inquiry\nQuestion: next"}}]}
    assert OpenAICompatibleLLM(url, "m").generate("Which tool?", stop=["\n"]) == "returns_inquiry"


def test_openai_compatible_errors(chat_server):
    url, server = chat_server
    server.status = 500
    with pytest.raises(LLMError, match="HTTP 500"):
        OpenAICompatibleLLM(url, "m").generate("x")
    server.status, server.reply = 200, {"choices": []}
    with pytest.raises(LLMError, match="choices"):
        OpenAICompatibleLLM(url, "m").generate("x")
    with pytest.raises(LLMError, match="unreachable"):
        OpenAICompatibleLLM("http://127.0.0.1:9/v1", "m").generate("x", timeout_s=2)
    with pytest.raises(ValueError, match="OPENAI_MODEL"):
        OpenAICompatibleLLM(url, "")


def test_openai_compatible_timeout():
    silent = HTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)  # accepts, never answers
    try:
        with pytest.raises(LLMTimeout):
            OpenAICompatibleLLM(f"http://127.0.0.1:{silent.server_port}/v1", "m").generate("x", timeout_s=0.3)
    finally:
        silent.server_close()


def test_scripted_backend_replays_raises_and_records():
    llm = ScriptedLLM(["a\nb", LLMTimeout("slow"), lambda prompt: prompt.upper()])
    assert llm.generate("p1", stop=["\n"]) == "a"
    with pytest.raises(LLMTimeout):
        llm.generate("p2")
    assert llm.generate("p3") == "P3"
    with pytest.raises(LLMError):
        llm.generate("p4")
    assert llm.prompts == ["p1", "p2", "p3", "p4"]


def test_unknown_backend_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown LLM backend 'bedrock'"):
        build_backend("bedrock", Settings())


def test_system_instructions_reach_each_backend(chat_server):
    from orchestrator.llm import with_system

    url, server = chat_server
    OpenAICompatibleLLM(url, "m").generate("Has 123456 shipped?", system="You are a tool router.")
    assert server.requests[-1][2]["messages"] == [{"role": "system", "content": "You are a tool router."},
                                                  {"role": "user", "content": "Has 123456 shipped?"}]
    # text2text endpoints have no roles: the instructions come first, then the turn
    assert with_system("turn", "rules") == "rules\n\nturn" and with_system("turn", "") == "turn"
    llm, stubber, _ = _stubbed()
    stubber.add_response("invoke_endpoint", {"Body": _body({"generated_texts": ["[]"]})},
                         {"EndpointName": "flan-ul2-endpoint", "ContentType": "application/json",
                          "Accept": "application/json",
                          "Body": json.dumps({"text_inputs": "rules\n\nturn", "max_length": 5, "do_sample": False}).encode()})
    with stubber:
        assert llm.generate("turn", system="rules", max_tokens=5) == "[]"
