"""The claude-tools-chatbot sample's four tool specs, unchanged: loaded by toolspecs, scored by the
eval (evals/claude_tools.jsonl) and run against our store by SampleSpecTransport."""
from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from orchestrator.evaluate import evaluate
from orchestrator.sample_specs import CANCEL_REFUSAL, SampleSpecTransport
from orchestrator.toolspecs import tool_from_spec
from orchestrator.turn import ToolResult
from tools import orders
from tools.store import shared_store, status_is

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT.parent / "shared" / "data" / "claude-tools-chatbot" / "tool_config.json"
EVAL_FILE = ROOT / "evals" / "claude_tools.jsonl"
NAMES = ["get_user", "get_order_by_id", "get_customer_orders", "cancel_order"]
# Measured with the embedded default (router, no LLM) on evals/claude_tools.jsonl: mean over
# behaviours 0.8413 (execute 0.857, clarify 0.667, refuse 1.000). A floor, not a target.
MACRO_FLOOR = 0.84

needs_config = pytest.mark.skipif(not CONFIG.is_file(), reason="the sample's tool_config.json is not checked out")


def eval_lines() -> list[dict]:
    return [json.loads(line) for line in EVAL_FILE.read_text(encoding="utf-8").splitlines() if line.strip()]


def sample_specs() -> list[dict]:
    """The sample's four specs as the committed eval lines carry them (checked against the published
    tool_config.json below, where the shared data is checked out), so the rest runs on a bare clone."""
    return eval_lines()[0]["tools"]


@needs_config
def test_the_committed_specs_are_the_published_ones_unchanged():
    assert sample_specs() == json.loads(CONFIG.read_text(encoding="utf-8"))["tools"]


def test_the_sample_specs_load_unchanged():
    specs = sample_specs()
    assert [s["toolSpec"]["name"] for s in specs] == NAMES
    for spec in specs:
        tool = tool_from_spec(spec)
        schema = spec["toolSpec"]["inputSchema"]["json"]
        assert tool.name == spec["toolSpec"]["name"] and tool.description == spec["toolSpec"]["description"]
        assert [p.name for p in tool.parameters] == schema["required"]
        assert [p.wire_name for p in tool.parameters] == schema["required"]
    key = tool_from_spec(specs[0]).parameter("key")
    assert key.validate("email") and key.validate("phone") and key.validate("username")


def test_every_eval_line_carries_exactly_the_sample_specs():
    lines = eval_lines()
    assert len(lines) >= 10
    for line in lines:
        assert line["tools"] == sample_specs(), line["id"]
        expected = line["expected"]
        if expected["behavior"] == "execute":
            assert expected["tool"] in NAMES


def test_the_embedded_default_scores_at_least_what_was_measured(local_agent):
    errors, output = io.StringIO(), io.StringIO()
    summary = evaluate(local_agent, EVAL_FILE.read_text(encoding="utf-8").splitlines(), errors, output)
    assert errors.getvalue() == ""
    assert summary["count"] == len(eval_lines())
    assert summary["macro_reward"] >= MACRO_FLOOR
    assert summary["by_behavior"]["refuse"]["mean_reward"] == 1.0
    rows = {r["id"]: r for r in map(json.loads, output.getvalue().splitlines())}
    # The sample's key/value get_user is expressible: the enum picks the key, a digit-holding token the value.
    assert rows["claude-tools-04"]["arguments"] == {"key": "phone", "value": "312-555-8204"}


def sample_tool(name: str):
    return {tool_from_spec(s).name: tool_from_spec(s) for s in sample_specs()}[name]


@pytest.fixture
def transport(local_store):
    # conftest's local_store points STORE_PATH at this test's own SQLite file; shared_store()
    # caches one store per (backend, path), so a fresh path is a freshly seeded store.
    assert shared_store() is not None
    return SampleSpecTransport()


def test_get_order_by_id_is_the_tracking_view(transport):
    result = transport.invoke(sample_tool("get_order_by_id"), {"order_id": "32057"}, 5.0)
    assert result.status_code == 200, result
    assert "Backpack" in result.body and "$" not in result.body
    assert "customerId" not in result.data and "amount" not in result.data


