"""fp-ingestion: validate, check consent, anonymise and store one false-positive event.

Input ``{orgId, ruleId, isFalsePositive, timestamp?, context?, eventId?}``, as a direct invoke or
as the JSON body of an HTTP API (payload 2.0) request; the answer is an HTTP API response in both
cases. Per warm event it makes exactly two AWS calls: GetItem on the consent table and one
TransactWriteItems that puts the event (conditionally, so a retry is stored once) and updates its
rule's salt-period aggregate (fp_aggregate.py), so a retried event is never counted twice; the salt
comes from Powertools' cache. It fails closed: a consent check or a salt that cannot be read
writes nothing. The raw orgId and the salt never reach a log or a table.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any, TypeAlias

import boto3
from aws_lambda_powertools.logging.logger import Logger
from aws_lambda_powertools.metrics.metrics import EphemeralMetrics, Metrics
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.metric_properties import MetricUnit
from aws_lambda_powertools.utilities.parameters.secrets import SecretsProvider
from botocore.exceptions import BotoCoreError, ClientError

# Siblings in this function's package (the deployed zip's root is on sys.path).
from fp_aggregate import transaction
from fp_event import FpEvent, InvalidField, event_identity, parse_event, request_payload
from salt_cache import Salt, SaltSource, SaltUnavailable

ENV_VARS: tuple[str, ...] = (
    "CONSENT_TABLE_NAME",
    "CALIBRATION_TABLE_NAME",
    "AGGREGATES_TABLE_NAME",
    "SALT_SECRET_ID",
    "SALT_CACHE_SECONDS",
    "ENVIRONMENT",
)

METRICS_NAMESPACE = "PhaseMirror/FPCalibration"
FP_EVENTS_INGESTED = "FPEventsIngested"
FP_INGEST_LATENCY = "FPIngestLatency"
CONSENT_CHECK_FAILURES = "ConsentCheckFailures"
CONSENT_MISSING = "ConsentMissing"
ANONYMIZATION_ERRORS = "AnonymizationErrors"
VALIDATION_ERRORS = "ValidationErrors"
SALT_AGE_DAYS = "SaltAgeDays"

CONSENTED = ("explicit", "implicit")
# Two concurrent events of one organisation and rule update the same aggregate item; DynamoDB
# cancels one transaction (TransactionConflict) and the SDK does not retry it: we do, briefly.
WRITE_ATTEMPTS = 3
# boto3 ships no type stubs and the project adds no stub dependency.
DynamoDBClient: TypeAlias = Any

logger = Logger()
# service="" keeps Powertools from adding a `service` dimension: alarms and dashboards select
# these metrics by Environment (and RuleId) alone.
metrics = Metrics(service="")
rule_metrics = EphemeralMetrics(service="")


@dataclass(frozen=True, kw_only=True)
class Settings:
    environment: str
    consent_table: str
    calibration_table: str
    aggregates_table: str
    salt_secret_id: str
    salt_cache_seconds: int = 300

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        environment = env.get("ENVIRONMENT", "")
        if environment not in ("staging", "production"):
            raise ValueError(f"ENVIRONMENT={environment!r}: must be staging or production")
        raw_age = env.get("SALT_CACHE_SECONDS", "300")
        if not raw_age.isdigit() or not 0 <= int(raw_age) <= 3600:
            raise ValueError(f"SALT_CACHE_SECONDS={raw_age!r}: must be an integer 0-3600")
        return cls(
            environment=environment,
            consent_table=env["CONSENT_TABLE_NAME"],
            calibration_table=env["CALIBRATION_TABLE_NAME"],
            aggregates_table=env["AGGREGATES_TABLE_NAME"],
            salt_secret_id=env["SALT_SECRET_ID"],
            salt_cache_seconds=int(raw_age),
        )


@dataclass(frozen=True, kw_only=True)
class Dependencies:
    """What the handler talks to; tests build one with moto-backed clients and a fixed clock."""

    settings: Settings
    dynamodb: DynamoDBClient
    salts: SaltSource
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    jitter: Callable[[int], int] = secrets.randbelow


@cache
def dependencies() -> Dependencies:
    """Built once per container, on the first invocation."""
    settings = Settings.from_env(os.environ)
    provider = SecretsProvider(boto3_client=boto3.client("secretsmanager"))
    return Dependencies(
        settings=settings,
        dynamodb=boto3.client("dynamodb"),
        salts=SaltSource(provider, settings.salt_secret_id, settings.salt_cache_seconds),
    )


def consent_decision(item: Mapping[str, Any] | None, now: datetime) -> tuple[str | None, str]:
    """(consent type, '') when the organisation consents, else (None, reason for dropping)."""
    if not item:
        return None, "no_consent"
    consent_type = item.get("consentType", {}).get("S")
    if consent_type not in CONSENTED:
        return None, "no_consent"
    if "revokedAt" in item and "NULL" not in item["revokedAt"]:
        return None, "revoked"
    if "expiresAt" in item:
        try:
            expired = float(item["expiresAt"]["N"]) <= now.timestamp()
        except (KeyError, TypeError, ValueError):
            expired = True  # an unreadable expiry is treated as expired: fail closed
        if expired:
            return None, "expired"
    return consent_type, ""


def stored_timestamp(timestamp: datetime, now: datetime, jitter: Callable[[int], int]) -> str:
    """A random second within the event's hour, never later than now (spec: timing attacks)."""
    hour = timestamp.replace(minute=0, second=0, microsecond=0)
    randomised = min(hour + timedelta(seconds=jitter(3600)), now.astimezone(UTC))
    return randomised.strftime("%Y-%m-%dT%H:%M:%SZ")


