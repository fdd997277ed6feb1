"""fp-release: publish pending events in batches of at least k organisations.

EventBridge Scheduler invokes it asynchronously every ``releaseIntervalMinutes``; it runs one
copy at a time (reserved concurrency 1), but a run may repeat or, in tests, overlap another,
so every step is safe to repeat: events are *claimed* for a batch with conditional updates, the
batch is *published* in one transaction (a ``batch#<id>`` record, written once, and the rule's
``period#<month>`` counters), and only then deleted. A later run finishes what an interrupted
one left: claimed events whose batch record exists are deleted, claims older than a run can
last are released back to the pool. Nothing is counted twice; nothing is published below k.

Salt versions come from ``DescribeSecret`` (no salt value is read): pending events whose salt
is no longer AWSCURRENT or AWSPREVIOUS are dropped, since a revocation could not find them.
Cost is linear in the pending events: one consistent ``Scan``, then per event one claim and one
delete, batched.
"""

from __future__ import annotations

import os
import secrets
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import cache
from typing import Any, TypeAlias

import boto3
from aws_lambda_powertools.logging.logger import Logger
from aws_lambda_powertools.metrics.metrics import Metrics
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.metric_properties import MetricUnit
from botocore.exceptions import ClientError

# Siblings: this function's modules and lambdas/shared/, both at the package's root.
from environment import env_environment, env_int
from release_plan import Batch, Pending, batches, capped, parse_item
from telemetry import count, tag_environment
from utc_text import utc_text

RELEASE_RUNS = "ReleaseRuns"
BATCHES_RELEASED = "BatchesReleased"
EVENTS_RELEASED = "EventsReleased"
EXCESS_EVENTS_DROPPED = "ExcessEventsDropped"
PENDING_EVENTS_EXPIRED = "PendingEventsExpired"
OLDEST_PENDING_AGE = "OldestPendingEventAgeSeconds"
RELEASE_FAILURES = "ReleaseFailures"

# A claim older than this belongs to a run that died: the function's timeout is 300 s.
CLAIM_LEASE_SECONDS = 900
BATCH_RECORD_DAYS = 35
TRANSACTION_ITEMS = 100  # DynamoDB's limit per TransactWriteItems
BATCH_WRITE_ITEMS = 25  # and per BatchWriteItem
ATTEMPTS = 4

DynamoDBClient: TypeAlias = Any
SecretsManagerClient: TypeAlias = Any

logger = Logger()
metrics = Metrics(service="")


@dataclass(frozen=True, kw_only=True)
class Settings:
    environment: str
    pending_table: str
    published_table: str
    salt_secret_id: str
    k: int
    cap: int

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        return cls(
            environment=env_environment(env),
            pending_table=env["PENDING_TABLE_NAME"],
            published_table=env["PUBLISHED_TABLE_NAME"],
            salt_secret_id=env["SALT_SECRET_ID"],
            k=env_int(env, "K_ANONYMITY", 10, 2, 1000),
            cap=env_int(env, "MAX_EVENTS_PER_ORG", 10, 1, 1000),
        )


@dataclass(frozen=True, kw_only=True)
class Dependencies:
    settings: Settings
    dynamodb: DynamoDBClient
    secrets: SecretsManagerClient
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    pause: Callable[[float], None] = time.sleep
    new_batch_id: Callable[[], str] = lambda: secrets.token_hex(16)


@cache
def dependencies() -> Dependencies:
    """Built once per container, on the first invocation."""
    return Dependencies(
        settings=Settings.from_env(os.environ),
        dynamodb=boto3.client("dynamodb"),
        secrets=boto3.client("secretsmanager"),
    )


@dataclass
class Summary:
    batches: int = 0
    released: int = 0
    excess: int = 0
    expired: int = 0
    waiting: list[Pending] = field(default_factory=list)

    def oldest_age(self, now: int) -> int:
        return max((now - e.received_at for e in self.waiting), default=0)


def _codes(exc: ClientError) -> list[str]:
    return [str(r.get("Code", "None")) for r in exc.response.get("CancellationReasons") or []]


