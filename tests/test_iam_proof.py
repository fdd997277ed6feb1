"""Least privilege, proven: each function does its whole job holding exactly the policy the
program declares, and is denied what lies outside its job. Also the contract between the
program and the code: tables, secret and environment come from the program's own declarations.

The moto account is built from the staging program's registered resources (table key schemas,
GSIs, TTL, secret name), with the first salt the rotator's own builder makes. Each handler then
runs in-process with the program's environment variables and an assumed-role session whose only policy is the one
the program attaches to that function's role, with IAM enforced per resource
(tests/moto_iam.py). moto ignores policy conditions; the KMS statements' conditions are
asserted on the documents instead.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from tests.lambdas.harness import LambdaContext, begin_rotation, load_handler, response_body
from tests.moto_iam import ACCOUNT, enforced, session_with_policy
from tools.mock_program import ProgramRun

FUNCTION = "aws:lambda/function:Function"
ROLES = {
    "fp_ingestion": "salt-rotation-ingestion",
    "calibration_query": "calibration-api-query",
    "salt_rotator": "salt-rotation-rotator",
}
# Set by the program for Powertools itself, not read by the handler code.
POWERTOOLS_ENV = {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE"}


def declared_env(run: ProgramRun, code: str) -> dict[str, str]:
    return run.one(FUNCTION, f"{ROLES[code]}-function").inputs["environment"]["variables"]


def declared_policy(run: ProgramRun, code: str) -> dict[str, Any]:
    policy = run.one("aws:iam/rolePolicy:RolePolicy", f"{ROLES[code]}-policy")
    return json.loads(policy.inputs["policy"])


def create_table_from_declaration(ddb: Any, inputs: dict[str, Any]) -> None:
    """A moto table exactly as the program declares it: keys, attributes, GSIs, TTL."""
    request: dict[str, Any] = {
        "TableName": inputs["name"],
        "BillingMode": inputs["billingMode"],
        "KeySchema": [
            {"AttributeName": inputs["hashKey"], "KeyType": "HASH"},
            *(
                [{"AttributeName": inputs["rangeKey"], "KeyType": "RANGE"}]
                if inputs.get("rangeKey")
                else []
            ),
        ],
        "AttributeDefinitions": [
            {"AttributeName": a["name"], "AttributeType": a["type"]} for a in inputs["attributes"]
        ],
    }
    if inputs.get("globalSecondaryIndexes"):
        request["GlobalSecondaryIndexes"] = [
            {
                "IndexName": gsi["name"],
                "KeySchema": [
                    {"AttributeName": k["attributeName"], "KeyType": k["keyType"]}
                    for k in gsi["keySchemas"]
                ],
                "Projection": {"ProjectionType": gsi["projectionType"]},
            }
            for gsi in inputs["globalSecondaryIndexes"]
        ]
    ddb.create_table(**request)
    if inputs.get("ttl"):
        ddb.update_time_to_live(
            TableName=inputs["name"],
            TimeToLiveSpecification={
                "Enabled": inputs["ttl"]["enabled"],
                "AttributeName": inputs["ttl"]["attributeName"],
            },
        )


@dataclass
class Account:
    run: ProgramRun
    ddb: Any
    sm: Any
    secret_arn: str  # moto's ARN of the declared secret
    declared_secret_arn: str  # the ARN the program's policies and environment name

    def env(self, code: str) -> dict[str, str]:
        return {k: self._real(v) for k, v in declared_env(self.run, code).items()}

    def policy(self, code: str) -> str:
        return self._real(json.dumps(declared_policy(self.run, code)))

    def session(self, code: str) -> boto3.Session:
        return session_with_policy(f"proof-{code.replace('_', '-')}", self.policy(code))

    def _real(self, text: str) -> str:
        # moto gives the secret its own random ARN suffix; every other ARN is identical.
        return text.replace(self.declared_secret_arn, self.secret_arn)


@pytest.fixture
def account(staging: ProgramRun) -> Iterator[Account]:
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        sm = boto3.client("secretsmanager", region_name="us-east-1")
        for table in staging.of_type("aws:dynamodb/table:Table"):
            create_table_from_declaration(ddb, table.inputs)
        secret = staging.one("aws:secretsmanager/secret:Secret", "salt-rotation-secret")
        # The program declares no value; the rotator's first rotation seeds one. Here the
        # rotator's own builder makes it (its four steps are proven further down).
        arn = sm.create_secret(
            Name=secret.inputs["name"], SecretString=json.dumps(first_salt_document())
        )["ARN"]
        yield Account(staging, ddb, sm, arn, secret.outputs["arn"])


@pytest.fixture
def as_function(monkeypatch: pytest.MonkeyPatch, account: Account):
    """Run a handler as the program deploys it: its env, its role's session, a cold container."""

    def use(code: str) -> tuple[Any, boto3.Session]:
        module = load_handler(code)
        for name, value in account.env(code).items():
            monkeypatch.setenv(name, value)
        session = account.session(code)
        monkeypatch.setattr(boto3, "DEFAULT_SESSION", session)
        module.dependencies.cache_clear()
        monkeypatch.setattr(module, "dependencies", module.dependencies)  # restored after
        return module, session

    yield use
    for code in ROLES:
        load_handler(code).dependencies.cache_clear()


