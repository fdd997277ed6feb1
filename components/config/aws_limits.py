"""AWS rules that only a real create call checks, checked at program start instead.

The mocks accept any name, window or rule count; AWS refuses them half-way through the first
``pulumi up``. ``check`` runs before any resource is registered and raises one ``ConfigError``
naming the config key, the rule and the AWS page it comes from. The physical names the program
builds are declared in ``planned_names`` (tests/test_aws_limits.py proves the program builds no
name-bearing resource the list misses, and that every name fits at the longest accepted
prefix).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from components.config.settings import StackConfig
from components.config.validators import ConfigError, window_minutes, windows_overlap
from components.data_tier.redis_cache import REDIS_MAINTENANCE_WINDOW
from components.service.calibration_service import FIXED_CONCURRENCY

# Lambda keeps 100 executions unreserved per account and region ("Configuring reserved
# concurrency", Lambda developer guide); of the default 1,000 that leaves 900 to reserve.
UNRESERVED_MINIMUM = 100
DEFAULT_ACCOUNT_CONCURRENCY = 1000
ROTATOR_CONCURRENCY = 1
# "Amazon VPC quotas": inbound or outbound rules per security group, each of IPv4 and IPv6.
RULES_PER_SECURITY_GROUP = 60


@dataclass(frozen=True)
class NameRule:
    """What AWS accepts as one kind of name, and the page that says so."""

    what: str
    longest: int
    source: str
    shortest: int = 1
    charset: str = r"[A-Za-z0-9_+=,.@/ -]"
    # RDS and ElastiCache identifiers: a letter first, no "--", no trailing "-".
    identifier: bool = False
    # S3: letters or digits at both ends, no "--" (nor the reserved "--x-s3"-style suffixes).
    bucket: bool = False
    # Secrets Manager: a name ending in "-" and six characters reads as an ARN's random suffix.
    arn_suffix_banned: bool = False

    def problem(self, name: str) -> str | None:
        if not self.shortest <= len(name) <= self.longest:
            return f"{self.shortest} to {self.longest} characters (it has {len(name)})"
        bad = sorted({c for c in name if not re.fullmatch(self.charset, c)})
        if bad:
            return f"only the characters {self.charset} (it has {''.join(bad)!r})"
        if self.identifier and not re.fullmatch(r"[a-zA-Z](?:-?[a-zA-Z0-9])*", name):
            return "a letter first, then letters, digits and single hyphens, no trailing hyphen"
        if self.bucket and not re.fullmatch(r"[a-z0-9](?:-?[a-z0-9])*", name):
            return "lower-case letters and digits at both ends, no two hyphens in a row"
        if self.arn_suffix_banned and re.search(r"-[A-Za-z0-9]{6}$", name):
            return "a name that does not end in a hyphen and six characters"
        return None


_ID = r"[a-zA-Z0-9-]"
RULES: dict[str, NameRule] = {
    "s3-bucket": NameRule(
        "an S3 bucket name", 63, "S3 user guide, 'General purpose bucket naming rules'",
        shortest=3, bucket=True, charset=r"[a-z0-9-]",
    ),
    "iam-role": NameRule("an IAM role name", 64, "IAM user guide, 'IAM and AWS STS quotas'",
                         charset=r"[\w+=,.@-]"),
    "iam-role-policy": NameRule("an inline policy name", 128, "IAM API reference, PutRolePolicy",
                                charset=r"[\w+=,.@-]"),
    "lambda-function": NameRule("a Lambda function name", 64,
                                "Lambda API reference, CreateFunction FunctionName",
                                charset=r"[a-zA-Z0-9_-]"),
    "lambda-layer": NameRule("a Lambda layer name", 140,
                             "Lambda API reference, PublishLayerVersion LayerName",
                             charset=r"[a-zA-Z0-9_-]"),
    "log-group": NameRule("a log group name", 512,
                          "CloudWatch Logs API reference, CreateLogGroup logGroupName",
                          charset=r"[\w./#-]"),
    "sns-topic": NameRule("an SNS topic name", 256, "SNS API reference, CreateTopic Name",
                          charset=r"[A-Za-z0-9_-]"),
    "dynamodb-table": NameRule("a DynamoDB table name", 255,
                               "DynamoDB API reference, CreateTable TableName", shortest=3,
                               charset=r"[a-zA-Z0-9_.-]"),
    "elasticache-group": NameRule(
        "an ElastiCache replication group id", 40,
        "ElastiCache API reference, CreateReplicationGroup ReplicationGroupId",
        identifier=True, charset=_ID,
    ),
    "elasticache-name": NameRule("an ElastiCache subnet or parameter group name", 255,
                                 "ElastiCache API reference, CreateCacheSubnetGroup",
                                 identifier=True, charset=_ID),
    "rds-instance": NameRule("an RDS DB instance identifier", 63,
                             "RDS API reference, CreateDBInstance DBInstanceIdentifier",
                             identifier=True, charset=_ID),
    "rds-name": NameRule("an RDS parameter group, subnet group or snapshot name", 255,
                         "RDS API reference, CreateDBParameterGroup DBParameterGroupName",
                         identifier=True, charset=_ID),
    "security-group": NameRule("a security group name", 255,
                               "EC2 API reference, CreateSecurityGroup GroupName",
                               charset=r"[a-zA-Z0-9 ._:/()#,@\[\]+=&;{}!$*-]"),
    "kms-alias": NameRule("a KMS alias", 256, "KMS API reference, CreateAlias AliasName",
                          charset=r"[a-zA-Z0-9/_-]"),
    "secret": NameRule("a Secrets Manager secret name", 512,
                       "Secrets Manager API reference, CreateSecret Name",
                       charset=r"[a-zA-Z0-9/_+=.@-]", arn_suffix_banned=True),
    "eks-cluster": NameRule("an EKS cluster name", 100,
                            "EKS API reference, CreateCluster name", charset=r"[A-Za-z0-9_-]"),
    "eks-nodegroup": NameRule("an EKS node group name", 63,
                              "EKS API reference, CreateNodegroup nodegroupName",
                              charset=r"[A-Za-z0-9_-]"),
    "backup": NameRule("an AWS Backup vault, plan or selection name", 50,
                       "AWS Backup API reference, CreateBackupVault backupVaultName",
                       shortest=2, charset=r"[a-zA-Z0-9_-]"),
    "trail": NameRule("a CloudTrail trail name", 128,
                      "CloudTrail API reference, CreateTrail Name", shortest=3,
                      charset=r"[a-zA-Z0-9._-]"),
    "http-api": NameRule("an API Gateway API name", 128, "API Gateway V2 API reference, CreateApi"),
    "event-rule": NameRule("an EventBridge rule name", 64, "EventBridge API reference, PutRule",
                           charset=r"[.\-_A-Za-z0-9]"),
    "alarm": NameRule("a CloudWatch alarm name", 255,
                      "CloudWatch API reference, PutMetricAlarm AlarmName"),
    "metric-filter": NameRule("a metric filter name", 512,
                              "CloudWatch Logs API reference, PutMetricFilter filterName"),
}  # fmt: skip


@dataclass(frozen=True)
class PlannedName:
    rule: str
    name: str


def planned_names(cfg: StackConfig, account_id: str) -> list[PlannedName]:
    """Every physical name of a tight kind the program builds for ``cfg``, in one list."""
    from components.service.calibration_store import TABLES  # the table roles, without duplication

    n = cfg.naming
    functions = [
        n.physical(r)
        for r in (
            "fp-ingestion",
            "fp-consent",
            "fp-admission",
            "fp-release",
            "calibration-query",
            "salt-rotator",
            "salt-age-check",
        )
    ]
    roles = [
        *functions,
        *(
            n.physical(r)
            for r in ("db-monitoring", "backup", "vpc-flow-logs", "fp-release-scheduler")
        ),
    ]
    # The account baseline (trail, its bucket, role and key) only in the stack that holds it.
    baseline = cfg.account_baseline
    roles += [n.physical("trail-logs")] if baseline else []
    names = [PlannedName("iam-role", r) for r in roles]
    names += [PlannedName("iam-role-policy", f"{f}-permissions") for f in functions]
    names += [PlannedName("lambda-function", f) for f in functions]
    names += [PlannedName("log-group", f"/aws/lambda/{f}") for f in functions]
    names.append(PlannedName("lambda-layer", n.physical("powertools")))
    names += [PlannedName("dynamodb-table", n.physical(t.role)) for t in TABLES.values()]
    names += [
        PlannedName("s3-bucket", n.bucket(role, account_id, cfg.region))
        for role in (*BUCKET_ROLES, *(BASELINE_BUCKET_ROLES if baseline else ()))
    ]
    names += [PlannedName("sns-topic", n.physical(f"{s}-alerts")) for s in ("critical", "warning")]
    names.append(PlannedName("elasticache-group", n.physical("redis")))
    names += [PlannedName("elasticache-name", n.physical(r)) for r in ("redis", "redis7")]
    names.append(PlannedName("rds-instance", n.physical("db")))
    major = cfg.data.db_engine_version.split(".")[0]
    names += [
        PlannedName("rds-name", n.physical(r)) for r in ("db", f"db-postgres{major}", "db-final")
    ]
    names += [
        PlannedName("security-group", n.physical(r))
        for r in ("lb", "app", "data", "admin", "endpoints")
    ]
    names += [
        PlannedName("kms-alias", n.alias(r))
        for r in (*KEY_ALIAS_ROLES, *(BASELINE_KEY_ALIAS_ROLES if baseline else ()))
    ]
    names += [PlannedName("secret", n.path(*p)) for p in (SALT_SECRET_PATH,)]
    names += [PlannedName("backup", n.physical("backup"))]
    names += [PlannedName("trail", n.physical("trail"))] if baseline else []
    names.append(PlannedName("http-api", n.physical("api")))
    names += [
        PlannedName("event-rule", n.physical(role))
        for role in ("rotation-failed", "salt-key-access", "salt-age-check")
    ]
    if cfg.data.eks_enabled:
        names.append(PlannedName("eks-cluster", n.physical("eks")))
        names.append(PlannedName("iam-role", n.physical("eks-node")))
        names += [
            PlannedName("eks-nodegroup", n.physical(f"eks-{g}")) for g in ("on-demand", "spot")
        ]
    return names


BUCKET_ROLES = ("access-logs", "baselines")
BASELINE_BUCKET_ROLES = ("cloudtrail",)
SALT_SECRET_PATH = ("fp-calibration", "hmac-salt")
KEY_ALIAS_ROLES = (
    "logs", "alerts", "salt", "functions", "calibration-tables", "org-key", "data", "eks-secrets",
    "backup",
)  # fmt: skip
BASELINE_KEY_ALIAS_ROLES = ("trail",)


def _refuse(key: str, value: object, rule: str, source: str) -> ConfigError:
    return ConfigError(
        f"config key '{key}' has invalid value {value!r}: allowed {rule} (AWS: {source})"
    )


def name_problems(cfg: StackConfig, names: list[PlannedName]) -> None:
    """Each name against its kind's rule; two names of one kind are refused too."""
    seen: Counter[tuple[str, str]] = Counter()
    for planned in names:
        rule = RULES[planned.rule]
        problem = rule.problem(planned.name)
        if problem:
            raise ConfigError(
                f"config key 'namePrefix' has invalid value {cfg.name_prefix!r} for stack "
                f"'{cfg.stack}': the name {planned.name!r} must be {rule.what} of {problem} "
                f"(AWS: {rule.source}); choose a shorter namePrefix or stack name"
            )
        # IAM names are unique without regard to case ("IAM identifiers", IAM user guide).
        seen[(planned.rule, planned.name.lower())] += 1
    twice = sorted(f"{RULES[k].what} {n!r}" for (k, n), count in seen.items() if count > 1)
    if twice:
        raise ConfigError(
            f"config key 'namePrefix' has invalid value {cfg.name_prefix!r}: the program would "
            f"create {twice[0]} twice (AWS refuses a second one: EntityAlreadyExists)"
        )