def test_get_user_by_email_and_phone(transport):
    result = transport.invoke(sample_tool("get_user"), {"key": "email", "value": "anacarolina_silva@example.com"}, 5.0)
    assert result.status_code == 200 and result.data["customerId"] == "345678"
    result = transport.invoke(sample_tool("get_user"), {"key": "phone", "value": "312-555-8204"}, 5.0)
    assert result.status_code == 200 and result.data["customerId"] == "456789"
    missing = transport.invoke(sample_tool("get_user"), {"key": "email", "value": "nobody@example.com"}, 5.0)
    assert missing.status_code == 404


def test_get_customer_orders(transport):
    result = transport.invoke(sample_tool("get_customer_orders"), {"customer_id": "345678"}, 5.0)
    assert result.status_code == 200
    assert {o["orderId"] for o in result.data["orders"]} == {"86420", "81695"}
    assert "86420" in result.body and "81695" in result.body


def test_cancel_order_never_runs(transport):
    result = transport.invoke(sample_tool("cancel_order"), {"order_id": "37129"}, 5.0)
    assert result == ToolResult(403, "", error=CANCEL_REFUSAL)
    still = orders.ORDERS.handle({"orderId": "37129"}, shared_store())
    assert still["statusCode"] == 200 and status_is(still["data"]["status"], "processing")


@pytest.mark.parametrize("name,payload", [
    ("get_user", {}),
    ("get_user", {"key": "email"}),
    ("get_user", {"key": "shoe size", "value": "42"}),
    ("get_user", {"key": "email", "value": 42}),
    ("get_user", {"key": "email", "value": "not an email"}),
    ("get_user", {"key": "phone", "value": "12"}),
    ("get_order_by_id", {}),
    ("get_order_by_id", {"order_id": ""}),
    ("get_order_by_id", {"order_id": "not-a-number"}),
    ("get_order_by_id", {"order_id": ["32057"]}),
    ("get_customer_orders", {"customer_id": None}),
    ("get_customer_orders", {"customer_id": "no spaces allowed"}),
    ("get_order_by_id", None),
    ("get_order_by_id", "32057"),
    ("cancel_order", {}),
])
def test_bad_payloads_are_4xx_never_an_exception(transport, name, payload):
    result = transport.invoke(sample_tool(name), payload, 5.0)
    assert 400 <= result.status_code < 500, result


def test_an_unknown_tool_is_a_404(transport):
    result = transport.invoke(tool_from_spec({"name": "get_weather", "description": "Weather."}), {}, 5.0)
    assert result.status_code == 404 and "get_weather" in result.error


class _Broken:
    def query(self, *args, **kwargs):
        raise RuntimeError("boom")

    def get(self, *args, **kwargs):
        raise RuntimeError("boom")


def test_a_broken_store_is_an_answer_not_an_exception():
    result = SampleSpecTransport(store=_Broken()).invoke(sample_tool("get_order_by_id"), {"order_id": "32057"}, 5.0)
    assert result.status_code >= 500 and result.error


def test_the_eval_runs_the_sample_specs_against_the_store_when_asked(local_agent, local_store, monkeypatch):
    """`eval --run-sample-specs`: the lines' unchanged specs are called on our store, and score the same."""
    ran = []
    real_invoke = SampleSpecTransport.invoke

    def invoke(self, tool, payload, timeout_s):
        result = real_invoke(self, tool, payload, timeout_s)
        ran.append((tool.name, result.status_code, result.body))
        return result

    monkeypatch.setattr(SampleSpecTransport, "invoke", invoke)
    lines = EVAL_FILE.read_text(encoding="utf-8").splitlines()
    summary = evaluate(local_agent, lines, io.StringIO(), run_sample_specs=True)
    assert summary["macro_reward"] >= MACRO_FLOOR
    assert ("get_order_by_id", 200, "Order 32057 (1 x Backpack) has shipped.") in ran
    assert all(status != 200 for name, status, _ in ran if name == "cancel_order")  # never run
    assert shared_store().get("orders", "37129")["status"] == "Processing"
