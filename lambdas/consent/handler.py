"""fp-consent: an organisation grants (once admitted), reads and revokes its own consent.

``PUT /fp/consent`` grants (``{"consentType": "explicit", "expiresAt"?}``), ``GET`` reads,
``DELETE`` revokes: it sets ``revokedAt`` (ingestion refuses from then on, inside its own write)
and deletes the organisation's pending events under the current and the previous salt. The
organisation is always the caller's (the GitHub token's ``repository_owner_id``); the consent
item is keyed by its ``orgKey``, never by the raw id. Bad input is a 400 with nothing written.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from aws_lambda_powertools.logging.logger import Logger
from aws_lambda_powertools.metrics.metrics import Metrics
from botocore.exceptions import ClientError

# Siblings: this function's modules and lambdas/shared/, both at the package's root.
from caller import (
    GitHubCaller,
    InvalidField,
    Refused,
    caller_of,
    error,
    method_of,
    no_body,
    object_body,
    respond,
    unavailable,
)
from consent_request import GRANT_FIELDS, grant_expiry
from failures import DEPENDENCY_ERRORS, dependency_failure, error_code
from pending_purge import purge_pending
from pseudonym_deps import PseudonymDependencies, PseudonymSettings
from salt_cache import SaltNotSeeded, SaltUnavailable
from telemetry import count, tag_environment
from utc_text import utc_text

CONSENT_GRANTED = "ConsentGranted"
CONSENT_REVOKED = "ConsentRevoked"
PENDING_EVENTS_REVOKED = "PendingEventsRevoked"
CONSENT_VALIDATION_ERRORS = "ConsentValidationErrors"
CALLER_REFUSALS = "CallerRefusals"
ADMISSION_REFUSALS = "AdmissionRefusals"
CONSENT_STORE_FAILURES = "ConsentStoreFailures"
ANONYMIZATION_ERRORS = "AnonymizationErrors"

logger = Logger()
metrics = Metrics(service="")


@dataclass(frozen=True, kw_only=True)
class Settings(PseudonymSettings):
    consent_table: str

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        return cls.read(env, consent_table=env["CONSENT_TABLE_NAME"])


Dependencies = PseudonymDependencies[Settings]


@cache
def dependencies() -> Dependencies:
    """Built once per container, on the first invocation."""
    # Revocation reads the salt fresh each time: a cached document might miss a new salt.
    return Dependencies.production(Settings.from_env(os.environ), salt_max_age=0)


def describe(item: Mapping[str, Any] | None, now: datetime) -> dict[str, Any]:
    """The consent record as the owner sees it."""
    if not item:
        return {"status": "none"}
    answer: dict[str, Any] = {
        "consentType": item.get("consentType", {}).get("S"),
        "grantedAt": item.get("grantedAt", {}).get("S"),
        "expiresAt": int(item["expiresAt"]["N"]) if "expiresAt" in item else None,
    }
    if "revokedAt" in item:
        answer |= {"status": "revoked", "revokedAt": item["revokedAt"]["S"]}
    elif answer["expiresAt"] is not None and answer["expiresAt"] <= now.timestamp():
        answer["status"] = "expired"
    else:
        answer["status"] = "active"
    return answer


def grant(deps: Dependencies, org_key: str, expires: int | None, now: datetime) -> dict[str, Any]:
    item: dict[str, Any] = {
        "orgKey": {"S": org_key},
        "consentType": {"S": "explicit"},
        "grantedAt": {"S": utc_text(now)},
    }
    if expires is not None:
        item["expiresAt"] = {"N": str(expires)}
    deps.dynamodb.put_item(TableName=deps.settings.consent_table, Item=item)
    count(metrics, CONSENT_GRANTED)
    logger.info("consent granted", extra={"orgKey": org_key})
    return {"status": "granted", "consentType": "explicit", "grantedAt": utc_text(now),
            "expiresAt": expires}  # fmt: skip


def revoke(deps: Dependencies, owner_id: str, org_key: str, now: datetime) -> dict[str, Any]:
    settings = deps.settings
    revoked_at = None
    try:
        updated = deps.dynamodb.update_item(
            TableName=settings.consent_table,
            Key={"orgKey": {"S": org_key}},
            UpdateExpression="SET revokedAt = if_not_exists(revokedAt, :now)",
            ConditionExpression="attribute_exists(orgKey)",
            ExpressionAttributeValues={":now": {"S": utc_text(now)}},
            ReturnValues="ALL_NEW",
        )
        revoked_at = updated["Attributes"]["revokedAt"]["S"]
    except ClientError as exc:
        if error_code(exc) != "ConditionalCheckFailedException":
            raise
    try:
        salts = deps.salts.salts(fresh=True)
    except SaltNotSeeded:
        deleted = 0  # no salt has ever existed, so no event can be pending
    else:
        deleted = purge_pending(deps.dynamodb, settings.pending_table, owner_id, salts)
    count(metrics, CONSENT_REVOKED)
    count(metrics, PENDING_EVENTS_REVOKED, deleted)
    logger.info("consent revoked", extra={"orgKey": org_key, "pendingEventsDeleted": deleted})
    return {"status": "revoked", "revokedAt": revoked_at, "pendingEventsDeleted": deleted}


def consent(event: object, deps: Dependencies) -> dict[str, Any]:
    now = deps.clock()
    method = method_of(event)
    expires: int | None = None
    try:
        caller = caller_of(event)
        if not isinstance(caller, GitHubCaller):
            raise Refused("caller", "consent is given by the organisation's own token")
        if method == "PUT":
            expires = grant_expiry(object_body(event, GRANT_FIELDS, 1024), now)
        elif method in ("GET", "DELETE"):
            no_body(event)
        else:
            raise InvalidField("method", "must be PUT, GET or DELETE")
    except Refused as exc:
        count(metrics, CALLER_REFUSALS)
        logger.warning("caller refused", extra={"reason": exc.reason})
        return error(403, "forbidden", exc.field, exc.reason)
    except InvalidField as exc:
        count(metrics, CONSENT_VALIDATION_ERRORS)
        logger.info("consent request rejected", extra={"field": exc.field, "reason": exc.reason})
        return error(400, "invalid_field", exc.field, str(exc))

    settings = deps.settings
    org_key: str | None = None
    try:
        org_key = deps.orgs.pseudonyms(caller.owner_id).org_key
        if method == "PUT":
            # Only an admitted organisation may start taking part; reading and revoking its own
            # consent stay open to it whatever an operator decided since.
            admitted = deps.dynamodb.get_item(
                TableName=settings.admission_table,
                Key={"orgKey": {"S": org_key}, "record": {"S": "admission"}},
                ConsistentRead=True,
            )
            if "Item" not in admitted:
                count(metrics, ADMISSION_REFUSALS)
                logger.warning("organisation not admitted", extra={"orgKey": org_key})
                return error(403, "forbidden", "caller", "this organisation is not admitted")
            return respond(200, grant(deps, org_key, expires, now))
        if method == "DELETE":
            return respond(200, revoke(deps, caller.owner_id, org_key, now))
        found = deps.dynamodb.get_item(
            TableName=settings.consent_table, Key={"orgKey": {"S": org_key}}, ConsistentRead=True
        )
        return respond(200, describe(found.get("Item"), now))
    except DEPENDENCY_ERRORS as exc:
        if isinstance(exc, SaltUnavailable):
            count(metrics, ANONYMIZATION_ERRORS)
        return _failed(exc, method, org_key)


def _failed(exc: Exception, method: str, org_key: str | None) -> dict[str, Any]:
    """The method and the keyed hash (never the raw id) let on-call find which organisation's
    revocation may not have purged: the admission route shows each owner's ``orgKey``."""
    code, reason = dependency_failure(exc)
    count(metrics, CONSENT_STORE_FAILURES)
    where = {"method": method} | ({"orgKey": org_key} if org_key else {})
    logger.error("consent request failed", extra={"error": code, "reason": reason, **where})
    return unavailable(code, "consent cannot be changed right now; retry later")


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    deps = dependencies()
    tag_environment(metrics, deps.settings.environment)
    return consent(event, deps)
