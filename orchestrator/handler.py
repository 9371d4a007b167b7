"""The orchestrator Lambda: a Lex V2 FallbackIntent event in, a Lex V2 response out.

Nothing heavy is imported at module load; the agent is built on the first invocation from the
environment (see ``settings.py``) and reused while the execution environment stays warm.
"""
from __future__ import annotations

import json
import logging
import os
from typing import Any

from . import lex
from .agent import PENDING_TOOL_ATTRIBUTE, Agent
from .budget import Deadline
from .settings import Settings, build_agent

logger = logging.getLogger("orchestrator")
if logger.level == logging.NOTSET:  # the CLI quietens it before importing us
    logger.setLevel(os.environ.get("LOG_LEVEL", "INFO").upper())

APOLOGY = "Sorry, something went wrong on our side. Please try again in a moment."

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


def lambda_handler(event: Any, context: Any = None) -> dict[str, Any]:
    request = lex.LexEvent(event)
    if request.invocation_source == "DialogCodeHook" and not request.is_fallback:
        return lex.delegate(request)
    try:
        agent = get_agent()
        record = agent.run_turn(request.input_transcript, request.session_attributes, Deadline.for_lambda(context))
    except Exception:  # noqa: BLE001 - the customer gets an apology, the log gets the trace
        logger.exception("turn failed")
        return lex.close(request, APOLOGY, fulfilled=False)

    attributes = request.session_attributes
    attributes.pop(PENDING_TOOL_ATTRIBUTE, None)
    if record.pending_tool:
        attributes[PENDING_TOOL_ATTRIBUTE] = record.pending_tool
    # At INFO: what happened, never what the customer said or what a tool returned.
    logger.info(json.dumps({"event": "turn", "inputMode": request.input_mode, **record.to_dict(include_text=False)}))
    return lex.close(request, record.answer, fulfilled=record.fulfilled, session_attributes=attributes)
