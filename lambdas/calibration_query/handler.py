"""calibration-query: a rule's published false-positive calibration.

``GET /fp/calibrate/{ruleId}`` (GitHub token) or ``GET /internal/fp/calibrate/{ruleId}``
(allow-listed IAM principals). It reads only the published aggregates that the release job
writes, one ``period#<salt month>`` item per month, so its cost is flat in the number of
events; every change to them is a whole batch of at least k organisations, so there is nothing
left to check here beyond whether the rule has been released at all.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeAlias

import boto3
from aws_lambda_powertools.logging.logger import Logger
from aws_lambda_powertools.metrics.metrics import Metrics
from botocore.exceptions import BotoCoreError, ClientError

# Siblings: this function's modules and lambdas/shared/, both at the package's root.
from caller import (
    AllowList,
    InvalidField,
    Refused,
    error,
    github_or_internal,
    path_parameter,
    respond,
    unavailable,
)
from environment import env_environment, env_int
from telemetry import count, tag_environment

RULE_ID = re.compile(r"[A-Z]{2,5}-[0-9]{3,4}")
CALLER_REFUSALS = "CallerRefusals"
QUERY_STORE_FAILURES = "QueryStoreFailures"
# boto3 ships no type stubs and the project adds no stub dependency.
DynamoDBClient: TypeAlias = Any

logger = Logger()
metrics = Metrics(service="")


@dataclass(frozen=True, kw_only=True)
class Settings:
    environment: str
    published_table: str
    internal_principals: AllowList
    k: int = 10
    page_size: int | None = None  # not configurable: tests use it to force several pages

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        return cls(
            environment=env_environment(env),
            published_table=env["PUBLISHED_TABLE_NAME"],
            internal_principals=AllowList.parse(
                env["INTERNAL_PRINCIPAL_ARNS"], "INTERNAL_PRINCIPAL_ARNS"
            ),
            k=env_int(env, "K_ANONYMITY", 10, 2, 1000),
        )


@dataclass(frozen=True, kw_only=True)
class Dependencies:
    settings: Settings
    dynamodb: DynamoDBClient


@cache
def dependencies() -> Dependencies:
    """Built once per container, on the first invocation."""
    settings = Settings.from_env(os.environ)
    return Dependencies(settings=settings, dynamodb=boto3.client("dynamodb"))


@dataclass
class Period:
    month: str
    events: int
    false_positives: int
    batches: int


def periods(deps: Dependencies, rule_id: str) -> Iterator[Period]:
    """The rule's published months, following LastEvaluatedKey through all pages."""
    settings = deps.settings
    request: dict[str, Any] = {
        "TableName": settings.published_table,
        "KeyConditionExpression": "ruleId = :rule AND begins_with(entry, :period)",
        "ExpressionAttributeValues": {":rule": {"S": rule_id}, ":period": {"S": "period#"}},
    }
    if settings.page_size:
        request["Limit"] = settings.page_size
    while True:
        page = deps.dynamodb.query(**request)
        for item in page.get("Items", []):
            yield Period(
                month=item["entry"]["S"].removeprefix("period#"),
                events=int(item.get("events", {}).get("N", "0")),
                false_positives=int(item.get("falsePositives", {}).get("N", "0")),
                batches=int(item.get("batches", {}).get("N", "0")),
            )
        if "LastEvaluatedKey" not in page:
            return
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _rate(fp: int, events: int) -> float:
    return round(fp / events, 4) if events else 0.0


def calibration(rule_id: str, published: list[Period], k: int) -> dict[str, Any]:
    """The published totals, or a refusal before the rule's first batch."""
    if not published:
        return {
            "ruleId": rule_id,
            "k": k,
            "error": "insufficient_k_anonymity",
            "message": f"no batch of at least {k} organisations has been released for this rule",
        }
    events = sum(p.events for p in published)
    false_positives = sum(p.false_positives for p in published)
    return {
        "ruleId": rule_id,
        "k": k,
        "eventCount": events,
        "fpCount": false_positives,
        "fpRate": _rate(false_positives, events),
        "batches": sum(p.batches for p in published),
        "periods": [
            {
                "saltRotationMonth": p.month,
                "eventCount": p.events,
                "fpCount": p.false_positives,
                "fpRate": _rate(p.false_positives, p.events),
                "batches": p.batches,
            }
            for p in sorted(published, key=lambda p: p.month)
        ],
    }


def query(event: object, deps: Dependencies) -> dict[str, Any]:
    try:
        github_or_internal(event, deps.settings.internal_principals)
        rule_id = path_parameter(event, "ruleId")
        if not isinstance(rule_id, str) or not RULE_ID.fullmatch(rule_id):
            raise InvalidField("ruleId", "must be like MD-003 (2-5 capitals, dash, 3-4 digits)")
    except Refused as exc:
        count(metrics, CALLER_REFUSALS)
        logger.warning("caller refused", extra={"reason": exc.reason})
        return error(403, "forbidden", "caller", exc.reason)
    except InvalidField as exc:
        return error(400, "invalid_field", exc.field, str(exc))
    try:
        published = list(periods(deps, rule_id))
    except (ClientError, BotoCoreError) as exc:
        code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else None
        count(metrics, QUERY_STORE_FAILURES)
        logger.error("calibration query failed", extra={"errorCode": code or type(exc).__name__})
        return unavailable("store_unavailable", "the calibration cannot be read right now")
    answer = calibration(rule_id, published, deps.settings.k)
    logger.info(
        "calibration answered" if "error" not in answer else "calibration refused: not released",
        extra={"ruleId": rule_id, "periods": len(published)},
    )
    # A refusal is an ordinary answer (most rules start unreleased), not a client error.
    return respond(200, answer)


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    deps = dependencies()
    tag_environment(metrics, deps.settings.environment)
    return query(event, deps)
