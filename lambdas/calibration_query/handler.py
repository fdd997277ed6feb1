"""calibration-query: a rule's false-positive calibration, only when k organisations stand behind it.

Input ``{ruleId}`` as a direct invoke, or ``pathParameters.ruleId`` of an HTTP API (payload 2.0)
request; the answer is an HTTP API response in both cases. It reads every page of the rule's
aggregates (one Query call per page): per salt period and ``orgIdHash`` prefix, the counters and
the set of organisation hashes that fp-ingestion updates in the same transaction as each event.
The cost follows the number of periods and organisations, never the number of events.

The same organisation has a different ``orgIdHash`` under every salt, so distinct organisations
are counted per salt (``saltId``) and only periods that each reach k are answered. Summing periods
to reach k would overstate k. A hash lives in exactly one shard of its period, so the sum of the
shards' set sizes is the exact number of distinct organisations.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeAlias, cast

import boto3
from aws_lambda_powertools.logging.logger import Logger
from botocore.exceptions import BotoCoreError, ClientError

ENV_VARS: tuple[str, ...] = (
    "AGGREGATES_TABLE_NAME",
    "K_ANONYMITY",
    "ENVIRONMENT",
)

RULE_ID = re.compile(r"[A-Z]{2,5}-[0-9]{3,4}")
K_RANGE = range(2, 1001)  # the stack config's kAnonymity range
# boto3 ships no type stubs and the project adds no stub dependency.
DynamoDBClient: TypeAlias = Any

logger = Logger()


@dataclass(frozen=True, kw_only=True)
class Settings:
    environment: str
    aggregates_table: str
    k: int = 10
    page_size: int | None = None  # not configurable: tests use it to force several pages

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        environment = env.get("ENVIRONMENT", "")
        if environment not in ("staging", "production"):
            raise ValueError(f"ENVIRONMENT={environment!r}: must be staging or production")
        raw_k = env.get("K_ANONYMITY", "10")
        if not raw_k.isdigit() or int(raw_k) not in K_RANGE:
            raise ValueError(f"K_ANONYMITY={raw_k!r}: must be an integer 2-1000")
        return cls(
            environment=environment,
            aggregates_table=env["AGGREGATES_TABLE_NAME"],
            k=int(raw_k),
        )


@dataclass(frozen=True, kw_only=True)
class Dependencies:
    settings: Settings
    dynamodb: DynamoDBClient


@cache
def dependencies() -> Dependencies:
    """Built once per container, on the first invocation."""
    settings = Settings.from_env(os.environ)
    logger.append_keys(environment=settings.environment)
    return Dependencies(settings=settings, dynamodb=boto3.client("dynamodb"))


@dataclass
class Period:
    month: str
    orgs: int = 0
    events: int = 0
    false_positives: int = 0


def rule_id_of(event: object) -> str:
    if not isinstance(event, Mapping):
        raise ValueError("the request must be a JSON object")
    fields = cast(Mapping[str, Any], event)
    if "requestContext" in fields:
        fields = fields.get("pathParameters") or {}
    rule_id = fields.get("ruleId")
    if not isinstance(rule_id, str) or not RULE_ID.fullmatch(rule_id):
        raise ValueError("ruleId must be like MD-003 (2-5 capitals, dash, 3-4 digits)")
    return rule_id


def rule_aggregates(deps: Dependencies, rule_id: str) -> Iterator[Mapping[str, Any]]:
    """Every aggregate item of the rule, following LastEvaluatedKey through all pages."""
    settings = deps.settings
    request: dict[str, Any] = {
        "TableName": settings.aggregates_table,
        "KeyConditionExpression": "#rule = :rule",
        "ExpressionAttributeNames": {"#rule": "ruleId"},
        "ExpressionAttributeValues": {":rule": {"S": rule_id}},
    }
    if settings.page_size:
        request["Limit"] = settings.page_size
    while True:
        page = deps.dynamodb.query(**request)
        yield from page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def periods_of(items: Iterator[Mapping[str, Any]]) -> list[Period]:
    """The shards summed per salt period."""
    periods: dict[str, Period] = {}
    for item in items:
        month = item.get("saltRotationMonth", {}).get("S")
        salt_id = item.get("saltId", {}).get("S")
        if not month or not salt_id:
            continue  # cannot be attributed to a salt period: never counted
        period = periods.setdefault(salt_id, Period(month=month))
        period.orgs += len(item.get("orgs", {}).get("SS", ()))
        period.events += int(item.get("events", {}).get("N", "0"))
        period.false_positives += int(item.get("falsePositives", {}).get("N", "0"))
    return sorted(periods.values(), key=lambda p: p.month)


def _rate(fp: int, events: int) -> float:
    return round(fp / events, 4) if events else 0.0


def calibration(rule_id: str, periods: list[Period], k: int) -> dict[str, Any]:
    """The answer for the periods that each reach k distinct organisations, or a refusal."""
    answered = [p for p in periods if p.orgs >= k]
    if not answered:
        return {
            "ruleId": rule_id,
            "error": "insufficient_k_anonymity",
            "k": k,
            "message": f"no salt period has at least {k} distinct organisations for this rule",
        }
    events = sum(p.events for p in answered)
    false_positives = sum(p.false_positives for p in answered)
    return {
        "ruleId": rule_id,
        "eventCount": events,
        "fpCount": false_positives,
        "fpRate": _rate(false_positives, events),
        "periods": [
            {
                "saltRotationMonth": p.month,
                "eventCount": p.events,
                "fpCount": p.false_positives,
                "fpRate": _rate(p.false_positives, p.events),
            }
            for p in answered
        ],
        "k": k,
    }


def respond(status: int, body: Mapping[str, object]) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(body),
    }


def query(event: object, deps: Dependencies) -> dict[str, Any]:
    try:
        rule_id = rule_id_of(event)
    except ValueError as exc:
        return respond(400, {"error": "invalid_field", "field": "ruleId", "message": str(exc)})
    try:
        periods = periods_of(rule_aggregates(deps, rule_id))
    except (ClientError, BotoCoreError) as exc:
        code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else None
        logger.error("calibration query failed", extra={"errorCode": code or type(exc).__name__})
        return respond(503, {"error": "store_unavailable"})
    answer = calibration(rule_id, periods, deps.settings.k)
    logger.info(
        "calibration answered" if "error" not in answer else "calibration refused: below k",
        extra={"ruleId": rule_id, "periods": len(periods), "k": deps.settings.k},
    )
    # A refusal is an ordinary answer (most rules start below k), not a client error.
    return respond(200, answer)


@logger.inject_lambda_context(log_event=False)
def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    return query(event, dependencies())
