"""Conversations in a DynamoDB table (Lambda): one item per conversation, saved conditionally.

Item: ``conversationId`` (S, the partition key: ``conversation_key``'s hash), ``messages`` (S,
compact JSON), ``version`` (N) and ``expiresAt`` (N, epoch seconds: the table's TTL attribute).
TTL deletion lags by hours or days, so an item past ``expiresAt`` reads as empty, keeping its version
for the condition. This module is imported only when the store is chosen; boto3 only when no
client is given.
"""
from __future__ import annotations

import time
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from . import (DEFAULT_TTL_HOURS, Clock, Conversation, ConversationConflict, ConversationStoreError, _check_save,
               _check_ttl, _conversation, dumps)

KEY_ATTRIBUTE = "conversationId"
TTL_ATTRIBUTE = "expiresAt"
MAX_MESSAGES_CHARS = 390_000  # DynamoDB's item limit is 400 KB; ``bounded`` keeps far below it
CONDITION = "attribute_not_exists(conversationId) OR version = :expected"


def _client(region: str | None) -> Any:
    import boto3
    from botocore.config import Config

    # Short timeouts and one retry: a turn has under 30 s in all, and these calls take milliseconds. A retried
    # PutItem whose first try landed conflicts with itself; save_turn recognises its own write.
    config = Config(connect_timeout=1, read_timeout=2, retries={"total_max_attempts": 2, "mode": "standard"})
    return boto3.client("dynamodb", region_name=region, config=config)


def _code(error: Exception) -> str:
    return (getattr(error, "response", None) or {}).get("Error", {}).get("Code") or type(error).__name__


class DynamoDBConversationStore:
    def __init__(self, table: str, *, client: Any = None, region: str | None = None,
                 ttl_seconds: float = DEFAULT_TTL_HOURS * 3600, clock: Clock = time.time) -> None:
        if not table:
            raise ValueError("a DynamoDB conversation store needs a table name")
        self.table = table
        self.ttl_seconds = _check_ttl(ttl_seconds)
        self.clock = clock
        self._client = client if client is not None else _client(region)

    def load(self, key: str) -> Conversation:
        try:
            item = self._client.get_item(TableName=self.table, Key={KEY_ATTRIBUTE: {"S": key}},
                                         ConsistentRead=True).get("Item")
        except (ClientError, BotoCoreError) as e:  # BotoCoreError: timeouts, no connection
            raise ConversationStoreError(f"conversation load failed: {_code(e)}") from None
        if not item:
            return Conversation([], 0)
        try:
            version = int(item["version"]["N"])
            expired = int(item[TTL_ATTRIBUTE]["N"]) <= self.clock()
            text = item["messages"]["S"]
        except (KeyError, TypeError, ValueError):
            raise ConversationStoreError("stored conversation is unreadable") from None
        return _conversation(text, version, expired)

    def save(self, key: str, messages: list, expected_version: int, state: dict | None = None) -> int:
        _check_save(messages, expected_version)
        text = dumps(messages, state)
        if len(text) > MAX_MESSAGES_CHARS:
            raise ConversationStoreError("conversation too large to store (bound it with bounded())")
        version = expected_version + 1
        item = {KEY_ATTRIBUTE: {"S": key}, "messages": {"S": text}, "version": {"N": str(version)},
                TTL_ATTRIBUTE: {"N": str(int(self.clock() + self.ttl_seconds))}}
        try:
            self._client.put_item(TableName=self.table, Item=item, ConditionExpression=CONDITION,
                                  ExpressionAttributeValues={":expected": {"N": str(expected_version)}})
        except (ClientError, BotoCoreError) as e:
            if _code(e) == "ConditionalCheckFailedException":
                raise ConversationConflict("conversation changed since it was loaded") from None
            raise ConversationStoreError(f"conversation save failed: {_code(e)}") from None
        return version
