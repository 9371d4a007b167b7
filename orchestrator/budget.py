"""Time budgets: Lex waits 30 s for fulfillment, so every call gets only what is left."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

LEX_FULFILLMENT_TIMEOUT_S = 30.0
# Kept back to build and return the reply after the last call gives up.
DEFAULT_MARGIN_S = 2.0


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
