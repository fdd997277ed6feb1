"""Least privilege, proven both ways: each function does its whole job holding only the inline
policy the program registers for its role, and is denied what lies outside that job.

The policies are the staging program's own (each role's ``aws:iam/rolePolicy:RolePolicy`` of
the mocked run), so this proof and the program cannot drift; tests/test_service_iam.py holds
those documents to docs/privacy.md's table. The moto account holds the tables and the salt
secret under the names the run declares and an org key (testing/deployed.py); moto names the
secret and the key itself, so their ARNs, and nothing else, are rewritten to moto's in the
policy. Each handler runs in-process through its real entry point with an assumed-role session
holding only that policy, IAM enforced per resource ARN (testing/moto_iam.py: tables,
transaction items, batch writes, the secret, the KMS key). moto ignores conditions
(``kms:ViaService``, ``dynamodb:EnclosingOperation``, ``kms:MacAlgorithm``) and holds neither
the tables' nor the salt's CMK: those statements are evaluated with their conditions in
tests/test_service_iam.py, and the transaction-only grants are asserted on the policy here.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from contextlib import redirect_stdout
from datetime import timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from testing.aws import begin_rotation, first_current_allowed
from testing.deployed import Account, account, deployed_codes, function_for
from testing.lambdas import ROOT
from testing.moto_iam import ACCOUNT, enforced, session_with_policy
from testing.program import ProgramRun
from testing.service import Service, utc
from tests.lambdas import emf

REGION = "us-east-1"
OWNER = "4242"
IN_TRANSACTION = {
    "ForAnyValue:StringEquals": {"dynamodb:EnclosingOperation": ["TransactWriteItems"]}
}
# Every function the program deploys, by its lambdas/ folder.
FUNCTIONS = ("fp_ingestion", "consent", "admission", "release", "calibration_query",
             "salt_rotator", "salt_age")  # fmt: skip


@pytest.fixture
def moto_account(staging: ProgramRun) -> Iterator[Account]:
    with mock_aws(), pytest.MonkeyPatch.context() as monkeypatch:
        built = account(staging, now=utc(2026, 3, 15, 12))
        built.service.install(monkeypatch.setattr)
        yield built


@pytest.fixture
def service(moto_account: Account) -> Service:
    return moto_account.service


def as_function(moto_account: Account, function: str) -> boto3.Session:
    """The function's clients now hold only the program's policy for it; returns the session."""
    policy = json.dumps(moto_account.policy_document(function))
    session = session_with_policy(f"proof-{function.replace('_', '-')}", policy)
    moto_account.service.restrict(function, session)
    return session


def denied(call: Any) -> bool:
    try:
        call()
    except ClientError as error:
        return error.response["Error"]["Code"] in ("AccessDenied", "AccessDeniedException", "403")
    return False


def ready(s: Service, owners: tuple[str, ...] = (OWNER,)) -> Service:
    s.rotate_salt()
    for owner in owners:
        s.join(owner)
    return s


# --- each function does its whole job with only the program's policy for it -------------


def test_ingestion_does_its_whole_job(moto_account: Account, service: Service) -> None:
    ready(service)
    as_function(moto_account, "fp_ingestion")
    with enforced():
        assert service.ingest(OWNER, eventId="e-1") == (202, {"status": "pending"})
        assert service.ingest(OWNER, eventId="e-1") == (200, {"status": "duplicate"})
        assert service.ingest_internal(service.event(orgId=OWNER))[0] == 202
        assert service.ingest("77")[0] == 403  # refused by the condition check, not by IAM
    assert len(service.items("pending")) == 2


def test_consent_does_its_whole_job(moto_account: Account, service: Service) -> None:
    ready(service)
    service.ingest(OWNER)
    service.now += timedelta(days=17)
    service.rotate_salt()
    service.ingest(OWNER)
    as_function(moto_account, "consent")
    with enforced():
        assert service.consent(OWNER, "PUT", {"consentType": "explicit"})[0] == 200
        assert service.consent(OWNER, "GET")[1]["status"] == "active"
        status, body = service.consent(OWNER, "DELETE")
        assert (status, body["pendingEventsDeleted"]) == (200, 2)


def test_admission_does_its_whole_job(moto_account: Account, service: Service) -> None:
    ready(service)
    service.ingest(OWNER)
    as_function(moto_account, "admission")
    with enforced():
        assert service.admin("PUT", "99")[0] == 200
        assert service.admin("PUT", "99")[0] == 200  # re-admission: GetItem, PutItem audit
        assert service.admin("GET", "99")[1]["status"] == "admitted"
        status, body = service.admin("DELETE", OWNER)
        assert (status, body["pendingEventsDeleted"]) == (200, 1)


def test_release_does_its_whole_job(moto_account: Account, service: Service) -> None:
    ready(service, ("1", "2", "3", "4"))
    for owner in ("1", "2", "3"):
        service.ingest(owner)
        service.ingest(owner)
        service.ingest(owner)  # one over the cap of 2: dropped
    service.ingest("4", ruleId="XY-1234")
    as_function(moto_account, "release")
    with enforced():
        summary = service.release()
    assert (summary["eventsReleased"], summary["excessEventsDropped"]) == (6, 3)
    # a batch that loses organisations while being claimed clears its claims (UpdateItem)
    service.ingest("1", ruleId="XY-1234")
    service.ingest("2", ruleId="XY-1234")
    service.consent("2", "DELETE")  # gone before the claim: the claim's condition fails
    service.ingest("3", ruleId="XY-1234")
    service.now += timedelta(days=17)
    service.rotate_salt()
    service.now += timedelta(days=31)
    service.rotate_salt()  # March's salt leaves the secret: its events expire (BatchWriteItem)
    with enforced():
        assert service.release()["pendingEventsExpired"] == 3
    assert service.items("pending") == []


def test_query_does_its_whole_job(moto_account: Account, service: Service) -> None:
    ready(service, ("1", "2", "3"))
    for owner in ("1", "2", "3"):
        service.ingest(owner)
    service.release()
    as_function(moto_account, "calibration_query")
    with enforced():
        assert service.query()[1]["eventCount"] == 3


def test_rotator_seeds_rotates_and_refuses_a_stale_value(
    moto_account: Account, service: Service
) -> None:
    rotator = service.modules["salt_rotator"]
    as_function(moto_account, "salt_rotator")
    with enforced():
        service.rotate_salt("11111111-2222-3333-4444-555555555555")  # seeds
        service.now += timedelta(days=17)
        service.rotate_salt("22222222-3333-4444-5555-666666666666")
    # a value left pending in April is stale in May: its label is removed (IAM allows it)
    token = "33333333-4444-5555-6666-777777777777"
    begin_rotation(service.salt_arn, token)
    event = {"SecretId": service.salt_arn, "ClientRequestToken": token}
    with enforced(), first_current_allowed():
        rotator.handler(event | {"Step": "createSecret"}, service.context)
        service.now += timedelta(days=31)
        with pytest.raises(rotator.StalePending):
            rotator.handler(event | {"Step": "testSecret"}, service.context)
    stages = service.sm.describe_secret(SecretId=service.salt_arn)["VersionIdsToStages"]
    assert stages[token] == []


def test_salt_age_check_measures_from_the_secret_s_dates_alone(
    moto_account: Account, service: Service
) -> None:
    service.rotate_salt()
    as_function(moto_account, "salt_age")
    out = io.StringIO()
    with enforced(), redirect_stdout(out):
        answer = service.call("salt_age", {})
    assert 0 <= answer["saltAgeDays"] < 1
    assert [p.name for p in emf.metric_points(out.getvalue())] == ["SaltAgeDays"]


# --- and is denied everything outside it --------------------------------------------------


def outside(s: Service, session: boto3.Session) -> dict[str, Any]:
    """Calls none of the functions needs unless listed for it (name -> call)."""
    ddb, sm, kms = (
        session.client(n, region_name=REGION) for n in ("dynamodb", "secretsmanager", "kms")
    )
    other_key = s.kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"][
        "Arn"
    ]
    other_secret = s.sm.create_secret(Name="someone-elses-secret", SecretString="{}")["ARN"]
    t = s.tables
    org = {"orgKey": {"S": "x"}}
    pending = {"orgHash": {"S": "x"}, "eventKey": {"S": "x"}}
    published = {"ruleId": {"S": "MD-003"}, "entry": {"S": "period#2026-03"}}
    admission = {**org, "record": {"S": "admission"}}
    return {
        "read consent": lambda: ddb.get_item(TableName=t["consent"], Key=org),
        "write consent": lambda: ddb.put_item(TableName=t["consent"], Item=org),
        "update consent": lambda: ddb.update_item(
            TableName=t["consent"], Key=org, UpdateExpression="SET a = :a",
            ExpressionAttributeValues={":a": {"S": "x"}}),
        "read admission": lambda: ddb.get_item(TableName=t["admission"], Key=admission),
        "write admission": lambda: ddb.put_item(TableName=t["admission"], Item=admission),
        "scan admission": lambda: ddb.scan(TableName=t["admission"]),
        "scan consent": lambda: ddb.scan(TableName=t["consent"]),
        "scan pending": lambda: ddb.scan(TableName=t["pending"]),
        "write pending": lambda: ddb.put_item(TableName=t["pending"], Item=pending),
        "delete pending": lambda: ddb.delete_item(TableName=t["pending"], Key=pending),
        "query pending": lambda: ddb.query(
            TableName=t["pending"], KeyConditionExpression="orgHash = :o",
            ExpressionAttributeValues={":o": {"S": "x"}}),
        "read dedup": lambda: ddb.get_item(TableName=t["dedup"], Key={"eventKey": {"S": "x"}}),
        "write published": lambda: ddb.put_item(TableName=t["published"], Item=published),
        "read published": lambda: ddb.get_item(TableName=t["published"], Key=published),
        "scan published": lambda: ddb.scan(TableName=t["published"]),
        "read the salt": lambda: sm.get_secret_value(SecretId=s.salt_arn),
        "write the salt": lambda: sm.put_secret_value(SecretId=s.salt_arn, SecretString="{}"),
        "describe the salt": lambda: sm.describe_secret(SecretId=s.salt_arn),
        "rotate the salt": lambda: sm.rotate_secret(SecretId=s.salt_arn),
        "read another secret": lambda: sm.get_secret_value(SecretId=other_secret),
        "describe another secret": lambda: sm.describe_secret(SecretId=other_secret),
        "derive a pseudonym": lambda: kms.generate_mac(
            KeyId=s.org_key_arn, Message=b"phase-mirror/org/1", MacAlgorithm="HMAC_SHA_256"),
        "use another key": lambda: kms.generate_mac(
            KeyId=other_key, Message=b"x", MacAlgorithm="HMAC_SHA_256"),
    }  # fmt: skip


# What each function's job needs, of the calls above; every other one must be denied.
NEEDED = {
    "fp_ingestion": {"read the salt", "derive a pseudonym"},
    "consent": {"read consent", "write consent", "update consent", "read admission",
                "query pending", "delete pending", "read the salt", "derive a pseudonym"},
    "admission": {"read admission", "write admission", "query pending", "delete pending",
                  "read the salt", "derive a pseudonym"},
    "release": {"scan pending", "read published", "describe the salt"},
    "calibration_query": set(),
    "salt_rotator": {"read the salt", "write the salt", "describe the salt"},
    "salt_age": {"describe the salt"},
}  # fmt: skip


# Allowed by the action, refused in AWS by the statement's condition (only inside
# TransactWriteItems), which moto ignores: the condition is asserted on the policy instead.
IN_TRANSACTION_ONLY = {"fp_ingestion": {"write pending": "dynamodb:PutItem"},
                       "release": {"write published": "dynamodb:PutItem"}}  # fmt: skip


def test_every_deployed_function_is_proven(staging: ProgramRun) -> None:
    assert set(NEEDED) == set(FUNCTIONS) == deployed_codes(staging)


@pytest.mark.parametrize("function", sorted(NEEDED))
def test_each_function_is_denied_everything_outside_its_job(
    moto_account: Account, service: Service, function: str
) -> None:
    ready(service)
    session = as_function(moto_account, function)
    calls = outside(service, session)
    with enforced():
        refused = {name for name, call in calls.items() if denied(call)}
    conditioned = IN_TRANSACTION_ONLY.get(function, {})
    assert refused == set(calls) - NEEDED[function] - set(conditioned)
    for action in conditioned.values():
        for statement in moto_account.policy_document(function)["Statement"]:
            if action in statement["Action"]:
                assert statement["Condition"] == IN_TRANSACTION, statement["Sid"]


def test_moto_authorises_transaction_items_and_batch_writes_per_table(service: Service) -> None:
    """The enforcement the proofs rely on: each item of a transaction and each table of a batch
    write is authorised on its own; one item outside the policy denies it all."""
    t = service.tables
    arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/"
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "dynamodb:PutItem", "Resource": arn + t["dedup"]},
            {
                "Effect": "Allow",
                "Action": "dynamodb:BatchWriteItem",
                "Resource": arn + t["pending"],
            },
        ],
    }
    ddb = session_with_policy("proof-moto", json.dumps(policy)).client("dynamodb")
    dedup = {"Put": {"TableName": t["dedup"], "Item": {"eventKey": {"S": "e1"}}}}
    pending = {"orgHash": {"S": "o"}, "eventKey": {"S": "e1"}}
    with enforced():
        other = {"Put": {"TableName": t["pending"], "Item": pending}}
        assert denied(lambda: ddb.transact_write_items(TransactItems=[dedup, other]))
        assert denied(lambda: ddb.batch_write_item(RequestItems={
            t["pending"]: [{"PutRequest": {"Item": pending}}],
            t["dedup"]: [{"PutRequest": {"Item": {"eventKey": {"S": "e2"}}}}],
        }))  # fmt: skip
    assert service.items("dedup") == service.items("pending") == []
    with enforced():
        ddb.transact_write_items(TransactItems=[dedup])
        ddb.batch_write_item(RequestItems={t["pending"]: [{"PutRequest": {"Item": pending}}]})
    assert len(service.items("dedup")) == len(service.items("pending")) == 1


def test_the_policies_proven_here_grant_exactly_the_documented_actions(
    moto_account: Account,
) -> None:
    # docs/privacy.md's table for the six functions of the service; the salt-age check reads
    # the salt's dates only (docs: the salt-age alarm's source)
    doc = (ROOT / "docs" / "privacy.md").read_text()
    iam = doc[doc.index("### IAM: the exact actions") : doc.index("**Key policies.**")]
    documented = set(re.findall(r"`((?:dynamodb|secretsmanager|kms):\w+)`", iam))
    documented |= {f"secretsmanager:{a}" for a in ("GetSecretValue", "PutSecretValue",
                                                   "UpdateSecretVersionStage")}  # fmt: skip

    def granted(functions: tuple[str, ...]) -> set[str]:
        statements = [s for f in functions for s in moto_account.policy_document(f)["Statement"]]
        actions = {a for s in statements for a in s["Action"]}
        return {a for a in actions if not a.startswith(("logs:", "xray:"))}

    assert granted(FUNCTIONS[:-1]) == documented
    assert granted(("salt_age",)) == {"secretsmanager:DescribeSecret"}


def test_the_proof_runs_the_program_s_policy_with_only_moto_s_arns_in_place(
    staging: ProgramRun, moto_account: Account
) -> None:
    for function in FUNCTIONS:
        proven = json.dumps(moto_account.policy_document(function), sort_keys=True)
        for declared, moto in moto_account.moto_arns.items():
            proven = proven.replace(moto, declared)
        role = function_for(staging, function).inputs["role"].rsplit("/", 1)[-1]
        (policy,) = [
            p for p in staging.of_type("aws:iam/rolePolicy:RolePolicy") if p.inputs["role"] == role
        ]
        assert proven == json.dumps(json.loads(policy.inputs["policy"]), sort_keys=True)
