"""fp-ingestion: validate, check consent, anonymise and store one false-positive event.

Input ``{orgId, ruleId, isFalsePositive, timestamp?, context?, eventId?}``, as a direct invoke or
as the JSON body of an HTTP API (payload 2.0) request; the answer is an HTTP API response in both
cases. Per warm event it makes exactly two AWS calls: GetItem on the consent table and PutItem on
the calibration table (the salt comes from Powertools' cache). It fails closed: a consent check or
a salt that cannot be read writes nothing. The raw orgId and the salt never reach a log or a table.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any, TypeAlias, cast

import boto3
from aws_lambda_powertools.logging.logger import Logger
from aws_lambda_powertools.metrics.metrics import EphemeralMetrics, Metrics
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.metric_properties import MetricUnit
from aws_lambda_powertools.utilities.parameters.exceptions import (
    GetParameterError,
    TransformParameterError,
)
from aws_lambda_powertools.utilities.parameters.secrets import SecretsProvider
from botocore.exceptions import BotoCoreError, ClientError

ENV_VARS: tuple[str, ...] = (
    "CONSENT_TABLE_NAME",
    "CALIBRATION_TABLE_NAME",
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

FIELDS = frozenset({"orgId", "ruleId", "isFalsePositive", "timestamp", "context", "eventId"})
ORG_ID = re.compile(r"[\x21-\x7e]{1,128}")  # visible ASCII: ids, slugs, UUIDs
RULE_ID = re.compile(r"[A-Z]{2,5}-[0-9]{3,4}")
EVENT_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
MONTH = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")
MAX_BODY_BYTES = 16_384
MAX_CONTEXT_BYTES = 2_048
MAX_TIMESTAMP_CHARS = 40
CLOCK_SKEW = timedelta(minutes=5)
# A month's late events force one re-read, not one per event while a rotation is still pending.
FORCED_REFRESH_INTERVAL_SECONDS = 30.0
SALT_ID_MESSAGE = b"phase-mirror-salt-id"
CONSENTED = ("explicit", "implicit")
# boto3 ships no type stubs and the project adds no stub dependency.
DynamoDBClient: TypeAlias = Any

logger = Logger()
# service="" keeps Powertools from adding a `service` dimension: alarms and dashboards select
# these metrics by Environment (and RuleId) alone.
metrics = Metrics(service="")
rule_metrics = EphemeralMetrics(service="")


class InvalidField(ValueError):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class SaltUnavailable(RuntimeError):
    """The salt could not be read or is malformed (the message never holds a salt)."""


@dataclass(frozen=True, kw_only=True)
class Settings:
    environment: str
    consent_table: str
    calibration_table: str
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
            salt_secret_id=env["SALT_SECRET_ID"],
            salt_cache_seconds=int(raw_age),
        )


@dataclass(frozen=True, kw_only=True)
class Salt:
    key: bytes = field(repr=False)
    month: str
    salt_id: str


@dataclass(frozen=True, kw_only=True)
class SaltSet:
    current: Salt
    rotated_at: datetime
    previous: Salt | None

    def for_month(self, month: str) -> Salt | None:
        """The salt in force in ``month``; None when that salt is already gone."""
        if month >= self.current.month:
            return self.current
        if self.previous is not None and month >= self.previous.month:
            return self.previous
        return None


@dataclass(frozen=True, kw_only=True)
class FpEvent:
    org_id: str = field(repr=False)
    rule_id: str
    is_false_positive: bool
    timestamp: datetime
    context: str | None
    event_id: str | None


class SaltSource:
    """The salt document through Powertools' cache, re-read early when a newer month shows up."""

    def __init__(
        self,
        provider: SecretsProvider,
        secret_id: str,
        max_age: int,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._provider = provider
        self._secret_id = secret_id
        self._max_age = max_age
        self._monotonic = monotonic
        self._forced_at: float | None = None

    def _load(self, force: bool) -> SaltSet:
        try:
            # Only AWSCURRENT is ever read through this cache: it keys on the name alone.
            raw = self._provider.get(
                self._secret_id,
                max_age=self._max_age,
                transform="json",
                force_fetch=force,
                VersionStage="AWSCURRENT",
            )
        except (GetParameterError, TransformParameterError) as exc:
            raise SaltUnavailable("the salt secret could not be read") from exc
        return parse_salt_document(raw)

    def salts_for(self, month: str) -> SaltSet:
        salts = self._load(force=False)
        now = self._monotonic()
        recently = self._forced_at is not None and now - self._forced_at < (
            FORCED_REFRESH_INTERVAL_SECONDS
        )
        if month > salts.current.month and not recently:
            self._forced_at = now
            salts = self._load(force=True)
        return salts


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


def _salt(value: object, month: object, name: str) -> Salt:
    if not isinstance(month, str) or not MONTH.fullmatch(month):
        raise SaltUnavailable(f"{name} month is malformed")
    try:
        key = base64.b64decode(cast(str, value), validate=True)
    except (TypeError, ValueError, binascii.Error) as exc:
        raise SaltUnavailable(f"{name} is not base64") from exc
    if len(key) != 32:
        raise SaltUnavailable(f"{name} is not 32 bytes")
    salt_id = hmac.new(key, SALT_ID_MESSAGE, hashlib.sha256).hexdigest()[:16]
    return Salt(key=key, month=month, salt_id=salt_id)


def parse_salt_document(raw: object) -> SaltSet:
    if not isinstance(raw, dict):
        raise SaltUnavailable("the salt secret is not a JSON object")
    doc = cast(dict[str, object], raw)
    current = _salt(doc.get("salt"), doc.get("rotationMonth"), "salt")
    try:
        rotated_at = datetime.fromisoformat(cast(str, doc.get("rotatedAt")))
    except (TypeError, ValueError) as exc:
        raise SaltUnavailable("rotatedAt is malformed") from exc
    if rotated_at.tzinfo is None:
        raise SaltUnavailable("rotatedAt has no UTC offset")
    previous = None
    if "previousSalt" in doc:
        previous = _salt(doc["previousSalt"], doc.get("previousRotationMonth"), "previousSalt")
    return SaltSet(current=current, rotated_at=rotated_at, previous=previous)


def _canonical(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def request_payload(event: object) -> Mapping[str, object]:
    """The event's fields, from a direct invoke or an HTTP API body."""
    if not isinstance(event, Mapping):
        raise InvalidField("body", "must be a JSON object")
    event = cast(Mapping[str, object], event)
    if "requestContext" not in event:
        return event
    body = event.get("body")
    if not isinstance(body, str):
        raise InvalidField("body", "is required")
    if event.get("isBase64Encoded"):
        try:
            body = base64.b64decode(body, validate=True).decode()
        except (ValueError, binascii.Error) as exc:
            raise InvalidField("body", "is not valid base64 UTF-8") from exc
    if len(body.encode()) > MAX_BODY_BYTES:
        raise InvalidField("body", f"must be at most {MAX_BODY_BYTES} bytes")
    try:
        payload = json.loads(body, parse_constant=_reject_constant)
    except ValueError as exc:
        raise InvalidField("body", "is not valid JSON") from exc
    if not isinstance(payload, dict):
        raise InvalidField("body", "must be a JSON object")
    return cast(Mapping[str, object], payload)


def _text(payload: Mapping[str, object], key: str, pattern: re.Pattern[str], rule: str) -> str:
    value = payload.get(key)
    if not isinstance(value, str):
        raise InvalidField(key, "is required and must be a string")
    if not pattern.fullmatch(value):
        raise InvalidField(key, f"must be {rule}")
    return value


def _timestamp(value: object, now: datetime) -> datetime:
    if value is None:
        return now
    if not isinstance(value, str) or len(value) > MAX_TIMESTAMP_CHARS:
        raise InvalidField(
            "timestamp", f"must be an ISO 8601 string of at most {MAX_TIMESTAMP_CHARS}"
        )
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidField("timestamp", "is not ISO 8601") from exc
    if parsed.tzinfo is None:
        raise InvalidField("timestamp", "must include a UTC offset, e.g. Z")
    if parsed > now + CLOCK_SKEW:
        raise InvalidField("timestamp", "is in the future")
    return parsed.astimezone(UTC)


def _context(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidField("context", "must be a JSON object")
    try:
        text = _canonical(value)
    except (TypeError, ValueError) as exc:
        raise InvalidField("context", "must hold only JSON values") from exc
    if len(text.encode()) > MAX_CONTEXT_BYTES:
        raise InvalidField("context", f"must be at most {MAX_CONTEXT_BYTES} bytes as JSON")
    return text


def parse_event(payload: Mapping[str, object], now: datetime) -> FpEvent:
    """Validate every field; raises ``InvalidField`` naming the first bad one (never its value)."""
    unknown = sorted(set(payload) - FIELDS)
    if unknown:
        raise InvalidField(unknown[0][:64], "is not a known field")
    org_id = _text(payload, "orgId", ORG_ID, "1-128 visible ASCII characters")
    rule_id = _text(payload, "ruleId", RULE_ID, "like MD-003 (2-5 capitals, dash, 3-4 digits)")
    flag = payload.get("isFalsePositive")
    if not isinstance(flag, bool):
        raise InvalidField("isFalsePositive", "is required and must be true or false")
    event_id = None
    if payload.get("eventId") is not None:
        event_id = _text(payload, "eventId", EVENT_ID, "1-128 characters of [A-Za-z0-9._:-]")
    return FpEvent(
        org_id=org_id,
        rule_id=rule_id,
        is_false_positive=flag,
        timestamp=_timestamp(payload.get("timestamp"), now),
        context=_context(payload.get("context")),
        event_id=event_id,
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


def event_identity(fp: FpEvent) -> str:
    """What makes a retry the same event: its eventId, else all its fields."""
    if fp.event_id is not None:
        return _canonical({"orgId": fp.org_id, "eventId": fp.event_id})
    return _canonical(
        {
            "orgId": fp.org_id,
            "ruleId": fp.rule_id,
            "isFalsePositive": fp.is_false_positive,
            "timestamp": fp.timestamp.isoformat(),
            "context": fp.context,
        }
    )


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

    try:
        deps.dynamodb.put_item(
            TableName=settings.calibration_table,
            Item=item,
            ConditionExpression="attribute_not_exists(#id)",
            ExpressionAttributeNames={"#id": "id"},
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            logger.info("duplicate event", extra={"ruleId": fp.rule_id})
            return respond(200, {"status": "duplicate"})
        logger.error("store failed", extra={"errorCode": exc.response.get("Error", {}).get("Code")})
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
