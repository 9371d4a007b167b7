"""boto3 clients for the orchestrator's calls, sized to the turn's time left.

boto3 is imported on first use, not at module load. Clients are cached per service, whole second
of timeout and region. botocore's own retries are off (``total_max_attempts`` 1: its
``max_attempts`` counts *retries*, so 1 there means two attempts): the agent decides whether a
second attempt fits in what is left of the turn. The read timeout bounds each socket read only;
``budget.run_within`` bounds the whole call.
"""
from __future__ import annotations

import functools
import math
from typing import Any

CONNECT_TIMEOUT_S = 2


@functools.lru_cache(maxsize=16)
def _client(service: str, read_timeout_s: int, region: str | None) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=min(CONNECT_TIMEOUT_S, read_timeout_s),
        read_timeout=read_timeout_s,
        retries={"total_max_attempts": 1, "mode": "standard"},
    )
    return boto3.client(service, region_name=region, config=config)


def client(service: str, timeout_s: float, region: str | None = None) -> Any:
    return _client(service, max(1, math.ceil(timeout_s)), region)


def error_code(exc: Any) -> str:
    """The AWS error code of a ClientError, as letters and digits only (it goes into logs)."""
    code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", "Unknown"))
    return "".join(c for c in code if c.isalnum())[:64] or "Unknown"


def clear_clients() -> None:
    """Forget cached clients (tests that point botocore at another endpoint)."""
    _client.cache_clear()