def _chunks(items: Sequence[Pending], size: int) -> Iterator[list[Pending]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


class Release:
    """One run's steps against the tables."""

    def __init__(self, deps: Dependencies) -> None:
        self.deps = deps
        self.ddb = deps.dynamodb
        self.settings = deps.settings
        self.now = int(deps.clock().timestamp())

    def live_versions(self) -> set[str]:
        stages = self.deps.secrets.describe_secret(SecretId=self.settings.salt_secret_id).get(
            "VersionIdsToStages", {}
        )
        return {v for v, s in stages.items() if {"AWSCURRENT", "AWSPREVIOUS"} & set(s)}

    def scan(self) -> list[dict[str, Any]]:
        request: dict[str, Any] = {"TableName": self.settings.pending_table, "ConsistentRead": True}
        items: list[dict[str, Any]] = []
        while True:
            page = self.ddb.scan(**request)
            items += page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return items
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def delete(self, keys: Sequence[dict[str, Any]]) -> None:
        """Delete by key, 25 per call; what stays unprocessed is left for a later run."""
        table = self.settings.pending_table
        for start in range(0, len(keys), BATCH_WRITE_ITEMS):
            requests = [
                {"DeleteRequest": {"Key": k}} for k in keys[start : start + BATCH_WRITE_ITEMS]
            ]
            for attempt in range(ATTEMPTS):
                if attempt:
                    self.deps.pause(0.05 * 2**attempt)
                left = self.ddb.batch_write_item(RequestItems={table: requests})
                requests = left.get("UnprocessedItems", {}).get(table, [])
                if not requests:
                    break

    def published(self, rule_id: str, batch_id: str) -> bool:
        found = self.ddb.get_item(
            TableName=self.settings.published_table,
            Key={"ruleId": {"S": rule_id}, "entry": {"S": f"batch#{batch_id}"}},
            ConsistentRead=True,
        )
        return "Item" in found

    def unclaim(self, events: Sequence[Pending], batch_id: str) -> None:
        for event in events:
            try:
                self.ddb.update_item(
                    TableName=self.settings.pending_table,
                    Key=event.key,
                    UpdateExpression="REMOVE #batch, claimedAt",
                    ConditionExpression="#batch = :batch",
                    ExpressionAttributeNames={"#batch": "batch"},
                    ExpressionAttributeValues={":batch": {"S": batch_id}},
                )
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    raise

    def claim(self, events: Sequence[Pending], batch_id: str) -> list[Pending]:
        """The events this run claimed for ``batch_id``; others (deleted by a revocation,
        claimed by another run) are left out."""
        claimed: list[Pending] = []
        for chunk in _chunks(events, TRANSACTION_ITEMS):
            for attempt in range(ATTEMPTS):
                if not chunk:
                    break
                try:
                    self.ddb.transact_write_items(
                        TransactItems=[self._claim(e, batch_id) for e in chunk]
                    )
                    claimed += chunk
                    break
                except ClientError as exc:
                    codes = _codes(exc)
                    if not codes:
                        raise
                    if "ConditionalCheckFailed" in codes:
                        chunk = [
                            e
                            for e, c in zip(chunk, codes, strict=False)
                            if c != "ConditionalCheckFailed"
                        ]
                    elif "TransactionConflict" in codes:
                        self.deps.pause(0.02 * (attempt + 1))
                    else:
                        raise
        return claimed

    def _claim(self, event: Pending, batch_id: str) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self.settings.pending_table,
                "Key": event.key,
                "UpdateExpression": "SET #batch = :batch, claimedAt = :now",
                "ConditionExpression": "attribute_exists(eventKey) AND attribute_not_exists(#batch)",
                "ExpressionAttributeNames": {"#batch": "batch"},
                "ExpressionAttributeValues": {
                    ":batch": {"S": batch_id},
                    ":now": {"N": str(self.now)},
                },
            }
        }

    def publish(self, batch: Batch, batch_id: str) -> None:
        """One atomic change of the published numbers; a batch id is counted at most once."""
        table = self.settings.published_table
        rule = {"S": batch.rule_id}
        record = {
            "ruleId": rule,
            "entry": {"S": f"batch#{batch_id}"},
            "saltMonth": {"S": batch.salt_month},
            "events": {"N": str(len(batch.counted))},
            "falsePositives": {"N": str(batch.false_positives)},
            "organisations": {"N": str(batch.organisations)},
            "dropped": {"N": str(len(batch.excess))},
            "releasedAt": {"S": utc_text(datetime.fromtimestamp(self.now, UTC))},
            "expiresAt": {"N": str(self.now + BATCH_RECORD_DAYS * 86400)},
        }
        try:
            self.ddb.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": table,
                            "Item": record,
                            "ConditionExpression": "attribute_not_exists(entry)",
                        }
                    },
                    {
                        "Update": {
                            "TableName": table,
                            "Key": {"ruleId": rule, "entry": {"S": f"period#{batch.salt_month}"}},
                            "UpdateExpression": (
                                "ADD events :events, falsePositives :fp, batches :one "
                                "SET updatedAt = :at"
                            ),
                            "ExpressionAttributeValues": {
                                ":events": record["events"],
                                ":fp": record["falsePositives"],
                                ":one": {"N": "1"},
                                ":at": record["releasedAt"],
                            },
                        }
                    },
                ]
            )
        except ClientError as exc:
            # A retried call whose first attempt committed: the record is there, counted once.
            if _codes(exc)[:1] != ["ConditionalCheckFailed"]:
                raise

    def release(self, batch: Batch) -> Batch | None:
        """Claim, publish, delete; None when the claimed events fall below k."""
        k, cap = self.settings.k, self.settings.cap
        batch_id = self.deps.new_batch_id()
        claimed = self.claim(batch.events, batch_id)
        counted, excess = capped(claimed, cap)
        final = Batch(batch.rule_id, batch.salt_version, batch.salt_month, counted, excess)
        if final.organisations < k:
            self.unclaim(claimed, batch_id)
            return None
        self.publish(final, batch_id)
        self.delete([e.key for e in claimed])
        logger.info(
            "batch released",
            extra={"ruleId": batch.rule_id, "saltMonth": batch.salt_month, "batchId": batch_id,
                   "events": len(counted), "organisations": final.organisations,
                   "dropped": len(excess)},
        )  # fmt: skip
        return final

    def recover(self, claimed: Sequence[Pending]) -> tuple[list[Pending], list[Pending]]:
        """Finish interrupted runs: (events whose abandoned claim was cleared, events still
        claimed by a run that may be going on)."""
        by_batch: dict[tuple[str, str], list[Pending]] = defaultdict(list)
        for event in claimed:
            by_batch[(event.rule_id, event.batch or "")].append(event)
        freed: list[Pending] = []
        held: list[Pending] = []
        for (rule_id, batch_id), events in by_batch.items():
            if self.published(rule_id, batch_id):
                self.delete([e.key for e in events])
            elif min(e.claimed_at or 0 for e in events) < self.now - CLAIM_LEASE_SECONDS:
                self.unclaim(events, batch_id)
                freed += [replace(e, batch=None, claimed_at=None) for e in events]
            else:
                held += events
        return freed, held

    def run(self) -> Summary:
        summary = Summary()
        live = self.live_versions()
        items = self.scan()
        events = [parse_item(i) for i in items]
        malformed = [
            {"orgHash": i["orgHash"], "eventKey": i["eventKey"]}
            for i, e in zip(items, events, strict=True)
            if e is None and "orgHash" in i and "eventKey" in i
        ]
        parsed = [e for e in events if e is not None]
        freed, held = self.recover([e for e in parsed if e.batch is not None])
        free = [e for e in parsed if e.batch is None] + freed
        expired = [e for e in free if e.salt_version not in live]
        self.delete([e.key for e in expired] + malformed)
        summary.expired = len(expired) + len(malformed)
        summary.waiting = list(held)
        for batch in batches([e for e in free if e.salt_version in live], self.settings.cap):
            done = self.release(batch) if batch.organisations >= self.settings.k else None
            if done is None:
                summary.waiting += batch.events
                continue
            summary.batches += 1
            summary.released += len(done.counted)
            summary.excess += len(done.excess)
        return summary


