"""Structural checks of template.yaml: what a reviewer would verify by reading it."""
import itertools
import re

import pytest

from orchestrator import memory
from orchestrator.llm.sagemaker import PAYLOAD_FORMATS
from orchestrator.memory import dynamodb as conversations
from orchestrator.registry import DEFAULT_REGISTRY
from orchestrator.settings import Settings
from tests.cfn import branches, iam_statements, load_template, resources
from tools.store import CANCEL_ATTRIBUTES, INDEXES, TABLE_KEYS

T = load_template()
R = T["Resources"]
P = T["Parameters"]
ORCHESTRATOR_ARN = {"Fn::GetAtt": ["OrchestratorFunction", "Arn"]}
# The functions the orchestrator may invoke: one per tool Lambda (get_customer_orders shares OrdersFunction).
TOOL_FUNCTIONS = ("OrdersFunction", "ReturnsFunction", "CustomersFunction", "CancelOrderFunction")
# What orchestrator.identity.verifier_from_env reads (the module exposes no constant for them);
# test_identity_env_names_are_the_ones_verifier_from_env_reads keeps this list honest.
IDENTITY_ENV = frozenset({"COGNITO_ISSUER", "COGNITO_AUDIENCE"})


def env(function):
    return R[function]["Properties"]["Environment"]["Variables"]


def test_fallback_intent_hook_is_enabled_next_to_an_ordinary_intent():
    [locale] = R["SupportBot"]["Properties"]["BotLocales"]
    assert locale["LocaleId"] == "en_US"
    intents = {i["Name"]: i for i in locale["Intents"]}
    fallback = intents.pop("FallbackIntent")
    assert fallback["ParentIntentSignature"] == "AMAZON.FallbackIntent"
    hook = fallback["FulfillmentCodeHook"]
    assert set(hook) == {"Enabled", "FulfillmentUpdatesSpecification"} and hook["Enabled"] is True
    assert intents and all(i["SampleUtterances"] for i in intents.values())


def test_a_slow_voice_turn_hears_a_holding_message_not_silence():
    [locale] = R["SupportBot"]["Properties"]["BotLocales"]
    [fallback] = [i for i in locale["Intents"] if i["Name"] == "FallbackIntent"]
    updates = fallback["FulfillmentCodeHook"]["FulfillmentUpdatesSpecification"]
    # Lex requires StartResponse, UpdateResponse and TimeoutInSeconds once Active is true.
    assert updates["Active"] is True and {"StartResponse", "UpdateResponse", "TimeoutInSeconds"} <= set(updates)
    start = updates["StartResponse"]
    assert 1 <= start["DelayInSeconds"] <= 3 and start["AllowInterrupt"] is True
    assert [g["Message"]["PlainTextMessage"]["Value"] for g in start["MessageGroups"]] == [
        "One moment while I look that up."]
    assert updates["UpdateResponse"]["FrequencyInSeconds"] >= 5 and updates["UpdateResponse"]["MessageGroups"]
    assert updates["TimeoutInSeconds"] == 30 > R["OrchestratorFunction"]["Properties"]["Timeout"]


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

    orders_table = {"Fn::GetAtt": ["OrdersTable", "Arn"]}
    assert grants("OrdersFunction") == {"dynamodb:GetItem": orders_table,
                                        "dynamodb:Query": {"Fn::Sub": "${OrdersTable.Arn}/index/customerId-index"}}
    assert grants("ReturnsFunction") == {"dynamodb:GetItem": {"Fn::GetAtt": ["ReturnsTable", "Arn"]}}
    assert grants("CustomersFunction") == {"dynamodb:Query": [
        {"Fn::Sub": f"${{CustomersTable.Arn}}/index/{index}"} for index in ("email-index", "phone-index", "username-index")]}
    assert grants("CancelOrderFunction") == {"dynamodb:UpdateItem": orders_table, "dynamodb:GetItem": orders_table}
    assert grants("SeedFunction") == {"dynamodb:PutItem": [{"Fn::GetAtt": ["OrdersTable", "Arn"]},
                                                           {"Fn::GetAtt": ["ReturnsTable", "Arn"]},
                                                           {"Fn::GetAtt": ["CustomersTable", "Arn"]}]}
    # Only the cancel function writes orders once the stack is up, and never any table but orders.
    writes = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}
    writers = {n for n, s in iam_statements(T) for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
               if a in writes and n not in ("SeedFunction", "OrchestratorFunction")}
    assert writers == {"CancelOrderFunction"}
    assert not [s for _, s in iam_statements(T) if "dynamodb:Scan" in str(s["Action"])]

    orchestrator = grants("OrchestratorFunction")
    assert set(orchestrator) == {"sagemaker:InvokeEndpoint", "lambda:InvokeFunction", "bedrock:InvokeModel",
                                 ("dynamodb:GetItem", "dynamodb:PutItem")}
    assert orchestrator["lambda:InvokeFunction"] == [{"Fn::GetAtt": [f, "Arn"]} for f in TOOL_FUNCTIONS]
    assert orchestrator[("dynamodb:GetItem", "dynamodb:PutItem")] == {"Fn::GetAtt": ["ConversationsTable", "Arn"]}


def test_the_cancel_function_may_write_only_the_cancellation_attributes():
    statements = {s["Sid"]: s for n, s in iam_statements(T) if n == "CancelOrderFunction"}
    assert set(statements) == {"CancelOrders", "ReadCancellationState"}
    attributes = ["orderId", "status", "cancelKey", "cancelledAt", "customerId"]
    assert sorted(attributes) == sorted(CANCEL_ATTRIBUTES)  # what tools.store writes and reads
    # The key and every index key attribute of the table must be listed (DynamoDB's rule for this key).
    keys = {TABLE_KEYS["orders"], *INDEXES["orders"].values()}
    update = statements["CancelOrders"]
    assert update["Action"] == "dynamodb:UpdateItem" and update["Resource"] == {"Fn::GetAtt": ["OrdersTable", "Arn"]}
    assert update["Condition"] == {"ForAllValues:StringEquals": {"dynamodb:Attributes": attributes},
                                   "StringEqualsIfExists": {"dynamodb:ReturnValues": ["NONE", "UPDATED_OLD",
                                                                                      "UPDATED_NEW"]}}
    read = statements["ReadCancellationState"]
    assert read["Action"] == "dynamodb:GetItem"
    assert read["Condition"] == {"ForAllValues:StringEquals": {"dynamodb:Attributes": attributes},
                                 "StringEqualsIfExists": {"dynamodb:Select": "SPECIFIC_ATTRIBUTES"}}
    assert keys <= set(attributes)
    assert env("CancelOrderFunction") == {"STORE_BACKEND": "dynamodb", "ORDERS_TABLE": {"Ref": "OrdersTable"}}
    assert R["CancelOrderFunction"]["Properties"]["Handler"] == "tools.cancel.lambda_handler"


