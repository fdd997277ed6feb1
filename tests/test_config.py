"""Stack config: the real files parse, and every bad value stops the program with one clear message."""

from __future__ import annotations

import json

import pytest

from components.config import ConfigError, Naming, parse
from testing.program import run_program

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
            {"environment": "production", "logRetentionDays": "365", "deletionProtection": "false"},
            "us-east-1",
            "'deletionProtection' has invalid value 'false': allowed true in production",
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
            {"environment": "production", "logRetentionDays": "365", "trailRetentionDays": "90"},
            "us-east-1",
            "'trailRetentionDays' has invalid value '90': allowed at least 365 in production",
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


# --- Network and DataTier keys ----------------------------------------------------

NETWORK_AND_DATA_REJECTIONS = [
    ({"vpcCidr": "10.20.0.0/33"}, "'vpcCidr' has invalid value '10.20.0.0/33': allowed a CIDR"),
    ({"vpcCidr": "10.20.0.1/16"}, "'vpcCidr' has invalid value '10.20.0.1/16'"),
    (
        {"vpcCidr": "8.8.0.0/16"},
        "'vpcCidr' has invalid value '8.8.0.0/16': allowed a range within 10.0.0.0/8",
    ),
    ({"vpcCidr": "10.20.0.0/25"}, "allowed a prefix from /16 to /24"),
    ({"vpcCidr": "10.0.0.0/12"}, "allowed a prefix from /16 to /24"),
    ({"availabilityZones": "4"}, "'availabilityZones' has invalid value '4': allowed one of 2, 3"),
    ({"natGateways": "none"}, "'natGateways' has invalid value 'none': allowed one of single"),
    ({"ingressCidrs": '["0.0.0.0/0", "nope"]'}, "'ingressCidrs[1]' has invalid value 'nope'"),
    ({"ingressCidrs": "0.0.0.0/0"}, "'ingressCidrs' has invalid value '0.0.0.0/0': allowed a YAML"),
    ({"devopsCidrs": '["0.0.0.0/0"]'}, "'devopsCidrs[0]' has invalid value '0.0.0.0/0'"),
    ({"devopsCidrs": '["::/0"]'}, "'devopsCidrs[0]' has invalid value '::/0'"),
    ({"devopsCidrs": '["10.0.0.0/7"]'}, "a range of /8 or narrower"),
    ({"appPort": "80"}, "'appPort' has invalid value '80': allowed a whole number from 1024"),
    ({"interfaceEndpoints": "sometimes"}, "'interfaceEndpoints' has invalid value 'sometimes'"),
    ({"peerCidr": "10.99.0.0/16"}, "'peerCidr' has invalid value '10.99.0.0/16': allowed only"),
    ({"peeringConnectionId": "pcx-0a1b2c3d"}, "'peeringConnectionId' has invalid value"),
    (
        {"peerCidr": "10.20.128.0/17", "peeringConnectionId": "pcx-0a1b2c3d"},
        "'peerCidr' has invalid value '10.20.128.0/17': allowed a range that does not overlap",
    ),
    ({"peerCidr": "10.99.0.0/16", "peeringConnectionId": "vpc-123"}, "'peeringConnectionId'"),
    ({"dbInstanceClass": "t4g.medium"}, "'dbInstanceClass' has invalid value 't4g.medium'"),
    ({"dbAllocatedStorageGb": "5"}, "'dbAllocatedStorageGb' has invalid value '5'"),
    ({"dbAllocatedStorageGb": "100000"}, "'dbAllocatedStorageGb' has invalid value '100000'"),
    ({"dbMaxAllocatedStorageGb": "50"}, "'dbMaxAllocatedStorageGb' has invalid value '50'"),
    ({"dbMaxAllocatedStorageGb": "99999"}, "allowed a whole number from 21 to 16384"),
    ({"dbEngineVersion": "12"}, "'dbEngineVersion' has invalid value '12': allowed PostgreSQL"),
    ({"dbMultiAz": "no"}, "'dbMultiAz' has invalid value 'no'"),
    ({"dbBackupRetentionDays": "1"}, "'dbBackupRetentionDays' has invalid value '1'"),
    ({"dbBackupRetentionDays": "90"}, "allowed a whole number from 7 to 35"),
    ({"dbBackupWindow": "3am-4am"}, "'dbBackupWindow' has invalid value '3am-4am'"),
    ({"dbBackupWindow": "03:00-03:15"}, "of at least 30 minutes"),
    (
        {"dbBackupWindow": "04:00-05:00"},
        "'dbBackupWindow' has invalid value '04:00-05:00': allowed a window that does not overlap",
    ),
    ({"dbMaintenanceWindow": "sunday 04:30"}, "'dbMaintenanceWindow' has invalid value"),
    ({"redisNodeType": "t4g.small"}, "'redisNodeType' has invalid value 't4g.small'"),
    ({"redisNodes": "0"}, "'redisNodes' has invalid value '0': allowed a whole number from 1"),
    ({"redisNodes": "12"}, "'redisNodes' has invalid value '12'"),
    ({"redisEngineVersion": "6.2"}, "'redisEngineVersion' has invalid value '6.2'"),
    ({"redisSnapshotRetentionDays": "0"}, "'redisSnapshotRetentionDays' has invalid value '0'"),
    ({"redisSnapshotWindow": "05:00-05:30"}, "of at least 60 minutes"),
    ({"eksEnabled": "on"}, "'eksEnabled' has invalid value 'on'"),
    ({"kubernetesVersion": "1.28"}, "'kubernetesVersion' has invalid value '1.28'"),
    ({"kubernetesVersion": "1.33"}, "allowed an EKS version in standard support: 1.34 to 1.36"),
    ({"eksInstanceTypes": '["t3 large"]'}, "'eksInstanceTypes[0]' has invalid value 't3 large'"),
    ({"eksInstanceTypes": "[]"}, "'eksInstanceTypes' has invalid value []: allowed a list of 1"),
    ({"eksOnDemandMinSize": "0"}, "'eksOnDemandMinSize' has invalid value '0'"),
    (
        {"eksOnDemandMinSize": "5", "eksOnDemandMaxSize": "3"},
        "'eksOnDemandMaxSize' has invalid value '3': allowed at least eksOnDemandMinSize (5)",
    ),
    ({"eksSpotMaxSize": "500"}, "'eksSpotMaxSize' has invalid value '500'"),
    ({"eksPublicAccessCidrs": '["0.0.0.0/0"]'}, "'eksPublicAccessCidrs[0]' has invalid value"),
    ({"eksPublicAccessCidrs": '["2001:db8::/48"]'}, "IPv4 ranges only"),
    ({"devopsRoleArn": "devops"}, "'devopsRoleArn' has invalid value 'devops': allowed an IAM"),
    ({"developerRoleArn": "arn:aws:iam::123:role/x"}, "'developerRoleArn' has invalid value"),
    (
        {"environment": "production", "logRetentionDays": "365", "dbMultiAz": "false"},
        "'dbMultiAz' has invalid value 'false': allowed true in production",
    ),
]


