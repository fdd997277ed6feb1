"""The month overlap end to end: the rotator rotates, then ingestion and the query see both salts."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from types import ModuleType

import pytest
from aws_lambda_powertools.utilities.parameters.secrets import SecretsProvider

from tests.lambdas.conftest import Aws
from tests.lambdas.harness import (
    LambdaContext,
    begin_rotation,
    create_salt_secret,
    response_body,
    salt_document,
)

FEBRUARY = bytes([2]) * 32
TOKEN = "22222222-3333-4444-5555-666666666666"
ROTATION_TIME = datetime(2026, 3, 1, 0, 0, 3, tzinfo=UTC)
INGEST_TIME = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def mac(salt: bytes, message: str) -> str:
    return hmac.new(salt, message.encode(), hashlib.sha256).hexdigest()


def test_after_rotation_ingestion_uses_new_salt_and_previous_for_last_month(
    rotator: ModuleType,
    ingestion: ModuleType,
    calibration_query: ModuleType,
    aws: Aws,
    context: LambdaContext,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN February's salt and a container that has not read it yet
    arn = create_salt_secret(
        aws.sm, name="/phase-mirror/test/hmac-salt", value=salt_document(FEBRUARY, "2026-02")
    )
    old_version = aws.sm.describe_secret(SecretId=arn)["VersionIdsToStages"]
    # WHEN Secrets Manager runs the four steps on the 1st of March
    monkeypatch.setattr(
        rotator,
        "dependencies",
        lambda: rotator.Dependencies(secret_id=arn, client=aws.sm, clock=lambda: ROTATION_TIME),
    )
    begin_rotation(arn, TOKEN)
    for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
        rotator.handler({"SecretId": arn, "ClientRequestToken": TOKEN, "Step": step}, context)
    stages = aws.sm.describe_secret(SecretId=arn)["VersionIdsToStages"]
    [old_id] = old_version
    assert stages[old_id] == ["AWSPREVIOUS"], stages
    previous = json.loads(
        aws.sm.get_secret_value(SecretId=arn, VersionStage="AWSPREVIOUS")["SecretString"]
    )
    assert base64.b64decode(previous["salt"]) == FEBRUARY
    current = json.loads(
        aws.sm.get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")["SecretString"]
    )
    march = base64.b64decode(current["salt"])

    # AND ingestion receives a March event and a late February event from 10 organisations
    settings = ingestion.Settings(
        environment="staging",
        consent_table=aws.consent_table,
        calibration_table=aws.calibration_table,
        aggregates_table=aws.aggregates_table,
        salt_secret_id=arn,
    )
    deps = ingestion.Dependencies(
        settings=settings,
        dynamodb=aws.ddb,
        salts=ingestion.SaltSource(SecretsProvider(boto3_client=aws.sm), arn, 300),
        clock=lambda: INGEST_TIME,
    )
    monkeypatch.setattr(ingestion, "dependencies", lambda: deps)
    orgs = [f"org-{n}" for n in range(10)]
    for org in orgs:
        aws.ddb.put_item(
            TableName=aws.consent_table,
            Item={"orgId": {"S": org}, "consentType": {"S": "explicit"}},
        )
        for ts in ("2026-03-02T08:00:00Z", "2026-02-28T22:00:00Z"):
            body = {"orgId": org, "ruleId": "SEC-101", "isFalsePositive": True, "timestamp": ts}
            assert response_body(ingestion.handler(body, context))[0] == 200

    # THEN March events carry the new salt, February's the previous one
    items = aws.ddb.scan(TableName=aws.calibration_table)["Items"]
    by_month: dict[str, set[str]] = {}
    for item in items:
        by_month.setdefault(item["saltRotationMonth"]["S"], set()).add(item["orgIdHash"]["S"])
    assert by_month == {
        "2026-03": {mac(march, org) for org in orgs},
        "2026-02": {mac(FEBRUARY, org) for org in orgs},
    }
    # AND the query answers each month on its own 10 organisations
    query_deps = calibration_query.Dependencies(
        settings=calibration_query.Settings(
            environment="staging",
            aggregates_table=aws.aggregates_table,
            k=10,
        ),
        dynamodb=aws.ddb,
    )
    _, answer = response_body(calibration_query.query({"ruleId": "SEC-101"}, query_deps))
    assert [p["saltRotationMonth"] for p in answer["periods"]] == ["2026-02", "2026-03"]
    assert answer["eventCount"] == 20
