"""Every function's paths, each run as the program deploys it, for the metric contract.

A ``Scenario`` drives one function (``lambdas/<code>``) through one path, run as deployed in a
fresh moto account (tests/lambdas/as_deployed.py): its declared environment, a cold module, the
state the other functions leave (admitted and consenting organisations, a seeded salt, pending
events). tests/lambdas/test_metric_contract.py holds the alarms to what these paths emit.

A function added to ``lambdas/`` plugs in with its scenarios in ``SCENARIOS``; the contract
fails until it has at least one ``success`` and one ``failure`` path. Kinds: ``success`` (an
ordinary answer, a dropped or duplicate event included), ``refused`` (the caller's fault: a 4xx),
``failure`` (a dependency of ours failed: a 5xx answer or an exception).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from testing.aws import begin_rotation, first_current_allowed
from testing.lambdas import ACCOUNT, github_event, iam_event
from testing.service import ADMIN_SESSION, INTERNAL_SESSION
from tests.lambdas.as_deployed import Deployed, Outcome, Scenario

OWNER = "4242"
STRANGER = f"arn:aws:sts::{ACCOUNT}:assumed-role/someone-else/session"


# --- requests ------------------------------------------------------------------------------------


def ingest(d: Deployed, owner: str | None = OWNER, **changes: Any) -> dict[str, Any]:
    return github_event(owner, body=d.service.event(**changes))


def consent(owner: str, method: str, body: object = None) -> dict[str, Any]:
    return github_event(owner, method=method, path="/fp/consent", body=body)


GRANT = {"consentType": "explicit"}


def admin(method: str, owner: str, user_arn: str = ADMIN_SESSION) -> dict[str, Any]:
    return iam_event(user_arn, method=method, path=f"/admin/admissions/{owner}",
                     route="/admin/admissions/{ownerId}", path_parameters={"ownerId": owner})  # fmt: skip


def calibrate(rule: str = "MD-003") -> dict[str, Any]:
    return github_event(OWNER, method="GET", path=f"/fp/calibrate/{rule}",
                        route="/fp/calibrate/{ruleId}", path_parameters={"ruleId": rule})  # fmt: skip


def rotation(d: Deployed, token: str, *steps: str) -> Outcome:
    begin_rotation(d.service.salt_arn, token)
    event = {"SecretId": d.service.salt_arn, "ClientRequestToken": token}
    with first_current_allowed():
        return d.invoke(*(event | {"Step": step} for step in steps))


STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")
TOKEN = "11111111-2222-3333-4444-555555555555"


# --- fp-ingestion ---------------------------------------------------------------------------------


def ingest_stored(d: Deployed) -> Outcome:
    d.ready(OWNER)
    return d.invoke(ingest(d))


def ingest_retried(d: Deployed) -> Outcome:
    d.ready(OWNER)
    event = ingest(d)
    return d.invoke(event, event)


def ingest_without_consent(d: Deployed) -> Outcome:
    d.ready()
    d.service.admin("PUT", OWNER)
    return d.invoke(ingest(d))


def ingest_invalid(d: Deployed) -> Outcome:
    d.ready(OWNER)
    return d.invoke(ingest(d, ruleId="not a rule"))


def ingest_for_another(d: Deployed) -> Outcome:
    d.ready(OWNER)
    return d.invoke(ingest(d, orgId="77"))


def ingest_without_identity(d: Deployed) -> Outcome:
    d.ready(OWNER)
    return d.invoke(ingest(d, owner=None))


def ingest_internal_stranger(d: Deployed) -> Outcome:
    d.ready(OWNER)
    return d.invoke(iam_event(STRANGER, body=d.service.event(orgId=OWNER)))


def ingest_not_admitted(d: Deployed) -> Outcome:
    d.ready()
    return d.invoke(ingest(d))


def ingest_internal(d: Deployed) -> Outcome:
    d.ready(OWNER)
    return d.invoke(iam_event(INTERNAL_SESSION, body=d.service.event(orgId=OWNER)))


def ingest_salt_not_seeded(d: Deployed) -> Outcome:
    d.service.join(OWNER)
    return d.invoke(ingest(d))


def ingest_salt_malformed(d: Deployed) -> Outcome:
    d.ready(OWNER)
    d.break_salt()
    return d.invoke(ingest(d))


def ingest_org_key_lost(d: Deployed) -> Outcome:
    d.ready(OWNER)
    d.lose_org_key()
    return d.invoke(ingest(d))


def ingest_store_down(d: Deployed) -> Outcome:
    d.ready(OWNER)
    d.drop_table("pending")
    return d.invoke(ingest(d))


def ingest_dynamodb_unreachable(d: Deployed) -> Outcome:
    d.ready(OWNER)
    d.unreachable("dynamodb")
    return d.invoke(ingest(d))


def ingest_kms_unreachable(d: Deployed) -> Outcome:
    d.ready(OWNER)
    d.unreachable("kms")
    return d.invoke(ingest(d))


def ingest_secrets_manager_unreachable(d: Deployed) -> Outcome:
    d.ready(OWNER)
    d.unreachable("secretsmanager")
    return d.invoke(ingest(d))


# --- fp-consent -----------------------------------------------------------------------------------


def consent_granted(d: Deployed) -> Outcome:
    d.service.admin("PUT", OWNER)
    return d.invoke(consent(OWNER, "PUT", GRANT))


def consent_read(d: Deployed) -> Outcome:
    d.ready(OWNER)
    return d.invoke(consent(OWNER, "GET"))


def consent_revoked(d: Deployed) -> Outcome:
    d.ready(OWNER)
    d.service.ingest(OWNER)
    return d.invoke(consent(OWNER, "DELETE"))


def consent_invalid(d: Deployed) -> Outcome:
    d.service.admin("PUT", OWNER)
    return d.invoke(consent(OWNER, "PUT", {"consentType": "implied"}))


def consent_by_iam(d: Deployed) -> Outcome:
    event = iam_event(INTERNAL_SESSION, method="PUT", path="/fp/consent", body=GRANT)
    return d.invoke(event)


def consent_not_admitted(d: Deployed) -> Outcome:
    return d.invoke(consent(OWNER, "PUT", GRANT))


def consent_store_down(d: Deployed) -> Outcome:
    d.service.admin("PUT", OWNER)
    d.drop_table("consent")
    return d.invoke(consent(OWNER, "PUT", GRANT))


def consent_salt_malformed(d: Deployed) -> Outcome:
    d.ready(OWNER)
    d.break_salt()
    return d.invoke(consent(OWNER, "DELETE"))


def consent_org_key_lost(d: Deployed) -> Outcome:
    d.ready(OWNER)
    d.lose_org_key()
    return d.invoke(consent(OWNER, "GET"))


def consent_dynamodb_unreachable(d: Deployed) -> Outcome:
    d.ready(OWNER)
    d.unreachable("dynamodb")
    return d.invoke(consent(OWNER, "DELETE"))


# --- fp-admission ---------------------------------------------------------------------------------


def admitted(d: Deployed) -> Outcome:
    return d.invoke(admin("PUT", OWNER))


def admission_read(d: Deployed) -> Outcome:
    d.service.admin("PUT", OWNER)
    return d.invoke(admin("GET", OWNER))


def withdrawn(d: Deployed) -> Outcome:
    d.ready(OWNER)
    d.service.ingest(OWNER)
    return d.invoke(admin("DELETE", OWNER))


def admission_by_stranger(d: Deployed) -> Outcome:
    return d.invoke(admin("PUT", OWNER, user_arn=INTERNAL_SESSION))


def admission_invalid(d: Deployed) -> Outcome:
    return d.invoke(admin("PUT", "0042"))


def admission_store_down(d: Deployed) -> Outcome:
    d.drop_table("admission")
    return d.invoke(admin("PUT", OWNER))


def admission_dynamodb_unreachable(d: Deployed) -> Outcome:
    d.unreachable("dynamodb")
    return d.invoke(admin("PUT", OWNER))


# --- fp-release -----------------------------------------------------------------------------------


def released(d: Deployed) -> Outcome:
    # As many organisations as the deployed K_ANONYMITY asks for, one event each.
    owners = [str(100 + n) for n in range(int(d.env["K_ANONYMITY"]))]
    d.ready(*owners)
    for owner in owners:
        assert d.service.ingest(owner)[0] == 202
    outcome = d.invoke({"source": "aws.scheduler"})
    assert d.service.items("pending") == [], "the batch was not released"
    return outcome


def released_nothing(d: Deployed) -> Outcome:
    d.ready(OWNER)
    d.service.ingest(OWNER)  # one organisation: below k, it waits
    return d.invoke({"source": "aws.scheduler"})


def release_store_down(d: Deployed) -> Outcome:
    d.ready()
    d.drop_table("pending")
    return d.invoke({"source": "aws.scheduler"})


def release_dynamodb_unreachable(d: Deployed) -> Outcome:
    d.ready(OWNER)
    d.service.ingest(OWNER)
    d.unreachable("dynamodb")
    return d.invoke({"source": "aws.scheduler"})


# --- calibration-query ----------------------------------------------------------------------------


def query_before_release(d: Deployed) -> Outcome:
    return d.invoke(calibrate())


def query_released(d: Deployed) -> Outcome:
    owners = [str(100 + n) for n in range(3)]
    d.ready(*owners)
    for owner in owners:
        d.service.ingest(owner)
    assert d.service.release()["batchesReleased"] == 1  # k = 3 in the preparing service
    return d.invoke(calibrate())


def query_invalid(d: Deployed) -> Outcome:
    return d.invoke(calibrate("md-3"))


def query_by_stranger(d: Deployed) -> Outcome:
    event = iam_event(STRANGER, method="GET", path="/internal/fp/calibrate/MD-003",
                      route="/internal/fp/calibrate/{ruleId}", path_parameters={"ruleId": "MD-003"})  # fmt: skip
    return d.invoke(event)


def query_store_down(d: Deployed) -> Outcome:
    d.drop_table("published")
    return d.invoke(calibrate())


def query_dynamodb_unreachable(d: Deployed) -> Outcome:
    d.unreachable("dynamodb")
    return d.invoke(calibrate())


# --- salt-rotator ---------------------------------------------------------------------------------


def rotator_seeds(d: Deployed) -> Outcome:
    return rotation(d, TOKEN, *STEPS)


def rotator_rotates(d: Deployed) -> Outcome:
    d.ready()
    return rotation(d, TOKEN, *STEPS)


def rotator_out_of_order(d: Deployed) -> Outcome:
    d.ready()
    return rotation(d, TOKEN, "testSecret")


def rotator_stale_pending(d: Deployed) -> Outcome:
    # Last month's rotation stopped after createSecret; this month finds its pending value.
    today = d.service.now
    d.service.now = today - timedelta(days=40)
    d.ready()
    begin_rotation(d.service.salt_arn, TOKEN)
    event = {"SecretId": d.service.salt_arn, "ClientRequestToken": TOKEN, "Step": "createSecret"}
    d.service.modules["salt_rotator"].rotate(event, d.service.deps["salt_rotator"])
    d.service.now = today
    return d.invoke(event | {"Step": "testSecret"})


# --- salt-age-check -------------------------------------------------------------------------------


def salt_age_measured(d: Deployed) -> Outcome:
    d.ready()
    return d.invoke({})


def salt_age_unseeded(d: Deployed) -> Outcome:
    return d.invoke({})


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("fp_ingestion", "event stored", "success", ingest_stored),
    Scenario("fp_ingestion", "retried event counted once", "success", ingest_retried),
    Scenario("fp_ingestion", "no consent: dropped", "success", ingest_without_consent),
    Scenario("fp_ingestion", "internal caller on the allow-list", "success", ingest_internal),
    Scenario("fp_ingestion", "invalid field", "refused", ingest_invalid),
    Scenario("fp_ingestion", "another organisation's orgId", "refused", ingest_for_another),
    Scenario("fp_ingestion", "no identity", "refused", ingest_without_identity),
    Scenario("fp_ingestion", "internal caller not allow-listed", "refused",
             ingest_internal_stranger),
    Scenario("fp_ingestion", "organisation not admitted", "refused", ingest_not_admitted),
    Scenario("fp_ingestion", "salt not seeded", "failure", ingest_salt_not_seeded),
    Scenario("fp_ingestion", "salt malformed", "failure", ingest_salt_malformed),
    Scenario("fp_ingestion", "org key lost", "failure", ingest_org_key_lost),
    Scenario("fp_ingestion", "pending table gone", "failure", ingest_store_down),
    Scenario("fp_ingestion", "DynamoDB unreachable", "failure", ingest_dynamodb_unreachable),
    Scenario("fp_ingestion", "KMS unreachable", "failure", ingest_kms_unreachable),
    Scenario("fp_ingestion", "Secrets Manager unreachable", "failure",
             ingest_secrets_manager_unreachable),
    Scenario("consent", "granted", "success", consent_granted),
    Scenario("consent", "read", "success", consent_read),
    Scenario("consent", "revoked, pending events purged", "success", consent_revoked),
    Scenario("consent", "invalid consent type", "refused", consent_invalid),
    Scenario("consent", "IAM caller", "refused", consent_by_iam),
    Scenario("consent", "grant by an organisation not admitted", "refused",
             consent_not_admitted),
    Scenario("consent", "consent table gone", "failure", consent_store_down),
    Scenario("consent", "salt malformed at revocation", "failure", consent_salt_malformed),
    Scenario("consent", "org key lost", "failure", consent_org_key_lost),
    Scenario("consent", "DynamoDB unreachable at revocation", "failure",
             consent_dynamodb_unreachable),
    Scenario("admission", "admitted", "success", admitted),
    Scenario("admission", "read with its audit", "success", admission_read),
    Scenario("admission", "withdrawn, pending events purged", "success", withdrawn),
    Scenario("admission", "principal not allow-listed", "refused", admission_by_stranger),
    Scenario("admission", "owner id not canonical", "refused", admission_invalid),
    Scenario("admission", "admission table gone", "failure", admission_store_down),
    Scenario("admission", "DynamoDB unreachable", "failure", admission_dynamodb_unreachable),
    Scenario("release", "a batch of k organisations released", "success", released),
    Scenario("release", "below k: everything waits", "success", released_nothing),
    Scenario("release", "pending table gone", "failure", release_store_down),
    Scenario("release", "DynamoDB unreachable", "failure", release_dynamodb_unreachable),
    Scenario("calibration_query", "before the first release", "success", query_before_release),
    Scenario("calibration_query", "released numbers", "success", query_released),
    Scenario("calibration_query", "invalid rule id", "refused", query_invalid),
    Scenario("calibration_query", "internal caller not allow-listed", "refused",
             query_by_stranger),
    Scenario("calibration_query", "published table gone", "failure", query_store_down),
    Scenario("calibration_query", "DynamoDB unreachable", "failure", query_dynamodb_unreachable),
    Scenario("salt_rotator", "first rotation seeds the salt", "success", rotator_seeds),
    Scenario("salt_rotator", "monthly rotation", "success", rotator_rotates),
    Scenario("salt_rotator", "a step out of order", "failure", rotator_out_of_order),
    Scenario("salt_rotator", "a pending value of last month", "failure", rotator_stale_pending),
    Scenario("salt_age", "age measured", "success", salt_age_measured),
    Scenario("salt_age", "salt never seeded", "failure", salt_age_unseeded),
)  # fmt: skip
