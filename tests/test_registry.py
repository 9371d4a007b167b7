import re

import pytest

from orchestrator.planners.fewshot import render_prompt
from orchestrator.registry import DEFAULT_REGISTRY, NO_TOOL, ORDER_ID, RETURN_ID, Example, IdParameter, Registry, Tool
from tools import orders, returns


def test_order_id_is_five_or_six_digits_standing_alone():
    assert ORDER_ID.find_all("order 123456 and 37129, not 1234567 or 1234") == ["123456", "37129"]
    assert ORDER_ID.validate("123456") == "123456" and ORDER_ID.validate("37129") == "37129"
    assert ORDER_ID.validate(" 123456 ") == "123456"
    for bad in ("1234", "1234567", "12345a", "", None, 123456, "١٢٣٤٥٦"):
        assert ORDER_ID.validate(bad) is None


def test_return_id_is_case_insensitive_and_normalised():
    assert RETURN_ID.find_all("Is RTN003 or Rtn001 done? not xrtn002 nor rtn0044") == ["rtn003", "rtn001"]
    assert RETURN_ID.validate("RTN003") == "rtn003"
    for bad in ("rtn01", "rtn0001", "ret001", "rtn 001"):
        assert RETURN_ID.validate(bad) is None


def test_json_schema_comes_from_the_parameters():
    schema = DEFAULT_REGISTRY.get("order_inquiry").json_schema()
    assert schema["required"] == ["order_id"]
    assert re.fullmatch(schema["properties"]["order_id"]["pattern"], "123456")
    assert not re.fullmatch(schema["properties"]["order_id"]["pattern"], "1234567")
    assert schema["additionalProperties"] is False


def test_every_example_with_arguments_matches_its_tool():
    for tool in DEFAULT_REGISTRY:
        for example in tool.examples:
            found = {p.name: p.find_all(example.utterance)[:1] for p in tool.model_parameters}
            expected = {name: [value] for name, value in example.arguments.items()}
            assert {k: v for k, v in found.items() if v} == expected, example.utterance


def test_registry_and_tool_handlers_agree_on_ids():
    """The tools validate their own input too: every id the registry accepts, the tool accepts."""
    for candidate in ("123456", "000001", "12345", "1234567", "abcdef", "١٢٣٤٥٦"):
        if ORDER_ID.validate(candidate) is not None:
            assert orders.ORDERS.pattern.fullmatch(candidate)
    for candidate in ("1234567", "abcdef", "١٢٣٤٥٦", "1234"):
        assert ORDER_ID.validate(candidate) is None and not orders.ORDERS.pattern.fullmatch(candidate)
    for candidate in ("rtn001", "RTN001", "rtn01", "rtn0001"):
        normalised = returns.RETURNS.normalise(candidate)
        assert (RETURN_ID.validate(candidate) is not None) == bool(returns.RETURNS.pattern.fullmatch(normalised))


def test_get_is_the_only_way_to_a_tool():
    assert DEFAULT_REGISTRY.get("order_inquiry") is not None
    for name in ("delete_everything", NO_TOOL, "", None, 3, "ORDER_INQUIRY"):
        assert DEFAULT_REGISTRY.get(name) is None


def test_names_must_be_unique_and_not_no_tool():
    tool = DEFAULT_REGISTRY.get("order_inquiry")
    with pytest.raises(ValueError):
        Registry((tool, tool))


def test_a_new_tool_reaches_the_prompt_without_editing_it():
    """Contract 1: adding a tool is one declaration; the few-shot prompt follows."""
    loyalty = Tool(
        name="loyalty_points",
        description="Look up a loyalty account's points balance.",
        parameters=(IdParameter("account_id", "accountId", "Loyalty account", r"LP\d{4}"),),
        examples=(Example("How many points does LP1234 have?", {"account_id": "LP1234"}),),
        function_name_env="LOYALTY_FUNCTION_NAME",
        local_handler="tools.loyalty:lambda_handler",
        noun="account",
    )
    registry = DEFAULT_REGISTRY.with_tools([*DEFAULT_REGISTRY, loyalty])
    prompt = render_prompt("points for LP9999?", registry)
    assert "loyalty_points: Look up a loyalty account's points balance." in prompt
    assert "Question: How many points does LP1234 have?\nTool: loyalty_points" in prompt
    assert "loyalty_points" not in render_prompt("points for LP9999?", DEFAULT_REGISTRY)


# ---- one declaration: the tool Lambdas and the store agree with the registry --------------------
@pytest.mark.parametrize("tool", [t for t in DEFAULT_REGISTRY if t.anonymous_lookup], ids=lambda t: t.name)
def test_each_tool_lambda_reads_the_registry_fields_and_patterns(tool):
    import importlib

    from tools.lookup import LookupTool
    from tools.store import TABLE_KEYS

    module = importlib.import_module(tool.local_handler.split(":")[0])
    [lookup] = [v for v in vars(module).values() if isinstance(v, LookupTool)]
    [parameter] = tool.model_parameters
    assert lookup.id_field == parameter.wire_name and TABLE_KEYS[lookup.table] == parameter.wire_name
    assert lookup.noun == tool.noun
    samples = [e.arguments[parameter.name] for e in tool.examples if e.arguments] + ["12345", "1234567", "rtn12", "١٢٣٤٥٦"]
    for value in samples:  # the tool accepts every id the registry's pattern accepts (see above)
        if parameter.validate(value) is not None:
            assert lookup.pattern.fullmatch(lookup.normalise(value)), value
        if not value.isascii():
            assert not lookup.pattern.fullmatch(lookup.normalise(value)), value


def test_the_account_tools_read_the_registry_fields_and_accept_what_it_accepts():
    from tools import cancel, customers

    get_user = DEFAULT_REGISTRY.get("get_user")
    samples = {"email": ["mary_major@example.com", "MÁRCIA@example.com", "a@b.co"],
               "phone": ["715-555-2608", "(312) 555-8204", "+1 312 555 8204", "3125558204"],
               "username": ["mary_major", "márcia_oliveria", "a.b-c"]}
    for parameter in get_user.model_parameters:
        identifier = customers.IDENTIFIERS[parameter.wire_name]
        for value in samples[parameter.name]:
            normalised = parameter.validate(value)
            assert normalised is not None and identifier.validate(normalised) is not None, value
    fields = {name: pattern for name, pattern, _ in cancel.FIELDS}
    cancel_order = DEFAULT_REGISTRY.get("cancel_order")
    assert set(cancel_order.payload({"order_id": "37129", "customer_id": "901235"})) | {
        cancel_order.idempotency_field} == set(fields)
    customer_id = cancel_order.parameter("customer_id")
    for value in ("901235", "012347", "a-b_c", "x" * 64, "x" * 65, "a b", ""):
        assert (customer_id.validate(value) is not None) == bool(fields["customerId"].fullmatch(value)), value
    listing = DEFAULT_REGISTRY.get("get_customer_orders")
    assert listing.payload({"customer_id": "345678"}) == {"customerId": "345678"}
    assert orders.lambda_handler(listing.payload({"customer_id": "345678"}))["data"]["customerId"] == "345678"