def test_table_keys_match_the_store_and_tables_are_protected():
    for logical, table in (("OrdersTable", "orders"), ("ReturnsTable", "returns"), ("CustomersTable", "customers")):
        props = R[logical]["Properties"]
        assert props["KeySchema"] == [{"AttributeName": TABLE_KEYS[table], "KeyType": "HASH"}]
        # The store's indexes, exactly: each on its one attribute, every attribute projected.
        indexes = {i["IndexName"]: i for i in props.get("GlobalSecondaryIndexes", [])}
        assert {name: i["KeySchema"] for name, i in indexes.items()} == {
            name: [{"AttributeName": attribute, "KeyType": "HASH"}] for name, attribute in INDEXES[table].items()}
        assert all(i["Projection"] == {"ProjectionType": "ALL"} for i in indexes.values())
        assert props["AttributeDefinitions"] == [{"AttributeName": a, "AttributeType": "S"}
                                                 for a in (TABLE_KEYS[table], *INDEXES[table].values())]
        assert R[logical]["DeletionPolicy"] == "Delete" and R[logical]["UpdateReplacePolicy"] == "Retain"
        assert props["BillingMode"] == "PAY_PER_REQUEST"
        assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        assert props["SSESpecification"] == {"SSEEnabled": True}
    assert env("OrdersFunction") == {"STORE_BACKEND": "dynamodb", "ORDERS_TABLE": {"Ref": "OrdersTable"}}
    assert env("ReturnsFunction") == {"STORE_BACKEND": "dynamodb", "RETURNS_TABLE": {"Ref": "ReturnsTable"}}
    assert env("CustomersFunction") == {"STORE_BACKEND": "dynamodb", "CUSTOMERS_TABLE": {"Ref": "CustomersTable"}}
    assert env("SeedFunction") == {"ORDERS_TABLE": {"Ref": "OrdersTable"}, "RETURNS_TABLE": {"Ref": "ReturnsTable"},
                                   "CUSTOMERS_TABLE": {"Ref": "CustomersTable"}}
    assert R["SampleData"]["Properties"]["CustomersTable"] == {"Ref": "CustomersTable"}


def test_every_tool_function_has_its_own_build_target():
    tools = [name for name, r in resources(T, "AWS::Serverless::Function").items()
             if r["Properties"]["Handler"].startswith("tools.")]
    assert set(tools) == {"OrdersFunction", "ReturnsFunction", "CustomersFunction", "CancelOrderFunction", "SeedFunction"}
    assert set(tools) <= {target.removeprefix("build-") for target in _makefile_targets()}


def test_the_conversations_table_is_the_one_the_memory_store_writes():
    props = R["ConversationsTable"]["Properties"]
    key = conversations.KEY_ATTRIBUTE
    assert props["KeySchema"] == [{"AttributeName": key, "KeyType": "HASH"}]
    assert props["AttributeDefinitions"] == [{"AttributeName": key, "AttributeType": "S"}]
    assert key in conversations.CONDITION
    assert props["TimeToLiveSpecification"] == {"AttributeName": conversations.TTL_ATTRIBUTE, "Enabled": True}
    assert props["BillingMode"] == "PAY_PER_REQUEST" and props["SSESpecification"] == {"SSEEnabled": True}
    assert R["ConversationsTable"]["DeletionPolicy"] == R["ConversationsTable"]["UpdateReplacePolicy"] == "Delete"
    variables = env("OrchestratorFunction")
    assert variables["CONVERSATION_STORE"] == "dynamodb"
    assert variables["CONVERSATION_TABLE"] == {"Ref": "ConversationsTable"}
    assert variables["CONVERSATION_TTL_HOURS"] == {"Ref": "ConversationTtlHours"}
    ttl = P["ConversationTtlHours"]
    assert (ttl["Type"], ttl["Default"], ttl["MinValue"], ttl["MaxValue"]) == ("Number", 24, 1, 720)
    assert ttl["Default"] == memory.DEFAULT_TTL_HOURS


def test_the_orchestrator_gets_the_endpoint_the_template_creates_or_the_parameter():
    assert env("OrchestratorFunction")["SAGEMAKER_ENDPOINT_NAME"] == {
        "Fn::If": ["ShouldCreateEndpoint", {"Fn::GetAtt": ["FlanEndpoint", "EndpointName"]}, {"Ref": "EndpointName"}]}
    assert R["FlanEndpoint"]["Properties"]["EndpointName"] == {"Ref": "EndpointName"}
    [invoke] = [s for n, s in iam_statements(T) if s["Action"] == "sagemaker:InvokeEndpoint"]
    assert invoke["Resource"]["Fn::Sub"].endswith(":endpoint/${EndpointName}")
    for logical in ("FlanModel", "FlanEndpointConfig", "FlanEndpoint", "EndpointExecutionRole"):
        assert R[logical]["Condition"] == "ShouldCreateEndpoint"