def denied(call: Any) -> bool:
    try:
        call()
    except ClientError as error:
        return error.response["Error"]["Code"] in ("AccessDenied", "AccessDeniedException", "403")
    return False


AGGREGATE_SOURCE = {
    "orgIdHash": {"S": "ab" * 32},
    "ruleId": {"S": "MD-003"},
    "isFalsePositive": {"BOOL": True},
    "saltRotationMonth": {"S": "2026-11"},
    "saltId": {"S": "s1"},
}


def ingest_event(org: str, rule: str = "MD-003") -> dict[str, Any]:
    return {"orgId": org, "ruleId": rule, "isFalsePositive": True, "eventId": f"{org}-{rule}"}


def grant_consent(account: Account, org: str) -> None:
    account.ddb.put_item(
        TableName=account.env("fp_ingestion")["CONSENT_TABLE_NAME"],
        Item={
            "orgId": {"S": org},
            "consentType": {"S": "explicit"},
            "grantedAt": {"S": "2026-01-01T00:00:00Z"},
        },
    )


# --- the contract: names the program sets are the names the code reads --------------------


@pytest.mark.parametrize("code", sorted(ROLES))
def test_program_sets_exactly_the_environment_the_code_reads(program, code):
    module = load_handler(code)
    env = set(declared_env(program, code))
    assert env - POWERTOOLS_ENV == set(module.ENV_VARS), code


def test_ingestion_metrics_namespace_is_the_one_its_alarms_watch(program):
    module = load_handler("fp_ingestion")
    env = declared_env(program, "fp_ingestion")
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == module.METRICS_NAMESPACE
    assert env["ENVIRONMENT"] == program.config["phase-mirror-infra:environment"]


def test_query_reads_the_aggregates_ingestion_writes(program):
    table = program.one("aws:dynamodb/table:Table", "calibration-store-calibration-aggregates")
    env = declared_env(program, "calibration_query")
    assert env["AGGREGATES_TABLE_NAME"] == table.inputs["name"]
    assert declared_env(program, "fp_ingestion")["AGGREGATES_TABLE_NAME"] == table.inputs["name"]
    # the key the handlers write and read is the key the program declares
    load_handler("fp_ingestion")
    from fp_aggregate import aggregate_update  # the ingestion package's own builder

    update = aggregate_update(AGGREGATE_SOURCE, table.inputs["name"])
    assert set(update["Key"]) == {table.inputs["hashKey"], table.inputs["rangeKey"]}
    assert env["K_ANONYMITY"] == program.config.get("phase-mirror-infra:kAnonymity", "10")


