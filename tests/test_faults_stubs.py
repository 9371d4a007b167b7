"""Self-tests of the fault stubs (tests/faults.py), through the real botocore and urllib clients."""
from __future__ import annotations

import http.client
import json
import socket
import threading
import time
import urllib.error
import urllib.request

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectTimeoutError, ReadTimeoutError

from tests.faults import FAULTS, LEAKED_ARN, StubServer, fault_response, stub_env, use_stubs

PROTOCOLS = ["sagemaker", "lambda", "openai"]
RESPONDERS = {
    "sagemaker": lambda request: {"generated_texts": [f"echo {request['text_inputs']}"]},
    "lambda": lambda request: {"statusCode": 200, "body": f"order {request['order_id']} shipped", "data": {"n": 1}},
    "openai": lambda request: f"echo {request['messages'][-1]['content']}",
}
REQUESTS = {
    "sagemaker": {"text_inputs": "hi", "max_length": 20, "do_sample": False},
    "lambda": {"order_id": "A1"},
    "openai": {"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 20},
}


def aws_client(service: str, url: str, *, read_timeout: float = 1, connect_timeout: float = 1):
    config = Config(retries={"total_max_attempts": 1}, connect_timeout=connect_timeout, read_timeout=read_timeout)
    return boto3.client(service, endpoint_url=url, region_name="us-east-1", config=config,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def call(stub: StubServer, *, timeout: float = 1, connect_timeout: float = 1, stream: bool = False):
    """One call through the real client of the stub's protocol: the body's bytes, or the open stream."""
    payload = json.dumps(REQUESTS[stub.protocol]).encode()
    if stub.protocol == "openai":
        request = urllib.request.Request(stub.base_url + "/chat/completions", data=payload, method="POST",
                                         headers={"Content-Type": "application/json"})
        response = urllib.request.urlopen(request, timeout=timeout)
        if stream:
            return response
        with response:
            return response.read()
    if stub.protocol == "sagemaker":
        client = aws_client("sagemaker-runtime", stub.url, read_timeout=timeout, connect_timeout=connect_timeout)
        response = client.invoke_endpoint(EndpointName="flan-ul2", ContentType="application/json", Body=payload)
        return response["Body"] if stream else response["Body"].read()
    client = aws_client("lambda", stub.url, read_timeout=timeout, connect_timeout=connect_timeout)
    response = client.invoke(FunctionName="order-status", InvocationType="RequestResponse", Payload=payload)
    return response["Payload"] if stream else response["Payload"].read()


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_healthy_call_returns_what_respond_gave(protocol):
    with StubServer(protocol, respond=RESPONDERS[protocol]) as stub:
        body = json.loads(call(stub))
        expected = RESPONDERS[protocol](REQUESTS[protocol])
        if protocol == "openai":
            assert body["choices"][0]["message"] == {"role": "assistant", "content": expected}
        else:
            assert body == expected
        ((path, seen),) = stub.requests
        assert seen == REQUESTS[protocol]
        assert path.endswith({"sagemaker": "/endpoints/flan-ul2/invocations", "openai": "/v1/chat/completions",
                              "lambda": "/2015-03-31/functions/order-status/invocations"}[protocol])


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_hang_times_out_the_read(protocol):
    with StubServer(protocol, fault="hang") as stub:
        started = time.monotonic()
        with pytest.raises((ReadTimeoutError, TimeoutError)):
            call(stub, timeout=0.5)
        assert 0.4 < time.monotonic() - started < 1.5
        assert len(stub.requests) == 1  # the request was read in full


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_trickle_answers_quickly_but_never_finishes(protocol):
    with StubServer(protocol, fault="trickle") as stub:
        started = time.monotonic()
        stream = call(stub, timeout=0.5, stream=True)  # each read well within 0.5 s
        assert stream.read(1) == b" "
        assert time.monotonic() - started < 0.5
        received = 1
        while time.monotonic() - started < 1.0:
            received += len(stream.read(1))
        assert 2 <= received < 50  # of 1500 bytes
        exiting = time.monotonic()
    assert time.monotonic() - exiting < 1.0
    stream.close()


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_never_connect_times_out_the_connect_then_recovers(protocol):
    with StubServer(protocol, fault="never_connect") as stub:
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            socket.create_connection((stub.host, stub.port), timeout=0.5)
        assert 0.4 < time.monotonic() - started < 1.5
        started = time.monotonic()
        with pytest.raises((ConnectTimeoutError, urllib.error.URLError, TimeoutError)):
            call(stub, timeout=0.5, connect_timeout=0.5)
        assert 0.4 < time.monotonic() - started < 1.5
        stub.fault = "ok"
        assert json.loads(call(stub))
        assert len(stub.requests) == 1


@pytest.mark.parametrize("protocol, status, code", [
    ("sagemaker", 400, "ThrottlingException"), ("lambda", 429, "TooManyRequestsException")])
def test_throttle_raises_the_service_error(protocol, status, code):
    with StubServer(protocol, fault="throttle") as stub:
        with pytest.raises(ClientError) as raised:
            call(stub)
    assert raised.value.response["Error"]["Code"] == code
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == status


def test_throttle_is_http_429_for_openai():
    with StubServer("openai", fault="throttle") as stub:
        with pytest.raises(urllib.error.HTTPError) as raised:
            call(stub)
    raised.value.close()
    assert raised.value.code == 429 and raised.value.headers["Retry-After"] == "1"


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_deep_json_makes_json_loads_recurse_too_deep(protocol):
    with StubServer(protocol, fault="deep_json") as stub:
        body = call(stub)
    with pytest.raises(RecursionError):
        json.loads(body)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_canned_faults_reach_the_real_client(protocol):
    """Every fault answered in one go arrives through the real client as the protocol would send it."""
    with StubServer(protocol) as stub:
        for fault in ("malformed_json", "empty_body", "huge_body", "empty_list", "empty_text", "error_text"):
            if fault not in FAULTS[protocol]:
                continue
            stub.fault = fault
            body = call(stub)
            if fault == "malformed_json":
                with pytest.raises(ValueError):
                    json.loads(body)
            elif fault == "empty_body":
                assert body == b""
            elif fault == "huge_body":
                assert len(body) > 1_000_000 and json.loads(body) and LEAKED_ARN.encode() in body
            elif fault == "empty_list":
                assert json.loads(body) in ({"generated_texts": []}, {"choices": []})
            elif fault == "empty_text":
                answer = json.loads(body)
                assert answer.get("generated_texts") == [""] or answer["choices"][0]["message"]["content"] == ""
            elif fault == "error_text":
                answer = json.loads(body)
                assert answer["statusCode"] == 400 and LEAKED_ARN in answer["body"]
        stub.fault = "ok"
        stub.queue("http_500", "http_503")  # the next two calls, then stub.fault again
        for status in (500, 503):
            with pytest.raises((ClientError, urllib.error.HTTPError)) as raised:
                call(stub)
            error = raised.value
            if isinstance(error, urllib.error.HTTPError):
                error.close()
            assert getattr(error, "code", None) == status or \
                error.response["ResponseMetadata"]["HTTPStatusCode"] == status
        assert json.loads(call(stub))


def test_lambda_function_error_sets_the_header():
    with StubServer("lambda", fault="function_error") as stub:
        response = aws_client("lambda", stub.url).invoke(FunctionName="order-status", Payload=b"{}")
        payload = json.loads(response["Payload"].read())
    assert response["StatusCode"] == 200 and response["FunctionError"] == "Unhandled"
    assert response["ExecutedVersion"] == "$LATEST"
    assert LEAKED_ARN in payload["errorMessage"]


def test_every_fault_is_known_to_the_stub():
    for protocol, faults in FAULTS.items():
        for fault in faults:
            if fault not in ("hang", "trickle", "never_connect"):
                status, _, _ = fault_response(protocol, fault, REQUESTS[protocol], RESPONDERS[protocol])
                assert 200 <= status < 600
        with pytest.raises(ValueError):
            StubServer(protocol, fault="no_such_fault")
    assert fault_response("sagemaker", "empty_list", {"inputs": "hi"}, RESPONDERS["sagemaker"])[2] == b"[]"


def test_exit_with_a_hung_request_in_flight_is_quick():
    outcome: list[object] = []

    def hung_call(port: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            connection.request("POST", "/endpoints/e/invocations", body=b"{}")
            outcome.append(connection.getresponse().status)
        except (OSError, http.client.HTTPException) as exc:
            outcome.append(exc)

    with StubServer("sagemaker", fault="hang") as stub:
        client = threading.Thread(target=hung_call, args=(stub.port,), daemon=True)
        client.start()
        for _ in range(100):  # until the stub has read the request
            if stub.requests:
                break
            time.sleep(0.01)
        assert stub.requests
        exiting = time.monotonic()
    assert time.monotonic() - exiting < 1.0
    client.join(1.0)
    assert outcome and isinstance(outcome[0], Exception)  # closed on the client, not answered
    assert all(not thread.is_alive() for thread in stub._threads)


def test_exit_with_a_clogged_listener_is_quick():
    with StubServer("lambda", fault="never_connect") as stub:
        exiting = time.monotonic()
    assert time.monotonic() - exiting < 1.0
    assert not stub._fillers and all(not thread.is_alive() for thread in stub._threads)


def test_env_points_botocore_and_the_orchestrator_at_the_stubs(monkeypatch):
    with StubServer("sagemaker", respond=lambda request: {"generated_texts": ["from the stub"]}) as model, \
            StubServer("lambda") as tools:
        env = use_stubs(monkeypatch, sagemaker=model, lambda_=tools)
        assert env == stub_env(sagemaker=model, lambda_=tools)
        assert boto3.client("lambda", region_name="us-east-1").meta.endpoint_url == tools.url
        from orchestrator.llm.sagemaker import SageMakerLLM

        assert SageMakerLLM("flan-ul2").generate("hi", timeout_s=2) == "from the stub"
        assert model.requests[0][0] == "/endpoints/flan-ul2/invocations"
