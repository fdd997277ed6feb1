"""SaltAgeCheck: a schedule frequent enough for the salt-age alarm, and a role that may only read
the salt secret's dates, proven on moto with IAM enforced (tests/moto_iam.py).

The alarm looks back at most 7 days (period x evaluation periods <= 604,800 s) and treats
missing data as breaching, so its source must publish in every period whether or not traffic
flows: the check runs every 15 minutes and each alarm period is an hour.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from contextlib import redirect_stdout
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from components.observability.alarm_catalog import SERVICE_NAMESPACE
from testing.aws import salt_document
from testing.lambdas import LambdaContext, load_handler
from tests.lambdas import emf
from tests.moto_iam import enforced, session_with_policy
from tools.mock_program import ProgramRun

FUNCTION = "aws:lambda/function:Function"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
RATE = re.compile(r"rate\((\d+) (minute|minutes|hour|hours)\)")


VERSION = "00000000-0000-4000-8000-000000000001"  # a version id is a token of 32+ characters


def checker(run: ProgramRun) -> Any:
    return run.one(FUNCTION, "salt-age-check-function")


def salt_secret(run: ProgramRun) -> Any:
    (secret,) = [
        s
        for s in run.of_type("aws:secretsmanager/secret:Secret")
        if s.inputs["name"].endswith("/fp-calibration/hmac-salt")
    ]
    return secret


def schedule_seconds(expression: str) -> int:
    match = RATE.fullmatch(expression)
    assert match, f"{expression!r} is not a rate() schedule"
    return int(match.group(1)) * (60 if match.group(2).startswith("minute") else 3600)


def test_the_check_runs_often_enough_for_every_alarm_period_to_hold_a_measurement(program):
    rule = program.one("aws:cloudwatch/eventRule:EventRule", "salt-age-schedule")
    alarm = program.one(ALARM, "alarms-salt-age-critical")
    every = schedule_seconds(rule.inputs["scheduleExpression"])
    period, periods = int(alarm.inputs["period"]), int(alarm.inputs["evaluationPeriods"])
    assert every <= 3600, "at least hourly"
    assert period >= 2 * every, "one late run must not leave an alarm period empty"
    assert period * periods <= 604_800, "CloudWatch looks back at most 7 days"
    assert alarm.inputs["treatMissingData"] == "breaching", alarm.urn
    assert (alarm.inputs["metricName"], alarm.inputs["namespace"]) == (
        "SaltAgeDays",
        SERVICE_NAMESPACE,
    )


def test_the_schedule_invokes_the_checker_and_only_this_rule_may(program):
    rule = program.one("aws:cloudwatch/eventRule:EventRule", "salt-age-schedule")
    target = program.one("aws:cloudwatch/eventTarget:EventTarget", "salt-age-target")
    fn = checker(program)
    assert target.inputs["rule"] == rule.outputs["name"]
    assert target.inputs["arn"] == fn.outputs["arn"], target.urn
    permission = program.one("aws:lambda/permission:Permission", "salt-age-invoke")
    assert permission.inputs["principal"] == "events.amazonaws.com"
    assert permission.inputs["sourceArn"] == rule.outputs["arn"], permission.urn
    assert permission.inputs["function"] == fn.outputs["name"]


def test_the_checker_publishes_to_the_namespace_the_alarms_watch(program):
    env = checker(program).inputs["environment"]["variables"]
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == SERVICE_NAMESPACE
    assert env["ENVIRONMENT"] == program.config["phase-mirror-infra:environment"]
    assert env["SALT_SECRET_ID"] == salt_secret(program).outputs["arn"]
    module = load_handler("salt_age")
    assert set(env) - {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE"} == set(
        module.ENV_VARS
    )


def declared_policy(run: ProgramRun) -> dict[str, Any]:
    return json.loads(
        run.one("aws:iam/rolePolicy:RolePolicy", "salt-age-check-policy").inputs["policy"]
    )


def test_the_role_may_describe_the_salt_secret_and_nothing_else_of_secrets_manager(program):
    statements = declared_policy(program)["Statement"]
    secrets = [s for s in statements if any(a.startswith("secretsmanager:") for a in s["Action"])]
    assert secrets == [
        {
            "Sid": "DescribeSaltDates",
            "Effect": "Allow",
            "Action": ["secretsmanager:DescribeSecret"],
            "Resource": [salt_secret(program).outputs["arn"]],
        }
    ]
    # DescribeSecret returns no value, so no KMS permission either
    assert not [s for s in statements if any(a.startswith("kms:") for a in s["Action"])]


# --- least privilege, proven on moto ---------------------------------------------------------


@pytest.fixture
def proof(staging: ProgramRun) -> Iterator[tuple[Any, str, str, boto3.Session]]:
    """The declared salt secret (moto's ARN), another secret, and the checker's session holding
    exactly its declared policy."""
    with mock_aws():
        sm = boto3.client("secretsmanager", region_name="us-east-1")
        secret = salt_secret(staging)
        arn = sm.create_secret(
            Name=secret.inputs["name"],
            SecretString=json.dumps(salt_document(bytes(32), "2026-03", VERSION)),
        )["ARN"]
        other = sm.create_secret(Name="someone-elses-secret", SecretString="{}")["ARN"]
        policy = json.dumps(declared_policy(staging)).replace(secret.outputs["arn"], arn)
        yield sm, arn, other, session_with_policy("proof-salt-age-check", policy)


def denied(call: Any) -> bool:
    try:
        call()
    except ClientError as error:
        return error.response["Error"]["Code"] in ("AccessDenied", "AccessDeniedException", "403")
    return False


def test_the_checker_does_its_job_with_only_its_declared_policy(proof):
    _, arn, _, session = proof
    module = load_handler("salt_age")
    deps = module.Dependencies(
        secret_id=arn, environment="staging", client=session.client("secretsmanager")
    )
    out = io.StringIO()
    with enforced(), redirect_stdout(out):
        age = module.measure(deps)
    assert 0 <= age < 1
    assert [p.name for p in emf.metric_points(out.getvalue())] == ["SaltAgeDays"]


def test_the_checker_is_denied_the_salt_value_and_every_other_secret(proof):
    _, arn, other, session = proof
    sm = session.client("secretsmanager")
    with enforced():
        assert denied(lambda: sm.get_secret_value(SecretId=arn))
        assert denied(lambda: sm.put_secret_value(SecretId=arn, SecretString="{}"))
        assert denied(lambda: sm.rotate_secret(SecretId=arn))
        assert denied(lambda: sm.describe_secret(SecretId=other))
        assert denied(lambda: sm.get_secret_value(SecretId=other))
        # and the allowed call, for contrast
        assert sm.describe_secret(SecretId=arn)["ARN"] == arn


def test_the_handler_runs_as_deployed(proof, staging, monkeypatch: pytest.MonkeyPatch):
    """Cold start with the program's environment (the secret ARN rewritten to moto's)."""
    _, arn, _, session = proof
    module = load_handler("salt_age")
    for name, value in checker(staging).inputs["environment"]["variables"].items():
        monkeypatch.setenv(name, value.replace(salt_secret(staging).outputs["arn"], arn))
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", session)
    module.dependencies.cache_clear()
    try:
        out = io.StringIO()
        with enforced(), redirect_stdout(out):
            answer = module.handler({}, LambdaContext())
        assert answer["saltAgeDays"] >= 0
        (point,) = emf.metric_points(out.getvalue())
        assert (point.namespace, point.dimensions) == (
            SERVICE_NAMESPACE,
            {"Environment": "staging"},
        )
    finally:
        module.dependencies.cache_clear()
