"""Structural checks of template.yaml: what a reviewer would verify by reading it."""
import re

import pytest

from orchestrator.registry import DEFAULT_REGISTRY
from orchestrator.settings import Settings
from tests.cfn import iam_statements, load_template, resources
from tools.store import TABLE_KEYS

T = load_template()
R = T["Resources"]
ORCHESTRATOR_ARN = {"Fn::GetAtt": ["OrchestratorFunction", "Arn"]}


def env(function):
    return R[function]["Properties"]["Environment"]["Variables"]


def test_fallback_intent_hook_is_enabled_next_to_an_ordinary_intent():
    [locale] = R["SupportBot"]["Properties"]["BotLocales"]
    assert locale["LocaleId"] == "en_US"
    intents = {i["Name"]: i for i in locale["Intents"]}
    fallback = intents.pop("FallbackIntent")
    assert fallback["ParentIntentSignature"] == "AMAZON.FallbackIntent"
    assert fallback["FulfillmentCodeHook"] == {"Enabled": True}
    assert intents and all(i["SampleUtterances"] for i in intents.values())


def _code_hook(settings):
    [locale] = settings
    assert locale["LocaleId"] == "en_US" and locale["BotAliasLocaleSetting"]["Enabled"] is True
    return locale["BotAliasLocaleSetting"]["CodeHookSpecification"]["LambdaCodeHook"]


def test_live_and_test_aliases_call_the_orchestrator():
    live = R["SupportBotLiveAlias"]["Properties"]
    assert live["BotAliasName"] == "live"
    assert live["BotVersion"] == {"Fn::GetAtt": ["SupportBotVersion", "BotVersion"]}
    for settings in (live["BotAliasLocaleSettings"],
                     R["SupportBot"]["Properties"]["TestBotAliasSettings"]["BotAliasLocaleSettings"]):
        hook = _code_hook(settings)
        assert hook["LambdaArn"] == ORCHESTRATOR_ARN and hook["CodeHookInterfaceVersion"] == "1.0"


def test_lex_permission_is_scoped_to_this_bots_aliases():
    [(name, permission)] = resources(T, "AWS::Lambda::Permission").items()
    props = permission["Properties"]
    assert props["FunctionName"] == ORCHESTRATOR_ARN and props["Principal"] == "lexv2.amazonaws.com"
    assert props["Action"] == "lambda:InvokeFunction"
    assert props["SourceArn"]["Fn::Sub"].endswith(":bot-alias/${SupportBot}/*")


@pytest.mark.parametrize("name,statement", list(iam_statements(T)), ids=lambda v: v if isinstance(v, str) else v.get("Sid", ""))
def test_every_iam_statement_names_specific_actions_on_specific_resources(name, statement):
    actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
    assert all("*" not in a for a in actions), f"{name}: wildcard action"
    resources_ = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
    for resource in resources_:
        assert resource != "*", f"{name}: wildcard resource"
        if isinstance(resource, dict) and "Fn::Sub" in resource:
            assert ":*:" not in resource["Fn::Sub"], f"{name}: wildcard region, account or resource type"


def test_least_privilege_per_function():
    def grants(function):
        return {(s["Action"] if isinstance(s["Action"], str) else tuple(s["Action"])): s["Resource"]
                for n, s in iam_statements(T) if n == function}

    assert grants("OrdersFunction") == {"dynamodb:GetItem": {"Fn::GetAtt": ["OrdersTable", "Arn"]}}
    assert grants("ReturnsFunction") == {"dynamodb:GetItem": {"Fn::GetAtt": ["ReturnsTable", "Arn"]}}
    assert grants("SeedFunction") == {"dynamodb:PutItem": [{"Fn::GetAtt": ["OrdersTable", "Arn"]},
                                                           {"Fn::GetAtt": ["ReturnsTable", "Arn"]}]}
    orchestrator = grants("OrchestratorFunction")
    assert set(orchestrator) == {"sagemaker:InvokeEndpoint", "lambda:InvokeFunction"}
    assert orchestrator["lambda:InvokeFunction"] == [{"Fn::GetAtt": ["OrdersFunction", "Arn"]},
                                                     {"Fn::GetAtt": ["ReturnsFunction", "Arn"]}]


def test_table_keys_match_the_store_and_tables_are_protected():
    for logical, table in (("OrdersTable", "orders"), ("ReturnsTable", "returns")):
        props = R[logical]["Properties"]
        assert props["KeySchema"] == [{"AttributeName": TABLE_KEYS[table], "KeyType": "HASH"}]
        assert props["AttributeDefinitions"] == [{"AttributeName": TABLE_KEYS[table], "AttributeType": "S"}]
        assert props["BillingMode"] == "PAY_PER_REQUEST"
        assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        assert props["SSESpecification"] == {"SSEEnabled": True}
    assert env("OrdersFunction") == {"STORE_BACKEND": "dynamodb", "ORDERS_TABLE": {"Ref": "OrdersTable"}}
    assert env("ReturnsFunction") == {"STORE_BACKEND": "dynamodb", "RETURNS_TABLE": {"Ref": "ReturnsTable"}}


