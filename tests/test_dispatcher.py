import io
import json
import time

import boto3
from botocore.exceptions import ReadTimeoutError
from botocore.response import StreamingBody
from botocore.stub import Stubber

from orchestrator.budget import Deadline
from orchestrator.dispatcher import InProcessTransport, LambdaTransport, dispatch, result_from_response
from orchestrator.parser import ToolCall
from orchestrator.registry import DEFAULT_REGISTRY as REGISTRY

ORDER = REGISTRY.get("order_inquiry")
RETURN = REGISTRY.get("returns_inquiry")


def _payload(obj) -> StreamingBody:
    raw = json.dumps(obj).encode()
    return StreamingBody(io.BytesIO(raw), len(raw))


def test_in_process_calls_the_real_tool_handlers():
    result = InProcessTransport().invoke(ORDER, {"orderId": "123456"}, 5)
    assert result.status_code == 200 and "Herbal Handsoap" in result.body
    assert InProcessTransport().invoke(RETURN, {"returnId": "rtn123"}, 5).status_code == 404


def test_in_process_timeout_and_crash_are_values():
    slow = InProcessTransport({"order_inquiry": lambda event, ctx: time.sleep(0.5) or {}})
    assert slow.invoke(ORDER, {"orderId": "123456"}, 0.05).status_code == 504
    crash = InProcessTransport({"order_inquiry": lambda event, ctx: 1 / 0})
    result = crash.invoke(ORDER, {"orderId": "123456"}, 1)
    assert result.status_code == 502 and "ZeroDivisionError" in result.error


def test_lambda_transport_invokes_the_named_function_with_the_tool_payload():
    client = boto3.client("lambda", region_name="us-east-1")
    stubber = Stubber(client)
    stubber.add_response(
        "invoke",
        {"StatusCode": 200, "Payload": _payload({"statusCode": 200, "body": "Order 123456 shipped.", "data": {}})},
        {"FunctionName": "stack-OrdersFunction-1", "InvocationType": "RequestResponse",
         "Payload": json.dumps({"orderId": "123456"}).encode()},
    )
    timeouts = []
    transport = LambdaTransport({"ORDERS_FUNCTION_NAME": "stack-OrdersFunction-1"},
                                client_factory=lambda t: timeouts.append(t) or client)
    with stubber:
        result = transport.invoke(ORDER, {"orderId": "123456"}, 4.0)
    assert result.status_code == 200 and result.body == "Order 123456 shipped."
    assert timeouts == [4.0]


def test_lambda_transport_failures_are_values():
    client = boto3.client("lambda", region_name="us-east-1")
    stubber = Stubber(client)
    stubber.add_response("invoke", {"StatusCode": 200, "FunctionError": "Unhandled",
                                    "Payload": _payload({"errorMessage": "boom"})})
    stubber.add_client_error("invoke", service_error_code="AccessDeniedException", http_status_code=403)
    stubber.add_response("invoke", {"StatusCode": 200, "Payload": _payload({"unexpected": True})})
    transport = LambdaTransport({"ORDERS_FUNCTION_NAME": "f"}, client_factory=lambda t: client)
    with stubber:
        assert "Unhandled" in transport.invoke(ORDER, {"orderId": "123456"}, 1).error
        assert "AccessDenied" in transport.invoke(ORDER, {"orderId": "123456"}, 1).error
        assert transport.invoke(ORDER, {"orderId": "123456"}, 1).status_code == 502
    assert "RETURNS_FUNCTION_NAME" in LambdaTransport({}).invoke(RETURN, {"returnId": "rtn001"}, 1).error

    class Slow:
        def invoke(self, **kwargs):
            raise ReadTimeoutError(endpoint_url="https://lambda")

    assert LambdaTransport({"ORDERS_FUNCTION_NAME": "f"}, client_factory=lambda t: Slow()).invoke(
        ORDER, {"orderId": "123456"}, 1).status_code == 504


def test_result_must_follow_the_tool_contract():
    assert result_from_response({"statusCode": 404, "body": "no", "data": {}}).status_code == 404
    for bad in (None, [], {"statusCode": "200", "body": "x"}, {"statusCode": 200, "body": None}):
        assert result_from_response(bad).status_code == 502


class Recorder:
    name = "recorder"

    def __init__(self):
        self.calls = []

    def invoke(self, tool, payload, timeout_s):
        self.calls.append((tool.name, payload))
        from orchestrator.turn import ToolResult

        return ToolResult(200, "ok")


def test_dispatch_refuses_forged_calls_and_expired_deadlines():
    transport = Recorder()
    bad = ToolCall(ORDER, {"order_id": "not-an-id"})
    assert dispatch(bad, REGISTRY, transport, Deadline(5)).status_code == 400
    good = ToolCall(ORDER, {"order_id": "123456"})
    assert dispatch(good, REGISTRY, transport, Deadline(0)).status_code == 504
    assert transport.calls == []
    assert dispatch(good, REGISTRY, transport, Deadline(5)).ok
    assert transport.calls == [("order_inquiry", {"orderId": "123456"})]