def test_the_model_container_matches_the_payload_format():
    assert P["SageMakerPayloadFormat"]["AllowedValues"] == list(PAYLOAD_FORMATS) == ["jumpstart", "tgi"]
    assert T["Conditions"]["IsTgi"] == {"Fn::Equals": [{"Ref": "SageMakerPayloadFormat"}, "tgi"]}
    container = R["FlanModel"]["Properties"]["PrimaryContainer"]
    condition, tgi, jumpstart = container["Environment"]["Fn::If"]
    assert condition == "IsTgi"
    # JumpStart 1.x: TorchServe with its inference.py; one worker holds the 20B model.
    assert jumpstart["SAGEMAKER_PROGRAM"] == "inference.py" and jumpstart["TS_DEFAULT_WORKERS_PER_MODEL"] == "1"
    assert not {"HF_MODEL_ID", "SM_NUM_GPUS"} & set(jumpstart)
    # JumpStart 2.x: Hugging Face TGI, weights from /opt/ml/model, sharded over the instance's GPUs.
    assert tgi["HF_MODEL_ID"] == "/opt/ml/model" and tgi["SM_NUM_GPUS"] == {"Ref": "EndpointNumGpus"}
    assert int(tgi["MAX_INPUT_LENGTH"]) < int(tgi["MAX_TOTAL_TOKENS"]) <= 2048  # Flan-UL2's receptive field
    assert "TS_DEFAULT_WORKERS_PER_MODEL" not in tgi
    assert P["EndpointNumGpus"]["Default"] == 4 and P["EndpointInstanceType"]["Default"] == "ml.g5.12xlarge"
    # 1.x data is a model.tar.gz, 2.x an uncompressed S3 prefix, which SageMaker must be allowed to list.
    assert container["ModelDataUrl"] == {"Fn::If": ["IsTgi", {"Ref": "AWS::NoValue"}, {"Ref": "ModelDataUri"}]}
    [source] = branches(container["ModelDataSource"])
    assert container["ModelDataSource"]["Fn::If"][0] == "IsTgi"
    assert source == {"S3DataSource": {"S3Uri": {"Ref": "ModelDataUri"}, "S3DataType": "S3Prefix",
                                       "CompressionType": "None"}}
    statements = R["EndpointExecutionRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    [listing] = [s for s in statements if "Fn::If" in s]
    assert listing["Fn::If"][0] == "IsTgi" and listing["Fn::If"][1]["Action"] == "s3:ListBucket"


def test_the_endpoint_scales_on_invocations_per_instance():
    target, policy = R["FlanEndpointScalableTarget"], R["FlanEndpointScalingPolicy"]
    assert target["Type"] == "AWS::ApplicationAutoScaling::ScalableTarget"
    assert target["Condition"] == policy["Condition"] == "ShouldScaleEndpoint"
    assert T["Conditions"]["ShouldScaleEndpoint"] == {"Fn::And": [
        {"Condition": "ShouldCreateEndpoint"},
        {"Fn::Not": [{"Fn::Equals": [{"Ref": "EndpointMinInstances"}, {"Ref": "EndpointMaxInstances"}]}]}]}
    props = target["Properties"]
    [variant] = R["FlanEndpointConfig"]["Properties"]["ProductionVariants"]
    # The GetAtt in the id both names the endpoint and makes the target wait for it.
    assert props["ResourceId"] == {"Fn::Sub": f"endpoint/${{FlanEndpoint.EndpointName}}/variant/{variant['VariantName']}"}
    assert props["ServiceNamespace"] == "sagemaker"
    assert props["ScalableDimension"] == "sagemaker:variant:DesiredInstanceCount"
    assert props["MinCapacity"] == {"Ref": "EndpointMinInstances"} and props["MaxCapacity"] == {"Ref": "EndpointMaxInstances"}
    assert variant["InitialInstanceCount"] == {"Ref": "EndpointInstanceCount"}
    assert (P["EndpointMinInstances"]["Default"], P["EndpointInstanceCount"]["Default"],
            P["EndpointMaxInstances"]["Default"]) == (1, 1, 2)

    policy = policy["Properties"]
    assert policy["PolicyType"] == "TargetTrackingScaling"
    assert policy["ScalingTargetId"] == {"Ref": "FlanEndpointScalableTarget"}
    tracking = policy["TargetTrackingScalingPolicyConfiguration"]
    assert tracking["PredefinedMetricSpecification"] == {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"}
    assert tracking["TargetValue"] == {"Ref": "TargetInvocationsPerInstance"}
    assert P["TargetInvocationsPerInstance"]["Default"] == 30
    assert 0 < tracking["ScaleOutCooldown"] <= tracking["ScaleInCooldown"]


def _holds(expression, values):
    """A Rules assertion evaluated for the given parameter values (the functions this template uses)."""
    (function, args), = expression.items()
    if function == "Ref":
        return values[args]
    if function == "Fn::Or":
        return any(_holds(a, values) for a in args)
    if function == "Fn::And":
        return all(_holds(a, values) for a in args)
    if function == "Fn::Not":
        return not _holds(args[0], values)
    if function == "Fn::Equals":
        return _value(args[0], values) == _value(args[1], values)
    if function == "Fn::Contains":
        return _value(args[1], values) in args[0]
    raise AssertionError(f"unexpected rule function {function}")


def _value(value, values):
    return _holds(value, values) if isinstance(value, dict) else value


def test_rules_keep_min_at_most_initial_at_most_max():
    rule = T["Rules"]["EndpointMinAtMostInitialAtMostMax"]
    assert rule["RuleCondition"] == {"Fn::Equals": [{"Ref": "CreateEndpoint"}, "true"]}

    def allowed(name):
        return range(P[name]["MinValue"], P[name]["MaxValue"] + 1)

    for low, initial, high in itertools.product(*map(allowed, ("EndpointMinInstances", "EndpointInstanceCount",
                                                                "EndpointMaxInstances"))):
        values = {"EndpointMinInstances": str(low), "EndpointInstanceCount": str(initial),
                  "EndpointMaxInstances": str(high)}
        accepted = all(_holds(a["Assert"], values) for a in rule["Assertions"])
        assert accepted == (low <= initial <= high), values


def test_orchestrator_settings_are_ones_the_code_reads():
    variables = env("OrchestratorFunction")
    known = (set(Settings._ENV.values()) | {t.function_name_env for t in DEFAULT_REGISTRY}
             | {"LOG_LEVEL", "METRICS_NAMESPACE"}  # read by the handler and orchestrator.metrics
             | set(memory.ENV_VARS)  # orchestrator.memory.store_from_env
             | IDENTITY_ENV)  # orchestrator.identity.verifier_from_env
    assert set(variables) <= known
    assert variables["LLM_BACKEND"] == "sagemaker" and variables["TOOL_TRANSPORT"] == "lambda"
    for tool in DEFAULT_REGISTRY:  # derived from the registry: the function whose handler is the tool's
        [function] = [name for name, r in resources(T, "AWS::Serverless::Function").items()
                      if r["Properties"].get("Handler") == tool.local_handler.replace(":", ".")]
        assert variables[tool.function_name_env] == {"Ref": function}
        assert function in {target.removeprefix("build-") for target in _makefile_targets()}


def _actions(statement):
    return [statement["Action"]] if isinstance(statement["Action"], str) else list(statement["Action"])


def _arn_of(resource):
    """The logical id a Resource entry names, however it is written (GetAtt X.Arn, Ref X, Sub ${X.Arn})."""
    if "Fn::GetAtt" in resource:
        name, attribute = resource["Fn::GetAtt"]
        return name if attribute == "Arn" else None
    if "Ref" in resource:
        return resource["Ref"]
    if "Fn::Sub" in resource and (m := re.fullmatch(r"\$\{(\w+)\.Arn\}", resource["Fn::Sub"])):
        return m.group(1)
    return None


def test_the_orchestrator_gets_every_tool_function_and_the_sign_in_settings():
    variables = env("OrchestratorFunction")
    assert variables["CUSTOMERS_FUNCTION_NAME"] == {"Ref": "CustomersFunction"}
    assert variables["CANCEL_ORDER_FUNCTION_NAME"] == {"Ref": "CancelOrderFunction"}
    assert variables["ORDERS_FUNCTION_NAME"] == {"Ref": "OrdersFunction"}  # get_customer_orders too
    handlers = {name: R[name]["Properties"]["Handler"] for name in TOOL_FUNCTIONS}
    assert handlers == {"OrdersFunction": "tools.orders.lambda_handler", "ReturnsFunction": "tools.returns.lambda_handler",
                        "CustomersFunction": "tools.customers.lambda_handler",
                        "CancelOrderFunction": "tools.cancel.lambda_handler"}
    # The parameters, unless CreateWebPage makes the stack's own customer pool (test_web_page_* below).
    assert variables["COGNITO_ISSUER"]["Fn::If"][2] == {"Ref": "CognitoIssuer"}
    assert variables["COGNITO_AUDIENCE"]["Fn::If"][2] == {"Ref": "CognitoAudience"}
    assert variables["ANONYMOUS_LOOKUPS"] == {"Ref": "AnonymousLookups"}
    assert "ANONYMOUS_LOOKUPS" in Settings._ENV.values()
    lookups = P["AnonymousLookups"]
    assert lookups["AllowedValues"] == ["true", "false"] and lookups["Default"] == Settings.anonymous_lookups == "true"
    assert "tracking page" in lookups["Description"]
    for name in ("CognitoIssuer", "CognitoAudience"):
        assert P[name]["Type"] == "String" and P[name]["Default"] == "" and P[name]["ConstraintDescription"]
    if "AWS::CloudFormation::Interface" in T.get("Metadata", {}):
        grouped = {p for g in T["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
                   for p in g["Parameters"]}
        assert {"CognitoIssuer", "CognitoAudience", "AnonymousLookups"} <= grouped


def test_identity_env_names_are_the_ones_verifier_from_env_reads():
    from orchestrator.identity import verifier_from_env

    class Reads(dict):
        def __init__(self):
            super().__init__()
            self.read = set()

        def get(self, key, default=None):
            self.read.add(key)
            return super().get(key, default)

        def __getitem__(self, key):
            self.read.add(key)
            return super().__getitem__(key)

    environment = Reads()
    assert verifier_from_env(environment) is None  # neither set: nobody is identified
    assert environment.read == IDENTITY_ENV


@pytest.mark.parametrize("value,accepted", [
    ("", True),
    ("https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123xyz", True),
    ("https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Ab12", True),
    ("https://cognito-idp.us-gov-west-1.amazonaws.com/us-gov-west-1_Ab12", True),
    ("https://cognito-idp.ap-southeast-2.amazonaws.com/ap-southeast-2_9zZ", True),
    ("http://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123xyz", False),  # not TLS
    ("https://evil.example.com/eu-west-1_AbC123xyz", False),  # another host
    ("https://cognito-idp.eu-west-1.amazonaws.com.evil.example/eu-west-1_AbC123xyz", False),
    ("https://cognito-idp.eu-west-1.example.com/eu-west-1_AbC123xyz", False),
    ("https://cognito-idpXeu-west-1.amazonaws.com/eu-west-1_AbC123xyz", False),  # the dots are literal
    ("https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123xyz/", False),  # trailing slash
    ("https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123xyz/.well-known/jwks.json", False),
    ("https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123xyz?x=1", False),
    ("https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123xyz#x", False),
    ("https://cognito-idp.eu-west-1.amazonaws.com/", False),  # no pool
    ("https://cognito-idp.eu-west-1.amazonaws.com/AbC123xyz", False),  # pool id without its region
    (" https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123xyz", False),
    ("https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123xyz\n", False),
])
def test_the_issuer_parameter_takes_a_user_pool_issuer_or_nothing(value, accepted):
    # CloudFormation matches AllowedPattern against the whole value; fullmatch does the same here.
    assert bool(re.fullmatch(P["CognitoIssuer"]["AllowedPattern"], value)) is accepted
    if accepted and value:  # and what the template lets through, the code takes
        from orchestrator.identity import verifier_from_env

        assert verifier_from_env({"COGNITO_ISSUER": value, "COGNITO_AUDIENCE": "abc123"}) is not None


@pytest.mark.parametrize("value,accepted", [
    ("", True), ("1h2k3j4l5m6n7o8p9q0r1s2t3u", True), ("a" * 128, True),
    ("a" * 129, False), ("abc 123", False), ("abc-123", False), ("abc\n", False)])
def test_the_audience_parameter_takes_an_app_client_id_or_nothing(value, accepted):
    assert bool(re.fullmatch(P["CognitoAudience"]["AllowedPattern"], value)) is accepted


def test_rules_require_issuer_and_audience_together():
    rule = T["Rules"]["CognitoIssuerAndAudienceTogether"]
    assert "RuleCondition" not in rule  # always checked
    issuer, audience = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123xyz", "abc123"
    for values, accepted in ((("", ""), True), ((issuer, audience), True), ((issuer, ""), False), (("", audience), False)):
        parameters = dict(zip(("CognitoIssuer", "CognitoAudience"), values))
        assert all(_holds(a["Assert"], parameters) for a in rule["Assertions"]) is accepted, values


def test_the_orchestrator_invokes_exactly_the_four_tool_functions():
    invokes = [(n, s) for n, s in iam_statements(T) if "lambda:InvokeFunction" in _actions(s)]
    # Lex's resource-based permission is an AWS::Lambda::Permission, not an IAM statement.
    [(name, statement)] = invokes
    assert name == "OrchestratorFunction" and statement["Sid"] == "InvokeTools"
    assert _actions(statement) == ["lambda:InvokeFunction"] and statement["Effect"] == "Allow"
    assert "Condition" not in statement and "NotResource" not in statement and "NotAction" not in statement
    resources_ = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
    named = [_arn_of(r) for r in resources_]
    assert sorted(named) == sorted(TOOL_FUNCTIONS) and len(set(named)) == len(named)
    # No other grant of the orchestrator reaches a Lambda function.
    others = [s for n, s in iam_statements(T) if n == "OrchestratorFunction" and s is not statement]
    assert not [a for s in others for a in _actions(s) if a.startswith("lambda:")]


def test_the_orchestrator_reaches_customer_data_only_through_the_tools():
    tables = {name for name in resources(T, "AWS::DynamoDB::Table")}
    assert {"OrdersTable", "ReturnsTable", "CustomersTable", "ConversationsTable"} <= tables
    reached = set()
    for name, statement in iam_statements(T):
        if name != "OrchestratorFunction" or not any(a.startswith("dynamodb:") for a in _actions(statement)):
            continue
        resources_ = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        reached |= {_arn_of(r) for r in resources_}
    assert reached == {"ConversationsTable"}


def test_only_the_cancel_function_may_update_an_item_and_only_under_a_condition():
    updates = [(n, s) for n, s in iam_statements(T) if "dynamodb:UpdateItem" in _actions(s)]
    assert [n for n, _ in updates] == ["CancelOrderFunction"]
    [(_, statement)] = updates
    assert statement["Condition"]["ForAllValues:StringEquals"]["dynamodb:Attributes"]
    # Nor may any statement grant it by a pattern or an action list written another way.
    assert not [s for _, s in iam_statements(T) for a in _actions(s) if a.lower().startswith("dynamodb:update")
                and s is not statement]


def _makefile_targets():
    import pathlib
    import re as _re

    text = (pathlib.Path(__file__).resolve().parent.parent / "Makefile").read_text()
    return {t for line in text.splitlines() if (m := _re.match(r"^([\w -]+):", line)) for t in m.group(1).split()}
    assert T["Parameters"]["AgentPlanner"]["AllowedValues"] == ["fewshot", "toolcall"]


def test_orchestrator_answers_before_lex_gives_up():
    props = R["OrchestratorFunction"]["Properties"]
    assert props["Timeout"] < 30
    assert T["Globals"]["Function"]["LoggingConfig"]["LogFormat"] == "JSON"


def test_no_log_level_lets_botocore_log_payloads():
    # Lambda sets the root logger to ApplicationLogLevel; at DEBUG botocore logs whole request bodies.
    assert "DEBUG" not in P["LogLevel"]["AllowedValues"] and P["LogLevel"]["Default"] == "INFO"
    logging_config = T["Globals"]["Function"]["LoggingConfig"]
    assert logging_config["ApplicationLogLevel"] == {"Ref": "LogLevel"} and logging_config["SystemLogLevel"] != "DEBUG"
    # The orchestrator stays at INFO: its turn record and metric line are INFO and must never be filtered.
    assert env("OrchestratorFunction")["LOG_LEVEL"] == "INFO"
    assert R["OrchestratorFunction"]["Properties"]["LoggingConfig"]["ApplicationLogLevel"] == "INFO"
    for name, function in resources(T, "AWS::Serverless::Function").items():
        if name != "OrchestratorFunction":
            assert "LoggingConfig" not in function["Properties"], f"{name} overrides the global log level"
    assert "WARNING" in P["LogLevel"]["Description"]


def test_failed_turns_alarm_watches_the_metric_the_orchestrator_emits():
    assert env("OrchestratorFunction")["METRICS_NAMESPACE"] == {"Ref": "MetricsNamespace"}
    assert P["MetricsNamespace"]["Default"] == "LexLlmAgent"
    alarm = R["FailedTurnsAlarm"]
    assert alarm["Type"] == "AWS::CloudWatch::Alarm" and "Condition" not in alarm
    props = alarm["Properties"]
    assert props["Namespace"] == {"Ref": "MetricsNamespace"} and props["MetricName"] == "Failed"
    assert "Dimensions" not in props  # the dimensionless series: every failed turn, whatever the action
    assert (props["Statistic"], props["Period"], props["EvaluationPeriods"]) == ("Sum", 300, 1)
    assert props["Threshold"] == {"Ref": "FailedTurnsAlarmThreshold"} and P["FailedTurnsAlarmThreshold"]["Default"] == 5
    assert props["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert props["TreatMissingData"] == "notBreaching"
    assert props["AlarmActions"] == {"Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]}
    assert T["Conditions"]["HasAlarmTopic"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmTopicArn"}, ""]}]}
    assert P["AlarmTopicArn"]["Default"] == ""
    assert T["Outputs"]["FailedTurnsAlarmName"]["Value"] == {"Ref": "FailedTurnsAlarm"}


def test_the_alarmed_metric_is_one_the_code_declares():
    metrics = pytest.importorskip("orchestrator.metrics")
    assert metrics.DEFAULT_NAMESPACE == P["MetricsNamespace"]["Default"]
    assert ("Failed", "Count") in metrics.METRICS


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
    assert {"BotId", "BotAliasId", "BotAliasArn", "LocaleId", "EndpointName", "LexWebUiParameters",
            "FailedTurnsAlarmName"} <= set(T["Outputs"])


def test_lex_web_ui_parameters_use_the_names_its_stack_takes():
    # aws-samples/aws-lex-web-ui templates/master.yaml: LexV2BotId, LexV2BotAliasId, LexV2BotLocaleId.
    pairs = dict(pair.split("=", 1) for pair in T["Outputs"]["LexWebUiParameters"]["Value"]["Fn::Sub"].split())
    assert pairs == {"LexV2BotId": "${SupportBot}", "LexV2BotAliasId": "${SupportBotLiveAlias.BotAliasId}",
                     "LexV2BotLocaleId": T["Outputs"]["LocaleId"]["Value"]}
    [locale] = R["SupportBot"]["Properties"]["BotLocales"]
    assert pairs["LexV2BotLocaleId"] == locale["LocaleId"]


def test_the_model_adapter_parameter_names_adapters_the_code_has_and_bedrock_gets_one_model():
    from orchestrator.settings import MODEL_ADAPTERS

    assert set(T["Parameters"]["ModelAdapter"]["AllowedValues"]) <= set(MODEL_ADAPTERS)
    variables = env("OrchestratorFunction")
    assert variables["MODEL_ADAPTER"] == {"Ref": "ModelAdapter"}
    statements = [s for policy in R["OrchestratorFunction"]["Properties"]["Policies"] for s in policy["Statement"]]
    [bedrock] = [s["Fn::If"][1] for s in statements if isinstance(s, dict) and "Fn::If" in s
                 and s["Fn::If"][0] == "UseBedrock"]
    assert bedrock["Action"] == "bedrock:InvokeModel"
    assert bedrock["Resource"]["Fn::Sub"].endswith(":foundation-model/${BedrockModelId}")


# ---------------------------------------------------------------- the hosted chat page (CreateWebPage)
WEB_PAGE_RESOURCES = {
    "WebPageBucket": "AWS::S3::Bucket", "WebPageBucketPolicy": "AWS::S3::BucketPolicy",
    "WebPageOriginAccessControl": "AWS::CloudFront::OriginAccessControl",
    "WebPageResponseHeadersPolicy": "AWS::CloudFront::ResponseHeadersPolicy",
    "WebPageDistribution": "AWS::CloudFront::Distribution", "CustomerUserPool": "AWS::Cognito::UserPool",
    "CustomerUserPoolClient": "AWS::Cognito::UserPoolClient", "CustomerUserPoolDomain": "AWS::Cognito::UserPoolDomain",
    "CustomerIdentityPool": "AWS::Cognito::IdentityPool", "WebPageCustomerRole": "AWS::IAM::Role",
    "CustomerIdentityPoolRoles": "AWS::Cognito::IdentityPoolRoleAttachment",
    "WebPageDeployFunction": "AWS::Serverless::Function", "WebPageFiles": "Custom::WebPageFiles",
}
LIVE_ALIAS_ARN = {"Fn::Sub": "arn:${AWS::Partition}:lex:${AWS::Region}:${AWS::AccountId}:bot-alias/${SupportBot}/"
                             "${SupportBotLiveAlias.BotAliasId}"}
DISTRIBUTION_ARN = {"Fn::Sub": "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/${WebPageDistribution}"}


def _refs(value):
    """Every logical id or parameter a template value names (Ref, GetAtt, ${...} in Sub)."""
    if isinstance(value, dict):
        found = set()
        for key, inner in value.items():
            if key == "Ref":
                found.add(inner.split(".")[0])
            elif key == "Fn::GetAtt":
                found.add(inner[0])
            elif key == "Fn::Sub":
                text = inner if isinstance(inner, str) else inner[0]
                found |= {m.split(".")[0] for m in re.findall(r"\$\{([\w.:]+)\}", text)}
                if not isinstance(inner, str):
                    found |= _refs(inner[1])
            else:
                found |= _refs(inner)
        return found
    if isinstance(value, list):
        return set().union(*map(_refs, value)) if value else set()
    return set()


def test_web_page_is_off_by_default_and_every_resource_of_it_carries_the_condition():
    create = P["CreateWebPage"]
    assert create["AllowedValues"] == ["true", "false"] and create["Default"] == "false"
    assert T["Conditions"]["ShouldCreateWebPage"] == {"Fn::Equals": [{"Ref": "CreateWebPage"}, "true"]}
    for name, kind in WEB_PAGE_RESOURCES.items():
        assert R[name]["Type"] == kind and R[name]["Condition"] == "ShouldCreateWebPage", name
    # ...and nothing else names them outside an Fn::If on the condition (or the deployment would fail when false).
    conditional = {n for n, r in R.items() if r.get("Condition") == "ShouldCreateWebPage"}
    assert conditional == set(WEB_PAGE_RESOURCES)
    for name, resource in R.items():
        if name not in conditional:
            variables = resource.get("Properties", {}).get("Environment", {}).get("Variables", {})
            plain = {k: v for k, v in variables.items() if not (isinstance(v, dict) and "Fn::If" in v)}
            assert not _refs({k: v for k, v in resource.get("Properties", {}).items() if k != "Environment"}) & conditional
            assert not _refs(plain) & conditional, name
    for name, output in T["Outputs"].items():
        if _refs(output["Value"]) & conditional:
            assert output.get("Condition") == "ShouldCreateWebPage", name


def test_web_page_parameters_and_rules():
    prefix = P["WebPageAuthDomainPrefix"]
    assert prefix["Default"] == ""
    for value, accepted in (("", True), ("shop-support", True), ("a", True), ("a" * 63, True), ("a" * 64, False),
                            ("Shop", False), ("-shop", False), ("shop-", False), ("sh--op", False), ("shop.x", False)):
        assert bool(re.fullmatch(prefix["AllowedPattern"], value)) is accepted, value
    ancestors = P["WebPageFrameAncestors"]
    assert ancestors["Default"] == "'self'" and "X-Frame-Options" in ancestors["Description"]
    for value, accepted in (("'self'", True), ("'none'", True), ("https://shop.example.com", True),
                            ("'self' https://shop.example.com https://*.example.com:8443", True),
                            ("https://shop.example.com; script-src *", False), ("*", False), ("http://shop.example.com", False),
                            ("https://shop.example.com,https://x.example", False), ("", False), ("'self'  'none'", False)):
        assert bool(re.fullmatch(ancestors["AllowedPattern"], value)) is accepted, value

    rule = T["Rules"]["WebPageNeedsAnAuthDomain"]
    assert rule["RuleCondition"] == {"Fn::Equals": [{"Ref": "CreateWebPage"}, "true"]}
    issuer = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123xyz"
    for (domain, iss, aud), accepted in ((("shop", "", ""), True), (("", "", ""), False),
                                         (("shop", issuer, "abc"), False), (("shop", "", "abc"), False)):
        values = {"WebPageAuthDomainPrefix": domain, "CognitoIssuer": iss, "CognitoAudience": aud}
        assert all(_holds(a["Assert"], values) for a in rule["Assertions"]) is accepted, values


def test_the_customer_role_may_only_recognize_text_on_the_live_alias():
    props = R["WebPageCustomerRole"]["Properties"]
    [policy] = props["Policies"]
    [statement] = policy["PolicyDocument"]["Statement"]
    assert statement == {"Sid": "RecognizeTextOnTheLiveAlias", "Effect": "Allow", "Action": "lex:RecognizeText",
                         "Resource": LIVE_ALIAS_ARN}
    assert "ManagedPolicyArns" not in props and "PermissionsBoundary" not in props
    # Nothing else in the template grants this role anything.
    assert not [r for r in R.values() if r["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")]
    # The alias is the live one (the attribute names are the alias resource's).
    assert R["SupportBotLiveAlias"]["Type"] == "AWS::Lex::BotAlias"
    assert R["SupportBotLiveAlias"]["Properties"]["BotAliasName"] == "live"


def test_only_signed_in_users_of_this_identity_pool_get_the_customer_role():
    [trust] = R["WebPageCustomerRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Effect"] == "Allow" and trust["Principal"] == {"Federated": "cognito-identity.amazonaws.com"}
    assert trust["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert trust["Condition"] == {
        "StringEquals": {"cognito-identity.amazonaws.com:aud": {"Ref": "CustomerIdentityPool"}},
        "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "authenticated"}}
    pool = R["CustomerIdentityPool"]["Properties"]
    assert pool["AllowUnauthenticatedIdentities"] is False and pool["AllowClassicFlow"] is False
    [provider] = pool["CognitoIdentityProviders"]
    assert provider["ClientId"] == {"Ref": "CustomerUserPoolClient"}
    assert provider["ProviderName"] == {"Fn::GetAtt": ["CustomerUserPool", "ProviderName"]}
    attachment = R["CustomerIdentityPoolRoles"]["Properties"]
    assert attachment == {"IdentityPoolId": {"Ref": "CustomerIdentityPool"},
                          "Roles": {"authenticated": {"Fn::GetAtt": ["WebPageCustomerRole", "Arn"]}}}


def test_the_page_bucket_is_private_and_only_the_distribution_reads_it():
    props = R["WebPageBucket"]["Properties"]
    assert props["PublicAccessBlockConfiguration"] == {"BlockPublicAcls": True, "BlockPublicPolicy": True,
                                                       "IgnorePublicAcls": True, "RestrictPublicBuckets": True}
    assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert props["BucketEncryption"] == {"ServerSideEncryptionConfiguration": [
        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}
    assert "WebsiteConfiguration" not in props and "AccessControl" not in props
    policy = R["WebPageBucketPolicy"]["Properties"]
    assert policy["Bucket"] == {"Ref": "WebPageBucket"}
    allows = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    denies = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
    assert allows == [{"Sid": "CloudFrontReadsThePage", "Effect": "Allow",
                       "Principal": {"Service": "cloudfront.amazonaws.com"}, "Action": "s3:GetObject",
                       "Resource": {"Fn::Sub": "${WebPageBucket.Arn}/*"},
                       "Condition": {"StringEquals": {"AWS:SourceArn": DISTRIBUTION_ARN}}}]
    [deny] = denies
    assert deny["Principal"] == "*" and deny["Action"] == "s3:*"
    assert deny["Resource"] == [{"Fn::GetAtt": ["WebPageBucket", "Arn"]}, {"Fn::Sub": "${WebPageBucket.Arn}/*"}]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    oac = R["WebPageOriginAccessControl"]["Properties"]["OriginAccessControlConfig"]
    assert (oac["OriginAccessControlOriginType"], oac["SigningBehavior"], oac["SigningProtocol"]) == ("s3", "always", "sigv4")


def test_the_distribution_serves_the_page_over_https_with_strict_headers():
    config = R["WebPageDistribution"]["Properties"]["DistributionConfig"]
    assert config["Enabled"] is True and config["DefaultRootObject"] == "index.html"
    assert config["HttpVersion"] == "http2" and config["PriceClass"] == "PriceClass_100"
    [origin] = config["Origins"]
    assert origin["DomainName"] == {"Fn::GetAtt": ["WebPageBucket", "RegionalDomainName"]}
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": ["WebPageOriginAccessControl", "Id"]}
    assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}
    behaviour = config["DefaultCacheBehavior"]
    assert behaviour["TargetOriginId"] == origin["Id"]
    assert behaviour["ViewerProtocolPolicy"] == "redirect-to-https"
    assert behaviour["AllowedMethods"] == ["GET", "HEAD"]
    assert behaviour["CachePolicyId"] == "658327ea-f89d-4fab-a63d-7e88639e58f6"  # managed CachingOptimized
    assert behaviour["ResponseHeadersPolicyId"] == {"Ref": "WebPageResponseHeadersPolicy"}
    assert "CacheBehaviors" not in config

    headers = R["WebPageResponseHeadersPolicy"]["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    hsts = headers["StrictTransportSecurity"]
    assert hsts["AccessControlMaxAgeSec"] >= 31536000 and hsts["Override"] is True
    assert headers["ContentTypeOptions"] == {"Override": True}
    assert headers["ReferrerPolicy"]["ReferrerPolicy"] in ("no-referrer", "same-origin", "strict-origin")
    # X-Frame-Options DENY would forbid the shop's iframe; frame-ancestors in the CSP says who may frame it.
    assert "FrameOptions" not in headers
    csp = headers["ContentSecurityPolicy"]
    assert csp["Override"] is True
    directives = {d.split()[0]: d.split()[1:] for d in csp["ContentSecurityPolicy"]["Fn::Sub"].split(";")}
    assert directives["default-src"] == ["'self'"]
    assert directives["connect-src"] == ["'self'", "https://runtime-v2-lex.${AWS::Region}.amazonaws.com",
                                         "https://cognito-identity.${AWS::Region}.amazonaws.com",
                                         "https://${WebPageAuthDomainPrefix}.auth.${AWS::Region}.amazoncognito.com"]
    assert directives["frame-ancestors"] == ["${WebPageFrameAncestors}"]
    assert directives["object-src"] == ["'none'"] and directives["base-uri"] == ["'none'"]
    assert "script-src" not in directives and "style-src" not in directives  # default-src 'self': no inline code
    assert "'unsafe-inline'" not in csp["ContentSecurityPolicy"]["Fn::Sub"]


def test_customers_are_created_by_the_shop_and_cannot_set_their_own_customer_id():
    pool = R["CustomerUserPool"]["Properties"]
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert pool["UsernameAttributes"] == ["email"]
    [customer_id] = [a for a in pool["Schema"] if a["Name"] == "customer_id"]
    assert customer_id["AttributeDataType"] == "String" and customer_id["Mutable"] is True
    password = pool["Policies"]["PasswordPolicy"]
    assert password["MinimumLength"] >= 12 and all(password[k] is True for k in (
        "RequireLowercase", "RequireUppercase", "RequireNumbers", "RequireSymbols"))
    assert pool["MfaConfiguration"] in ("OPTIONAL", "ON")

    client = R["CustomerUserPoolClient"]["Properties"]
    assert client["UserPoolId"] == {"Ref": "CustomerUserPool"}
    assert client["GenerateSecret"] is False
    assert client["AllowedOAuthFlows"] == ["code"] and client["AllowedOAuthFlowsUserPoolClient"] is True
    assert client["AllowedOAuthScopes"] == ["openid", "email"]  # no aws.cognito.signin.user.admin
    assert client["SupportedIdentityProviders"] == ["COGNITO"]
    page = {"Fn::Sub": "https://${WebPageDistribution.DomainName}/"}
    assert client["CallbackURLs"] == client["LogoutURLs"] == [page]
    assert client["PreventUserExistenceErrors"] == "ENABLED"
    assert {"custom:customer_id", "email"} <= set(client["ReadAttributes"])
    assert "WriteAttributes" in client  # absent would mean every writable attribute
    assert "custom:customer_id" not in client["WriteAttributes"] and client["WriteAttributes"] == ["email"]
    assert "ALLOW_USER_PASSWORD_AUTH" not in client.get("ExplicitAuthFlows", [])
    domain = R["CustomerUserPoolDomain"]["Properties"]
    assert domain == {"Domain": {"Ref": "WebPageAuthDomainPrefix"}, "UserPoolId": {"Ref": "CustomerUserPool"}}


def test_web_page_orchestrator_trusts_the_created_pool():
    variables = env("OrchestratorFunction")
    assert variables["COGNITO_ISSUER"] == {"Fn::If": [
        "ShouldCreateWebPage", {"Fn::Sub": "https://cognito-idp.${AWS::Region}.amazonaws.com/${CustomerUserPool}"},
        {"Ref": "CognitoIssuer"}]}
    assert variables["COGNITO_AUDIENCE"] == {"Fn::If": [
        "ShouldCreateWebPage", {"Ref": "CustomerUserPoolClient"}, {"Ref": "CognitoAudience"}]}
    # What the created pool's issuer resolves to is what the CognitoIssuer parameter, and the code, accept.
    issuer = variables["COGNITO_ISSUER"]["Fn::If"][1]["Fn::Sub"].replace("${AWS::Region}", "eu-west-1").replace(
        "${CustomerUserPool}", "eu-west-1_AbC123xyz")
    assert re.fullmatch(P["CognitoIssuer"]["AllowedPattern"], issuer)
    # The pool's custom attribute is the claim the handler reads, and the page sends the token where it looks.
    import inspect

    from orchestrator import handler
    from orchestrator.identity import TOKEN_ATTRIBUTE

    assert 'claims.get("custom:customer_id")' in inspect.getsource(handler)
    assert any(a["Name"] == "customer_id" for a in R["CustomerUserPool"]["Properties"]["Schema"])
    assert TOKEN_ATTRIBUTE == "idToken"


def test_web_page_deploy_function_may_only_write_and_list_its_bucket():
    function = R["WebPageDeployFunction"]
    assert function["Properties"]["Handler"] == "webpage.deploy.lambda_handler"
    assert function["Metadata"]["BuildMethod"] == "makefile" and function["Properties"]["CodeUri"] == "."
    assert "WebPageDeployFunction" in {t.removeprefix("build-") for t in _makefile_targets()}
    grants = [s for n, s in iam_statements(T) if n == "WebPageDeployFunction"]
    assert [(s["Effect"], _actions(s), s["Resource"]) for s in grants] == [
        ("Allow", ["s3:PutObject", "s3:DeleteObject"], {"Fn::Sub": "${WebPageBucket.Arn}/*"}),
        ("Allow", ["s3:ListBucket"], {"Fn::GetAtt": ["WebPageBucket", "Arn"]})]
    assert not [s for s in grants if "Condition" in s or "NotAction" in s or "NotResource" in s]
    # No other function or role touches the bucket.
    s3_grants = {n for n, s in iam_statements(T) if any(a.startswith("s3:") for a in _actions(s))}
    assert s3_grants == {"WebPageDeployFunction", "EndpointExecutionRole"}
    files = R["WebPageFiles"]["Properties"]
    assert files["ServiceToken"] == {"Fn::GetAtt": ["WebPageDeployFunction", "Arn"]}
    assert files["Bucket"] == {"Ref": "WebPageBucket"}
    assert files["botAliasId"] == {"Fn::GetAtt": ["SupportBotLiveAlias", "BotAliasId"]}
    assert files["redirectUri"] == R["CustomerUserPoolClient"]["Properties"]["CallbackURLs"][0]


def test_web_page_outputs():
    outputs = T["Outputs"]
    names = ("WebPageUrl", "WebPageEmbedSnippet", "CustomerUserPoolId", "CustomerUserPoolClientId",
             "CustomerIdentityPoolId", "CreateCustomerCommand")
    for name in names:
        assert outputs[name]["Condition"] == "ShouldCreateWebPage", name
    assert outputs["WebPageUrl"]["Value"] == {"Fn::Sub": "https://${WebPageDistribution.DomainName}/"}
    assert outputs["WebPageEmbedSnippet"]["Value"] == {"Fn::Sub": (
        '<iframe src="https://${WebPageDistribution.DomainName}/" title="Order support chat" '
        'style="border:0;width:380px;height:560px" allow="clipboard-write"></iframe>')}
    command = outputs["CreateCustomerCommand"]["Value"]["Fn::Sub"].split()
    assert command[:3] == ["aws", "cognito-idp", "admin-create-user"]
    assert command[command.index("--user-pool-id") + 1] == "${CustomerUserPool}"
    attributes = command[command.index("--user-attributes") + 1:]
    assert attributes == ["Name=email,Value=customer@example.com", "Name=email_verified,Value=true",
                          "Name=custom:customer_id,Value=901235"]
