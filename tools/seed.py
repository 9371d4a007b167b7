"""CloudFormation custom resource: seed the tables with the sample data, once.

Create and Update write every sample item that is not there yet (a conditional put), so a
redeploy never overwrites what has changed since. Delete leaves the data alone (the tables go
with the stack). The answer goes to CloudFormation's pre-signed ResponseURL, as the custom
resource protocol requires; every path answers, so a stack never hangs waiting for it.
"""
from __future__ import annotations

import json
import logging
import os
import urllib.request
from typing import Any, Callable, Mapping

from .store import TABLE_KEYS, _to_dynamo, load_seed

logger = logging.getLogger(__name__)
logger.setLevel(logging.INFO)


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
         opener: Callable[..., Any] = urllib.request.urlopen) -> None:
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
    opener(request, timeout=10)


def lambda_handler(event: Mapping[str, Any], context: Any = None, *, resource: Any = None,
                   opener: Callable[..., Any] = urllib.request.urlopen) -> None:
    try:
        if event.get("RequestType") in ("Create", "Update"):
            written = seed_tables({"orders": os.environ["ORDERS_TABLE"], "returns": os.environ["RETURNS_TABLE"]},
                                  resource)
            logger.info("seeded sample data: %s", written)
            send(event, "SUCCESS", "seeded", {f"{t}Written": n for t, n in written.items()}, opener)
        else:
            send(event, "SUCCESS", "nothing to do on delete", None, opener)
    except Exception as exc:  # noqa: BLE001 - CloudFormation must always get an answer
        logger.exception("seeding failed")
        send(event, "FAILED", f"seeding failed: {type(exc).__name__}: {exc}", None, opener)