def first_salt_document() -> dict[str, str]:
    """The document the rotator's createSecret writes when no AWSCURRENT exists yet."""
    rotator = load_handler("salt_rotator")
    return rotator.new_value(None, datetime.now(UTC), secrets.token_bytes)


def test_the_first_salt_the_rotator_seeds_has_the_shape_ingestion_parses():
    document = first_salt_document()
    load_handler("fp_ingestion")
    from salt_cache import parse_salt_document  # the ingestion package's own parser

    salts = parse_salt_document(document)
    assert len(base64.b64decode(document["salt"])) == 32
    assert salts.current.month == document["rotationMonth"]
    assert "previousSalt" not in document


# --- fp-ingestion -------------------------------------------------------------------------


def test_ingestion_does_its_whole_job_with_only_its_declared_policy(account, as_function):
    grant_consent(account, "org-1")
    module, _ = as_function("fp_ingestion")
    with enforced():
        status, body = response_body(module.handler(ingest_event("org-1"), LambdaContext()))
    assert status == 200, body
    env = account.env("fp_ingestion")
    (item,) = account.ddb.scan(TableName=env["CALIBRATION_TABLE_NAME"])["Items"]
    assert item["ruleId"] == {"S": "MD-003"} and "org-1" not in json.dumps(item)
    (aggregate,) = account.ddb.scan(TableName=env["AGGREGATES_TABLE_NAME"])["Items"]
    assert aggregate["orgs"] == {"SS": [item["orgIdHash"]["S"]]} and aggregate["events"] == {
        "N": "1"
    }
    with enforced():  # the retry is refused by the event's condition, not by IAM
        status, body = response_body(module.handler(ingest_event("org-1"), LambdaContext()))
    assert (status, body) == (200, {"status": "duplicate"})


def test_ingestion_is_denied_everything_outside_its_job(account, as_function):
    _, session = as_function("fp_ingestion")
    env = account.env("fp_ingestion")
    ddb, sm = session.client("dynamodb"), session.client("secretsmanager")
    item = {"orgId": {"S": "x"}, "id": {"S": "x"}}
    with enforced():
        assert denied(lambda: sm.put_secret_value(SecretId=account.secret_arn, SecretString="{}"))
        assert denied(lambda: ddb.scan(TableName=env["CALIBRATION_TABLE_NAME"]))
        assert denied(lambda: ddb.scan(TableName=env["CONSENT_TABLE_NAME"]))
        assert denied(lambda: ddb.put_item(TableName=env["CONSENT_TABLE_NAME"], Item=item))
        assert denied(lambda: ddb.get_item(TableName=env["CALIBRATION_TABLE_NAME"], Key=item))
        assert denied(
            lambda: ddb.delete_item(TableName=env["CALIBRATION_TABLE_NAME"], Key={"id": {"S": "x"}})
        )
        assert denied(
            lambda: ddb.put_item(
                TableName=f"phase-mirror-block-counter-{account.run.stack}",
                Item={"bucketKey": {"S": "x"}},
            )
        )
        # inside a transaction each item is authorised as its own action on its own table
        event = {"id": {"S": "x"}, "ruleId": {"S": "MD-003"}}
        put_event = {"Put": {"TableName": env["CALIBRATION_TABLE_NAME"], "Item": event}}
        for other in (
            {"Put": {"TableName": env["CONSENT_TABLE_NAME"], "Item": {"orgId": {"S": "x"}}}},
            {"Put": {"TableName": env["AGGREGATES_TABLE_NAME"], "Item": AGGREGATE_KEY}},
            {"Delete": {"TableName": env["AGGREGATES_TABLE_NAME"], "Key": AGGREGATE_KEY}},
            {
                "Update": {
                    **AGGREGATE_UPDATE,
                    "TableName": env["CALIBRATION_TABLE_NAME"],
                    "Key": {"id": {"S": "y"}},
                }
            },
        ):
            assert denied(lambda o=other: ddb.transact_write_items(TransactItems=[put_event, o]))
        assert denied(lambda: ddb.query(**rule_query(env["AGGREGATES_TABLE_NAME"])))
    assert account.ddb.scan(TableName=env["CALIBRATION_TABLE_NAME"])["Items"] == []