def window_problems(cfg: StackConfig) -> None:
    d = cfg.data
    if window_minutes(d.db_maintenance_window) < 30:
        raise _refuse(
            "dbMaintenanceWindow",
            d.db_maintenance_window,
            "a weekly window of at least 30 minutes",
            "RDS API reference, CreateDBInstance PreferredMaintenanceWindow",
        )
    if windows_overlap(d.redis_snapshot_window, REDIS_MAINTENANCE_WINDOW):
        raise _refuse(
            "redisSnapshotWindow",
            d.redis_snapshot_window,
            f"a daily window clear of the Redis maintenance window {REDIS_MAINTENANCE_WINDOW}",
            "ElastiCache user guide, 'Scheduling automatic backups': the backup window must "
            "not overlap the maintenance window",
        )


def security_group_rules(cfg: StackConfig) -> dict[tuple[str, str], int]:
    """Rules per (group role, direction) as ``Network`` creates them; IPv4 and IPv6 ranges
    and group references each count (a reference counts against both families' quota)."""
    s = cfg.network
    counts = {
        ("lb", "ingress"): 2 * len(s.ingress_cidrs),
        ("lb", "egress"): 1,
        ("app", "ingress"): 1,
        ("app", "egress"): 3,
        ("data", "ingress"): 4 if cfg.data.eks_enabled else 2,
        ("admin", "ingress"): 2 * len(s.devops_cidrs),
        ("endpoints", "ingress"): 1,
    }
    return {k: v for k, v in counts.items() if v}


