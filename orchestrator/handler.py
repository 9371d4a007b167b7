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

from . import identify, lex, metrics
from .agent import Agent
from .budget import Deadline, run_within
from .replies import INTERNAL_ERROR_REPLY
from .settings import Settings, build_agent
from .turn import TurnRecord

logger = logging.getLogger("orchestrator")
if logger.level == logging.NOTSET:  # the CLI quietens it before importing us
    try:
        logger.setLevel(os.environ.get("LOG_LEVEL", "INFO").strip().upper())
    except ValueError:  # an unknown level name must not stop the function from starting
        logger.setLevel(logging.INFO)
# At DEBUG, botocore logs whole request bodies (the customer's words in a prompt). Whatever
# LOG_LEVEL or the function's log level says, the AWS SDK's loggers stay at WARNING.
for _name in ("botocore", "boto3", "urllib3", "s3transfer"):
    if logging.getLogger(_name).getEffectiveLevel() < logging.WARNING:
        logging.getLogger(_name).setLevel(logging.WARNING)

APOLOGY = INTERNAL_ERROR_REPLY

# Reading or writing the conversation gets at most this long: memory must not cost the reply.
MEMORY_TIMEOUT_S = 1.5
# Saves tried when other turns of the same session save first (a double-sent "yes", a retry): each
# conflict means another writer succeeded, so this many concurrent turns are all kept.
MEMORY_SAVE_ATTEMPTS = 8

_agent: Agent | None = None
_store: Any = None


def get_agent() -> Agent:
    global _agent
    if _agent is None:
        _agent = build_agent(Settings.from_env())
    return _agent


def set_agent(agent: Agent | None) -> None:
    """Use ``agent`` for the next invocations (tests, embedding); None rebuilds from settings."""
    global _agent
    _agent = agent


def get_store() -> Any:
    """The conversation store the environment names (SQLite locally, DynamoDB in AWS)."""
    global _store
    if _store is None:
        from .memory import store_from_env

        _store = store_from_env()
    return _store


def set_store(store: Any) -> None:
    """Use ``store`` for conversations (tests, embedding); None rebuilds it from the environment."""
    global _store
    _store = store


def _conversation_key(request: lex.LexEvent) -> str | None:
    """Whose conversation this is: Lex's session in this bot, alias and locale (None without a session)."""
    if not request.session_id:
        return None
    from .memory import conversation_key

    bot = request.bot
    return conversation_key(request.session_id, str(bot.get("id") or ""), str(bot.get("aliasId") or ""),
                            request.locale_id)


def _metrics_on() -> bool:
    """EMF lines go to stdout in Lambda (CloudWatch reads them), or wherever EMIT_METRICS=true."""
    value = os.environ.get("EMIT_METRICS", "").strip().lower()
    if value:
        return value in ("1", "true", "yes")
    return "AWS_LAMBDA_FUNCTION_NAME" in os.environ


def _turn(request: lex.LexEvent, context: Any) -> TurnRecord:
    """Load the conversation once, run the agent, save what the turn added once.

    Memory that cannot be read or written costs the turn its history, never its reply.
    """
    started = time.perf_counter()
    deadline = Deadline.for_lambda(context)
    key = _conversation_key(request)
    loaded = None
    try:
        agent = get_agent()
        if key is not None:
            try:
                loaded = run_within(min(MEMORY_TIMEOUT_S, deadline.remaining()), lambda: get_store().load(key),
                                    name="memory read")
            except Exception as exc:  # noqa: BLE001 - a turn without its history still answers
                logger.error(json.dumps({"event": "memory_read_failed", "error": type(exc).__name__}))
        # Unread memory hides the counts of failed tries: that turn checks no account details and
        # looks up no ids for a stranger, rather than start the counts again.
        state = loaded.state if loaded else ({identify.MEMORY_UNAVAILABLE: True} if key is not None else {})
        record = agent.run_turn(request.input_transcript, loaded.messages if loaded else [], deadline,
                                identity=_verified_identity(request), state=state)
    except Exception as exc:  # noqa: BLE001 - a broken setting or plug-in: the customer still gets a reply
        logger.error(json.dumps({"event": "turn_failed", "error": type(exc).__name__}))
        return TurnRecord(action="answer", answer=APOLOGY, fulfilled=False, reason="internal_error",
                          error=type(exc).__name__, latency_ms=round((time.perf_counter() - started) * 1000, 3))
    if key is not None and record.messages:
        _save(key, loaded, record, context)
    return record


def _verified_identity(request: lex.LexEvent) -> dict[str, str] | None:
    """The customer a signed token in the request proves, checked on every turn; None otherwise.

    A token that fails the check is logged by its reason (never the token) and the turn goes on as
    anonymous. The customer id is the token's ``custom:customer_id`` claim, set by the shop's pool.
    """
    from .identity import identity_from_request, verifier_from_env

    verified, reason = identity_from_request(request.request_attributes, verifier_from_env())
    if reason:
        logger.warning(json.dumps({"event": "identity_rejected", "reason": reason}))
    if verified is None:
        return None
    customer = verified.claims.get("custom:customer_id")
    return {"customer_id": str(customer), "subject": verified.subject} if isinstance(customer, str) and customer else None


def _save(key: str, loaded: Any, record: TurnRecord, context: Any) -> None:
    from .memory import Conversation, save_turn

    budget = Deadline.for_lambda(context, margin=0.3).remaining()
    saved_state = {k: v for k, v in record.state.items() if k != identify.MEMORY_UNAVAILABLE}
    try:
        run_within(min(MEMORY_TIMEOUT_S, budget), lambda: save_turn(get_store(), key, loaded or Conversation([], 0),
                                                                    record.messages, state=saved_state,
                                                                    attempts=MEMORY_SAVE_ATTEMPTS,
                                                                    merge=identify.merge_state),
                   name="memory write")
    except Exception as exc:  # noqa: BLE001 - the reply still goes out; the log says the memory failed
        logger.error(json.dumps({"event": "memory_write_failed", "error": type(exc).__name__}))


def lambda_handler(event: Any, context: Any = None) -> dict[str, Any]:
    request = lex.LexEvent(event)
    if request.invocation_source == "DialogCodeHook" and request.intent_name and not request.is_fallback:
        return lex.delegate(request)
    record = _turn(request, context)

    attributes = request.session_attributes  # the client's own, capped: memory is server-side

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
        # A confirmation question gets Yes/No buttons on a text channel (lex.py leaves them out for a caller).
        buttons = lex.CONFIRM_BUTTONS if record.reason == "confirm" else None
        return lex.elicit_intent(request, record.answer, session_attributes=attributes, buttons=buttons)
    return lex.close(request, record.answer, fulfilled=record.fulfilled, session_attributes=attributes)
