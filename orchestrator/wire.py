"""Reading what a model or a tool sent back, defensively: size-capped, depth-safe JSON.

A body we did not write may be empty, truncated, a megabyte long or nested deeper than the
parser's recursion limit. Each of those is a ``WireError`` with a short reason that names no
customer data, never a ``RecursionError`` or ``MemoryError`` escaping into the turn.
"""
from __future__ import annotations

import json
from typing import Any

# Replies of the models and tools here are a few hundred bytes; anything this big is a fault.
MAX_MODEL_RESPONSE_BYTES = 256 * 1024
MAX_TOOL_RESPONSE_BYTES = 64 * 1024


class WireError(ValueError):
    """A response body that cannot be used; the message says why in a few words."""


def read_capped(stream: Any, limit: int) -> bytes:
    """Read at most ``limit`` bytes from a file-like body; more than that is an error."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise WireError(f"response larger than {limit} bytes")
    return data


def loads(raw: bytes | str, limit: int) -> Any:
    """Parse ``raw`` as JSON, or raise ``WireError`` (empty, too large, not JSON, too deep)."""
    if not raw:
        raise WireError("empty response")
    if len(raw) > limit:
        raise WireError(f"response larger than {limit} bytes")
    try:
        return json.loads(raw)
    except RecursionError:
        raise WireError("response nested too deeply") from None
    except (TypeError, ValueError):
        raise WireError("response is not JSON") from None
