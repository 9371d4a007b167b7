"""CloudFormation custom resource: seed the orders, returns and customers tables with the sample data.

Create and Update write every sample item that is not there yet (a conditional put), so a
redeploy never overwrites what has changed since. Delete leaves the data alone (the tables go
with the stack). The answer goes to CloudFormation's pre-signed ResponseURL, as the custom
resource protocol requires; every path answers, so a stack never hangs waiting for it: an
exception answers FAILED, and so does a timer that fires DEADLINE_MARGIN_S before the function
would time out. Exactly one answer is ever sent, whichever path gets there first.
"""
from __future__ import annotations

import json
import logging
import os
import threading
import urllib.request
from typing import Any, Callable, Mapping

from .store import TABLE_ENV, TABLE_KEYS, _to_dynamo, load_seed

logger = logging.getLogger(__name__)
logger.setLevel(logging.INFO)

# Seconds before the Lambda timeout at which an unfinished run answers FAILED: enough for one PUT.
DEADLINE_MARGIN_S = 2.0


def seed_tables(table_names: Mapping[str, str], resource: Any = None) -> dict[str, int]:
    """Put each sample item whose key is absent; returns how many were written per table."""
    from botocore.exceptions import ClientError

    if resource is None:
        import boto3

        resource = boto3.resource("dynamodb")
    written: dict[str, int] = {}
    for table, key in TABLE_KEYS.items():
        dynamo_table = resource.Table(table_names[table])
        count = 0
        for item in load_seed(table):
            try:
                dynamo_table.put_item(Item=_to_dynamo(item), ConditionExpression="attribute_not_exists(#k)",
                                      ExpressionAttributeNames={"#k": key})
                count += 1
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    raise
        written[table] = count
    return written


def send(event: Mapping[str, Any], status: str, reason: str, data: Mapping[str, Any] | None = None,
         opener: Callable[..., Any] = urllib.request.urlopen, timeout: float = 10.0) -> None:
    body = json.dumps({
        "Status": status,
        "Reason": reason[:500],
        "PhysicalResourceId": event.get("PhysicalResourceId") or "sample-data-seed",
        "StackId": event["StackId"],
        "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"],
        "Data": dict(data or {}),
    }).encode()
    request = urllib.request.Request(event["ResponseURL"], data=body, method="PUT",
                                     headers={"Content-Type": "", "Content-Length": str(len(body))})
    opener(request, timeout=timeout)


class _Answer:
    """Answers CloudFormation at most once: the first caller sends, later ones are dropped."""

    def __init__(self, event: Mapping[str, Any], opener: Callable[..., Any], context: Any = None) -> None:
        self._event, self._opener = event, opener
        self._remaining_ms = getattr(context, "get_remaining_time_in_millis", None)
        self._lock = threading.Lock()
        self.status: str | None = None  # what was delivered, once something was

    def __call__(self, status: str, reason: str, data: Mapping[str, Any] | None = None,
                 timeout: float = 10.0) -> bool:
        with self._lock:  # held while sending, so a racing caller waits and sees the outcome
            if self.status is not None:
                logger.warning("not answering %s: CloudFormation already got %s", status, self.status)
                return False
            if self._remaining_ms is not None and status == "SUCCESS":
                # A hanging PUT must give up before the deadline timer needs the lock for FAILED.
                timeout = max(0.5, min(timeout, self._remaining_ms() / 1000 - DEADLINE_MARGIN_S - 0.5))
            try:
                send(self._event, status, reason, data, self._opener, timeout)
            except Exception:  # noqa: BLE001 - not delivered: the deadline timer may still answer FAILED
                logger.exception("could not answer CloudFormation %s", status)
                return False
            self.status = status  # only once delivered
            return True


def _deadline_timer(context: Any, answer: _Answer) -> threading.Timer | None:
    """A timer answering FAILED DEADLINE_MARGIN_S before the function times out (None without a context)."""
    remaining_ms = getattr(context, "get_remaining_time_in_millis", None)
    if remaining_ms is None:
        return None
    delay = max(0.0, remaining_ms() / 1000 - DEADLINE_MARGIN_S)
    timer = threading.Timer(delay, answer, args=("FAILED", "seeding did not finish before the function timed out"),
                            kwargs={"timeout": DEADLINE_MARGIN_S / 2})
    timer.name, timer.daemon = "seed-deadline", True
    timer.start()
    return timer


def lambda_handler(event: Mapping[str, Any], context: Any = None, *, resource: Any = None,
                   opener: Callable[..., Any] = urllib.request.urlopen) -> None:
    answer = _Answer(event, opener, context)
    timer = _deadline_timer(context, answer)
    try:
        if event.get("RequestType") in ("Create", "Update"):
            written = seed_tables({table: os.environ[name] for table, name in TABLE_ENV.items()}, resource)
            logger.info("seeded sample data: %s", written)
            answer("SUCCESS", "seeded", {f"{t}Written": n for t, n in written.items()})
        else:
            answer("SUCCESS", "nothing to do on delete")
    except Exception as exc:  # noqa: BLE001 - CloudFormation must always get an answer
        logger.exception("seeding failed")
        answer("FAILED", f"seeding failed: {type(exc).__name__}: {exc}")
    finally:
        if timer is not None:  # answered (or about to be): no late FAILED, and no thread left behind
            timer.cancel()
            timer.join()
        if answer.status is None:  # nothing was delivered (the SUCCESS PUT failed): try FAILED once more
            answer("FAILED", "the seeding result could not be delivered", timeout=DEADLINE_MARGIN_S / 2)
