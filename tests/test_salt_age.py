"""SaltAgeCheck: a schedule frequent enough for the salt-age alarm, and a role that may only read
the salt secret's dates. The role's policy is proven on moto with the other functions'
(tests/test_iam_proof.py); the checker's paths, run as deployed, feed the metric contract
(tests/lambdas/test_metric_contract.py).

The alarm looks back at most 7 days (period x evaluation periods <= 604,800 s) and treats
missing data as breaching, so its source must publish in every period whether or not traffic
flows: the check runs every 15 minutes and each alarm period is an hour.
"""

from __future__ import annotations

import json
import re
from typing import Any

from components.observability.alarm_catalog import SERVICE_NAMESPACE
from testing.lambdas import variables_read
from testing.program import ProgramRun

FUNCTION = "aws:lambda/function:Function"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
RATE = re.compile(r"rate\((\d+) (minute|minutes|hour|hours)\)")


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
    powertools = {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE"}
    assert set(env) - powertools == variables_read("salt_age", env)


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
