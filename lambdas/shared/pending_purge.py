"""Delete an organisation's pending events: what a consent revocation and an admission
withdrawal do.

Pending events are keyed by ``orgHash`` = HMAC(salt, owner id), so an organisation's events are
two partitions: one under the current salt, one under the previous. Each is read with a
strongly consistent ``Query`` (an event whose write committed before the revocation is seen)
and every item deleted by key. Only the keys are read.
"""

from __future__ import annotations

from typing import Any, TypeAlias

from salt_cache import SaltSet

DynamoDBClient: TypeAlias = Any


def purge_pending(ddb: DynamoDBClient, table: str, owner_id: str, salts: SaltSet) -> int:
    """Delete every pending event of ``owner_id`` under the current and previous salt."""
    deleted = 0
    for salt in salts.salts:
        request: dict[str, Any] = {
            "TableName": table,
            "KeyConditionExpression": "#org = :org",
            "ExpressionAttributeNames": {"#org": "orgHash", "#event": "eventKey"},
            "ExpressionAttributeValues": {":org": {"S": salt.org_hash(owner_id)}},
            "ProjectionExpression": "#org, #event",
            "ConsistentRead": True,
        }
        while True:
            page = ddb.query(**request)
            for key in page.get("Items", []):
                ddb.delete_item(TableName=table, Key=key)
                deleted += 1
            if "LastEvaluatedKey" not in page:
                break
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return deleted
