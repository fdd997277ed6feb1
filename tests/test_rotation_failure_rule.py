"""The rule that pages when a rotation of this stack's salt fails, matched as EventBridge would
(moto's pattern matcher) against events constructed from AWS's description of
``RotationFailed`` and ``TestRotationFailed``: this stack's secret, another secret, the other
stack's salt."""

from __future__ import annotations

from typing import Any

from moto.events.models import EventPattern

from components.observability.alarms import rotation_failed_pattern
from testing.program import ACCOUNT_ID, ProgramRun, Resource
from tests.alarm_support import topic_arn

SECRETS_ARN = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT_ID}:secret:"


def rotation_event(event_name: str, secret_id: str) -> dict[str, Any]:
    """A rotation event as EventBridge delivers it: an "AWS Service Event via CloudTrail" whose
    CloudTrail record names the secret only in additionalEventData.SecretId (its request
    parameters, response elements and resources are empty), as AWS describes these entries."""
    return {
        "version": "0",
        "id": "d82e0a2d-f36e-11fd-37cb-cba423a71196",
        "detail-type": "AWS Service Event via CloudTrail",
        "source": "aws.secretsmanager",
        "account": ACCOUNT_ID,
        "time": "2026-03-01T00:50:20Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {
            "eventVersion": "1.08",
            "userIdentity": {"accountId": ACCOUNT_ID, "invokedBy": "secretsmanager.amazonaws.com"},
            "eventTime": "2026-03-01T00:50:20Z",
            "eventSource": "secretsmanager.amazonaws.com",
            "eventName": event_name,
            "awsRegion": "us-east-1",
            "sourceIPAddress": "secretsmanager.amazonaws.com",
            "userAgent": "secretsmanager.amazonaws.com",
            "errorMessage": "Error when executing lambda during createSecret step",
            "requestParameters": None,
            "responseElements": None,
            "additionalEventData": {"SecretId": secret_id},
            "requestID": f"Rotation-{secret_id}",
            "eventID": "e3b69cfe-b70e-4c94-baa9-9decc3c150b9",
            "readOnly": False,
            "eventType": "AwsServiceEvent",
            "managementEvent": True,
            "recipientAccountId": ACCOUNT_ID,
            "eventCategory": "Management",
        },
    }


def salt_secret(run: ProgramRun) -> tuple[str, str]:
    (secret,) = [
        s
        for s in run.of_type("aws:secretsmanager/secret:Secret")
        if s.inputs["name"].endswith("/fp-calibration/hmac-salt")
    ]
    return secret.outputs["arn"], secret.inputs["name"]


def matches(rule: Resource, event: dict[str, Any]) -> bool:
    """moto's EventBridge matcher (the one its event buses route with), on the deployed pattern."""
    return EventPattern.load(rule.inputs["eventPattern"]).matches_event(event)


def test_rotation_failures_of_this_stacks_salt_and_no_other_secret_page_critical(
    staging, production
):
    for run, other in ((staging, production), (production, staging)):
        rule = run.one("aws:cloudwatch/eventRule:EventRule", "alarms-rotation-failed")
        arn, name = salt_secret(run)
        other_arn, other_name = salt_secret(other)
        # GIVEN events of this stack's salt (by ARN and by name), of the other stack's salt,
        # of an unrelated secret, and unrelated events of this salt
        assert matches(rule, rotation_event("RotationFailed", arn)), rule.urn
        assert matches(rule, rotation_event("RotationFailed", name)), rule.urn
        assert matches(rule, rotation_event("TestRotationFailed", arn)), rule.urn
        for secret in (other_arn, other_name, f"{SECRETS_ARN}some-other-secret-AbCdEf"):
            assert not matches(rule, rotation_event("RotationFailed", secret)), (rule.urn, secret)
            assert not matches(rule, rotation_event("TestRotationFailed", secret))
        assert not matches(rule, rotation_event("RotationSucceeded", arn))
        api_call = {
            **rotation_event("RotationFailed", arn),
            "detail-type": "AWS API Call via CloudTrail",
        }
        assert not matches(rule, api_call)
        no_secret = rotation_event("RotationFailed", arn)
        del no_secret["detail"]["additionalEventData"]
        assert not matches(rule, no_secret)
        target = run.one("aws:cloudwatch/eventTarget:EventTarget", "alarms-rotation-failed-target")
        assert target.inputs["arn"] == topic_arn(run, "critical"), target.urn
        assert (
            target.inputs["rule"]
            == rule.outputs["name"]
            == f"phase-mirror-rotation-failed-{run.stack}"
        )


def test_rotation_failed_pattern_names_the_secret_where_service_events_carry_it():
    pattern = rotation_failed_pattern("arn:x", "/phase-mirror/staging/fp-calibration/hmac-salt")
    detail = pattern["detail"]
    assert pattern["detail-type"] == ["AWS Service Event via CloudTrail"]
    assert detail["eventName"] == ["RotationFailed", "TestRotationFailed"]
    assert detail["additionalEventData"] == {
        "SecretId": ["arn:x", "/phase-mirror/staging/fp-calibration/hmac-salt"]
    }
    # requestParameters, responseElements and resources are empty in these events: never match on them
    assert (
        not {"requestParameters", "responseElements"} & set(detail) and "resources" not in pattern
    )
