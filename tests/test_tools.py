import json
import re

import boto3
import pytest
from moto import mock_aws

from tools import orders, returns
from tools.store import TABLE_KEYS, DynamoDBStore, SQLiteStore, StoreError, load_seed, store_from_env


def test_seed_data_holds_the_blog_cases_and_enough_rows():
    order_rows, return_rows = load_seed("orders"), load_seed("returns")
    assert len(order_rows) >= 20 and len(return_rows) >= 10
    by_id = {o["orderId"]: o for o in order_rows}
    assert by_id["123456"]["product"] == "Herbal Handsoap"
    assert "383833" not in by_id
    return_ids = {r["returnId"] for r in return_rows}
    assert {"rtn001", "rtn003"} <= return_ids and "rtn123" not in return_ids
    # Stored in Title case: the blog's lower-case statuses are converted when seeded.
    assert {o["status"] for o in order_rows} == {"Processing", "Shipped", "Delivered", "Cancelled"}
    assert {r["status"] for r in return_rows} == {"requested", "received", "processed", "refunded", "rejected"}
    blog = [o for o in order_rows if "customerId" not in o]
    assert len(blog) == 24 and len(order_rows) == 24 + 38
    for o in order_rows:
        assert re.fullmatch(r"[0-9]{5,6}", o["orderId"])
    for o in blog:  # the blog's orders: six digits, and each shipped one has its carrier and tracking
        assert len(o["orderId"]) == 6
        if o["status"] in ("Shipped", "Delivered"):
            assert o["carrier"] and o["trackingNumber"] and o["shipDate"]


def test_sqlite_store_is_created_seeded_once_and_reopened(tmp_path):
    path = tmp_path / "nested" / "s.sqlite3"
    store = SQLiteStore(path)
    assert store.get("orders", "123456")["product"] == "Herbal Handsoap"
    store.put_items("orders", [{**store.get("orders", "123456"), "status": "delivered"}])
    reopened = SQLiteStore(path)  # seeding again must not overwrite what is there
    assert reopened.get("orders", "123456")["status"] == "delivered"
    assert reopened.get("returns", "rtn123") is None
    with pytest.raises(ValueError):
        reopened.get("payments", "1")


def test_order_found_names_the_product_and_tracking_and_nothing_else():
    answer = orders.lambda_handler({"orderId": "123456"}, None)
    assert answer["statusCode"] == 200
    assert "Herbal Handsoap" in answer["body"] and answer["data"]["trackingNumber"] in answer["body"]
    assert set(answer["data"]) == {"orderId", "product", "quantity", "status", "orderDate", "shipDate", "carrier",
                                   "trackingNumber"}
    assert "$" not in answer["body"] and "20.97" not in answer["body"]


@pytest.mark.parametrize("status", ["processing", "shipped", "delivered", "cancelled"])
def test_each_order_status_has_its_own_sentence(status):
    order = next(o for o in load_seed("orders") if o["status"].lower() == status)
    body = orders.lambda_handler({"orderId": order["orderId"]})["body"]
    assert {"processing": "not shipped yet", "shipped": "shipped on", "delivered": "delivered on",
            "cancelled": "was cancelled"}[status] in body


def test_return_found_is_case_insensitive():
    answer = returns.lambda_handler({"returnId": "RTN003"})
    assert answer["statusCode"] == 200 and answer["data"]["returnId"] == "rtn003"
    assert answer["body"].startswith("Return rtn003")


def test_no_return_names_the_order_it_belongs_to():
    for item in load_seed("returns"):
        answer = returns.lambda_handler({"returnId": item["returnId"]})
        assert answer["statusCode"] == 200 and "orderId" not in answer["data"]
        assert item["orderId"] not in answer["body"] and item["orderId"] not in json.dumps(answer["data"])
    assert returns.lambda_handler({"returnId": "rtn003"})["body"] == (
        "Return rtn003 (Ceramic Mug) has been refunded: $19.50 on 2026-10-17.")


@pytest.mark.parametrize("handler,event", [(orders.lambda_handler, {"orderId": "383833"}),
                                           (returns.lambda_handler, {"returnId": "rtn123"})])