def quota_problems(cfg: StackConfig) -> None:
    for (role, direction), count in security_group_rules(cfg).items():
        if count > RULES_PER_SECURITY_GROUP:
            key = "ingressCidrs" if role == "lb" else "devopsCidrs"
            ranges = len(cfg.network.ingress_cidrs if role == "lb" else cfg.network.devops_cidrs)
            raise _refuse(
                key,
                f"{ranges} ranges",
                f"at most {RULES_PER_SECURITY_GROUP // 2} ranges: each becomes 2 {direction} rules "
                f"of the {role} security group, whose quota is {RULES_PER_SECURITY_GROUP}",
                "Amazon VPC user guide, 'Amazon VPC quotas', rules per security group",
            )


def function_reservations(cfg: StackConfig) -> dict[str, tuple[str, int]]:
    """Each function's role -> (the key that sets its reservation, or why it is fixed; the
    reservation)."""
    return {
        "fp-ingestion": ("ingestionConcurrency", cfg.service.ingestion_concurrency),
        "calibration-query": ("queryConcurrency", cfg.service.query_concurrency),
        **{role: (f"{role} (fixed)", n) for role, n in FIXED_CONCURRENCY.items()},
        "salt-rotator": ("salt-rotator (fixed)", ROTATOR_CONCURRENCY),
        "salt-age-check": ("salt-age-check (fixed)", 1),
    }