def run_release(deps: Dependencies) -> dict[str, int]:
    try:
        release = Release(deps)
        summary = release.run()
    except Exception:
        # Any failure leaves a state a later run finishes; count it and let Lambda retry.
        count(metrics, RELEASE_FAILURES)
        logger.exception("release failed")
        raise
    count(metrics, RELEASE_RUNS)
    count(metrics, BATCHES_RELEASED, summary.batches)
    count(metrics, EVENTS_RELEASED, summary.released)
    count(metrics, EXCESS_EVENTS_DROPPED, summary.excess)
    count(metrics, PENDING_EVENTS_EXPIRED, summary.expired)
    age = summary.oldest_age(release.now)
    metrics.add_metric(name=OLDEST_PENDING_AGE, unit=MetricUnit.Seconds, value=age)
    answer = {
        "batchesReleased": summary.batches,
        "eventsReleased": summary.released,
        "excessEventsDropped": summary.excess,
        "pendingEventsExpired": summary.expired,
        "eventsWaiting": len(summary.waiting),
        "oldestPendingEventAgeSeconds": age,
    }
    logger.info("release finished", extra=answer)
    return answer


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def handler(event: object, context: object) -> dict[str, int]:
    deps = dependencies()
    tag_environment(metrics, deps.settings.environment)
    return run_release(deps)