@pytest.mark.parametrize(("raw", "fragment"), NETWORK_AND_DATA_REJECTIONS)
def test_bad_network_and_data_config_is_rejected(raw, fragment):
    with pytest.raises(ConfigError) as error:
        parse({**BASE, **raw}, project="phase-mirror-infra", stack="staging", region="us-east-1")
    assert fragment in str(error.value)


def test_network_and_data_defaults_are_the_safe_ones():
    cfg = parse_with()
    assert cfg.network.devops_cidrs == () and cfg.data.eks_public_access_cidrs == ()
    assert cfg.network.nat_gateways == "one_per_az" and cfg.network.availability_zones == 3
    assert cfg.data.db_multi_az and cfg.data.db_backup_retention_days == 7
    assert (cfg.data.devops_role_arn, cfg.data.developer_role_arn) == (None, None)


def test_stack_files_size_production_above_staging(staging, production):
    def settings(run):
        raw = {k[len(P) :]: v for k, v in run.config.items() if k.startswith(P)}
        return parse(raw, project="phase-mirror-infra", stack=run.stack, region="us-east-1")

    stage, prod = settings(staging), settings(production)
    assert (prod.network.availability_zones, prod.network.nat_gateways) == (3, "one_per_az")
    assert (stage.network.availability_zones, stage.network.nat_gateways) == (2, "single")
    assert prod.data.db_multi_az and not stage.data.db_multi_az
    assert prod.data.db_backup_retention_days == 30
    assert prod.data.db_allocated_storage_gb > stage.data.db_allocated_storage_gb
    assert prod.data.redis_nodes > stage.data.redis_nodes >= 2


@pytest.mark.parametrize(
    "pattern",
    [
        "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/*/"
        "AWSReservedSSO_AdministratorAccess_*",
        "arn:aws:iam::123456789012:role/platform-admin",
    ],
)
def test_operator_role_pattern_accepts_a_role_of_this_account(pattern):
    cfg = parse(
        {"environment": "staging", "operatorRoleArnPattern": pattern},
        project="p",
        stack="staging",
        region="us-east-1",
    )
    assert cfg.operator_role_arn_pattern == pattern


@pytest.mark.parametrize(
    "pattern",
    [
        "arn:aws:iam::*:role/admin",  # any account
        "arn:aws:iam::123456789012:role/*",  # every role of the account
        "arn:aws:iam::123456789012:role/aws-reserved/*/A*",
        "arn:aws:iam::123456789012:user/admin",
    ],
)
def test_operator_role_pattern_refuses_what_matches_too_much(pattern):
    with pytest.raises(ConfigError, match="operatorRoleArnPattern"):
        parse(
            {"environment": "staging", "operatorRoleArnPattern": pattern},
            project="p",
            stack="staging",
            region="us-east-1",
        )


def test_deploy_role_arn_must_be_a_role_arn():
    with pytest.raises(ConfigError, match="deployRoleArn"):
        parse(
            {"environment": "staging", "deployRoleArn": "arn:aws:iam::123456789012:role/*"},
            project="p",
            stack="staging",
            region="us-east-1",
        )