AGGREGATE_KEY = {"ruleId": {"S": "MD-003"}, "periodShard": {"S": "2026-11#s1#ab"}}
AGGREGATE_UPDATE = {
    "UpdateExpression": "ADD #e :one",
    "ExpressionAttributeNames": {"#e": "events"},
    "ExpressionAttributeValues": {":one": {"N": "1"}},
}


def rule_query(table: str, **extra: Any) -> dict[str, Any]:
    return {
        "TableName": table,
        "KeyConditionExpression": "ruleId = :r",
        "ExpressionAttributeValues": {":r": {"S": "MD-003"}},
        **extra,
    }


def test_moto_authorises_a_transaction_item_by_item(account):
    """The enforcement the proofs rely on: a policy allowing each item's action on its table
    allows the transaction; one item outside the policy denies it, and nothing is written."""
    env = account.env("fp_ingestion")
    events, aggregates = env["CALIBRATION_TABLE_NAME"], env["AGGREGATES_TABLE_NAME"]
    arn = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/"
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "dynamodb:PutItem", "Resource": arn + events},
            {"Effect": "Allow", "Action": "dynamodb:UpdateItem", "Resource": arn + aggregates},
        ],
    }
    ddb = session_with_policy("proof-transactions", json.dumps(policy)).client("dynamodb")
    put = {"Put": {"TableName": events, "Item": {"id": {"S": "e1"}}}}
    update = {"Update": {**AGGREGATE_UPDATE, "TableName": aggregates, "Key": AGGREGATE_KEY}}
    with enforced():
        assert denied(
            lambda: ddb.transact_write_items(
                TransactItems=[put, {"Put": {"TableName": aggregates, "Item": AGGREGATE_KEY}}]
            )
        )
        assert denied(
            lambda: ddb.transact_write_items(
                TransactItems=[
                    {
                        "ConditionCheck": {
                            "TableName": events,
                            "Key": {"id": {"S": "e1"}},
                            "ConditionExpression": "attribute_not_exists(id)",
                        }
                    },
                    update,
                ]
            )
        )
    assert account.ddb.scan(TableName=events)["Items"] == []
    with enforced():
        ddb.transact_write_items(TransactItems=[put, update])
    assert len(account.ddb.scan(TableName=events)["Items"]) == 1


# --- calibration-query --------------------------------------------------------------------


def test_query_does_its_whole_job_with_only_its_declared_policy(account, as_function):
    # GIVEN ten organisations' events stored by fp-ingestion, as its own role
    ingestion, _ = as_function("fp_ingestion")
    for org in range(10):
        grant_consent(account, f"org-{org}")
        event = {**ingest_event(f"org-{org}"), "isFalsePositive": org % 2 == 0}
        with enforced():
            assert ingestion.handler(event, LambdaContext())["statusCode"] == 200
    # WHEN calibration-query answers, as its own role
    module, _ = as_function("calibration_query")
    with enforced():
        status, body = response_body(module.handler({"ruleId": "MD-003"}, LambdaContext()))
    assert status == 200 and body["eventCount"] == 10 and body["fpCount"] == 5, body


def test_query_is_denied_writes_and_the_events(account, as_function):
    _, session = as_function("calibration_query")
    table = account.env("calibration_query")["AGGREGATES_TABLE_NAME"]
    events = account.env("fp_ingestion")["CALIBRATION_TABLE_NAME"]
    ddb = session.client("dynamodb")
    with enforced():
        assert denied(lambda: ddb.put_item(TableName=table, Item=AGGREGATE_KEY))
        assert denied(
            lambda: ddb.update_item(TableName=table, Key=AGGREGATE_KEY, **AGGREGATE_UPDATE)
        )
        assert denied(lambda: ddb.scan(TableName=table))
        # the events themselves, by table or by rule index, are no longer the query's to read
        assert denied(lambda: ddb.query(**rule_query(events, IndexName="rule-index")))
        assert denied(lambda: ddb.scan(TableName=events))
        assert denied(
            lambda: session.client("secretsmanager").get_secret_value(SecretId=account.secret_arn)
        )


