"""The per-rule, per-salt-period aggregate that fp-ingestion updates with every stored event.

One item per (``ruleId``, salt period, ``orgIdHash`` prefix) in the aggregates table:
``events`` and ``falsePositives`` counters and ``orgs``, the string set of the period's
``orgIdHash`` values whose prefix is the shard's. An organisation's hash falls in exactly one
shard, so a period's distinct organisations are exactly the sum of its shards' set sizes, and
``ADD`` to a set is idempotent. calibration-query reads these items: O(periods x shards), never
O(events). The event's conditional put and this update are one transaction: a retried event
(its put fails) changes no counter.
"""

from __future__ import annotations

from typing import Any

# 256 shards (two hex characters of the hash): an item stays near 1 KB up to ~3,500 organisations
# per rule and period. A transactional write costs 2 WRU per KB of the item, and an item may not
# exceed 400 KB (~6,000 hashes): 256 shards keep that limit out of reach (1.5M organisations).
SHARD_CHARS = 2


def period_shard(month: str, salt_id: str, org_id_hash: str) -> str:
    """The aggregate's sort key: salt month, salt id (two salts in one month are counted apart),
    hash prefix. Sorting by it groups a rule's items by period."""
    return f"{month}#{salt_id}#{org_id_hash[:SHARD_CHARS]}"


def aggregate_update(item: dict[str, Any], table: str) -> dict[str, Any]:
    """The ``Update`` of a transaction, for the stored event ``item`` (calibration item shape)."""
    org = item["orgIdHash"]["S"]
    return {
        "TableName": table,
        "Key": {
            "ruleId": item["ruleId"],
            "periodShard": {
                "S": period_shard(item["saltRotationMonth"]["S"], item["saltId"]["S"], org)
            },
        },
        "UpdateExpression": (
            "ADD #orgs :org, #events :one, #fp :fp SET #month = :month, #salt = :salt"
        ),
        "ExpressionAttributeNames": {
            "#orgs": "orgs",
            "#events": "events",
            "#fp": "falsePositives",
            "#month": "saltRotationMonth",
            "#salt": "saltId",
        },
        "ExpressionAttributeValues": {
            ":org": {"SS": [org]},
            ":one": {"N": "1"},
            ":fp": {"N": "1" if item["isFalsePositive"]["BOOL"] else "0"},
            ":month": item["saltRotationMonth"],
            ":salt": item["saltId"],
        },
    }


def transaction(item: dict[str, Any], events_table: str, aggregates_table: str) -> list[Any]:
    """``TransactItems``: the event, stored once (conditional put), and its aggregate update."""
    return [
        {
            "Put": {
                "TableName": events_table,
                "Item": item,
                "ConditionExpression": "attribute_not_exists(#id)",
                "ExpressionAttributeNames": {"#id": "id"},
            }
        },
        {"Update": aggregate_update(item, aggregates_table)},
    ]
