"""KeyAlarms: a PutKeyPolicy or CreateGrant call on the salt key, allowed or refused, pages.

The events are shaped as CloudTrail records them ("Logging AWS KMS API calls with AWS
CloudTrail", https://docs.aws.amazon.com/kms/latest/developerguide/ct-put-key-policy.html),
inside EventBridge's "AWS API Call via CloudTrail" envelope; moto's EventBridge pattern
matcher decides.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from moto.events.models import EventPattern

from testing.program import ACCOUNT_ID, ProgramRun

RULE = "aws:cloudwatch/eventRule:EventRule"


def kms_event(name: str, key_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "version": "0",
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.kms",
        "account": ACCOUNT_ID,
        "region": "us-east-1",
        "resources": [],
        "detail": {
            "eventVersion": "1.08",
            "userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::x:assumed-role/a/b"},
            "eventSource": "kms.amazonaws.com",
            "eventName": name,
            "awsRegion": "us-east-1",
            "requestParameters": {"keyId": key_id},
            "eventType": "AwsApiCall",
            "managementEvent": True,
            **extra,
        },
    }


def salt_key(run: ProgramRun) -> tuple[str, str]:
    key = run.one("aws:kms/key:Key", "salt-rotation-key")
    return key.outputs["keyId"], key.outputs["arn"]


@pytest.fixture(params=["staging", "production"])
def run(request: pytest.FixtureRequest) -> ProgramRun:
    return request.getfixturevalue(request.param)


def matches(run: ProgramRun, event: dict[str, Any]) -> bool:
    rule = run.one(RULE, "key-alarms-salt")
    return EventPattern.load(rule.inputs["eventPattern"]).matches_event(event)


@pytest.mark.parametrize("call", ["PutKeyPolicy", "CreateGrant"])
def test_a_call_that_changes_who_may_use_the_salt_key_pages(run, call):
    key_id, key_arn = salt_key(run)
    # The caller may name the key by id or by ARN; a refused call is recorded too.
    assert matches(run, kms_event(call, key_id))
    assert matches(run, kms_event(call, key_arn))
    assert matches(run, kms_event(call, key_id, errorCode="AccessDeniedException"))


def test_other_calls_and_other_keys_do_not_page(run):
    key_id, _ = salt_key(run)
    other = run.one("aws:kms/key:Key", "calibration-store-key").outputs["keyId"]
    assert not matches(run, kms_event("Decrypt", key_id))
    assert not matches(run, kms_event("PutKeyPolicy", other))
    assert not matches(run, {**kms_event("PutKeyPolicy", key_id), "source": "aws.s3"})


def test_the_rule_pages_the_critical_topic(run):
    rule = run.one(RULE, "key-alarms-salt")
    assert rule.inputs["name"] == f"phase-mirror-salt-key-access-{run.stack}"
    (target,) = [
        t
        for t in run.of_type("aws:cloudwatch/eventTarget:EventTarget")
        if t.inputs["rule"] == rule.outputs["name"]
    ]
    critical = run.one("aws:sns/topic:Topic", "observability-critical-topic")
    assert target.inputs["arn"] == critical.outputs["arn"]
    # The publisher may use the topic's key for exactly this topic (tests/test_key_policies.py).
    document = json.loads(run.one("aws:kms/key:Key", "observability-alert-key").inputs["policy"])
    (publish,) = [s for s in document["Statement"] if s["Sid"].startswith("AlarmsAndRules")]
    assert "events.amazonaws.com" in publish["Principal"]["Service"]
