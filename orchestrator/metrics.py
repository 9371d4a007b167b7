"""One CloudWatch metric line per turn, in Embedded Metric Format, and the turn's correlation id.

EMF is a JSON line on stdout that CloudWatch Logs turns into metrics, with no API call and no IAM
grant: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
The line is printed rather than logged because the Lambda runtime wraps ``logging`` output in its
own JSON object (LogFormat JSON), and CloudWatch reads EMF only from a line's top-level object.
Each turn is counted twice: without dimensions (what an alarm watches) and by ``Action``.
It carries the turn's shape and a correlation id, never the customer's words.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from typing import Any, TextIO

DEFAULT_NAMESPACE = "LexLlmAgent"
METRICS = (("Latency", "Milliseconds"), ("ModelCalls", "Count"), ("ToolCalls", "Count"), ("Failed", "Count"))


def correlation_id(*parts: str) -> str:
    """A stable id for a conversation that is not the conversation: a hash of Lex's session id."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()
    return digest[:16]


def turn_metrics(record: Any, correlation: str, namespace: str | None = None, *,
                 timestamp_ms: int | None = None) -> dict[str, Any]:
    """The EMF object for one ``TurnRecord``."""
    return {
        "_aws": {
            "Timestamp": int(time.time() * 1000) if timestamp_ms is None else timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": namespace or os.environ.get("METRICS_NAMESPACE") or DEFAULT_NAMESPACE,
                "Dimensions": [[], ["Action"]],
                "Metrics": [{"Name": name, "Unit": unit} for name, unit in METRICS],
            }],
        },
        "Action": record.action,
        "Latency": record.latency_ms,
        "ModelCalls": record.model_calls,
        "ToolCalls": record.tool_calls,
        "Failed": 0 if record.fulfilled else 1,
        "reason": record.reason,
        "correlationId": correlation,
    }


def emit(record: Any, correlation: str, stream: TextIO | None = None) -> None:
    """Print the turn's metric line (one line, flushed, so a frozen Lambda loses nothing)."""
    out = stream or sys.stdout
    out.write(json.dumps(turn_metrics(record, correlation), separators=(",", ":")) + "\n")
    out.flush()