# --- salt-rotator ---------------------------------------------------------------------------


def test_rotator_rotates_with_only_its_declared_policy(account, as_function):
    module, _ = as_function("salt_rotator")
    before = json.loads(
        account.sm.get_secret_value(SecretId=account.secret_arn, VersionStage="AWSCURRENT")[
            "SecretString"
        ]
    )
    token = "11111111-2222-3333-4444-555555555555"
    begin_rotation(account.secret_arn, token)
    with enforced():
        for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
            module.handler(
                {"SecretId": account.secret_arn, "ClientRequestToken": token, "Step": step},
                LambdaContext(),
            )
    after = json.loads(
        account.sm.get_secret_value(SecretId=account.secret_arn, VersionStage="AWSCURRENT")[
            "SecretString"
        ]
    )
    assert after["salt"] != before["salt"] and after["previousSalt"] == before["salt"]


def test_rotator_cannot_touch_tables(account, as_function):
    _, session = as_function("salt_rotator")
    ddb = session.client("dynamodb")
    with enforced():
        for table in account.run.of_type("aws:dynamodb/table:Table"):
            name = table.inputs["name"]
            key = {table.inputs["hashKey"]: {"S": "x"}}
            assert denied(lambda n=name, k=key: ddb.get_item(TableName=n, Key=k)), name
            assert denied(lambda n=name, k=key: ddb.put_item(TableName=n, Item=k)), name


# --- what moto cannot check: the KMS statements' conditions ------------------------------


@pytest.mark.parametrize(
    ("code", "service"),
    [
        ("fp_ingestion", "dynamodb"),
        ("fp_ingestion", "secretsmanager"),
        ("calibration_query", "dynamodb"),
        ("salt_rotator", "secretsmanager"),
    ],
)
def test_kms_use_is_only_through_the_service_that_owns_the_data(program, code, service):
    statements = [
        s for s in declared_policy(program, code)["Statement"] if s["Action"][0].startswith("kms:")
    ]
    vias = {s["Condition"]["StringEquals"]["kms:ViaService"] for s in statements}
    assert f"{service}.us-east-1.amazonaws.com" in vias
    assert all(s["Condition"]["StringEquals"]["kms:ViaService"] for s in statements)


@pytest.mark.parametrize(
    ("code", "actions"),
    [
        (
            "fp_ingestion",
            {
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "secretsmanager:GetSecretValue",
                "kms:Decrypt",
            },
        ),
        ("calibration_query", {"dynamodb:Query", "kms:Decrypt"}),
        (
            "salt_rotator",
            {
                "secretsmanager:DescribeSecret",
                "secretsmanager:GetSecretValue",
                "secretsmanager:PutSecretValue",
                "secretsmanager:UpdateSecretVersionStage",
                "kms:Decrypt",
                "kms:GenerateDataKey",
            },
        ),
    ],
)
def test_each_role_holds_exactly_the_actions_its_code_calls(program, code, actions):
    granted = {
        a
        for s in declared_policy(program, code)["Statement"]
        for a in s["Action"]
        if not a.startswith(("logs:", "xray:"))
    }
    assert granted == actions


def test_event_and_aggregate_writes_are_granted_only_inside_a_transaction(program):
    # moto ignores conditions: the document must say that the writes only go through
    # TransactWriteItems (a lone PutItem would store an event its aggregate never counts).
    statements = {s["Sid"]: s for s in declared_policy(program, "fp_ingestion")["Statement"]}
    for sid, action in (("WriteCalibration", "PutItem"), ("UpdateAggregates", "UpdateItem")):
        assert statements[sid]["Action"] == [f"dynamodb:{action}"]
        assert statements[sid]["Condition"] == {
            "ForAnyValue:StringEquals": {"dynamodb:EnclosingOperation": ["TransactWriteItems"]}
        }