def test_unknown_ids_are_404_asking_to_check(handler, event):
    answer = handler(event)
    assert answer["statusCode"] == 404
    assert "couldn't find" in answer["body"] and "check" in answer["body"]


@pytest.mark.parametrize(
    "event,fragment",
    [({}, "orderId is required"), ({"orderId": ""}, "orderId is required"), ({"orderId": 123456}, "must be a string"),
     ({"orderId": "1234"}, "not valid"), ({"orderId": "1234567"}, "not valid"), ({"orderId": "١٢٣٤٥٦"}, "not valid"), ({"orderId": "123456; DROP TABLE"}, "not valid"), ("123456", "JSON object"),
     (None, "JSON object")],
)
def test_malformed_input_is_400_saying_what_was_wrong(event, fragment):
    answer = orders.lambda_handler(event)
    assert answer["statusCode"] == 400 and fragment in answer["body"]


def test_store_failure_is_500_without_details():
    class Broken:
        def get(self, table, key):
            raise StoreError("connection refused at 10.0.0.1")

    answer = orders.ORDERS.handle({"orderId": "123456"}, store=Broken())
    assert answer["statusCode"] == 500 and "10.0.0.1" not in answer["body"]


def test_store_from_env_rejects_unknown_backends():
    with pytest.raises(ValueError, match="STORE_BACKEND"):
        store_from_env({"STORE_BACKEND": "postgres"})
    with pytest.raises(ValueError, match="ORDERS_TABLE"):
        store_from_env({"STORE_BACKEND": "dynamodb"})
    only_returns = store_from_env({"STORE_BACKEND": "dynamodb", "RETURNS_TABLE": "r"})
    with pytest.raises(StoreError, match="orders"):
        only_returns.get("orders", "123456")


@pytest.fixture
def dynamodb_tables(monkeypatch):
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        names = {"orders": "test-orders", "returns": "test-returns", "customers": "test-customers"}
        for table, key in TABLE_KEYS.items():
            client.create_table(
                TableName=names[table],
                KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
            )
        monkeypatch.setenv("STORE_BACKEND", "dynamodb")
        monkeypatch.setenv("ORDERS_TABLE", names["orders"])
        monkeypatch.setenv("RETURNS_TABLE", names["returns"])
        monkeypatch.setenv("CUSTOMERS_TABLE", names["customers"])
        store = DynamoDBStore(names)
        for table in TABLE_KEYS:
            assert store.put_items(table, load_seed(table)) == len(load_seed(table))
        yield store


def test_dynamodb_store_round_trips_numbers_as_plain_python(dynamodb_tables):
    order = dynamodb_tables.get("orders", "123456")
    expected = next(o for o in load_seed("orders") if o["orderId"] == "123456")
    assert order == expected
    assert isinstance(order["quantity"], int) and isinstance(order["amount"], float)
    json.dumps(order)  # the tool contract's data must be JSON
    assert dynamodb_tables.get("returns", "rtn123") is None


def test_tool_handlers_read_dynamodb_when_configured(dynamodb_tables):
    assert "Herbal Handsoap" in orders.lambda_handler({"orderId": "123456"})["body"]
    assert returns.lambda_handler({"returnId": "rtn123"})["statusCode"] == 404
    assert "$99.98" in orders.lambda_handler({"orderId": "37129", "customerId": "901235"})["body"]
    assert orders.lambda_handler({"orderId": "37129", "customerId": "345678"}) == orders.ORDERS.not_found("37129")
    assert "250631" not in returns.lambda_handler({"returnId": "rtn003"})["body"]


def test_missing_dynamodb_table_is_a_500(monkeypatch):
    with mock_aws():
        monkeypatch.setenv("STORE_BACKEND", "dynamodb")
        monkeypatch.setenv("ORDERS_TABLE", "does-not-exist")
        monkeypatch.setenv("RETURNS_TABLE", "does-not-exist-either")
        answer = orders.lambda_handler({"orderId": "123456"})
    assert answer["statusCode"] == 500
