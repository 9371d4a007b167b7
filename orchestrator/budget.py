"""Time budgets: Lex waits 30 s for fulfillment, so every call gets only what is left.

``Deadline`` is the one clock of a turn. ``run_within`` enforces it *in total* around a blocking
call: socket timeouts are per read, so a reply that trickles in a byte at a time would otherwise
outlive any read timeout. The call runs on a daemon thread; when the deadline passes the turn
goes on without it. The callers read bodies in small pieces against the same end time
(``wire.read_capped``), so an abandoned call stops at its next read; while too many calls to one
target are still running, new calls to it fail at once rather than pile up threads against a
service that is not answering (a breaker per target: a hung model does not stop the tools).
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, TypeVar

LEX_FULFILLMENT_TIMEOUT_S = 30.0
# Kept back to build, log and return the reply after the last call gives up.
DEFAULT_MARGIN_S = 2.0
# Calls abandoned at a deadline and still running; past this, fail fast (a crude circuit breaker).
MAX_ABANDONED_CALLS = 16

T = TypeVar("T")


class DeadlineExceeded(TimeoutError):
    """The call did not finish within the time the turn had left."""


class TooManyAbandonedCalls(RuntimeError):
    """Earlier calls that hung are still running: this one is refused without waiting."""


@dataclass
class Deadline:
    """A point in time after which the turn must answer with what it has."""

    seconds: float
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)

    def __post_init__(self) -> None:
        self._end = self.clock() + max(0.0, self.seconds)

    def remaining(self) -> float:
        return max(0.0, self._end - self.clock())

    def expired(self, need: float = 0.0) -> bool:
        """True when less than ``need`` seconds are left (0: when time is up)."""
        return self.remaining() <= need

    @classmethod
    def for_lambda(cls, context: Any, margin: float = DEFAULT_MARGIN_S) -> "Deadline":
        """``min(Lambda remaining time, 30 s) - margin``; 30 s - margin without a context."""
        limit = LEX_FULFILLMENT_TIMEOUT_S
        get_remaining = getattr(context, "get_remaining_time_in_millis", None)
        if callable(get_remaining):
            try:
                limit = min(limit, float(get_remaining()) / 1000.0)
            except (TypeError, ValueError):
                pass
        return cls(limit - margin)


_abandoned: dict[str, int] = {}
_abandoned_lock = threading.Lock()


def abandoned_calls(target: str | None = None) -> int:
    """How many calls given up at a deadline are still running, to ``target`` or in all."""
    with _abandoned_lock:
        return _abandoned.get(target, 0) if target is not None else sum(_abandoned.values())


class CallFailed(RuntimeError):
    """The call ended with something that is not an ``Exception`` (``SystemExit``, say)."""


def run_within(timeout_s: float, call: Callable[[], T], *, name: str = "call", target: str | None = None) -> T:
    """``call()``, or ``DeadlineExceeded`` once ``timeout_s`` has passed, whatever the call does.

    The call's own ``Exception`` is re-raised in the caller's thread; anything else it raised (a
    ``SystemExit`` from a plug-in) becomes ``CallFailed``, so it cannot end the Lambda's turn.
    ``target`` (an endpoint, a function) has its own count of abandoned calls.
    """
    key = target or name
    if timeout_s <= 0:
        raise DeadlineExceeded(f"no time left for the {name}")
    if abandoned_calls(key) >= MAX_ABANDONED_CALLS:
        raise TooManyAbandonedCalls(f"{abandoned_calls(key)} earlier calls to it still hang")
    done = threading.Event()
    outcome: dict[str, Any] = {}
    state = {"abandoned": False}

    def worker() -> None:
        try:
            outcome["value"] = call()
        except Exception as exc:  # noqa: BLE001 - handed to the caller
            outcome["error"] = exc
        except BaseException as exc:  # noqa: BLE001 - never let it end the process from here
            outcome["error"] = CallFailed(f"the {name} raised {type(exc).__name__}")
        finally:
            with _abandoned_lock:
                done.set()
                if state["abandoned"]:
                    _abandoned[key] -= 1

    thread = threading.Thread(target=worker, name=f"deadline-{name}", daemon=True)
    thread.start()
    if not done.wait(timeout_s):
        with _abandoned_lock:
            if not done.is_set():
                state["abandoned"] = True
                _abandoned[key] = _abandoned.get(key, 0) + 1
                raise DeadlineExceeded(f"the {name} did not finish in {timeout_s:.1f}s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
