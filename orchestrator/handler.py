"""The orchestrator Lambda: a Lex V2 FallbackIntent event in, a Lex V2 response out.

Nothing heavy is imported at module load; the agent is built on the first invocation from the
environment (see ``settings.py``) and reused while the execution environment stays warm. Every
event gets a valid Lex response and every turn a log line and a metric line, whatever fails.
"""
from __future__ import annotations

import json
import logging
import os
import time
from typing import Any

from . import lex, metrics
from .agent import PENDING_TOOL_ATTRIBUTE, Agent
from .budget import Deadline
from .replies import INTERNAL_ERROR_REPLY
from .settings import Settings, build_agent
from .turn import TurnRecord

logger = logging.getLogger("orchestrator")
if logger.level == logging.NOTSET:  # the CLI quietens it before importing us
    logger.setLevel(os.environ.get("LOG_LEVEL", "INFO").upper())
# At DEBUG, botocore logs whole request bodies (the customer's words in a prompt). Whatever
# LOG_LEVEL or the function's log level says, the AWS SDK's loggers stay at WARNING.
for _name in ("botocore", "boto3", "urllib3", "s3transfer"):
    if logging.getLogger(_name).getEffectiveLevel() < logging.WARNING:
        logging.getLogger(_name).setLevel(logging.WARNING)

APOLOGY = INTERNAL_ERROR_REPLY

_agent: Agent | None = None


def get_agent() -> Agent:
    global _agent
    if _agent is None:
        _agent = build_agent(Settings.from_env())
    return _agent


def set_agent(agent: Agent | None) -> None:
    """Use ``agent`` for the next invocations (tests, embedding); None rebuilds from settings."""
    global _agent
    _agent = agent


def _metrics_on() -> bool:
    """EMF lines go to stdout in Lambda (CloudWatch reads them), or wherever EMIT_METRICS=true."""
    value = os.environ.get("EMIT_METRICS", "").strip().lower()
    if value:
        return value in ("1", "true", "yes")
    return "AWS_LAMBDA_FUNCTION_NAME" in os.environ


def _turn(request: lex.LexEvent, context: Any) -> TurnRecord:
    """The agent's record of this turn; a record of the failure when the agent cannot be had."""
    started = time.perf_counter()
    try:
        agent = get_agent()
        return agent.run_turn(request.input_transcript, request.session_attributes, Deadline.for_lambda(context))
    except Exception as exc:  # noqa: BLE001 - a broken setting or plug-in: the customer still gets a reply
        logger.error(json.dumps({"event": "turn_failed", "error": type(exc).__name__}))
        return TurnRecord(action="answer", answer=APOLOGY, fulfilled=False, reason="internal_error",
                          error=type(exc).__name__, latency_ms=round((time.perf_counter() - started) * 1000, 3))


def lambda_handler(event: Any, context: Any = None) -> dict[str, Any]:
    request = lex.LexEvent(event)
    if request.invocation_source == "DialogCodeHook" and request.intent_name and not request.is_fallback:
        return lex.delegate(request)
    record = _turn(request, context)

    attributes = request.session_attributes
    attributes.pop(PENDING_TOOL_ATTRIBUTE, None)
    if record.pending_tool:
        attributes[PENDING_TOOL_ATTRIBUTE] = record.pending_tool

    correlation = metrics.correlation_id(request.session_id)
    try:
        # At INFO: what happened, never what the customer said or what a tool returned.
        logger.info(json.dumps({"event": "turn", "correlationId": correlation, "inputMode": request.input_mode,
                                **record.to_dict(include_text=False)}, default=str))
        if _metrics_on():
            metrics.emit(record, correlation)
    except Exception:  # noqa: BLE001 - a log or metric that fails must not cost the customer the reply
        pass

    if record.action == "clarify":
        return lex.elicit_intent(request, record.answer, session_attributes=attributes)
    return lex.close(request, record.answer, fulfilled=record.fulfilled, session_attributes=attributes)
