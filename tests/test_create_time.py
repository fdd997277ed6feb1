"""AWS create-time rules, checked at program start: each refusal names the key, rule and source.

The mocks accept any name or rule count; these tests prove the start-time checks catch what a
real create call would refuse, and that the declared list of names (``planned_names``) covers
every tight name the program builds, so the checks cannot drift from the program.
"""

from __future__ import annotations

import dataclasses
from collections import Counter

import pytest

from components.config import ConfigError, aws_limits, parse
from components.config.aws_limits import RULES, PlannedName
from components.network.network import EKS_UNSUPPORTED_ZONE_IDS
from testing.program import ACCOUNT_ID, ProgramRun, run_program

P = "phase-mirror-infra:"
# (type, input) -> rule, for every input that carries a physical name.
NAME_INPUTS = {
    ("aws:iam/role:Role", "name"): "iam-role",
    ("aws:iam/rolePolicy:RolePolicy", "name"): "iam-role-policy",
    ("aws:lambda/function:Function", "name"): "lambda-function",
    ("aws:lambda/layerVersion:LayerVersion", "layerName"): "lambda-layer",
    ("aws:cloudwatch/logGroup:LogGroup", "name"): "log-group",
    ("aws:sns/topic:Topic", "name"): "sns-topic",
    ("aws:dynamodb/table:Table", "name"): "dynamodb-table",
    ("aws:elasticache/replicationGroup:ReplicationGroup", "replicationGroupId"): (
        "elasticache-group"
    ),
    ("aws:elasticache/subnetGroup:SubnetGroup", "name"): "elasticache-name",
    ("aws:elasticache/parameterGroup:ParameterGroup", "name"): "elasticache-name",
    ("aws:rds/instance:Instance", "identifier"): "rds-instance",
    ("aws:rds/instance:Instance", "finalSnapshotIdentifier"): "rds-name",
    ("aws:rds/subnetGroup:SubnetGroup", "name"): "rds-name",
    ("aws:rds/parameterGroup:ParameterGroup", "name"): "rds-name",
    ("aws:ec2/securityGroup:SecurityGroup", "name"): "security-group",
    ("aws:kms/alias:Alias", "name"): "kms-alias",
    ("aws:secretsmanager/secret:Secret", "name"): "secret",
    ("eks:index:Cluster", "name"): "eks-cluster",
    ("eks:index:ManagedNodeGroup", "nodeGroupName"): "eks-nodegroup",
    ("aws:backup/vault:Vault", "name"): "backup",
    ("aws:backup/plan:Plan", "name"): "backup",
    ("aws:backup/selection:Selection", "name"): "backup",
    ("aws:s3/bucket:Bucket", "bucket"): "s3-bucket",
    ("aws:cloudtrail/trail:Trail", "name"): "trail",
    ("aws:apigatewayv2/api:Api", "name"): "http-api",
    ("aws:cloudwatch/eventRule:EventRule", "name"): "event-rule",
    ("aws:cloudwatch/metricAlarm:MetricAlarm", "name"): "alarm",
    ("aws:cloudwatch/logMetricFilter:LogMetricFilter", "name"): "metric-filter",
}
# Kinds whose limit leaves no margin worth trusting to review: each name must be declared.
DECLARED = {
    "iam-role", "lambda-function", "lambda-layer", "s3-bucket", "elasticache-group",
    "rds-instance", "eks-nodegroup", "eks-cluster", "backup", "trail", "event-rule", "secret",
}  # fmt: skip


def built_names(run: ProgramRun) -> list[PlannedName]:
    return [
        PlannedName(rule, str(value))
        for r in run
        for (type_, key), rule in NAME_INPUTS.items()
        if r.type == type_ and isinstance(value := r.inputs.get(key), str)
    ]


def config_of(run: ProgramRun):
    raw = {k.removeprefix(P): v for k, v in run.config.items() if k.startswith(P)}
    return parse(raw, project="p", stack=run.stack, region=run.config["aws:region"])


def test_every_tight_name_the_program_builds_is_declared_and_fits(program):
    planned = set(aws_limits.planned_names(config_of(program), ACCOUNT_ID))
    for name in built_names(program):
        assert RULES[name.rule].problem(name.name) is None, name
        if name.rule in DECLARED:
            assert name in planned, f"declare {name} in aws_limits.planned_names"


@pytest.fixture(scope="module")
def longest() -> ProgramRun:
    """The longest prefix the config accepts, production, in a 14-character region."""
    return run_program(
        "production",
        overrides={f"{P}namePrefix": "abcdefghij-k", "aws:region": "ap-southeast-4"},
    )


