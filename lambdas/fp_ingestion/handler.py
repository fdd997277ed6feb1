"""fp-ingestion: accept one false-positive event of the caller's own organisation as pending.

The organisation is the caller's (the GitHub token's ``repository_owner_id``; on the internal,
IAM-authorised route the body's ``orgId``, for allow-listed principals only). A body naming
another organisation is refused before anything is looked up, so the answer never depends on
that organisation. An accepted event is written as pending, for the release job to publish in
k-anonymous batches; nothing calibration-query reads changes here.

Per warm event: one ``TransactWriteItems`` (admission and consent condition checks, the
de-duplication record keyed by ``eventKey``, the pending event) and no Secrets Manager or KMS
call (salt and org secret cached). Consent is checked inside the write, so a revocation is
never raced. It fails closed and counts every failure; no raw id or salt reaches a log or item.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from aws_lambda_powertools.logging.logger import Logger
from aws_lambda_powertools.metrics.metrics import EphemeralMetrics, Metrics
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.metric_properties import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError

# Siblings: this function's modules and lambdas/shared/, both at the package's root.
from caller import (
    AllowList,
    GitHubCaller,
    InvalidField,
    Refused,
    error,
    github_or_internal,
    object_body,
    respond,
    unavailable,
)
from environment import env_int
from failures import error_code
from fp_event import FIELDS, FpEvent, parse_event
from org_identity import OrgKeyUnavailable, Pseudonyms
from pseudonym_deps import PseudonymDependencies, PseudonymSettings
from salt_cache import SaltNotSeeded, SaltSet, SaltUnavailable
from telemetry import count, tag_environment

FP_EVENTS_INGESTED = "FPEventsIngested"
FP_INGEST_LATENCY = "FPIngestLatency"
VALIDATION_ERRORS = "ValidationErrors"
CONSENT_MISSING = "ConsentMissing"
DUPLICATE_EVENTS = "DuplicateEvents"
CALLER_REFUSALS = "CallerRefusals"
ADMISSION_REFUSALS = "AdmissionRefusals"
IMPERSONATION_REFUSALS = "ImpersonationRefusals"
CONSENT_CHECK_FAILURES = "ConsentCheckFailures"
EVENT_STORE_FAILURES = "EventStoreFailures"
ANONYMIZATION_ERRORS = "AnonymizationErrors"
SALT_NOT_SEEDED = "SaltNotSeeded"

DEDUP_DAYS = 40
PENDING_DAYS = 70
# Two concurrent copies of one event conflict (TransactionConflict), which the SDK does not
# retry: we do, briefly, and the retry then finds the other's record (a duplicate).
WRITE_ATTEMPTS = 3

logger = Logger()
# service="" keeps Powertools from adding a `service` dimension: alarms and dashboards select
# these metrics by Environment (and RuleId) alone.
metrics = Metrics(service="")
rule_metrics = EphemeralMetrics(service="")

IMPERSONATION = error(
    403, "forbidden", "orgId", "orgId must be the caller's own organisation (repository_owner_id)"
)


@dataclass(frozen=True, kw_only=True)
class Settings(PseudonymSettings):
    consent_table: str
    dedup_table: str
    internal_principals: AllowList
    salt_cache_seconds: int = 300

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        return cls.read(
            env,
            consent_table=env["CONSENT_TABLE_NAME"],
            dedup_table=env["DEDUP_TABLE_NAME"],
            internal_principals=AllowList.parse(
                env["INTERNAL_PRINCIPAL_ARNS"], "INTERNAL_PRINCIPAL_ARNS"
            ),
            salt_cache_seconds=env_int(env, "SALT_CACHE_SECONDS", 300, 0, 3600),
        )


@dataclass(frozen=True, kw_only=True)
class Dependencies(PseudonymDependencies[Settings]):
    """The shared wiring, plus the pause between write attempts."""

    pause: Callable[[float], None] = time.sleep


@cache
def dependencies() -> Dependencies:
    """Built once per container, on the first invocation."""
    settings = Settings.from_env(os.environ)
    return Dependencies.production(settings, salt_max_age=settings.salt_cache_seconds)


def transaction(
    settings: Settings, org: Pseudonyms, fp: FpEvent, salts: SaltSet, owner_id: str, now: datetime
) -> list[dict[str, Any]]:
    """The one write: admission and consent checks, the de-duplication record, the event."""
    org_key = {"S": org.org_key}
    event_key = {"S": org.event_key(fp.event_id)}
    received = int(now.timestamp())
    return [
        {
            "ConditionCheck": {
                "TableName": settings.admission_table,
                "Key": {"orgKey": org_key, "record": {"S": "admission"}},
                "ConditionExpression": "attribute_exists(orgKey)",
            }
        },
        {
            "ConditionCheck": {
                "TableName": settings.consent_table,
                "Key": {"orgKey": org_key},
                "ConditionExpression": (
                    "consentType = :explicit AND attribute_not_exists(revokedAt) AND "
                    "(attribute_not_exists(expiresAt) OR expiresAt > :now)"
                ),
                "ExpressionAttributeValues": {
                    ":explicit": {"S": "explicit"},
                    ":now": {"N": str(received)},
                },
            }
        },
        {
            "Put": {
                "TableName": settings.dedup_table,
                "Item": {
                    "eventKey": event_key,
                    "expiresAt": {"N": str(received + DEDUP_DAYS * 86400)},
                },
                "ConditionExpression": "attribute_not_exists(eventKey)",
            }
        },
        {
            "Put": {
                "TableName": settings.pending_table,
                "Item": {
                    "orgHash": {"S": salts.current.org_hash(owner_id)},
                    "eventKey": event_key,
                    "ruleId": {"S": fp.rule_id},
                    "isFalsePositive": {"BOOL": fp.is_false_positive},
                    "saltVersion": {"S": salts.version},
                    "saltMonth": {"S": salts.current.month},
                    "receivedAt": {"N": str(received)},
                    "expiresAt": {"N": str(received + PENDING_DAYS * 86400)},
                },
                "ConditionExpression": "attribute_not_exists(eventKey)",
            }
        },
    ]


def store(deps: Dependencies, request: list[dict[str, Any]]) -> str:
    """'stored', 'not_admitted', 'no_consent', 'duplicate', or the code of a failed write."""
    code = ""
    for attempt in range(WRITE_ATTEMPTS):
        if attempt:
            deps.pause(0.005 * attempt)  # the other transaction commits within milliseconds
        try:
            deps.dynamodb.transact_write_items(TransactItems=request)
            return "stored"
        except ClientError as exc:
            code = error_code(exc) or "ClientError"
            reasons = [
                str(r.get("Code", "None")) for r in exc.response.get("CancellationReasons") or []
            ]
            failed = [r == "ConditionalCheckFailed" for r in reasons] + [False] * 4
            if failed[0]:
                return "not_admitted"
            if failed[1]:
                return "no_consent"
            if failed[2] or failed[3]:
                return "duplicate"
            if "TransactionConflict" not in reasons:
                return code
        except BotoCoreError as exc:
            return type(exc).__name__
    return code


def _owner(event: object, deps: Dependencies, now: datetime) -> tuple[str, FpEvent]:
    """The organisation the event is for, and the event: raises Refused or InvalidField."""
    caller = github_or_internal(event, deps.settings.internal_principals)
    internal = not isinstance(caller, GitHubCaller)
    fp = parse_event(object_body(event, FIELDS), now, org_required=internal)
    if isinstance(caller, GitHubCaller):
        if fp.org_id is not None and fp.org_id != caller.owner_id:
            raise Refused("orgId", "not the caller's organisation")
        return caller.owner_id, fp
    assert fp.org_id is not None  # required on the internal route
    return fp.org_id, fp


def ingest(event: object, deps: Dependencies) -> dict[str, Any]:
    now = deps.clock()
    try:
        owner_id, fp = _owner(event, deps, now)
    except Refused as exc:
        if exc.field == "orgId":
            # The same answer, and no lookup at all, whatever the named organisation's state.
            count(metrics, IMPERSONATION_REFUSALS)
            logger.warning("impersonation refused")
            return {**IMPERSONATION}
        count(metrics, CALLER_REFUSALS)
        logger.warning("caller refused", extra={"reason": exc.reason})
        return error(403, "forbidden", "caller", exc.reason)
    except InvalidField as exc:
        count(metrics, VALIDATION_ERRORS)
        logger.info("event rejected", extra={"field": exc.field, "reason": exc.reason})
        return error(400, "invalid_field", exc.field, str(exc))

    try:
        salts = deps.salts.salts()
    except SaltNotSeeded:
        count(metrics, SALT_NOT_SEEDED)
        logger.error("salt not seeded yet")
        return unavailable("salt_not_seeded", "the first salt has not been created yet")
    except SaltUnavailable as exc:
        count(metrics, ANONYMIZATION_ERRORS)
        logger.error("salt unavailable", extra={"reason": str(exc)})
        return unavailable("anonymization_unavailable", "the salt cannot be read")
    try:
        org = deps.orgs.pseudonyms(owner_id)
    except OrgKeyUnavailable as exc:
        count(metrics, CONSENT_CHECK_FAILURES)
        logger.error("org key unavailable", extra={"errorCode": str(exc)})
        return unavailable("org_key_unavailable", "the organisation cannot be checked")

    outcome = store(deps, transaction(deps.settings, org, fp, salts, owner_id, now))
    if outcome == "not_admitted":
        count(metrics, ADMISSION_REFUSALS)
        logger.warning("organisation not admitted", extra={"orgKey": org.org_key})
        return error(403, "forbidden", "caller", "this organisation is not admitted")
    if outcome == "no_consent":
        count(metrics, CONSENT_MISSING)
        logger.info("consent check failed", extra={"orgKey": org.org_key, "ruleId": fp.rule_id})
        return respond(200, {"status": "dropped", "reason": "no_consent"})
    if outcome == "duplicate":
        count(metrics, DUPLICATE_EVENTS)
        logger.info("duplicate event", extra={"ruleId": fp.rule_id})
        return respond(200, {"status": "duplicate"})
    if outcome != "stored":
        count(metrics, EVENT_STORE_FAILURES)
        logger.error("store failed", extra={"errorCode": outcome})
        return unavailable("store_unavailable", "the event could not be stored")

    rule_metrics.add_dimension(name="Environment", value=deps.settings.environment)
    rule_metrics.add_dimension(name="RuleId", value=fp.rule_id)
    rule_metrics.add_metric(name=FP_EVENTS_INGESTED, unit=MetricUnit.Count, value=1)
    rule_metrics.flush_metrics()
    # Accepted events are counted (FPEventsIngested), not logged one by one: a log line per
    # event would double the function's own work and its log bill for nothing a metric lacks.
    logger.debug("event pending", extra={"ruleId": fp.rule_id, "saltMonth": salts.current.month})
    return respond(202, {"status": "pending"})


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    started = time.perf_counter()
    deps = dependencies()
    tag_environment(metrics, deps.settings.environment)
    try:
        return ingest(event, deps)
    finally:
        elapsed = (time.perf_counter() - started) * 1000
        metrics.add_metric(name=FP_INGEST_LATENCY, unit=MetricUnit.Milliseconds, value=elapsed)
