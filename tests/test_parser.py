import pytest

from orchestrator.parser import ToolCall, normalise_spoken, parse_call
from orchestrator.registry import DEFAULT_REGISTRY as REGISTRY


def test_id_from_text_when_the_plan_has_none():
    result = parse_call("order_inquiry", {}, "Has order 123456 shipped?", REGISTRY)
    assert result.call.arguments == {"order_id": "123456"} and result.call.tool is REGISTRY.get("order_inquiry")


def test_valid_id_from_the_plan_wins_over_the_text():
    result = parse_call("returns_inquiry", {"return_id": "RTN002"}, "about rtn001", REGISTRY)
    assert result.call.arguments == {"return_id": "rtn002"}


def test_invalid_id_from_the_plan_falls_back_to_the_text():
    result = parse_call("returns_inquiry", {"return_id": "rtn1; rm -rf"}, "about rtn001", REGISTRY)
    assert result.call.arguments == {"return_id": "rtn001"}


@pytest.mark.parametrize("text", ["Where is my order?", "order 1234", "order 1234567", "my return rtn001"])
def test_no_valid_id_means_missing(text):
    result = parse_call("order_inquiry", {}, text, REGISTRY)
    assert result.call is None and [p.name for p in result.missing] == ["order_id"]
    assert result.tool.name == "order_inquiry"


@pytest.mark.parametrize("name", ["delete_orders", None, "no_tool", "Order_Inquiry"])
def test_unknown_tool_is_refused(name):
    result = parse_call(name, {"order_id": "123456"}, "order 123456", REGISTRY)
    assert result.call is None and result.error == "unknown_tool"


@pytest.mark.parametrize("spoken,typed", [
    ("where is my order one two three four five six", "where is my order 123456"),
    ("order 1 2 3 4 5 6", "order 123456"),
    ("return r t n zero zero one", "return rtn001"),
    ("return R.T.N. 003", "return rtn003"),
    ("one of my orders", "one of my orders"),
    ("I bought two or three things", "I bought two or three things"),
])
def test_spoken_ids_become_typed_ids(spoken, typed):
    assert normalise_spoken(spoken) == typed


def test_a_forged_call_is_not_valid_for_the_registry():
    from orchestrator.registry import IdParameter, Tool

    real = REGISTRY.get("order_inquiry")
    assert ToolCall(real, {"order_id": "123456"}).is_valid_for(REGISTRY)
    assert ToolCall(real, {"order_id": "37129"}).is_valid_for(REGISTRY)  # the sample accounts' five digits
    assert not ToolCall(real, {"order_id": "1234"}).is_valid_for(REGISTRY)
    assert ToolCall(real, {"order_id": "123456", "customer_id": "901235"}).is_valid_for(REGISTRY)  # owner's view
    cancel = REGISTRY.get("cancel_order")
    assert not ToolCall(cancel, {"order_id": "37129"}).is_valid_for(REGISTRY)  # never without the customer
    get_user = REGISTRY.get("get_user")
    assert ToolCall(get_user, {"email": "mary_major@example.com"}).is_valid_for(REGISTRY)
    assert not ToolCall(get_user, {"email": "mary_major@example.com", "phone": "7155552608"}).is_valid_for(REGISTRY)
    assert not ToolCall(get_user, {}).is_valid_for(REGISTRY)
    assert not ToolCall(real, {"order_id": "123456", "extra": "x"}).is_valid_for(REGISTRY)
    impostor = Tool("order_inquiry", "", (IdParameter("order_id", "orderId", "", r".*"),), (), "X", "os:system", "order")
    assert not ToolCall(impostor, {"order_id": "anything"}).is_valid_for(REGISTRY)
