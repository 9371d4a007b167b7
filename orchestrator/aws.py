"""boto3 clients for the orchestrator's calls, with the turn's time left as read timeout.

boto3 is imported on first use, not at module load. Clients are cached per service, whole second
of timeout and region: a turn's calls reuse them, and no call may outlive the turn's deadline.
"""
from __future__ import annotations

import functools
import math
from typing import Any


@functools.lru_cache(maxsize=16)
def _client(service: str, read_timeout_s: int, region: str | None) -> Any:
    import boto3
    from botocore.config import Config

    # One attempt: the agent loop decides about retries, within the deadline.
    config = Config(connect_timeout=2, read_timeout=read_timeout_s, retries={"max_attempts": 1, "mode": "standard"})
    return boto3.client(service, region_name=region, config=config)


def client(service: str, timeout_s: float, region: str | None = None) -> Any:
    return _client(service, max(1, math.ceil(timeout_s)), region)
