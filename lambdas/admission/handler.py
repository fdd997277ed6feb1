"""fp-admission: operators admit and withdraw organisations, and every change is audited.

``PUT|GET|DELETE /admin/admissions/{ownerId}`` on an ``AWS_IAM`` route. HTTP APIs have no
resource policies, so the allow-list (``ADMIN_PRINCIPAL_ARNS``) is enforced here. The admission
table holds, per ``orgKey`` (never the raw id), the ``admission`` record ingestion and consent
check, and one ``audit#<time>#<request>`` item per change, written in the same transaction as
the change. A withdrawal also deletes the organisation's pending events, so a sock puppet
found out is not released in the next batch.
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

# Siblings: this function's modules and lambdas/shared/, both at the package's root.
from caller import (
    OWNER_ID,
    AllowList,
    IamCaller,
    InvalidField,
    Refused,
    caller_of,
    error,
    method_of,
    no_body,
    path_parameter,
    request_id,
    respond,
    unavailable,
)
from failures import DEPENDENCY_ERRORS, dependency_failure
from pending_purge import purge_pending
from pseudonym_deps import PseudonymDependencies, PseudonymSettings
from salt_cache import SaltNotSeeded
from telemetry import count, tag_environment
from utc_text import utc_text

ADMISSION_CHANGES = "AdmissionChanges"
ADMIN_REFUSALS = "AdminRefusals"
ADMISSION_STORE_FAILURES = "AdmissionStoreFailures"
ADMISSION_VALIDATION_ERRORS = "AdmissionValidationErrors"
PENDING_EVENTS_REVOKED = "PendingEventsRevoked"
AUDIT_ENTRIES = 50

logger = Logger()
metrics = Metrics(service="")


@dataclass(frozen=True, kw_only=True)
class Settings(PseudonymSettings):
    admins: AllowList

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        admins = AllowList.parse(env["ADMIN_PRINCIPAL_ARNS"], "ADMIN_PRINCIPAL_ARNS")
        return cls.read(env, admins=admins)


Dependencies = PseudonymDependencies[Settings]


@cache
def dependencies() -> Dependencies:
    """Built once per container, on the first invocation; a withdrawal reads the salt fresh."""
    return Dependencies.production(Settings.from_env(os.environ), salt_max_age=0)


@dataclass(frozen=True)
class Change:
    """One admin request: who, on which organisation, when, under which request id."""

    actor: str
    org_key: str
    at: datetime
    request_id: str

    def audit(self, action: str, **extra: dict[str, str]) -> dict[str, Any]:
        record = f"audit#{utc_text(self.at, precise=True)}#{self.request_id}"
        return {
            "TableName": "",
            "Item": {
                "orgKey": {"S": self.org_key},
                "record": {"S": record},
                "action": {"S": action},
                "actor": {"S": self.actor},
                "at": {"S": utc_text(self.at)},
                **extra,
            },
        }


def admit(deps: Dependencies, change: Change) -> dict[str, Any]:
    table = deps.settings.admission_table
    key = {"orgKey": {"S": change.org_key}, "record": {"S": "admission"}}
    audit = change.audit("admit") | {"TableName": table}
    found = deps.dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")
    if found:  # re-admitting keeps the first admission; the request is still audited
        deps.dynamodb.put_item(**audit)
        admitted_at = found["admittedAt"]["S"]
    else:
        admitted_at = utc_text(change.at)
        admission = {**key, "admittedAt": {"S": admitted_at}, "admittedBy": {"S": change.actor}}
        deps.dynamodb.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": table,
                        "Item": admission,
                        "ConditionExpression": "attribute_not_exists(orgKey)",
                    }
                },
                {"Put": audit},
            ]
        )
    count(metrics, ADMISSION_CHANGES)
    logger.info(
        "admission changed",
        extra={"orgKey": change.org_key, "action": "admit", "actor": change.actor},
    )
    return {"status": "admitted", "orgKey": change.org_key, "admittedAt": admitted_at}


def withdraw(deps: Dependencies, change: Change, owner_id: str) -> dict[str, Any]:
    table = deps.settings.admission_table
    key = {"orgKey": {"S": change.org_key}, "record": {"S": "admission"}}
    audit = change.audit("withdraw") | {"TableName": table}
    # First stop every new event (ingestion checks admission in its own write), then purge.
    deps.dynamodb.transact_write_items(
        TransactItems=[{"Delete": {"TableName": table, "Key": key}}, {"Put": audit}]
    )
    try:
        salts = deps.salts.salts(fresh=True)
    except SaltNotSeeded:
        deleted = 0
    else:
        deleted = purge_pending(deps.dynamodb, deps.settings.pending_table, owner_id, salts)
    counted = change.audit("withdraw", pendingEventsDeleted={"N": str(deleted)})
    deps.dynamodb.put_item(**(counted | {"TableName": table}))
    count(metrics, ADMISSION_CHANGES)
    count(metrics, PENDING_EVENTS_REVOKED, deleted)
    logger.info(
        "admission changed",
        extra={"orgKey": change.org_key, "action": "withdraw", "actor": change.actor,
               "pendingEventsDeleted": deleted},
    )  # fmt: skip
    return {"status": "withdrawn", "orgKey": change.org_key, "pendingEventsDeleted": deleted}


def show(deps: Dependencies, org_key: str) -> dict[str, Any]:
    table = deps.settings.admission_table
    key = {"orgKey": {"S": org_key}, "record": {"S": "admission"}}
    found = deps.dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")
    history = deps.dynamodb.query(
        TableName=table,
        KeyConditionExpression="orgKey = :org AND begins_with(#record, :audit)",
        ExpressionAttributeNames={"#record": "record"},
        ExpressionAttributeValues={":org": {"S": org_key}, ":audit": {"S": "audit#"}},
        ScanIndexForward=False,
        Limit=AUDIT_ENTRIES,
    ).get("Items", [])
    answer: dict[str, Any] = {
        "status": "admitted" if found else "not_admitted",
        "orgKey": org_key,
        "audit": [
            {"action": i["action"]["S"], "actor": i["actor"]["S"], "at": i["at"]["S"]}
            for i in history
        ],
    }
    if found:
        answer |= {"admittedAt": found["admittedAt"]["S"], "admittedBy": found["admittedBy"]["S"]}
    return answer


def administer(event: object, deps: Dependencies) -> dict[str, Any]:
    method = method_of(event)
    try:
        caller = caller_of(event)
        if not isinstance(caller, IamCaller) or not deps.settings.admins.allows(caller):
            raise Refused("caller", "this principal may not administer admissions")
        owner_id = path_parameter(event, "ownerId")
        if not isinstance(owner_id, str) or not OWNER_ID.fullmatch(owner_id):
            raise InvalidField("ownerId", "must be a GitHub repository_owner_id (digits)")
        if method not in ("PUT", "GET", "DELETE"):
            raise InvalidField("method", "must be PUT, GET or DELETE")
        no_body(event, empty_object=True)
    except Refused as exc:
        count(metrics, ADMIN_REFUSALS)
        logger.warning("admin caller refused", extra={"reason": exc.reason})
        return error(403, "forbidden", exc.field, exc.reason)
    except InvalidField as exc:
        count(metrics, ADMISSION_VALIDATION_ERRORS)
        logger.info("admin request rejected", extra={"field": exc.field, "reason": exc.reason})
        return error(400, "invalid_field", exc.field, str(exc))

    try:
        org_key = deps.orgs.pseudonyms(owner_id).org_key
        if method == "GET":
            return respond(200, show(deps, org_key))
        change = Change(caller.arn, org_key, deps.clock(), request_id(event))
        if method == "PUT":
            return respond(200, admit(deps, change))
        return respond(200, withdraw(deps, change, owner_id))
    except DEPENDENCY_ERRORS as exc:
        return _failed(exc)


def _failed(exc: Exception) -> dict[str, Any]:
    code, reason = dependency_failure(exc)
    count(metrics, ADMISSION_STORE_FAILURES)
    logger.error("admin request failed", extra={"error": code, "reason": reason})
    return unavailable(code, "the admission cannot be read or changed right now; retry later")


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    deps = dependencies()
    tag_environment(metrics, deps.settings.environment)
    return administer(event, deps)