def build_item(fp: FpEvent, salt: Salt, consent: str, timestamp: str) -> dict[str, Any]:
    def mac(message: str) -> str:
        return hmac.new(salt.key, message.encode(), hashlib.sha256).hexdigest()

    item: dict[str, Any] = {
        "id": {"S": mac("event:" + event_identity(fp))},
        "orgIdHash": {"S": mac(fp.org_id)},
        "ruleId": {"S": fp.rule_id},
        "timestamp": {"S": timestamp},
        "isFalsePositive": {"BOOL": fp.is_false_positive},
        "saltRotationMonth": {"S": salt.month},
        "saltId": {"S": salt.salt_id},
        "consent": {"S": consent},
    }
    if fp.context is not None:
        item["context"] = {"S": fp.context}
    return item


def cancellation_codes(exc: ClientError) -> list[str]:
    reasons = exc.response.get("CancellationReasons") or []
    return [str(r.get("Code", "None")) for r in reasons]


def store(deps: Dependencies, item: dict[str, Any]) -> str:
    """'stored', 'duplicate' (the event's conditional put failed: nothing was written), or the
    error code of a write that failed."""
    settings = deps.settings
    request = transaction(item, settings.calibration_table, settings.aggregates_table)
    code = ""
    for attempt in range(WRITE_ATTEMPTS):
        if attempt:
            time.sleep(0.005 * attempt)  # the other transaction commits within milliseconds
        try:
            deps.dynamodb.transact_write_items(TransactItems=request)
            return "stored"
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code") or "ClientError"
            reasons = cancellation_codes(exc)
            if reasons and reasons[0] == "ConditionalCheckFailed":
                return "duplicate"
            if "TransactionConflict" not in reasons:
                return code
        except BotoCoreError as exc:
            return type(exc).__name__
    return code


def respond(status: int, body: Mapping[str, object]) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(body),
    }


def _count(name: str) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)


def ingest(event: object, deps: Dependencies) -> dict[str, Any]:
    settings = deps.settings
    now = deps.clock()
    try:
        fp = parse_event(request_payload(event), now)
    except InvalidField as exc:
        _count(VALIDATION_ERRORS)
        logger.info("event rejected", extra={"field": exc.field, "reason": exc.reason})
        return respond(400, {"error": "invalid_field", "field": exc.field, "message": str(exc)})

    try:
        found = deps.dynamodb.get_item(
            TableName=settings.consent_table,
            Key={"orgId": {"S": fp.org_id}},
            ConsistentRead=True,
        )
    except (ClientError, BotoCoreError) as exc:
        _count(CONSENT_CHECK_FAILURES)
        code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else None
        logger.error("consent check failed", extra={"errorCode": code or type(exc).__name__})
        return respond(503, {"error": "consent_check_unavailable"})
    consent, reason = consent_decision(found.get("Item"), now)
    if consent is None:
        _count(CONSENT_MISSING)
        logger.info("event dropped", extra={"reason": reason, "ruleId": fp.rule_id})
        return respond(200, {"status": "dropped", "reason": reason})

    started = time.perf_counter()
    month = fp.timestamp.strftime("%Y-%m")
    try:
        salts = deps.salts.salts_for(month)
    except SaltUnavailable as exc:
        _count(ANONYMIZATION_ERRORS)
        logger.error("salt unavailable", extra={"reason": str(exc)})
        return respond(503, {"error": "anonymization_unavailable"})
    salt = salts.for_month(month)
    if salt is None:
        _count(VALIDATION_ERRORS)
        logger.info("event too old", extra={"eventMonth": month, "ruleId": fp.rule_id})
        return respond(
            422,
            {
                "error": "event_too_old",
                "field": "timestamp",
                "message": "events older than the previous salt's month cannot be anonymised",
            },
        )
    item = build_item(fp, salt, consent, stored_timestamp(fp.timestamp, now, deps.jitter))
    logger.info(
        "anonymization complete",
        extra={"durationMs": round((time.perf_counter() - started) * 1000, 3)},
    )

    outcome = store(deps, item)
    if outcome == "duplicate":
        logger.info("duplicate event", extra={"ruleId": fp.rule_id})
        return respond(200, {"status": "duplicate"})
    if outcome != "stored":
        logger.error("store failed", extra={"errorCode": outcome})
        return respond(503, {"error": "store_unavailable"})

    age_days = (now - salts.rotated_at).total_seconds() / 86400
    metrics.add_metric(name=SALT_AGE_DAYS, unit=MetricUnit.NoUnit, value=round(age_days, 3))
    rule_metrics.add_dimension(name="Environment", value=settings.environment)
    rule_metrics.add_dimension(name="RuleId", value=fp.rule_id)
    rule_metrics.add_metric(name=FP_EVENTS_INGESTED, unit=MetricUnit.Count, value=1)
    rule_metrics.flush_metrics()
    logger.info("event stored", extra={"ruleId": fp.rule_id, "saltRotationMonth": salt.month})
    return respond(200, {"status": "stored"})


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    started = time.perf_counter()
    deps = dependencies()
    if metrics.default_dimensions.get("Environment") != deps.settings.environment:
        metrics.set_default_dimensions(Environment=deps.settings.environment)
    try:
        return ingest(event, deps)
    finally:
        elapsed = (time.perf_counter() - started) * 1000
        metrics.add_metric(name=FP_INGEST_LATENCY, unit=MetricUnit.Milliseconds, value=elapsed)