# --- Calibration service keys -----------------------------------------------------------------

ROLE = "arn:aws:iam::123456789012:role/operator"
SERVICE_REJECTIONS = [
    (
        {"releaseIntervalMinutes": "4"},
        "config key 'releaseIntervalMinutes' has invalid value '4': allowed a whole number "
        "from 5 to 1440",
    ),
    ({"releaseIntervalMinutes": "1441"}, "'releaseIntervalMinutes' has invalid value '1441'"),
    ({"releaseIntervalMinutes": "hourly"}, "'releaseIntervalMinutes' has invalid value 'hourly'"),
    (
        {"maxEventsPerOrgPerBatch": "0"},
        "config key 'maxEventsPerOrgPerBatch' has invalid value '0': allowed a whole number "
        "from 1 to 1000",
    ),
    ({"maxEventsPerOrgPerBatch": "1001"}, "'maxEventsPerOrgPerBatch' has invalid value '1001'"),
    (
        {"githubOidcAudience": "my audience"},
        "config key 'githubOidcAudience' has invalid value 'my audience': allowed 1-255 "
        "characters of A-Z a-z 0-9 . _ : / -",
    ),
    ({"githubOidcAudience": "a" * 256}, "'githubOidcAudience' has invalid value 'aaaa"),
    (
        {"adminPrincipalArns": ROLE},
        f"config key 'adminPrincipalArns' has invalid value '{ROLE}': allowed a YAML list",
    ),
    (
        {"adminPrincipalArns": '["arn:aws:iam::123456789012:root"]'},
        "config key 'adminPrincipalArns[0]' has invalid value 'arn:aws:iam::123456789012:root': "
        "allowed an IAM role or user ARN",
    ),
    (
        {"internalPrincipalArns": '["arn:aws:iam::123456789012:role/*"]'},
        "'internalPrincipalArns[0]' has invalid value 'arn:aws:iam::123456789012:role/*'",
    ),
    (
        {"internalPrincipalArns": '["arn:aws:sts::123456789012:assumed-role/ci/run-1"]'},
        "'internalPrincipalArns[0]' has invalid value 'arn:aws:sts::123456789012:assumed-role",
    ),
    (
        {"internalPrincipalArns": '["arn:aws:iam::12345:role/ci"]'},
        "'internalPrincipalArns[0]' has invalid value 'arn:aws:iam::12345:role/ci'",
    ),
    (
        {"adminPrincipalArns": json.dumps([ROLE, ROLE])},
        "'adminPrincipalArns' has invalid value '[\"arn:aws:iam::123456789012:role/operator\", "
        '"arn:aws:iam::123456789012:role/operator"]\': allowed a YAML list of at most 20, each an IAM '
        "role or user ARN such as arn:aws:iam::123456789012:role/operator (no wildcard, no account "
        "root), each listed once",
    ),
    (
        {"adminPrincipalArns": json.dumps([f"{ROLE}{i}" for i in range(21)])},
        "allowed a YAML list of at most 20, each an IAM role or user ARN",
    ),
]


@pytest.mark.parametrize(("raw", "fragment"), SERVICE_REJECTIONS)
def test_bad_service_config_is_rejected_with_key_value_and_allowed(raw, fragment):
    with pytest.raises(ConfigError) as error:
        parse({**BASE, **raw}, project="phase-mirror-infra", stack="staging", region="us-east-1")
    message = str(error.value)
    assert fragment in message and "\n" not in message


def test_service_defaults():
    service = parse_with().service
    assert service.release_interval_minutes == 60
    assert service.max_events_per_org_per_batch == 10
    assert service.github_oidc_audience == "phase-mirror-fp-calibration-staging"
    assert service.admin_principal_arns == () and service.internal_principal_arns == ()


def test_service_keys_take_their_values():
    users = [ROLE, "arn:aws:iam::123456789012:user/team/ci-bot"]
    service = parse_with(
        releaseIntervalMinutes="5",
        maxEventsPerOrgPerBatch="1000",
        githubOidcAudience="sts.amazonaws.com/phase-mirror:prod",
        adminPrincipalArns=json.dumps([ROLE]),
        internalPrincipalArns=json.dumps(users),
    ).service
    assert (service.release_interval_minutes, service.max_events_per_org_per_batch) == (5, 1000)
    assert service.github_oidc_audience == "sts.amazonaws.com/phase-mirror:prod"
    assert service.admin_principal_arns == (ROLE,)
    assert service.internal_principal_arns == tuple(users)


def test_allow_listed_principals_must_belong_to_the_stacks_account():
    from components.config import check_principal_accounts

    service = parse_with(internalPrincipalArns=json.dumps([ROLE])).service
    check_principal_accounts(service, "123456789012")
    with pytest.raises(ConfigError) as error:
        check_principal_accounts(service, "210987654321")
    assert str(error.value) == (
        f"config key 'internalPrincipalArns[0]' has invalid value '{ROLE}': "
        "allowed an ARN of this stack's account 210987654321"
    )
