"""Stack config: the real files parse, and every bad value stops the program with one clear message."""

from __future__ import annotations

import pytest

from components.config import ConfigError, Naming, parse
from tools.mock_program import run_program

P = "phase-mirror-infra:"
BASE = {"environment": "staging"}


def parse_with(region: str | None = "us-east-1", **raw: str):
    return parse({**BASE, **raw}, project="phase-mirror-infra", stack="staging", region=region)


def test_staging_file_parses_to_its_settings(staging):
    cfg = parse(
        {k[len(P) :]: v for k, v in staging.config.items() if k.startswith(P)},
        project="phase-mirror-infra",
        stack="staging",
        region=staging.config["aws:region"],
    )
    assert (cfg.environment, cfg.deletion_protection, cfg.log_retention_days) == (
        "staging",
        False,
        90,
    )


def test_production_file_turns_on_protection_and_longer_retention(production):
    cfg = parse(
        {k[len(P) :]: v for k, v in production.config.items() if k.startswith(P)},
        project="phase-mirror-infra",
        stack="production",
        region=production.config["aws:region"],
    )
    assert cfg.is_production and cfg.deletion_protection
    assert cfg.log_retention_days == 365


def test_defaults_are_secure():
    cfg = parse_with()
    assert cfg.deletion_protection is True
    assert cfg.k_anonymity == 10
    assert cfg.name_prefix == "phase-mirror"


@pytest.mark.parametrize(
    ("raw", "region", "fragment"),
    [
        ({"environment": None}, "us-east-1", "'environment' is required and missing"),
        ({}, None, "'aws:region' is required and missing"),
        (
            {"environment": "prod"},
            "us-east-1",
            "'environment' has invalid value 'prod': allowed one of staging, production",
        ),
        ({}, "mars-1", "'aws:region' has invalid value 'mars-1'"),
        (
            {"logRetentionDays": "-1"},
            "us-east-1",
            "'logRetentionDays' has invalid value '-1': allowed one of 1, 3",
        ),
        ({"logRetentionDays": "100"}, "us-east-1", "'logRetentionDays' has invalid value '100'"),
        (
            {"kAnonymity": "1"},
            "us-east-1",
            "'kAnonymity' has invalid value '1': allowed a whole number from 2 to 1000",
        ),
        ({"kAnonymity": "100000"}, "us-east-1", "'kAnonymity' has invalid value '100000'"),
        ({"kAnonymity": "ten"}, "us-east-1", "'kAnonymity' has invalid value 'ten'"),
        (
            {"deletionProtection": "yes"},
            "us-east-1",
            "'deletionProtection' has invalid value 'yes': allowed true or false",
        ),
        (
            {"namePrefix": "Phase_Mirror"},
            "us-east-1",
            "'namePrefix' has invalid value 'Phase_Mirror'",
        ),
        ({"kAnonimity": "10"}, "us-east-1", "'kAnonimity' is not a setting of this project"),
        (
            {"environment": "production", "deletionProtection": "false"},
            "us-east-1",
            "'deletionProtection' has invalid value 'false': allowed true when environment is production",
        ),
        (
            {"alarmEmails": '["oncall.example.com"]'},
            "us-east-1",
            "'alarmEmails[0]' has invalid value 'oncall.example.com': allowed an email address",
        ),
        (
            {"criticalAlarmEmails": '["a@example.com", "b@example"]'},
            "us-east-1",
            "'criticalAlarmEmails[1]' has invalid value 'b@example'",
        ),
        (
            {"warningAlarmEmails": "a@example.com"},
            "us-east-1",
            "'warningAlarmEmails' has invalid value 'a@example.com': allowed a YAML list",
        ),
        (
            {"alarmEmails": '["a@example.com, b@example.com"]'},
            "us-east-1",
            "'alarmEmails[0]' has invalid value 'a@example.com, b@example.com'",
        ),
        (
            {"trailRetentionDays": "30"},
            "us-east-1",
            "'trailRetentionDays' has invalid value '30': allowed a whole number from 90 to 3653",
        ),
        (
            {"environment": "production", "trailRetentionDays": "90"},
            "us-east-1",
            "'trailRetentionDays' has invalid value '90': allowed at least 365 when environment is production",
        ),
    ],
)
def test_bad_config_is_rejected_with_key_value_and_allowed(raw, region, fragment):
    merged = {k: v for k, v in {**BASE, **raw}.items() if v is not None}
    with pytest.raises(ConfigError) as error:
        parse(merged, project="phase-mirror-infra", stack="staging", region=region)
    assert fragment in str(error.value)


def test_bad_config_stops_the_whole_program_at_start():
    # GIVEN production's real file with deletion protection turned off
    # WHEN the program runs THEN it stops before registering anything, naming the key
    with pytest.raises(ConfigError, match="deletionProtection"):
        run_program("production", overrides={f"{P}deletionProtection": False})


def test_missing_environment_stops_the_program():
    with pytest.raises(ConfigError, match="'environment' is required"):
        run_program("staging", overrides={f"{P}environment": None})


def test_naming_rule_puts_prefix_role_and_stack_in_every_name():
    naming = Naming(prefix="phase-mirror", stack="production")
    assert naming.physical("consent-store") == "phase-mirror-consent-store-production"
    assert (
        naming.path("fp-calibration", "hmac-salt")
        == "/phase-mirror/production/fp-calibration/hmac-salt"
    )
    assert naming.alias("secrets") == "alias/phase-mirror-secrets-production"
