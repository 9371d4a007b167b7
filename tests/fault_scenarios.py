"""One fault, one target, one amount of Lambda time left: a Lex turn through the deployed shape.

The agent is the one the stack deploys (few-shot planner, an LLM backend, the Lambda tool
transport), built from settings; the model and the tool Lambdas are stub servers on 127.0.0.1
(``tests/faults.py``) reached through the real botocore and ``http.client`` code paths. The fault
suite (``tests/test_faults.py``) and the fault table (``benchmarks/fault_table.py``) both run these.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import time
from dataclasses import dataclass
from typing import Any, Iterator

from orchestrator import aws, handler
from orchestrator.replies import MODEL_UNAVAILABLE_REPLY, TIMEOUT_REPLY, UNAVAILABLE_REPLY
from orchestrator.samples import text_event
from orchestrator.settings import Settings, build_agent
from tests.faults import FAULTS, StubServer, stub_env

# What the customer asks for each target: the model plans, then the tool of that question runs.
QUESTIONS = {
    "sagemaker": "Could you tell me if order 123456 has shipped?",
    "openai": "Could you tell me if order 123456 has shipped?",
    "orders": "Could you tell me if order 123456 has shipped?",
    "returns": "Is my return rtn003 processed?",
}
TARGETS = tuple(QUESTIONS)
# A fault that never answers: the call is cut off at the deadline (or its connect timeout).
SLOW_FAULTS = ("hang", "trickle", "never_connect")
HEALTHY_ANSWERS = {"orders": "Herbal Handsoap", "returns": "Ceramic Mug", "sagemaker": "Herbal Handsoap",
                   "openai": "Herbal Handsoap"}


def faults_for(target: str) -> list[str]:
    return FAULTS[{"orders": "lambda", "returns": "lambda"}.get(target, target)]


def _model_answer(prompt: str) -> str:
    """A healthy planner and judge: names the tool the question is about, and says yes to relevance."""
    if "Does the answer respond" in prompt:
        return "yes"
    question = prompt.rsplit("Question:", 1)[-1]
    return "returns_inquiry" if "rtn" in question.lower() else "order_inquiry"


def _sagemaker_respond(request: Any) -> Any:
    return {"generated_texts": [_model_answer(str(request.get("text_inputs") or request.get("inputs")))]}


def _openai_respond(request: Any) -> str:
    return _model_answer(str(request["messages"][-1]["content"]))


def _tool_respond(request: Any) -> Any:
    """The real tool handlers, on the local SQLite store: a healthy Lambda answers as ours do."""
    from tools import orders, returns

    return (returns if "returnId" in request else orders).lambda_handler(request)


@dataclass
class Expected:
    state: str
    reason: str
    message: str


def expected(target: str, fault: str) -> Expected:
    if fault == "ok":
        return Expected("Fulfilled", "found", HEALTHY_ANSWERS[target])
    if target in ("sagemaker", "openai"):
        if fault in SLOW_FAULTS:
            return Expected("Failed", "model_timeout", TIMEOUT_REPLY)
        return Expected("Failed", "model_error", MODEL_UNAVAILABLE_REPLY)
    reply = UNAVAILABLE_REPLY.format(noun="order" if target == "orders" else "return")
    return Expected("Failed", "tool_timeout" if fault in SLOW_FAULTS else "tool_unavailable", reply)


class LambdaContext:
    """A Lambda context whose clock started with ``seconds`` left."""

    def __init__(self, seconds: float) -> None:
        self._end = time.monotonic() + seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._end - time.monotonic()) * 1000))


@dataclass
class Outcome:
    target: str
    fault: str
    time_left_s: float
    elapsed_s: float
    response: dict[str, Any]
    record: dict[str, Any]  # the turn record the handler logged

    @property
    def state(self) -> str:
        return self.response["sessionState"].get("intent", {}).get("state", "")

    @property
    def message(self) -> str:
        return self.response["messages"][0]["content"]


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.turns: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        line = json.loads(record.getMessage())
        if line.get("event") == "turn":
            self.turns.append(line)


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    aws.clear_clients()  # botocore reads the endpoint variables when a client is made
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        aws.clear_clients()


def run_case(target: str, fault: str, time_left_s: float, *, store_path: str | None = None) -> Outcome:
    """One Lex turn with ``fault`` on ``target`` and ``time_left_s`` of Lambda time; stubs stopped after."""
    model_protocol = "openai" if target == "openai" else "sagemaker"
    model_respond = _openai_respond if target == "openai" else _sagemaker_respond
    with StubServer(model_protocol, model_respond) as model, StubServer("lambda", _tool_respond) as tools, \
            tempfile.TemporaryDirectory() as scratch:
        env = stub_env(**({"openai": model} if target == "openai" else {"sagemaker": model}), lambda_=tools)
        env.update(ORDERS_FUNCTION_NAME="stack-orders", RETURNS_FUNCTION_NAME="stack-returns",
                   STORE_BACKEND="sqlite", STORE_PATH=store_path or os.path.join(scratch, "store.sqlite3"),
                   EMIT_METRICS="false")
        with _environment(env):
            settings = Settings(planner="fewshot", backend=model_protocol, transport="lambda",
                                sagemaker_endpoint_name="lex-agent-flan-ul2",
                                openai_base_url=model.base_url, openai_model="qwen")
            handler.set_agent(build_agent(settings))
            if target in ("orders", "returns"):
                tools.fault = fault
            else:
                model.fault = fault
            records = _Records()
            logger = logging.getLogger("orchestrator")
            level = logger.level
            logger.setLevel(logging.INFO)
            logger.addHandler(records)
            try:
                started = time.monotonic()
                response = handler.lambda_handler(text_event(QUESTIONS[target]), LambdaContext(time_left_s))
                elapsed = time.monotonic() - started
            finally:
                logger.removeHandler(records)
                logger.setLevel(level)
                handler.set_agent(None)
    return Outcome(target, fault, time_left_s, elapsed, response, records.turns[-1] if records.turns else {})
