"""What `sam build` puts in each function (the Makefile's build-* targets), and that it runs alone."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def build(target, tmp_path):
    out = tmp_path / target
    subprocess.run(["make", "-s", f"build-{target}", f"ARTIFACTS_DIR={out}"], cwd=ROOT, check=True)
    return out, sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())


def test_orchestrator_package_holds_only_its_code(tmp_path):
    out, files = build("OrchestratorFunction", tmp_path)
    assert "orchestrator/handler.py" in files and "orchestrator/planners/fewshot.py" in files
    assert all(f.startswith("orchestrator/") and f.endswith(".py") for f in files)
    assert not {"orchestrator/evaluate.py", "orchestrator/cli.py", "orchestrator/samples.py"} & set(files)  # runtime only
    assert sum((out / f).stat().st_size for f in files) < 320_000  # source only: loop, models, memory, identity, channel
    # -S: no site-packages, so only the artifact itself is importable (as in a bare Lambda runtime).
    code = "import orchestrator.handler, orchestrator.llm.sagemaker, orchestrator.dispatcher as d; print(d.__file__)"
    done = subprocess.run([sys.executable, "-S", "-c", code], cwd=out, capture_output=True, text=True)
    assert done.stdout.strip() == str(out / "orchestrator" / "dispatcher.py"), done.stderr


TOOL_TARGETS = ["OrdersFunction", "ReturnsFunction", "SeedFunction", "CustomersFunction", "CancelOrderFunction"]
# Each tool package answers alone, on SQLite seeded from the data files it carries.
SMOKE = ("import json; from tools import orders, customers, cancel; print(json.dumps(["
         "orders.lambda_handler({'orderId': '123456'})['statusCode'], orders.__file__, "
         "customers.lambda_handler({'username': 'arnav_desai'})['body'], "
         "orders.lambda_handler({'customerId': '456789'})['body'], "
         "cancel.lambda_handler({'orderId': '37129', 'customerId': '901235', 'idempotencyKey': 'k' * 16})['statusCode']]))")


@pytest.mark.parametrize("target", TOOL_TARGETS)
def test_tool_packages_hold_the_tools_and_their_seed_data(tmp_path, target):
    out, files = build(target, tmp_path)
    assert {"tools/orders.py", "tools/returns.py", "tools/customers.py", "tools/cancel.py", "tools/store.py",
            "tools/seed.py", "tools/data/orders.json", "tools/data/chatbot_orders.json", "tools/data/customers.json",
            "tools/data/NOTICE"} <= set(files)
    assert all(f.startswith("tools/") for f in files)  # tools only: no orchestrator, tests or evals
    assert "MIT No Attribution" in (out / "tools/data/NOTICE").read_text()
    env = {"PATH": os.environ["PATH"], "STORE_PATH": str(tmp_path / "s.sqlite3")}
    done = subprocess.run([sys.executable, "-S", "-c", SMOKE], cwd=out, capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [200, str(out / "tools" / "orders.py"), "Found the account of Arnav Desai.",
                                       "You have 1 order: 54321 (Laptop Sleeve, Shipped).", 200]


def test_reward_package_scores_a_sample_alone(tmp_path):
    out, files = build("RewardFunction", tmp_path)
    assert "orchestrator/reward_lambda.py" in files
    code = ("import json; from orchestrator.reward_lambda import lambda_handler as h; print(json.dumps(h([{'id': 'a', "
            "'messages': [{'role': 'user', 'content': 'order 123456?'}, {'role': 'assistant', 'content': "
            "'[{\"name\": \"order_inquiry\", \"arguments\": {\"order_id\": \"123456\"}}]'}], "
            "'reference_answer': '[{\"name\": \"order_inquiry\", \"arguments\": {\"order_id\": \"123456\"}}]'}])))")
    done = subprocess.run([sys.executable, "-S", "-c", code], cwd=out, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)[0]["aggregate_reward_score"] == 1.0
