"""Reading what a model or a tool sent back, defensively: size-capped, depth-safe JSON.

A body we did not write may be empty, truncated, a megabyte long or nested deeper than the
parser's recursion limit. Each of those is a ``WireError`` with a short reason that names no
customer data, never a ``RecursionError`` or ``MemoryError`` escaping into the turn.
"""
from __future__ import annotations

import json
import time
from typing import Any

# Replies of the models and tools here are a few hundred bytes; anything this big is a fault.
MAX_MODEL_RESPONSE_BYTES = 256 * 1024
MAX_TOOL_RESPONSE_BYTES = 64 * 1024


class WireError(ValueError):
    """A response body that cannot be used; the message says why in a few words."""


CHUNK_BYTES = 4096


def read_capped(stream: Any, limit: int, end: float | None = None) -> bytes:
    """Read at most ``limit`` bytes from a body, in small pieces, giving up at ``end`` (monotonic).

    Each piece is one socket read where the stream allows it (``read1``), so a body that trickles
    in is dropped, and its connection closed, at the first read after ``end``.
    """
    raw = getattr(stream, "_raw_stream", stream)  # botocore's StreamingBody wraps urllib3's response
    read = getattr(raw, "read1", None) or raw.read
    chunks: list[bytes] = []
    size = 0
    try:
        while True:
            if end is not None and time.monotonic() > end:
                raise WireError("response still arriving at the deadline")
            chunk = read(CHUNK_BYTES)
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > limit:
                raise WireError(f"response larger than {limit} bytes")
            chunks.append(chunk)
    except WireError:
        close = getattr(stream, "close", None)
        if callable(close):
            close()
        raise


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