def test_the_orchestrator_gets_the_endpoint_the_template_creates_or_the_parameter():
    assert env("OrchestratorFunction")["SAGEMAKER_ENDPOINT_NAME"] == {
        "Fn::If": ["ShouldCreateEndpoint", {"Fn::GetAtt": ["FlanEndpoint", "EndpointName"]}, {"Ref": "EndpointName"}]}
    assert R["FlanEndpoint"]["Properties"]["EndpointName"] == {"Ref": "EndpointName"}
    [invoke] = [s for n, s in iam_statements(T) if s["Action"] == "sagemaker:InvokeEndpoint"]
    assert invoke["Resource"]["Fn::Sub"].endswith(":endpoint/${EndpointName}")
    for logical in ("FlanModel", "FlanEndpointConfig", "FlanEndpoint", "EndpointExecutionRole"):
        assert R[logical]["Condition"] == "ShouldCreateEndpoint"
    assert R["FlanModel"]["Properties"]["PrimaryContainer"]["Environment"]["TS_DEFAULT_WORKERS_PER_MODEL"] == "1"


def test_orchestrator_settings_are_ones_the_code_reads():
    variables = env("OrchestratorFunction")
    known = set(Settings._ENV.values()) | {t.function_name_env for t in DEFAULT_REGISTRY} | {"LOG_LEVEL"}
    assert set(variables) <= known
    assert variables["LLM_BACKEND"] == "sagemaker" and variables["TOOL_TRANSPORT"] == "lambda"
    for tool in DEFAULT_REGISTRY:
        function = {"order_inquiry": "OrdersFunction", "returns_inquiry": "ReturnsFunction"}[tool.name]
        assert variables[tool.function_name_env] == {"Ref": function}
    assert T["Parameters"]["AgentPlanner"]["AllowedValues"] == ["fewshot", "toolcall"]


def test_orchestrator_answers_before_lex_gives_up():
    props = R["OrchestratorFunction"]["Properties"]
    assert props["Timeout"] < 30
    assert T["Globals"]["Function"]["LoggingConfig"]["LogFormat"] == "JSON"


def test_handlers_exist_in_the_code():
    import importlib

    for name, function in resources(T, "AWS::Serverless::Function").items():
        module, _, attr = function["Properties"]["Handler"].rpartition(".")
        assert callable(getattr(importlib.import_module(module), attr)), name
        assert function["Metadata"]["BuildMethod"] == "makefile"
        assert re.fullmatch(r"python3\.1[2-9]", T["Globals"]["Function"]["Runtime"])


def test_seeding_is_switchable_and_connect_is_optional():
    assert R["SampleData"]["Condition"] == R["SeedFunction"]["Condition"] == "ShouldSeed"
    assert T["Conditions"]["ShouldSeed"] == {"Fn::Equals": [{"Ref": "SeedSampleData"}, "true"]}
    association = R["ConnectBotAssociation"]
    assert association["Condition"] == R["ConnectBotAliasPolicy"]["Condition"] == "HasConnect"
    assert association["Properties"]["IntegrationArn"] == {"Fn::GetAtt": ["SupportBotLiveAlias", "Arn"]}
    assert association["Properties"]["IntegrationType"] == "LEX_BOT"
    [statement] = R["ConnectBotAliasPolicy"]["Properties"]["Policy"]["Statement"]
    assert statement["Principal"] == {"Service": "connect.amazonaws.com"}
    assert statement["Condition"]["ArnEquals"]["AWS:SourceArn"] == {"Ref": "ConnectInstanceArn"}


def test_the_reward_function_is_optional_and_has_no_grants():
    reward = R["RewardFunction"]
    assert reward["Condition"] == T["Outputs"]["RewardFunctionArn"]["Condition"] == "ShouldCreateRewardFunction"
    assert T["Parameters"]["CreateRewardFunction"]["Default"] == "false"
    assert reward["Properties"]["Handler"] == "orchestrator.reward_lambda.lambda_handler"
    assert reward["Properties"]["FunctionName"] == {"Fn::Sub": "SageMaker-${AWS::StackName}-reward"}
    assert "Policies" not in reward["Properties"] and not [n for n, _ in iam_statements(T) if n == "RewardFunction"]


def test_outputs_give_what_a_user_and_lex_web_ui_need():
    assert {"BotId", "BotAliasId", "BotAliasArn", "LocaleId", "EndpointName", "LexWebUiParameters"} <= set(T["Outputs"])