def reserved_concurrency(cfg: StackConfig) -> dict[str, int]:
    """Each function's reservation by the key that sets it (the fixed ones by their role)."""
    return dict(function_reservations(cfg).values())


def concurrency_problems(cfg: StackConfig) -> None:
    reserved = reserved_concurrency(cfg)
    ceiling = DEFAULT_ACCOUNT_CONCURRENCY - UNRESERVED_MINIMUM
    if sum(reserved.values()) > ceiling:
        spelled = " + ".join(f"{k} {v}" for k, v in reserved.items())
        raise _refuse(
            "ingestionConcurrency",
            reserved["ingestionConcurrency"],
            f"reservations summing to at most {ceiling} ({spelled} = {sum(reserved.values())}): "
            f"Lambda keeps {UNRESERVED_MINIMUM} of the default {DEFAULT_ACCOUNT_CONCURRENCY} "
            "unreserved (python -m tools.preflight checks the account's real total)",
            "Lambda developer guide, 'Configuring reserved concurrency'",
        )


def check(cfg: StackConfig, account_id: str) -> None:
    """Every create-time rule, before the first resource is registered."""
    name_problems(cfg, planned_names(cfg, account_id))
    window_problems(cfg)
    quota_problems(cfg)
    concurrency_problems(cfg)
