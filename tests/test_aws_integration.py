"""The deployed shape under moto: tables as the template declares them, seeded by the template's
seeding code, and a Lex V2 event through the orchestrator with the Lambda transport (answered by
the real tool handlers behind a boto3-level fake) and the SageMaker backend (moto's canned results)."""
import io
import json

import boto3
import pytest
import requests
from botocore.response import StreamingBody
from moto import mock_aws

from orchestrator import aws, handler, memory
from orchestrator.samples import text_event
from orchestrator.settings import Settings, build_agent
from tests.cfn import load_template
from tools import seed

T = load_template()
TABLES = {"OrdersTable": "stack-OrdersTable-1", "ReturnsTable": "stack-ReturnsTable-1",
          "CustomersTable": "stack-CustomersTable-1", "ConversationsTable": "stack-ConversationsTable-1"}
FUNCTIONS = {"OrdersFunction": "stack-OrdersFunction-1", "ReturnsFunction": "stack-ReturnsFunction-1",
             "CustomersFunction": "stack-CustomersFunction-1", "CancelOrderFunction": "stack-CancelOrderFunction-1"}


def resolve(value):
    """The deployed value of a template expression, as CloudFormation would give it here."""
    if isinstance(value, dict) and "Ref" in value:
        return {**TABLES, **FUNCTIONS, "AgentPlanner": "fewshot", "MaxSteps": "2", "LogLevel": "INFO",
                "SageMakerPayloadFormat": "jumpstart", "EndpointName": "lex-agent-flan-ul2",
                "MetricsNamespace": "LexLlmAgent", "ConversationTtlHours": "24", "ModelAdapter": "flan",
                "CognitoIssuer": "", "CognitoAudience": "", "AnonymousLookups": "true",
                "AWS::NoValue": None}[value["Ref"]]
    if isinstance(value, dict) and "Fn::If" in value:
        return resolve(value["Fn::If"][2])  # CreateEndpoint=false: the parameter's endpoint name
    return value


def function_env(logical):
    variables = T["Resources"][logical]["Properties"]["Environment"]["Variables"]
    return {k: str(resolve(v)) for k, v in variables.items() if resolve(v) is not None}


@pytest.fixture
def stack(monkeypatch):
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        for logical, name in TABLES.items():
            props = T["Resources"][logical]["Properties"]
            indexes = {"GlobalSecondaryIndexes": props["GlobalSecondaryIndexes"]} if "GlobalSecondaryIndexes" in props else {}
            client.create_table(TableName=name, KeySchema=props["KeySchema"],
                                AttributeDefinitions=props["AttributeDefinitions"], BillingMode=props["BillingMode"],
                                **indexes)
            if "TimeToLiveSpecification" in props:
                client.update_time_to_live(TableName=name, TimeToLiveSpecification=props["TimeToLiveSpecification"])
        yield client


def _seed_event():
    return {"RequestType": "Create", "ResponseURL": "https://cloudformation-custom-resource-response.example/x",
            "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/s/1", "RequestId": "r1",
            "LogicalResourceId": "SampleData", "ResourceProperties": {}}


def test_seeding_custom_resource_is_idempotent_and_always_answers(stack, monkeypatch):
    for key, value in function_env("SeedFunction").items():
        monkeypatch.setenv(key, value)
    answers = []
    opener = lambda request, timeout: answers.append((request.get_method(), json.loads(request.data)))  # noqa: E731
    seed.lambda_handler(_seed_event(), None, opener=opener)
    seed.lambda_handler({**_seed_event(), "RequestType": "Update", "PhysicalResourceId": "sample-data-seed"},
                        None, opener=opener)
    (method, first), (_, second) = answers
    assert method == "PUT" and first["Status"] == "SUCCESS"
    assert first["Data"] == {"ordersWritten": 24 + 38, "returnsWritten": 12, "customersWritten": 34}
    assert second["Data"] == {"ordersWritten": 0, "returnsWritten": 0, "customersWritten": 0}
    monkeypatch.setenv("ORDERS_TABLE", "no-such-table")
    seed.lambda_handler(_seed_event(), None, opener=opener)
    assert answers[-1][1]["Status"] == "FAILED" and "seeding failed" in answers[-1][1]["Reason"]


class ToolLambdas:
    """boto3 Lambda client stand-in: runs the real tool handler with its template environment."""

    def __init__(self, monkeypatch):
        self.monkeypatch = monkeypatch
        self.invocations = []

    def invoke(self, FunctionName, InvocationType, Payload):
        logical = {v: k for k, v in FUNCTIONS.items()}[FunctionName]
        module, _, attr = T["Resources"][logical]["Properties"]["Handler"].rpartition(".")
        with self.monkeypatch.context() as patch:
            for key, value in function_env(logical).items():
                patch.setenv(key, value)
            import importlib

            result = getattr(importlib.import_module(module), attr)(json.loads(Payload), None)
        self.invocations.append((FunctionName, json.loads(Payload)))
        raw = json.dumps(result).encode()
        return {"StatusCode": 200, "Payload": StreamingBody(io.BytesIO(raw), len(raw))}


