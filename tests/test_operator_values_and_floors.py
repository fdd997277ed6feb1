"""Operator values (warned on a dry run, refused on ``pulumi up``) and production floors.

Both are proven under mocks through the whole program (``run_program``; ``preview=True`` is
``pulumi preview``, the default an update) and on the plain functions.
"""

from __future__ import annotations

import dataclasses

import pytest

from components.config import ConfigError, floors, keys, operator_values, parse
from testing.program import TEAM_VALUES, run_program

P = "phase-mirror-infra:"
MAIN_KEYS = [k for v in operator_values.OPERATOR_VALUES if v.project == P[:-1] for k in v.keys]


def test_the_list_names_each_value_only_a_team_can_supply():
    keys = {k for v in operator_values.OPERATOR_VALUES for k in v.keys}
    assert keys == {
        "alarmEmails",
        "criticalAlarmEmails",
        "devopsRoleArn",
        "developerRoleArn",
        "deployRoleArn",
        "operatorRoleArnPattern",
        "githubRepository",
    }


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_a_preview_of_the_shipped_file_succeeds_and_warns_once_per_missing_value(stack):
    run = run_program(stack, preview=True)
    values = [v for v in operator_values.OPERATOR_VALUES if v.project == P[:-1]]
    assert len(run.warnings) == len(values), run.warnings
    for value in values:
        assert any(value.label in w for w in run.warnings), value.label


def test_pulumi_up_of_production_refuses_naming_every_missing_key():
    with pytest.raises(ConfigError) as refused:
        run_program("production", team=False)
    message = str(refused.value)
    assert "\n" not in message
    for key in MAIN_KEYS:
        assert f"'{key}'" in message, key


@pytest.mark.parametrize("missing", ["devopsRoleArn", "developerRoleArn", "alarmEmails"])
def test_pulumi_up_of_production_refuses_one_missing_value_naming_it(missing):
    with pytest.raises(ConfigError, match=f"'{missing}'"):
        run_program("production", overrides={f"{P}{missing}": None})


def test_critical_recipients_alone_satisfy_the_alarm_recipients():
    run = run_program(
        "production",
        overrides={f"{P}alarmEmails": None, f"{P}criticalAlarmEmails": ["pager@example.com"]},
    )
    assert run.warnings == []


@pytest.mark.parametrize("deployer", ["deployRoleArn", "operatorRoleArnPattern"])
def test_pulumi_up_of_staging_refuses_without_the_identities_that_deploy(deployer):
    # A key policy without them would lock the deploying identity out of its own keys.
    with pytest.raises(ConfigError, match=f"stack 'staging' .*'{deployer}'"):
        run_program("staging", overrides={f"{P}{deployer}": None})


def test_pulumi_up_of_staging_without_recipients_or_cluster_roles_warns():
    absent = ("alarmEmails", "devopsRoleArn", "developerRoleArn")
    run = run_program("staging", overrides={f"{P}{k}": None for k in absent})
    assert len(run.warnings) == 3 and all("production refuses" in w for w in run.warnings)


def test_team_values_are_the_main_projects_operator_values():
    assert {k.removeprefix(P) for k in TEAM_VALUES} <= set(MAIN_KEYS)


# --- production floors ---------------------------------------------------------------------

PRODUCTION = {
    "environment": "production",
    "logRetentionDays": "365",
    "natGateways": "one_per_az",
    "redisNodes": "2",
}


def parse_production(stack: str = "production", **raw: str):
    return parse({**PRODUCTION, **raw}, project="p", stack=stack, region="us-east-1")


BELOW_FLOOR = [
    ("kAnonymity", "9", "at least 10"),
    ("logRetentionDays", "180", "at least 365"),
    ("deletionProtection", "false", "true"),
    ("dbMultiAz", "false", "true"),
    ("redisNodes", "1", "at least 2"),
    ("natGateways", "single", "one_per_az"),
    ("trailRetentionDays", "364", "at least 365"),
    ("releaseIntervalMinutes", "59", "at least 60"),
]


def test_every_declared_floor_has_a_case_here():
    assert {k for k, _, _ in BELOW_FLOOR} == {f.key for f in keys.PRODUCTION_FLOORS}


@pytest.mark.parametrize(("key", "value", "allowed"), BELOW_FLOOR)
def test_production_refuses_each_value_below_its_floor(key, value, allowed):
    with pytest.raises(ConfigError) as refused:
        parse_production(**{key: value})
    message = str(refused.value)
    assert f"'{key}' has invalid value '{value}': allowed {allowed} in production" in message


def test_the_floors_follow_the_stack_name_not_the_environment_value():
    # GIVEN the production stack's file copied from staging WHEN parsed THEN it is refused
    with pytest.raises(ConfigError, match="'environment' has invalid value 'staging'"):
        parse_production(environment="staging")
    # and a staging-named stack declaring production still gets every floor
    with pytest.raises(ConfigError, match="'kAnonymity'"):
        parse_production(stack="staging", kAnonymity="5")


def test_the_floors_hold_for_the_production_file_under_the_whole_program(production):
    assert production.config[f"{P}natGateways"] == "one_per_az"
    with pytest.raises(ConfigError, match="'redisNodes' has invalid value '1'"):
        run_program("production", overrides={f"{P}redisNodes": 1})


def test_adding_a_floor_is_one_declaration():
    # A release-interval floor of an hour, declared like the others, is judged at once.
    extra = floors.Floor("releaseIntervalSeconds", "k_anonymity", floors.AtLeast(3600), "why")
    cfg = parse_production()
    assert floors.violations(cfg, (*keys.PRODUCTION_FLOORS, extra)) == [extra]
    assert (
        floors.violations(
            dataclasses.replace(cfg, stack="dev", environment="staging"), keys.PRODUCTION_FLOORS
        )
        == []
    )