def test_at_the_longest_accepted_prefix_every_name_fits_aws(longest):
    names = built_names(longest)
    assert len(max((n.name for n in names if n.rule == "s3-bucket"), key=len)) == 63
    for name in names:
        assert RULES[name.rule].problem(name.name) is None, name


def test_every_bucket_name_carries_the_account_and_region(program):
    # S3 names are global: without the account id, a second team on the default prefix would
    # get BucketAlreadyExists ("General purpose bucket naming rules", S3 user guide).
    region = program.config["aws:region"]
    names = [str(b.inputs["bucket"]) for b in program.of_type("aws:s3/bucket:Bucket")]
    assert names
    for name in names:
        role = name.removeprefix("phase-mirror-").removesuffix(
            f"-{ACCOUNT_ID}-{region}-{program.stack}"
        )
        assert name == f"phase-mirror-{role}-{ACCOUNT_ID}-{region}-{program.stack}", name
        assert role and ACCOUNT_ID not in role, name


def test_no_two_resources_of_one_type_share_a_name(program):
    counts = Counter(
        (type_, str(r.inputs[key]).lower())
        for r in program
        for (type_, key) in NAME_INPUTS
        if r.type == type_ and isinstance(r.inputs.get(key), str)
    )
    assert [k for k, c in counts.items() if c > 1] == []


def parse_with(**raw: str):
    return parse(
        {"environment": "staging", **raw}, project="p", stack="staging", region="us-east-1"
    )


def test_a_bucket_name_over_63_characters_is_refused_naming_the_prefix_rule_and_source():
    cfg = dataclasses.replace(parse_with(namePrefix="abcdefghij-k"), stack="staging-europe-1")
    with pytest.raises(ConfigError) as refused:
        aws_limits.check(cfg, ACCOUNT_ID)
    message = str(refused.value)
    assert "'namePrefix' has invalid value 'abcdefghij-k' for stack 'staging-europe-1'" in message
    assert "an S3 bucket name of 3 to 63 characters" in message
    assert "General purpose bucket naming rules" in message


@pytest.mark.parametrize(
    ("rule", "name", "problem"),
    [
        ("rds-instance", "phase--db-staging", "no trailing hyphen"),
        ("rds-instance", "phase-db-", "single hyphens"),
        ("rds-instance", "1phase-db", "a letter first"),
        ("rds-instance", "a" * 64, "1 to 63 characters"),
        ("elasticache-group", "a" * 41, "1 to 40 characters"),
        ("elasticache-group", "phase--redis", "single hyphens"),
        ("s3-bucket", "Phase-mirror-x", "only the characters"),
        ("s3-bucket", "phase--x", "no two hyphens in a row"),
        ("iam-role", "r" * 65, "1 to 64 characters"),
        ("lambda-function", "f" * 65, "1 to 64 characters"),
        ("backup", "b" * 51, "2 to 50 characters"),
        ("eks-nodegroup", "n" * 64, "1 to 63 characters"),
        ("secret", "/p/s/redis-abcdef", "does not end in a hyphen and six"),
        ("kms-alias", "alias/x y", "only the characters"),
    ],
)
def test_each_name_rule_refuses_what_aws_refuses(rule, name, problem):
    assert problem in (RULES[rule].problem(name) or ""), (rule, name)


def test_rules_accept_the_names_aws_accepts():
    assert RULES["rds-instance"].problem("phase-mirror-db-production") is None
    assert RULES["s3-bucket"].problem("phase-mirror-logs-123456789012-us-east-1-prod") is None


def test_a_prefix_ending_in_a_hyphen_is_refused_at_parse():
    with pytest.raises(ConfigError, match=r"'namePrefix' has invalid value 'phase-'.*'--'"):
        parse_with(namePrefix="phase-")
    with pytest.raises(ConfigError, match="'namePrefix' has invalid value 'phase-mirror-x'"):
        parse_with(namePrefix="phase-mirror-x")  # 14 characters


def test_two_roles_with_one_name_are_refused():
    cfg = parse_with()
    twice = [PlannedName("iam-role", "phase-mirror-x-staging")] * 2
    with pytest.raises(ConfigError, match="an IAM role name 'phase-mirror-x-staging' twice"):
        aws_limits.name_problems(cfg, twice)
    # IAM names are unique regardless of case
    cased = [PlannedName("iam-role", "A-role"), PlannedName("iam-role", "a-role")]
    with pytest.raises(ConfigError, match="twice"):
        aws_limits.name_problems(cfg, cased)