def _queue_model_replies(*texts):
    results = [{"Body": json.dumps({"generated_texts": [t]}), "ContentType": "application/json",
                "InvokedProductionVariant": "AllTraffic", "CustomAttributes": ""} for t in texts]
    response = requests.post("http://motoapi.amazonaws.com/moto-api/static/sagemaker/endpoint-results",
                             json={"account_id": "123456789012", "region": "us-east-1", "results": results})
    assert response.status_code == 201


def test_lex_event_through_the_deployed_shape(stack, monkeypatch):
    seed.seed_tables({"orders": TABLES["OrdersTable"], "returns": TABLES["ReturnsTable"],
                      "customers": TABLES["CustomersTable"]})
    monkeypatch.setenv("STORE_PATH", "/nonexistent/never-used.sqlite3")  # the tools must read DynamoDB
    for key, value in function_env("OrchestratorFunction").items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    lambdas = ToolLambdas(monkeypatch)
    real_client = aws.client
    monkeypatch.setattr(aws, "client", lambda service, t, region=None: lambdas if service == "lambda"
                        else real_client(service, t, region))
    _queue_model_replies("order_inquiry", "yes")
    settings = Settings.from_env()
    assert (settings.planner, settings.backend, settings.transport) == ("fewshot", "sagemaker", "lambda")
    handler.set_agent(build_agent(settings))
    handler.set_store(None)  # the conversation store the template's environment names (DynamoDB, here under moto)
    try:
        response = handler.lambda_handler(text_event("Could you tell me if order 123456 has shipped?"), None)
    finally:
        handler.set_agent(None)
        handler.set_store(None)
    assert "Herbal Handsoap" in response["messages"][0]["content"]
    assert response["sessionState"]["intent"]["state"] == "Fulfilled"
    assert lambdas.invocations == [(FUNCTIONS["OrdersFunction"], {"orderId": "123456"})]


def test_the_orchestrator_keeps_conversations_in_the_stacks_table(stack):
    store = memory.store_from_env(function_env("OrchestratorFunction"))
    key = memory.conversation_key("session-1", "BOT", "ALIAS", "en_US")
    turn = [{"role": "user", "content": [{"text": "Where is order 123456?"}]},
            {"role": "assistant", "content": [{"text": "It shipped."}]}]
    assert memory.save_turn(store, key, store.load(key), turn) == 1
    assert store.load(key) == memory.Conversation(turn, 1)
    item = stack.get_item(TableName=TABLES["ConversationsTable"], Key={"conversationId": {"S": key}})["Item"]
    assert set(item) == {"conversationId", "messages", "version", "expiresAt"}
    ttl = stack.describe_time_to_live(TableName=TABLES["ConversationsTable"])["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expiresAt"}


def test_the_account_tools_in_the_deployed_shape(stack, monkeypatch):
    """get_user, the order list and cancel_order, each with only its own template environment."""
    with monkeypatch.context() as patch:
        for key, value in function_env("SeedFunction").items():
            patch.setenv(key, value)
        seed.lambda_handler(_seed_event(), None, opener=lambda request, timeout: None)
    monkeypatch.setenv("STORE_PATH", "/nonexistent/never-used.sqlite3")  # the tools must read DynamoDB
    lambdas = ToolLambdas(monkeypatch)

    def call(function, event):
        response = lambdas.invoke(FunctionName=FUNCTIONS[function], InvocationType="RequestResponse",
                                  Payload=json.dumps(event))
        return json.loads(response["Payload"].read())

    user = call("CustomersFunction", {"email": " AnaCarolina_Silva@Example.COM "})
    assert (user["statusCode"], user["body"]) == (200, "Found the account of Ana Carolina Silva.")
    customer = user["data"]["customerId"]
    listed = call("OrdersFunction", {"customerId": customer})
    assert listed["body"] == "You have 2 orders: 86420 (Fitness Tracker, Delivered) and 81695 (Wireless Keyboard, Processing)."
    key = "retry-safe-key-0001"
    first = call("CancelOrderFunction", {"orderId": "81695", "customerId": customer, "idempotencyKey": key})
    again = call("CancelOrderFunction", {"orderId": "81695", "customerId": customer, "idempotencyKey": key})
    assert (first["statusCode"], first["data"]["replayed"], again["statusCode"], again["data"]["replayed"]) == (
        200, False, 200, True)
    assert first["data"]["cancelledAt"] == again["data"]["cancelledAt"]  # one change, reported twice
    assert call("OrdersFunction", {"orderId": "81695"})["body"].endswith("was cancelled.")
    assert call("CancelOrderFunction", {"orderId": "54321", "customerId": customer,
                                        "idempotencyKey": key})["statusCode"] == 404  # Arnav Desai's
    arnav = call("CustomersFunction", {"phone": "(312) 555-8204"})["data"]["customerId"]
    shipped = call("CancelOrderFunction", {"orderId": "54321", "customerId": arnav, "idempotencyKey": key})
    assert (shipped["statusCode"], shipped["body"]) == (409, "Order 54321 has already shipped, so it can't be cancelled.")
