from __future__ import annotations

import os

import pytest

# No test may reach AWS: fake credentials and a region for boto3, moto and botocore's Stubber.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_SESSION_TOKEN", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
for name in ("AGENT_PLANNER", "LLM_BACKEND", "TOOL_TRANSPORT", "MAX_STEPS", "STORE_BACKEND", "ORDERS_TABLE", "RETURNS_TABLE",
             "CUSTOMERS_TABLE", "MODEL_ADAPTER", "BEDROCK_MODEL_ID", "CONVERSATION_STORE", "CONVERSATION_TABLE", "CONVERSATION_PATH"):
    os.environ.pop(name, None)


@pytest.fixture(autouse=True)
def local_store(tmp_path, monkeypatch):
    """Every test gets its own freshly seeded SQLite file."""
    monkeypatch.setenv("STORE_PATH", str(tmp_path / "store.sqlite3"))
    monkeypatch.setenv("STORE_BACKEND", "sqlite")
    monkeypatch.setenv("CONVERSATION_PATH", str(tmp_path / "conversations.sqlite3"))
    monkeypatch.setenv("CONVERSATION_STORE", "sqlite")
    return tmp_path / "store.sqlite3"


@pytest.fixture(scope="session")
def router():
    """The embedded default planner, loaded once for the whole run (as a warm Lambda would)."""
    from orchestrator.planners.router import RouterPlanner
    from orchestrator.registry import DEFAULT_REGISTRY

    planner = RouterPlanner()
    planner.warm_up(DEFAULT_REGISTRY)
    return planner


@pytest.fixture
def local_agent(router):
    """The agent `make demo` runs: router planner, no LLM, tools in-process on SQLite."""
    from orchestrator.agent import Agent
    from orchestrator.dispatcher import InProcessTransport
    from orchestrator.registry import DEFAULT_REGISTRY

    return Agent(DEFAULT_REGISTRY, router, InProcessTransport())


@pytest.fixture
def local_handler(local_agent):
    from orchestrator import handler

    handler.set_agent(local_agent)
    handler.set_store(None)  # the conversation store of this test's own SQLite file
    yield handler
    handler.set_agent(None)
    handler.set_store(None)