def test_rds_maintenance_window_under_30_minutes_is_refused_with_its_source():
    with pytest.raises(ConfigError) as refused:
        aws_limits.check(parse_with(dbMaintenanceWindow="sun:04:30-sun:04:50"), ACCOUNT_ID)
    assert "'dbMaintenanceWindow'" in str(refused.value)
    assert "at least 30 minutes" in str(refused.value)
    assert "CreateDBInstance PreferredMaintenanceWindow" in str(refused.value)
    aws_limits.check(parse_with(dbMaintenanceWindow="sat:23:50-sun:00:20"), ACCOUNT_ID)


def test_redis_snapshot_window_overlapping_its_maintenance_window_is_refused():
    with pytest.raises(ConfigError) as refused:
        aws_limits.check(parse_with(redisSnapshotWindow="06:00-07:00"), ACCOUNT_ID)
    assert "'redisSnapshotWindow' has invalid value '06:00-07:00'" in str(refused.value)
    assert "Scheduling automatic backups" in str(refused.value)


def cidrs(count: int) -> str:
    return "[" + ",".join(f'"203.0.{i}.0/24"' for i in range(count)) + "]"


@pytest.mark.parametrize("key", ["ingressCidrs", "devopsCidrs"])
def test_ranges_beyond_the_security_group_rule_quota_are_refused(key):
    aws_limits.check(parse_with(**{key: cidrs(30)}), ACCOUNT_ID)
    with pytest.raises(ConfigError) as refused:
        aws_limits.check(parse_with(**{key: cidrs(31)}), ACCOUNT_ID)
    assert f"'{key}' has invalid value '31 ranges': allowed at most 30" in str(refused.value)
    assert "Amazon VPC quotas" in str(refused.value)


def test_the_rule_count_matches_what_the_network_creates(program):
    groups = {g.id: g.name.removeprefix("network-").removesuffix("-sg")
              for g in program.of_type("aws:ec2/securityGroup:SecurityGroup")}  # fmt: skip
    built: Counter[tuple[str, str]] = Counter()
    for direction in ("ingress", "egress"):
        kind = f"aws:vpc/securityGroup{direction.capitalize()}Rule:SecurityGroup"
        for rule in program.of_type(f"{kind}{direction.capitalize()}Rule"):
            built[(groups[rule.inputs["securityGroupId"]], direction)] += 1
    assert dict(built) == aws_limits.security_group_rules(config_of(program))


def test_reservations_over_what_lambda_leaves_reservable_are_refused_naming_the_keys():
    fixed = sum(
        v for k, v in aws_limits.reserved_concurrency(parse_with()).items() if "(fixed)" in k
    )
    most = 900 - 5 - fixed  # Lambda keeps 100 of the default 1,000 unreserved
    aws_limits.check(parse_with(ingestionConcurrency=str(most), queryConcurrency="5"), ACCOUNT_ID)
    with pytest.raises(ConfigError) as refused:
        aws_limits.check(
            parse_with(ingestionConcurrency=str(most + 1), queryConcurrency="5"), ACCOUNT_ID
        )
    message = str(refused.value)
    assert f"ingestionConcurrency {most + 1} + queryConcurrency 5" in message
    assert "= 901" in message
    assert "Configuring reserved concurrency" in message


def test_the_reservations_counted_are_the_program_s(program):
    reserved = sum(
        int(f.inputs["reservedConcurrentExecutions"])
        for f in program.of_type("aws:lambda/function:Function")
    )
    assert reserved == sum(aws_limits.reserved_concurrency(config_of(program)).values())


def test_zones_avoid_the_ids_eks_cannot_use_whatever_the_names():
    # GIVEN an account whose first zone names map to the ids EKS does not support
    zone_map = {
        "us-east-1a": "use1-az3",
        "us-east-1b": "usw1-az2",
        "us-east-1c": "use1-az6",
        "us-east-1d": "use1-az1",
        "us-east-1e": "use1-az2",
    }
    run = run_program("production", zone_map=zone_map, preview=True)
    # THEN the subnets take the next zones in AWS's order
    zones = [s.inputs["availabilityZone"] for s in run.of_type("aws:ec2/subnet:Subnet")]
    assert sorted(set(zones)) == ["us-east-1c", "us-east-1d", "us-east-1e"]
    assert not {zone_map[z] for z in zones} & set(EKS_UNSUPPORTED_ZONE_IDS)
